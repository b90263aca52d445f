// GET /containerLogs/{ns}/{pod}/{container}: the container's CRI log file, filtered.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>

#include "streaming/cri_log.h"
#include "streaming/session.h"

namespace sampan::streaming {

namespace {

Result<std::optional<int64_t>> IntParam(const HttpRequest& req, const std::string& name) {
  if (!req.query.count(name)) return std::optional<int64_t>();
  std::string v = req.Query(name);
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end) return BadRequest("invalid " + name + " \"" + v + "\": not an integer");
  return std::optional<int64_t>(n);
}

}  // namespace

void ServeLogs(Conn& conn, const HttpRequest& req, Backend& backend, const ContainerRef& ref) {
  auto fail = [&](const Status& st) {
    (void)conn.WriteAll(HttpResponse(HttpCode(st), "application/json", StatusJson(st)),
                        std::chrono::seconds(10));
    conn.Shutdown();
  };
  LogRequest lr;
  lr.ref = ref;
  lr.follow = req.QueryBool("follow");
  lr.previous = req.QueryBool("previous");
  lr.timestamps = req.QueryBool("timestamps");
  lr.since_time = req.Query("sinceTime");
  for (auto [name, field] :
       {std::pair{"tailLines", &lr.tail_lines}, std::pair{"limitBytes", &lr.limit_bytes},
        std::pair{"sinceSeconds", &lr.since_seconds}}) {
    auto v = IntParam(req, name);
    if (!v.ok()) return fail(v.status());
    *field = *v;
  }
  if (lr.tail_lines && *lr.tail_lines < 0) return fail(BadRequest("tailLines must be >= 0"));
  if (lr.limit_bytes && *lr.limit_bytes < 1) return fail(BadRequest("limitBytes must be >= 1"));
  if (lr.since_seconds && *lr.since_seconds < 1)
    return fail(BadRequest("sinceSeconds must be >= 1"));
  if (lr.since_seconds && !lr.since_time.empty())
    return fail(BadRequest("at most one of sinceTime or sinceSeconds may be specified"));
  LogReadOptions ro;
  ro.follow = lr.follow;
  ro.timestamps = lr.timestamps;
  ro.tail_lines = lr.tail_lines;
  ro.limit_bytes = lr.limit_bytes;
  if (lr.since_seconds) {
    auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    ro.since_ns = now - *lr.since_seconds * 1000000000LL;
  } else if (!lr.since_time.empty()) {
    auto t = ParseRfc3339(lr.since_time);
    if (!t.ok()) return fail(t.status());
    ro.since_ns = *t;
  }
  auto path = backend.LogPath(lr);
  if (!path.ok()) return fail(path.status());
  auto still_running = [&] { return backend.StillRunning(lr); };

  // Errors opening the log become a Status reply; after the head, the log streams as it is
  // read (chunked), whether or not it is followed, so a large log is never held in memory.
  if (int fd = open(path->c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    close(fd);
  } else {
    return fail(errno == ENOENT ? NotFound("log file " + *path + " does not exist")
                                : ErrnoStatus("open " + *path, errno));
  }
  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
      "Connection: close\r\n\r\n";
  if (!conn.WriteAll(head, std::chrono::seconds(10)).ok()) return;
  bool gone = false;
  auto sink = [&](std::string_view chunk) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
    std::string c = size;
    c.append(chunk);
    c += "\r\n";
    if (!conn.WriteAll(c, std::chrono::seconds(30)).ok()) gone = true;
    return !gone;
  };
  auto stop = [&] {
    if (gone || conn.stopping()) return true;
    if (conn.WaitReadable(std::chrono::milliseconds(0))) {
      conn.ReadAvailable();
      conn.in.clear();
    }
    return conn.eof();
  };
  (void)StreamCriLog(*path, ro, sink, still_running, stop);
  if (!gone) (void)conn.WriteAll("0\r\n\r\n", std::chrono::seconds(10));
  conn.Shutdown();
}

}  // namespace sampan::streaming
