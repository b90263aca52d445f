#include "runtime/console.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "runtime/sys.h"

namespace sampan::runtime {

Result<int> ConnectConsoleSocket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("console socket", errno);
  struct sockaddr_un addr;
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    ::close(fd);
    return Invalid("--console-socket: path too long");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("--console-socket: connect " + path, err);
  }
  return fd;
}

Status SendFd(int sock, int fd, const std::string& name) {
  struct msghdr msg;
  std::memset(&msg, 0, sizeof msg);
  struct iovec iov;
  std::string payload = name.empty() ? std::string("console") : name;
  iov.iov_base = payload.data();
  iov.iov_len = payload.size();
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(int))];
  std::memset(buf, 0, sizeof buf);
  msg.msg_control = buf;
  msg.msg_controllen = sizeof buf;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  if (::sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) return ErrnoStatus("send console fd", errno);
  return Status();
}

Result<int> RecvFd(int sock, std::string* name) {
  struct msghdr msg;
  std::memset(&msg, 0, sizeof msg);
  char data[4096];
  struct iovec iov = {data, sizeof data};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(int))];
  msg.msg_control = buf;
  msg.msg_controllen = sizeof buf;
  ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0) return ErrnoStatus("receive fd", errno);
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
    return Internal("receive fd: no file descriptor in message");
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  if (name) name->assign(data, static_cast<size_t>(n));
  return fd;
}

Status SetupConsole(int sock, bool bind_console) {
  int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return ErrnoStatus("open /dev/ptmx", errno);
  UniqueFd m(master);
  if (::unlockpt(master) != 0) return ErrnoStatus("unlockpt", errno);
  char name[128];
  if (::ptsname_r(master, name, sizeof name) != 0) return ErrnoStatus("ptsname", errno);
  int slave = ::open(name, O_RDWR | O_NOCTTY);
  if (slave < 0) return ErrnoStatus(std::string("open ") + name, errno);
  if (bind_console) {
    int f = ::open("/dev/console", O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (f >= 0) ::close(f);
    if (::mount(name, "/dev/console", nullptr, MS_BIND, nullptr) != 0)
      return ErrnoStatus("bind the pty on /dev/console", errno);
  }
  for (int i = 0; i < 3; ++i)
    if (::dup2(slave, i) < 0) return ErrnoStatus("dup2 pty", errno);
  if (slave > 2) ::close(slave);
  if (::ioctl(0, TIOCSCTTY, 0) != 0) return ErrnoStatus("TIOCSCTTY", errno);
  RETURN_IF_ERROR(SendFd(sock, master, name));
  return Status();
}

}  // namespace sampan::runtime
