#include "runtime/monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <vector>

#include "runtime/attach.h"
#include "runtime/sys.h"

namespace sampan::runtime {

std::string CriLogLine(const std::string& ts, const char* stream, bool partial,
                       std::string_view content) {
  std::string line;
  line.reserve(ts.size() + content.size() + 16);
  line += ts;
  line += ' ';
  line += stream;
  line += partial ? " P " : " F ";
  line += content;
  line += '\n';
  return line;
}

namespace {

constexpr size_t kMaxLine = 16 * 1024;

// The container's log file. The agent rotates it by renaming it away (and creating an empty
// file in its place): before each write the path is checked, and a new file is opened when
// it no longer names the open one, so nothing is written into a rotated file for long.
struct LogFile {
  std::string path;
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;

  void Open() {
    if (fd >= 0) ::close(fd);
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    struct stat st;
    if (fd >= 0 && ::fstat(fd, &st) == 0) dev = st.st_dev, ino = st.st_ino;
  }
  void Write(const std::string& data) {
    if (path.empty() || data.empty()) return;
    struct stat st;
    if (fd < 0 || ::stat(path.c_str(), &st) != 0 || st.st_ino != ino || st.st_dev != dev) Open();
    if (fd >= 0) (void)WriteAll(fd, data.data(), data.size());
  }
};

struct LogStream {
  int fd = -1;
  const char* name;
  unsigned char stream;  // attach stream id
  std::string pending;
};

// Appends complete lines (and over-long partial chunks) to the log.
void Emit(LogFile& log, LogStream& s, bool flush) {
  std::string out;
  std::string ts = NowRfc3339Nano();
  size_t start = 0;
  for (;;) {
    size_t nl = s.pending.find('\n', start);
    if (nl == std::string::npos) break;
    out += CriLogLine(ts, s.name, false, std::string_view(s.pending).substr(start, nl - start));
    start = nl + 1;
  }
  s.pending.erase(0, start);
  while (s.pending.size() >= kMaxLine) {
    out += CriLogLine(ts, s.name, true, std::string_view(s.pending).substr(0, kMaxLine));
    s.pending.erase(0, kMaxLine);
  }
  if (flush && !s.pending.empty()) {
    out += CriLogLine(ts, s.name, false, s.pending);
    s.pending.clear();
  }
  log.Write(out);
}

bool Pump(LogFile& log, LogStream& s, AttachServer* attach) {
  char buf[65536];
  ssize_t n = ::read(s.fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) {
    Emit(log, s, true);
    ::close(s.fd);
    s.fd = -1;
    return false;
  }
  if (attach) attach->Output(s.stream, buf, static_cast<size_t>(n));
  s.pending.append(buf, static_cast<size_t>(n));
  Emit(log, s, false);
  return true;
}

}  // namespace

int MonitorContainer(pid_t pid, int out_fd, int err_fd, const std::string& log_path,
                     const Cgroup& cgroup, const StateDir& dir, const std::string& id,
                     AttachServer* attach) {
  LogFile log;
  log.path = log_path;
  if (!log_path.empty()) log.Open();
  LogStream streams[2];
  streams[0].fd = out_fd;
  streams[0].name = "stdout";
  streams[0].stream = kAttachStdout;
  streams[1].fd = err_fd;
  streams[1].name = "stderr";
  streams[1].stream = kAttachStderr;
  int pidfd = PidfdOpen(pid);
  int status = 0;
  bool exited = false;
  while (!exited) {
    std::vector<struct pollfd> p;
    p.push_back({pidfd, POLLIN, 0});
    int idx[2] = {-1, -1};
    for (int i = 0; i < 2; ++i)
      if (streams[i].fd >= 0) {
        idx[i] = static_cast<int>(p.size());
        p.push_back({streams[i].fd, POLLIN, 0});
      }
    size_t attach_first = p.size();
    if (attach) attach->AddPollFds(p);
    if (::poll(p.data(), p.size(), pidfd < 0 ? 100 : -1) < 0 && errno != EINTR) break;
    if (attach) attach->Handle(p, attach_first);
    for (int i = 0; i < 2; ++i)
      if (idx[i] >= 0 && (p[idx[i]].revents & (POLLIN | POLLHUP | POLLERR)))
        Pump(log, streams[i], attach);
    // Reap the init and any orphan handed to us as subreaper.
    for (;;) {
      int st = 0;
      pid_t r = ::waitpid(-1, &st, WNOHANG);
      if (r <= 0) break;
      if (r == pid) {
        status = st;
        exited = true;
      }
    }
  }
  // Drain what is left without blocking on writers that outlive the init.
  for (auto& s : streams) {
    if (s.fd < 0) continue;
    ::fcntl(s.fd, F_SETFL, O_NONBLOCK);
    while (s.fd >= 0) {
      char buf[65536];
      ssize_t n = ::read(s.fd, buf, sizeof buf);
      if (n <= 0) {
        Emit(log, s, true);
        ::close(s.fd);
        s.fd = -1;
        break;
      }
      if (attach) attach->Output(s.stream, buf, static_cast<size_t>(n));
      s.pending.append(buf, static_cast<size_t>(n));
      Emit(log, s, false);
    }
  }
  ExitInfo e;
  e.present = true;
  if (WIFEXITED(status)) {
    e.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    e.signal = WTERMSIG(status);
    e.exit_code = 128 + e.signal;
  }
  e.finished_at = NowRfc3339Nano();
  e.oom_killed = cgroup.OomKills() > 0;
  (void)dir.SaveExit(id, e);
  if (attach) attach->Finish(e.exit_code);
  if (log.fd >= 0) ::close(log.fd);
  if (pidfd >= 0) ::close(pidfd);
  return status;
}

}  // namespace sampan::runtime
