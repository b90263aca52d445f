// tcp_floor: the floor under any request/response API on this machine — plain TCP round trips over
// 127.0.0.1, no TLS, no HTTP parsing, no work. A server thread answers every request of REQ bytes
// with RESP bytes over epoll (as sampan's API thread does); CONCURRENCY client threads each keep
// one connection and send their next request when the previous answer is in (as apiserver_load
// does). The rate it reaches is what the kernel's loopback TCP and the thread hand-offs alone
// allow. Not a test; bench/apiserver.sh prints it beside the API figures.
//
//   tcp_floor [--concurrency N] [--seconds S] [--request-bytes B] [--response-bytes B]
//
// Prints one JSON line: concurrency, round_trips, seconds, per_second, cpu_s (this process).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cpu_seconds.h"

namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "tcp_floor: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

// Moves exactly n bytes with `io` (read or write on a blocking socket); false on EOF or error.
template <typename Io>
bool Full(int fd, char* buf, size_t n, Io io) {
  while (n > 0) {
    ssize_t r = io(fd, buf, n);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      return false;
    }
    buf += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool ReadFull(int fd, char* buf, size_t n) {
  return Full(fd, buf, n, [](int f, char* b, size_t k) { return read(f, b, k); });
}

bool WriteFull(int fd, char* buf, size_t n) {
  return Full(fd, buf, n, [](int f, char* b, size_t k) { return write(f, b, k); });
}

struct Conn {
  int fd;
  size_t have = 0;  // bytes of the current request read so far
};

// One epoll thread: reads each connection's request (non-blocking), answers when it is whole.
void Serve(int listener, size_t req_bytes, size_t resp_bytes, std::atomic<bool>* stop) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) Die("epoll_create1");
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.ptr = nullptr;
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &lev);
  std::vector<char> in(req_bytes), out(resp_bytes, 'r');
  std::vector<epoll_event> evs(256);
  while (!stop->load(std::memory_order_relaxed)) {
    int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.ptr == nullptr) {
        int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = new Conn{fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        continue;
      }
      auto* c = static_cast<Conn*>(evs[i].data.ptr);
      for (;;) {
        ssize_t r = read(c->fd, in.data() + c->have, req_bytes - c->have);
        if (r <= 0) {
          if (r < 0 && errno == EAGAIN) break;
          epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
          close(c->fd);
          delete c;
          c = nullptr;
          break;
        }
        c->have += static_cast<size_t>(r);
        if (c->have == req_bytes) {
          c->have = 0;
          // The answer fits the socket buffer: a non-blocking write sends it whole.
          if (write(c->fd, out.data(), resp_bytes) != static_cast<ssize_t>(resp_bytes)) {
            std::fprintf(stderr, "tcp_floor: short write\n");
            std::exit(1);
          }
        }
      }
    }
  }
  close(ep);
}


}  // namespace

int main(int argc, char** argv) {
  int concurrency = 64;
  double seconds = 5;
  size_t req_bytes = 400, resp_bytes = 700;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "tcp_floor: missing value for %s\n", a.c_str());
      return 2;
    }
    const char* v = argv[++i];
    if (a == "--concurrency")
      concurrency = std::atoi(v);
    else if (a == "--seconds")
      seconds = std::atof(v);
    else if (a == "--request-bytes")
      req_bytes = std::strtoul(v, nullptr, 10);
    else if (a == "--response-bytes")
      resp_bytes = std::strtoul(v, nullptr, 10);
    else {
      std::fprintf(stderr, "tcp_floor: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (concurrency < 1 || req_bytes < 1 || resp_bytes < 1 || resp_bytes > 65536) {
    std::fprintf(stderr, "tcp_floor: bad flags\n");
    return 2;
  }

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listener < 0) Die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) Die("bind");
  if (listen(listener, 1024) < 0) Die("listen");
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);

  std::atomic<bool> stop{false};
  std::thread server(Serve, listener, req_bytes, resp_bytes, &stop);

  std::atomic<long> trips{0};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  auto deadline = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int t = 0; t < concurrency; ++t) {
    clients.emplace_back([&] {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        Die("connect");
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::vector<char> req(req_bytes, 'q'), resp(resp_bytes);
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      long mine = 0;
      while (std::chrono::steady_clock::now() < deadline) {
        if (!WriteFull(fd, req.data(), req_bytes) || !ReadFull(fd, resp.data(), resp_bytes)) break;
        ++mine;
      }
      trips.fetch_add(mine);
      close(fd);
    });
  }
  while (ready.load() < concurrency) std::this_thread::yield();
  auto start = std::chrono::steady_clock::now();
  deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(seconds));
  double cpu0 = ProcessCpuSeconds();
  go.store(true);
  for (auto& c : clients) c.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = ProcessCpuSeconds() - cpu0;
  stop.store(true);
  server.join();
  close(listener);
  std::printf(
      "{\"concurrency\": %d, \"request_bytes\": %zu, \"response_bytes\": %zu, \"round_trips\": "
      "%ld, "
      "\"seconds\": %.3f, \"per_second\": %.1f, \"cpu_s\": %.2f}\n",
      concurrency, req_bytes, resp_bytes, trips.load(), secs, trips.load() / secs, cpu);
  return 0;
}
