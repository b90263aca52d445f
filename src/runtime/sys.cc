#include "runtime/sys.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace sampan::runtime {

Result<std::string> ReadWholeFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open " + path, errno);
  UniqueFd f(fd);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read " + path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status WriteKnob(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open " + path, errno);
  UniqueFd f(fd);
  return WriteKnobFd(fd, path, data);
}

Status WriteKnobFd(int fd, const std::string& path, std::string_view data) {
  ssize_t n;
  do {
    n = ::write(fd, data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoStatus("write " + std::string(data) + " to " + path, errno);
  return Status();
}

Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus("create " + tmp, errno);
  bool ok = WriteAll(fd, data.data(), data.size());
  int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return ErrnoStatus("write " + tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus("rename " + tmp, err);
  }
  return Status();
}

Status MkdirAll(const std::string& path, mode_t mode) {
  if (path.empty()) return Status();
  std::string cur;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    cur = path.substr(0, j);
    if (!cur.empty() && ::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return ErrnoStatus("mkdir " + cur, errno);
    i = j + 1;
  }
  return Status();
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string CleanJoin(const std::string& root, const std::string& rel) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < rel.size()) {
    size_t j = rel.find('/', i);
    if (j == std::string::npos) j = rel.size();
    std::string p = rel.substr(i, j - i);
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!p.empty() && p != ".") {
      parts.push_back(p);
    }
    i = j + 1;
  }
  std::string out = root;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (out == "/") out.clear();
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

std::string AbsPath(const std::string& path) {
  if (!path.empty() && path[0] == '/') return CleanJoin("/", path);
  char buf[4096];
  if (!::getcwd(buf, sizeof buf)) return path;
  return CleanJoin(buf, path);
}

uint64_t ProcessStartTime(pid_t pid) {
  auto text = ReadWholeFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text.ok()) return 0;
  const std::string& s = *text;
  size_t rp = s.rfind(')');
  if (rp == std::string::npos) return 0;
  // after ") " come fields 3.. ; start time is field 22.
  const char* p = s.c_str() + rp + 2;
  int field = 3;
  while (*p && field < 22) {
    if (*p == ' ') ++field;
    ++p;
  }
  return std::strtoull(p, nullptr, 10);
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  auto text = ReadWholeFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text.ok()) return false;
  size_t rp = text->rfind(')');
  if (rp == std::string::npos || rp + 2 >= text->size()) return false;
  char state = (*text)[rp + 2];
  return state != 'Z' && state != 'X';
}

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

void ResetSignalsForExec() {
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  // The kernel's struct sigaction (handler, flags, restorer, mask; zeros past the handler),
  // for the signals glibc keeps for itself (32 and 33) and refuses to touch: an ignored one
  // would be inherited through exec like any other.
  struct {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    uint64_t mask;
  } kernel_dfl = {SIG_DFL, 0, nullptr, 0};
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (::sigaction(sig, &dfl, nullptr) != 0 && errno == EINVAL) {
      (void)::syscall(SYS_rt_sigaction, sig, &kernel_dfl, nullptr, sizeof(uint64_t));
    }
  }
  sigset_t none;
  sigemptyset(&none);
  (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
}

bool WriteAll(int fd, const void* buf, size_t len) {
  const char* p = static_cast<const char*>(buf);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool ReadAll(int fd, void* buf, size_t len) {
  char* p = static_cast<char*>(buf);
  while (len > 0) {
    ssize_t n = ::read(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

std::string Rfc3339Nano(const struct timespec& ts) {
  // UTC by arithmetic: glibc's gmtime_r loads /etc/localtime first (tzset), an open and a
  // parse on every `create`/`run` for a time zone that UTC does not use.
  long long secs = ts.tv_sec;
  long long days = secs / 86400, rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // Civil date from days since 1970-01-01 (proleptic Gregorian, 400-year eras of 146097 days).
  long long z = days + 719468;
  long long era = (z >= 0 ? z : z - 146096) / 146097;
  long long doe = z - era * 146097;                                       // day of era [0, 146096]
  long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // year of era
  long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // day of year, from March
  long long mp = (5 * doy + 2) / 153;                                     // month, March = 0
  long long day = doy - (153 * mp + 2) / 5 + 1;
  long long month = mp < 10 ? mp + 3 : mp - 9;
  long long year = yoe + era * 400 + (month <= 2);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%09ldZ", year, month,
                day, rem / 3600, rem % 3600 / 60, rem % 60, ts.tv_nsec);
  return buf;
}

std::string NowRfc3339Nano() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return Rfc3339Nano(ts);
}

AsideTask::AsideTask(std::function<void()> fn) : fn_(std::move(fn)) {
  pthread_attr_t attr;
  if (::pthread_attr_init(&attr) == 0) {
    // Enough for path handling and a few syscalls; the default 8 MiB is mapped for nothing.
    ::pthread_attr_setstacksize(&attr, 256 << 10);
    pthread_t t;
    running_ = ::pthread_create(&t, &attr, &AsideTask::Main, this) == 0;
    if (running_) thread_ = t;
    ::pthread_attr_destroy(&attr);
  }
  if (!running_) fn_();
}

void* AsideTask::Main(void* self) {
  static_cast<AsideTask*>(self)->fn_();
  return nullptr;
}

void AsideTask::Join() {
  if (!running_) return;
  ::pthread_join(static_cast<pthread_t>(thread_), nullptr);
  running_ = false;
}

}  // namespace sampan::runtime
