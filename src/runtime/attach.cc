#include "runtime/attach.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>

#include "runtime/runtime.h"
#include "runtime/state.h"
#include "runtime/sys.h"

namespace sampan::runtime {

namespace {

constexpr size_t kMaxClientBacklog = 4 << 20;  // a client this far behind is dropped
constexpr size_t kMaxStdinBacklog = 1 << 20;   // input waiting for the container
constexpr size_t kMaxFrame = 1 << 20;

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

std::string AttachFrame(unsigned char stream, std::string_view payload) {
  std::string f;
  f.reserve(payload.size() + 5);
  uint32_t n = static_cast<uint32_t>(payload.size());
  f += static_cast<char>(stream);
  f += static_cast<char>(n >> 24);
  f += static_cast<char>(n >> 16);
  f += static_cast<char>(n >> 8);
  f += static_cast<char>(n);
  f.append(payload);
  return f;
}

Result<std::string> ShortSocketPath(const std::string& dir, const std::string& name, int* dir_fd) {
  int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open " + dir, errno);
  *dir_fd = fd;
  return "/proc/self/fd/" + std::to_string(fd) + "/" + name;
}

Result<std::unique_ptr<AttachServer>> AttachServer::Listen(const std::string& dir, int stdin_fd,
                                                           int terminal_fd) {
  std::unique_ptr<AttachServer> s(new AttachServer());
  s->stdin_fd_ = stdin_fd;
  if (terminal_fd >= 0) s->terminal_fd_ = ::fcntl(terminal_fd, F_DUPFD_CLOEXEC, 0);
  s->path_ = dir + "/attach";
  int dfd = -1;
  ASSIGN_OR_RETURN(std::string path, ShortSocketPath(dir, "attach", &dfd));
  UniqueFd dir_owner(dfd);
  s->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s->listen_fd_ < 0) return ErrnoStatus("socket", errno);
  sockaddr_un a = {};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  ::unlink(s->path_.c_str());
  if (::bind(s->listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    return ErrnoStatus("bind " + s->path_, errno);
  ::chmod(s->path_.c_str(), 0600);
  if (::listen(s->listen_fd_, 16) != 0) return ErrnoStatus("listen " + s->path_, errno);
  SetNonBlocking(stdin_fd);
  return s;
}

AttachServer::~AttachServer() {
  for (auto& c : clients_)
    if (c.fd >= 0) ::close(c.fd);
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(path_.c_str());
  }
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  if (terminal_fd_ >= 0) ::close(terminal_fd_);
}

void AttachServer::AddPollFds(std::vector<pollfd>& fds) {
  polled_.clear();
  if (listen_fd_ >= 0) {
    fds.push_back({listen_fd_, POLLIN, 0});
    polled_.push_back(-1);
  }
  if (stdin_fd_ >= 0 && !stdin_pending_.empty()) {
    fds.push_back({stdin_fd_, POLLOUT, 0});
    polled_.push_back(-2);
  }
  for (size_t i = 0; i < clients_.size(); ++i) {
    short ev = 0;
    // Input is taken only while the container keeps up with it.
    if (stdin_pending_.size() < kMaxStdinBacklog) ev |= POLLIN;
    if (!clients_[i].out.empty()) ev |= POLLOUT;
    fds.push_back({clients_[i].fd, ev, 0});
    polled_.push_back(static_cast<int>(i));
  }
}

void AttachServer::Handle(const std::vector<pollfd>& fds, size_t first) {
  for (size_t k = 0; k < polled_.size() && first + k < fds.size(); ++k) {
    short re = fds[first + k].revents;
    if (!re) continue;
    int who = polled_[k];
    if (who == -1) {
      Accept();
    } else if (who == -2) {
      FlushStdin();
    } else {
      Client& c = clients_[static_cast<size_t>(who)];
      if (c.fd < 0) continue;
      if (re & (POLLIN | POLLHUP | POLLERR)) ReadClient(c);
      if (c.fd >= 0 && (re & POLLOUT)) WriteClient(c);
    }
  }
  DropClosed();
}

void AttachServer::Accept() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    clients_.push_back(Client{fd, {}, {}});
  }
}

