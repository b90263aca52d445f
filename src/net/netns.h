// Running work inside another network namespace without moving the caller: the work runs on
// a dedicated short-lived thread that enters the namespace (setns) and ends with it, so the
// calling thread never changes namespace. Sockets created there stay bound to that
// namespace after the thread is gone; child processes spawned there start in it.
#pragma once

#include <functional>
#include <string>

#include "util/status.h"

namespace sampan::net {

// Owns a namespace file descriptor (closed on destruction). Move-only.
class NetnsFd {
 public:
  NetnsFd() = default;
  explicit NetnsFd(int fd) : fd_(fd) {}
  NetnsFd(NetnsFd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  NetnsFd& operator=(NetnsFd&& o) noexcept;
  NetnsFd(const NetnsFd&) = delete;
  NetnsFd& operator=(const NetnsFd&) = delete;
  ~NetnsFd();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Opens a network namespace by path: /proc/PID/ns/net, /run/netns/NAME, or a bind mount of
// one. NotFound when the path does not exist; Invalid when it is not a network namespace.
Result<NetnsFd> OpenNetns(const std::string& path);
// The calling thread's own network namespace (/proc/thread-self/ns/net).
Result<NetnsFd> CurrentNetns();

// Runs `fn` on a new thread inside the namespace `netns_fd` and returns its Status (or the
// setns error). Blocks until `fn` returns.
Status RunInNetns(int netns_fd, const std::function<Status()>& fn);

}  // namespace sampan::net
