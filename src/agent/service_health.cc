#include "agent/service_health.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "util/log.h"
#include "util/thread_name.h"

namespace sampan::agent {

struct ServiceHealthServer::Listener {
  int fd = -1;
  ServiceHealth health;
  ~Listener() {
    if (fd >= 0) ::close(fd);
  }
};

namespace {

// A JSON string's content (the names are DNS labels; quoted anyway).
std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out;
}

Result<int> ListenOn(const std::string& address, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Internal(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    ::close(fd);
    return Invalid("bad bind address " + address);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 64) != 0) {
    std::string err = std::strerror(errno);
    ::close(fd);
    return Unavailable("health check port " + address + ":" + std::to_string(port) + ": " + err);
  }
  return fd;
}

}  // namespace

ServiceHealthServer::ServiceHealthServer(std::string bind_address)
    : bind_address_(std::move(bind_address)) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  thread_ = std::thread([this] {
    util::NameThisThread("svc-health");
    Loop();
  });
}

ServiceHealthServer::~ServiceHealthServer() {
  Stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void ServiceHealthServer::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> l(mu_);
  listeners_.clear();
}

Status ServiceHealthServer::Sync(const std::map<int, ServiceHealth>& ports) {
  std::string errors;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) return Status::Ok();
    for (auto it = listeners_.begin(); it != listeners_.end();) {
      it = ports.count(it->first) ? std::next(it) : listeners_.erase(it);
    }
    for (const auto& [port, health] : ports) {
      auto& listener = listeners_[port];
      if (!listener) {
        auto fd = ListenOn(bind_address_, port);
        if (!fd.ok()) {
          listeners_.erase(port);
          errors += (errors.empty() ? "" : "; ") + fd.status().message();
          continue;
        }
        listener = std::make_unique<Listener>();
        listener->fd = *fd;
      }
      listener->health = health;
    }
  }
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);  // the loop polls the new set
  return errors.empty() ? Status::Ok() : Unavailable(errors);
}

void ServiceHealthServer::Loop() {
  for (;;) {
    std::vector<pollfd> fds = {{wake_fd_, POLLIN, 0}};
    std::vector<int> ports = {0};
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_) return;
      for (const auto& [port, listener] : listeners_) {
        fds.push_back({listener->fd, POLLIN, 0});
        ports.push_back(port);
      }
    }
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
    if (fds[0].revents & POLLIN) {
      uint64_t n;
      (void)!::read(wake_fd_, &n, sizeof n);
      continue;  // the set may have changed: poll it again
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      int conn = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (conn < 0) continue;
      Answer(conn, ports[i]);
      ::close(conn);
    }
  }
}

void ServiceHealthServer::Answer(int fd, int port) {
  // The request head (its content does not matter: every path answers), read for at most 1 s.
  std::string in;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (in.find("\r\n\r\n") == std::string::npos && in.size() < 8192) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
    char buf[2048];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    in.append(buf, static_cast<size_t>(n));
  }
  ServiceHealth h;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = listeners_.find(port);
    if (it == listeners_.end()) return;
    h = it->second->health;
  }
  const std::string body = "{\"service\":{\"namespace\":\"" + JsonEscape(h.ns) + "\",\"name\":\"" +
                           JsonEscape(h.name) +
                           "\"},\"localEndpoints\":" + std::to_string(h.local_endpoints) +
                           ",\"serviceProxyHealthy\":true}";
  const bool ok = h.local_endpoints > 0;
  std::string out = std::string("HTTP/1.1 ") + (ok ? "200 OK" : "503 Service Unavailable") +
                    "\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
                    "X-Load-Balancing-Endpoint-Weight: " +
                    std::to_string(h.local_endpoints) +
                    "\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nConnection: close\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < out.size()) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 1000) <= 0) return;
    ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace sampan::agent
