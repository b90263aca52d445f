#include "streaming/cri_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <thread>

namespace sampan::streaming {

namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// Byte offset where the last `n` lines of the file begin.
off_t TailOffset(int fd, int64_t n) {
  struct stat st;
  if (fstat(fd, &st) != 0) return 0;
  off_t end = st.st_size;
  if (n <= 0) return end;
  off_t pos = end;
  int64_t newlines = 0;
  char buf[65536];
  bool first = true;
  while (pos > 0) {
    off_t start = pos > static_cast<off_t>(sizeof buf) ? pos - static_cast<off_t>(sizeof buf) : 0;
    ssize_t got = pread(fd, buf, pos - start, start);
    if (got <= 0) return 0;
    for (ssize_t i = got - 1; i >= 0; --i) {
      if (buf[i] != '\n') continue;
      // The file's final newline ends the last line; it does not start one.
      if (first && start + i == end - 1) {
        first = false;
        continue;
      }
      first = false;
      if (++newlines == n) return start + i + 1;
    }
    first = false;
    pos = start;
  }
  return 0;
}

}  // namespace

Result<int64_t> ParseRfc3339(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!Digits(s, 0, 4, &y) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &sec))
    return BadRequest("invalid RFC 3339 time \"" + std::string(s) + "\"");
  size_t p = 19;
  int64_t frac = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    int digits = 0;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      if (digits < 9) {
        frac = frac * 10 + (s[p] - '0');
        ++digits;
      }
      ++p;
    }
    for (; digits < 9; ++digits) frac *= 10;
  }
  int64_t offset = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    int oh, om;
    if (!Digits(s, p + 1, 2, &oh) || p + 3 >= s.size() || s[p + 3] != ':' ||
        !Digits(s, p + 4, 2, &om))
      return BadRequest("invalid RFC 3339 offset in \"" + std::string(s) + "\"");
    offset = (oh * 3600 + om * 60) * (s[p] == '+' ? 1 : -1);
    p += 6;
  } else {
    return BadRequest("RFC 3339 time without a zone: \"" + std::string(s) + "\"");
  }
  if (p != s.size()) return BadRequest("invalid RFC 3339 time \"" + std::string(s) + "\"");
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset;
  return secs * 1000000000 + frac;
}

std::string FormatRfc3339Nano(int64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1000000000);
  int64_t frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (frac) {
    char f[16];
    snprintf(f, sizeof f, ".%09lld", static_cast<long long>(frac));
    std::string fs = f;
    while (fs.back() == '0') fs.pop_back();
    out += fs;
  }
  return out + "Z";
}

Result<CriEntry> ParseCriLine(std::string_view line) {
  auto s1 = line.find(' ');
  if (s1 == std::string_view::npos) return BadRequest("CRI log line without a time");
  auto s2 = line.find(' ', s1 + 1);
  if (s2 == std::string_view::npos) return BadRequest("CRI log line without a stream");
  CriEntry e;
  auto t = ParseRfc3339(line.substr(0, s1));
  if (!t.ok()) return t.status();
  e.time_ns = *t;
  e.stream = std::string(line.substr(s1 + 1, s2 - s1 - 1));
  if (e.stream != "stdout" && e.stream != "stderr")
    return BadRequest("CRI log line with stream \"" + e.stream + "\"");
  std::string_view rest = line.substr(s2 + 1);
  // The tag field ("P" or "F", possibly more flags separated by ':').
  auto s3 = rest.find(' ');
  std::string_view tag = rest.substr(0, s3);
  e.partial = !tag.empty() && tag[0] == 'P';
  e.text = s3 == std::string_view::npos ? "" : std::string(rest.substr(s3 + 1));
  return e;
}

std::string FormatCriLine(int64_t time_ns, std::string_view stream, bool partial,
                          std::string_view text) {
  std::string out = FormatRfc3339Nano(time_ns);
  out += ' ';
  out += stream;
  out += partial ? " P " : " F ";
  out += text;
  out += '\n';
  return out;
}

Status StreamCriLog(const std::string& path, const LogReadOptions& opts,
                    const std::function<bool(std::string_view)>& sink,
                    const std::function<bool()>& still_running, const std::function<bool()>& stop) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound("log file " + path + " does not exist");
    return ErrnoStatus("open " + path, errno);
  }
  off_t pos = opts.tail_lines ? TailOffset(fd, *opts.tail_lines) : 0;
  int64_t budget = opts.limit_bytes ? *opts.limit_bytes : -1;
  std::string pending;  // a line read without its newline yet
  char buf[65536];
  bool quiet_after_exit = false;
  bool drained_rotated = false;  // read the renamed file to its end once more
  Status result;
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof buf, pos);
    if (n < 0) {
      result = ErrnoStatus("read " + path, errno);
      break;
    }
    if (n > 0) {
      pos += n;
      pending.append(buf, n);
      std::string out;
      size_t start = 0;
      for (;;) {
        auto nl = pending.find('\n', start);
        if (nl == std::string::npos) break;
        auto e = ParseCriLine(std::string_view(pending).substr(start, nl - start));
        start = nl + 1;
        if (!e.ok()) continue;  // not a CRI line (the kubelet skips those too)
        if (opts.since_ns && e->time_ns < *opts.since_ns) continue;
        if (opts.timestamps) out += FormatRfc3339Nano(e->time_ns) + " ";
        out += e->text;
        if (!e->partial) out += '\n';
      }
      pending.erase(0, start);
      if (!out.empty()) {
        bool last = false;
        if (budget >= 0 && static_cast<int64_t>(out.size()) >= budget) {
          out.resize(budget);
          last = true;
        }
        if (budget >= 0) budget -= out.size();
        if (!out.empty() && !sink(out)) break;
        if (last) break;
      }
      continue;
    }
    // At the end of what is written so far.
    if (!opts.follow) break;
    if (stop && stop()) break;
    // The agent rotated the log (renamed it away and put a new file at `path`): finish the
    // old file, whose writer may have added a last line since, then go on with the new one.
    if (struct stat now, open_st; stat(path.c_str(), &now) == 0 && fstat(fd, &open_st) == 0 &&
                                  (now.st_ino != open_st.st_ino || now.st_dev != open_st.st_dev)) {
      if (!drained_rotated) {
        drained_rotated = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a write under way
        continue;
      }
      if (int next = open(path.c_str(), O_RDONLY | O_CLOEXEC); next >= 0) {
        close(fd);
        fd = next;
        pos = 0;
        pending.clear();
        drained_rotated = false;
        continue;
      }
    }
    if (quiet_after_exit) break;
    if (!still_running()) {
      quiet_after_exit = true;  // one more read catches the last lines, then end
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  close(fd);
  return result;
}

}  // namespace sampan::streaming