void AttachServer::ReadClient(Client& c) {
  char buf[65536];
  ssize_t n = ::read(c.fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    ::close(c.fd);
    c.fd = -1;
    return;
  }
  c.in.append(buf, static_cast<size_t>(n));
  size_t pos = 0;
  while (c.in.size() - pos >= 5) {
    const unsigned char* h = reinterpret_cast<const unsigned char*>(c.in.data() + pos);
    uint32_t len = (uint32_t{h[1]} << 24) | (uint32_t{h[2]} << 16) | (uint32_t{h[3]} << 8) | h[4];
    bool resize = h[0] == kAttachResize && len == 4;
    if ((h[0] != kAttachStdin && !resize) || len > kMaxFrame) {  // not our protocol
      ::close(c.fd);
      c.fd = -1;
      return;
    }
    if (c.in.size() - pos - 5 < len) break;
    if (resize) {
      struct winsize ws = {};
      ws.ws_col = static_cast<unsigned short>((h[5] << 8) | h[6]);
      ws.ws_row = static_cast<unsigned short>((h[7] << 8) | h[8]);
      // The kernel signals the terminal's foreground process group (SIGWINCH).
      if (terminal_fd_ >= 0) (void)::ioctl(terminal_fd_, TIOCSWINSZ, &ws);
    } else if (len == 0) {
      stdin_close_requested_ = true;
    } else if (stdin_fd_ >= 0 && !stdin_close_requested_) {
      stdin_pending_.append(c.in, pos + 5, len);
    }
    pos += 5 + len;
  }
  c.in.erase(0, pos);
  FlushStdin();
}

void AttachServer::FlushStdin() {
  while (stdin_fd_ >= 0 && !stdin_pending_.empty()) {
    ssize_t n = ::write(stdin_fd_, stdin_pending_.data(), stdin_pending_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {  // the container closed its stdin
      CloseStdin();
      return;
    }
    stdin_pending_.erase(0, static_cast<size_t>(n));
  }
  if (stdin_close_requested_) CloseStdin();
}

void AttachServer::CloseStdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
  stdin_pending_.clear();
}

void AttachServer::WriteClient(Client& c) {
  while (!c.out.empty()) {
    ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      ::close(c.fd);
      c.fd = -1;
      return;
    }
    c.out.erase(0, static_cast<size_t>(n));
  }
}

void AttachServer::DropClosed() {
  std::vector<Client> keep;
  for (auto& c : clients_)
    if (c.fd >= 0) keep.push_back(std::move(c));
  clients_ = std::move(keep);
}

void AttachServer::Output(unsigned char stream, const char* data, size_t n) {
  if (clients_.empty() || n == 0) return;
  std::string frame = AttachFrame(stream, std::string_view(data, n));
  for (auto& c : clients_) {
    if (c.fd < 0) continue;
    if (c.out.size() > kMaxClientBacklog) {  // too slow: dropped rather than stall the monitor
      ::close(c.fd);
      c.fd = -1;
      continue;
    }
    c.out += frame;
    WriteClient(c);
  }
  // Closed clients are dropped in Handle: the poll set's indices stay valid until then.
}

void AttachServer::Finish(int exit_code) {
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(path_.c_str());
    listen_fd_ = -1;
  }
  CloseStdin();
  std::string frame = AttachFrame(kAttachExit, std::to_string(exit_code));
  for (auto& c : clients_) c.out += frame;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (;;) {
    std::vector<pollfd> fds;
    for (auto& c : clients_) {
      if (c.fd < 0) continue;
      WriteClient(c);
      if (c.fd >= 0 && !c.out.empty()) fds.push_back({c.fd, POLLOUT, 0});
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (fds.empty() || left <= 0) break;
    ::poll(fds.data(), fds.size(), static_cast<int>(left));
  }
  for (auto& c : clients_)
    if (c.fd >= 0) ::close(c.fd);
  clients_.clear();
}

Result<int> Runtime::ConnectAttach(const std::string& id) const {
  if (!ValidContainerId(id)) return Invalid("invalid container id \"" + id + "\"");
  std::string dir = opts_.root + "/" + id;
  int dfd = -1;
  auto path = ShortSocketPath(dir, "attach", &dfd);
  if (!path.ok()) return NotFound("container \"" + id + "\" does not exist");
  UniqueFd dir_owner(dfd);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", errno);
  sockaddr_un a = {};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path->c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int err = errno;
    ::close(fd);
    if (err == ENOENT || err == ECONNREFUSED)
      return NotFound("container \"" + id +
                      "\" has no attach socket (not created for attach, or exited)");
    return ErrnoStatus("connect " + dir + "/attach", err);
  }
  return fd;
}

}  // namespace sampan::runtime
