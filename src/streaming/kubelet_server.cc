#include "streaming/kubelet_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "streaming/session.h"
#include "util/log.h"

namespace sampan::streaming {

namespace {

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

class Server final : public KubeletServer {
 public:
  Server(ServerOptions o, Backend* b) : opts_(std::move(o)), backend_(b) {}
  ~Server() override { Stop(); }

  Status Init() {
    signal(SIGPIPE, SIG_IGN);  // writes to closed pipes and sockets report EPIPE instead
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (!ctx_) return Internal("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx_, opts_.cert_file.c_str()) != 1)
      return Internal("load serving certificate " + opts_.cert_file);
    if (SSL_CTX_use_PrivateKey_file(ctx_, opts_.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      return Internal("load serving key " + opts_.key_file);
    if (opts_.client_ca_file.empty()) return BadRequest("a client CA file is required");
    if (SSL_CTX_load_verify_locations(ctx_, opts_.client_ca_file.c_str(), nullptr) != 1)
      return Internal("load client CA " + opts_.client_ca_file);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(opts_.client_ca_file.c_str()))
      SSL_CTX_set_client_CA_list(ctx_, names);
    SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    sockaddr_storage ss{};
    socklen_t len;
    int family;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, opts_.bind_address.c_str(), &v4->sin_addr) == 1) {
      family = v4->sin_family = AF_INET;
      v4->sin_port = htons(opts_.port);
      len = sizeof *v4;
    } else if (inet_pton(AF_INET6, opts_.bind_address.c_str(), &v6->sin6_addr) == 1) {
      family = v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(opts_.port);
      len = sizeof *v6;
    } else {
      return BadRequest("invalid bind address " + opts_.bind_address);
    }
    listen_fd_ = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
        listen(listen_fd_, 128) != 0)
      return ErrnoStatus("listen on " + opts_.bind_address + ":" + std::to_string(opts_.port),
                         errno);
    sockaddr_storage bound{};
    socklen_t blen = sizeof bound;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &blen);
    port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
    return Status::Ok();
  }

  int port() const override { return port_; }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    if (stop_fd_ >= 0) {
      uint64_t one = 1;
      (void)!write(stop_fd_, &one, sizeof one);
    }
    if (acceptor_.joinable()) acceptor_.join();
    {
      std::unique_lock lk(mu_);
      idle_.wait(lk, [this] { return active_ == 0; });
    }
    if (listen_fd_ >= 0) close(listen_fd_);
    if (stop_fd_ >= 0) close(stop_fd_);
    if (ctx_) SSL_CTX_free(ctx_);
    listen_fd_ = stop_fd_ = -1;
    ctx_ = nullptr;
  }

 private:
  void AcceptLoop() {
    for (;;) {
      pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      if (poll(p, 2, -1) < 0 && errno != EINTR) return;
      if (p[1].revents) return;
      if (!(p[0].revents & POLLIN)) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) continue;
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      {
        std::lock_guard lk(mu_);
        ++active_;
      }
      // One thread per connection: streams are few and long, and the backend blocks.
      std::thread([this, fd] {
        Serve(fd);
        std::lock_guard lk(mu_);
        if (--active_ == 0) idle_.notify_all();
      }).detach();
    }
  }

  void Serve(int fd) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    Conn conn(fd, ssl, stop_fd_);
    if (!conn.Handshake(std::chrono::seconds(10)).ok()) return;
    auto req = conn.ReadHead(std::chrono::seconds(60));
    if (!req.ok()) {
      if (req.status().code() == Code::kBadRequest)
        (void)conn.WriteAll(HttpResponse(400, "application/json", StatusJson(req.status())),
                            std::chrono::seconds(5));
      conn.Shutdown();
      return;
    }
    Route(conn, *req);
  }

  void Route(Conn& conn, const HttpRequest& req) {
    auto parts = SplitPath(req.path);
    auto fail = [&](const Status& st) {
      (void)conn.WriteAll(HttpResponse(HttpCode(st), "application/json", StatusJson(st)),
                          std::chrono::seconds(10));
      conn.Shutdown();
    };
    if (parts.size() == 1 && parts[0] == "healthz") {
      (void)conn.WriteAll(HttpResponse(200, "text/plain", "ok"), std::chrono::seconds(10));
      conn.Shutdown();
      return;
    }
    if (parts.empty()) return fail(NotFound("not found"));
    const std::string& what = parts[0];
    bool get_or_post = req.method == "GET" || req.method == "POST";
    // /exec|attach/{ns}/{pod}/{container} or .../{pod}/{uid}/{container}
    if ((what == "exec" || what == "attach") && (parts.size() == 4 || parts.size() == 5)) {
      if (!get_or_post) return fail(Status(Code::kMethodNotAllowed, "use GET or POST"));
      ContainerRef ref{parts[1], parts[2], parts.back()};
      return ServeRemoteCommand(conn, req, *backend_, what == "attach", ref);
    }
    if (what == "portForward" && (parts.size() == 3 || parts.size() == 4)) {
      if (!get_or_post) return fail(Status(Code::kMethodNotAllowed, "use GET or POST"));
      return ServePortForward(conn, req, *backend_, parts[1], parts[2]);
    }
    if (what == "containerLogs" && parts.size() == 4) {
      if (req.method != "GET") return fail(Status(Code::kMethodNotAllowed, "use GET"));
      ContainerRef ref{parts[1], parts[2], parts[3]};
      return ServeLogs(conn, req, *backend_, ref);
    }
    fail(NotFound("the kubelet API has no " + req.path));
  }

  ServerOptions opts_;
  Backend* backend_;
  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1, stop_fd_ = -1, port_ = 0;
  std::thread acceptor_;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::condition_variable idle_;
  int active_ = 0;
};

}  // namespace

Result<std::unique_ptr<KubeletServer>> KubeletServer::Start(const ServerOptions& opts,
                                                            Backend* backend) {
  auto s = std::make_unique<Server>(opts, backend);
  if (Status st = s->Init(); !st.ok()) return st;
  return std::unique_ptr<KubeletServer>(std::move(s));
}

}  // namespace sampan::streaming
