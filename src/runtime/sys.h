// Small POSIX helpers of the runtime: an owning fd, whole-file reads/writes, directory
// creation, pid liveness. All return Status/Result with the path and errno in the message.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace sampan::runtime {

// Owns one file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) Reset(o.Release());
    return *this;
  }
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

Result<std::string> ReadWholeFile(const std::string& path);
// Writes `data` to an existing file (cgroup/proc knobs): open O_WRONLY, one write.
Status WriteKnob(const std::string& path, std::string_view data);
// The write of WriteKnob on a descriptor already open (several rules to one cgroup file).
Status WriteKnobFd(int fd, const std::string& path, std::string_view data);
// Writes a file atomically (temp file + rename) with `mode`.
Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644);
// mkdir -p.
Status MkdirAll(const std::string& path, mode_t mode = 0755);
bool PathExists(const std::string& path);
bool IsDirectory(const std::string& path);
// Joins `rel` under `root` lexically, resolving ".." without escaping root.
std::string CleanJoin(const std::string& root, const std::string& rel);
// Makes a path absolute against the current directory, without resolving links.
std::string AbsPath(const std::string& path);

// The process start time (field 22 of /proc/<pid>/stat); 0 if the process is gone.
uint64_t ProcessStartTime(pid_t pid);
// Whether `pid` exists and is not a zombie.
bool ProcessAlive(pid_t pid);

int PidfdOpen(pid_t pid);
int PidfdSendSignal(int pidfd, int sig);

// Every signal back to its default action and none blocked, for a process about to exec a
// container's program: it starts clean whatever the runtime's caller ignored or blocked
// (`nohup` ignores SIGHUP, and a shell cannot trap a signal ignored on entry; the server blocks
// SIGTERM/SIGINT for its signal thread). Async-signal-safe.
void ResetSignalsForExec();

// Writes all bytes, retrying on EINTR/short writes.
bool WriteAll(int fd, const void* buf, size_t len);
// Reads exactly len bytes; false on EOF or error.
bool ReadAll(int fd, void* buf, size_t len);

// A short task run on a thread of its own (small stack) while the caller goes on: the runtime
// makes a container's network namespace on one. Join (or the destructor) waits for it; without
// a thread the task runs inline. Starting and joining a thread costs tens of microseconds on a
// VM (a cross-CPU wakeup each way), so only work well above that is worth it.
class AsideTask {
 public:
  explicit AsideTask(std::function<void()> fn);
  ~AsideTask() { Join(); }
  AsideTask(const AsideTask&) = delete;
  AsideTask& operator=(const AsideTask&) = delete;
  void Join();

 private:
  static void* Main(void* self);
  std::function<void()> fn_;
  unsigned long thread_ = 0;  // pthread_t
  bool running_ = false;
};

// RFC 3339 with nanoseconds, UTC ("2026-01-02T03:04:05.123456789Z").
std::string Rfc3339Nano(const struct timespec& ts);
std::string NowRfc3339Nano();

}  // namespace sampan::runtime
