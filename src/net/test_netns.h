// For tests only: named network namespaces (`ip netns add`) that are deleted with the
// object, and in-process TCP probes that run inside them. Deleting a namespace removes
// everything in it (links, addresses, routes, nftables tables).
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "net/netns.h"
#include "util/status.h"

namespace sampan::net::testing {

// Runs a shell command; returns its exit status and (optionally) its output.
inline int Shell(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = ::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int rc = ::pclose(p);
  if (out) *out = text;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// Deletes namespaces left by test processes that died without cleaning up (a crash skips
// destructors): "sampan-t<PID>-..." whose PID no longer runs.
inline void RemoveStaleTestNamespaces() {
  DIR* d = ::opendir("/run/netns");
  if (!d) return;
  std::vector<std::string> stale;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind("sampan-t", 0) != 0) continue;
    size_t dash = name.find('-', 8);
    if (dash == std::string::npos) continue;
    int pid = std::atoi(name.substr(8, dash - 8).c_str());
    if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) stale.push_back(name);
  }
  ::closedir(d);
  for (const std::string& name : stale) Shell("ip netns del " + name + " >/dev/null 2>&1");
}

class TestNetns {
 public:
  explicit TestNetns(const std::string& tag)
      : name_("sampan-t" + std::to_string(::getpid()) + "-" + tag) {
    RemoveStaleTestNamespaces();
    Shell("ip netns del " + name_ + " >/dev/null 2>&1");
    created_ = Shell("ip netns add " + name_, &error_) == 0;
  }
  ~TestNetns() {
    if (created_) Shell("ip netns del " + name_);
  }
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;

  bool ok() const { return created_; }
  const std::string& error() const { return error_; }
  const std::string& name() const { return name_; }
  std::string path() const { return "/run/netns/" + name_; }
  // Runs `cmd` (a shell command line) inside the namespace.
  int Run(const std::string& cmd, std::string* out = nullptr) const {
    return Shell("nsenter --net=" + path() + " sh -c '" + cmd + "'", out);
  }

 private:
  std::string name_;
  bool created_ = false;
  std::string error_;
};

// A TCP listener bound inside `ns` on 0.0.0.0:port; the socket stays in that namespace.
inline Result<int> ListenIn(const std::string& ns_path, int port) {
  ASSIGN_OR_RETURN(NetnsFd ns, OpenNetns(ns_path));
  int fd = -1;
  RETURN_IF_ERROR(RunInNetns(ns.get(), [&]() -> Status {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return ErrnoStatus("socket", errno);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 16) != 0)
      return ErrnoStatus("bind/listen", errno);
    return Status::Ok();
  }));
  return fd;
}

// Connects from inside `ns` to ip:port (3 s timeout). Returns the connected socket.
inline Result<int> ConnectFrom(const std::string& ns_path, const std::string& ip, int port) {
  ASSIGN_OR_RETURN(NetnsFd ns, OpenNetns(ns_path));
  int fd = -1;
  RETURN_IF_ERROR(RunInNetns(ns.get(), [&]() -> Status {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return ErrnoStatus("socket", errno);
    return Status::Ok();
  }));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
    int e = errno;
    ::close(fd);
    return ErrnoStatus("connect " + ip, e);
  }
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof err;
  if (::poll(&p, 1, 3000) != 1 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
      err != 0) {
    ::close(fd);
    return Unavailable("connect " + ip + ":" + std::to_string(port) +
                       " failed: " + (err ? std::string(strerror(err)) : std::string("timed out")));
  }
  return fd;
}

// Accepts one connection on `listener` (3 s timeout); returns the client's address as the
// listener saw it.
inline Result<std::string> AcceptPeer(int listener) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, 3000) != 1) return Unavailable("no connection arrived");
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  int c = ::accept4(listener, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_CLOEXEC);
  if (c < 0) return ErrnoStatus("accept", errno);
  ::close(c);
  char buf[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &sa.sin_addr, buf, sizeof buf);
  return std::string(buf);
}

// Connects from `from_ns` to ip:port, where `listener` listens, and returns the source
// address the listener saw.
inline Result<std::string> Probe(const std::string& from_ns, const std::string& ip, int port,
                                 int listener) {
  ASSIGN_OR_RETURN(int fd, ConnectFrom(from_ns, ip, port));
  auto peer = AcceptPeer(listener);
  ::close(fd);
  return peer;
}

}  // namespace sampan::net::testing
