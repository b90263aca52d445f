#include "net/netns.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

namespace sampan::net {

NetnsFd& NetnsFd::operator=(NetnsFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

NetnsFd::~NetnsFd() {
  if (fd_ >= 0) ::close(fd_);
}

Result<NetnsFd> OpenNetns(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT || e == ESRCH) return NotFound("network namespace " + path + " does not exist");
    return ErrnoStatus("open network namespace " + path, e);
  }
  NetnsFd ns(fd);
  // Only a namespace file answers NS_GET_NSTYPE (a leftover /run/netns/NAME whose
  // namespace was unmounted is a plain empty file).
  int type = ::ioctl(fd, NS_GET_NSTYPE);
  if (type != CLONE_NEWNET) return Invalid(path + " is not a network namespace");
  return ns;
}

Result<NetnsFd> CurrentNetns() { return OpenNetns("/proc/thread-self/ns/net"); }

Status RunInNetns(int netns_fd, const std::function<Status()>& fn) {
  Status result;
  std::thread worker([&] {
    if (::setns(netns_fd, CLONE_NEWNET) != 0) {
      int e = errno;
      result = e == EINVAL ? Invalid("setns: not a network namespace")
                           : ErrnoStatus("setns (network namespace)", e);
      return;
    }
    result = fn();
  });
  worker.join();
  return result;
}

}  // namespace sampan::net
