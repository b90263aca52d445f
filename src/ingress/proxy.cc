#include "ingress/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "ingress/http1.h"
#include "streaming/conn.h"
#include "util/log.h"
#include "util/thread_name.h"

namespace sampan::ingress {

namespace {

using namespace internal;  // NOLINT: this module's HTTP/1.1 pieces (http1.h)

constexpr size_t kSpliceBuf = 64 * 1024;  // per direction, while splicing an upgrade
constexpr size_t kMaxCachedCerts = 512;
constexpr Ms kLinger{2000};

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// We speak HTTP/1.1 only: a client offering h2 by ALPN must not think it got it.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// A TLS 1.2+ server context serving `cert`.
Result<CtxPtr> NewServerCtx(const Certificate& cert) {
  CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return Internal("SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_alpn_select_cb(ctx.get(), SelectAlpn, nullptr);

  std::unique_ptr<BIO, BioFree> certs(
      BIO_new_mem_buf(cert.cert_pem.data(), static_cast<int>(cert.cert_pem.size())));
  std::unique_ptr<X509, X509Free> leaf(
      PEM_read_bio_X509_AUX(certs.get(), nullptr, nullptr, nullptr));
  if (!leaf || SSL_CTX_use_certificate(ctx.get(), leaf.get()) != 1)
    return BadRequest("the certificate PEM does not parse");
  while (X509* ca = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx.get(), ca) != 1) {
      X509_free(ca);
      return BadRequest("the certificate chain does not load");
    }
  }
  std::unique_ptr<BIO, BioFree> keys(
      BIO_new_mem_buf(cert.key_pem.data(), static_cast<int>(cert.key_pem.size())));
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(keys.get(), nullptr, nullptr, nullptr));
  if (!key || SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1)
    return BadRequest("the private key PEM does not parse");
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return BadRequest("the private key does not match the certificate");
  ERR_clear_error();  // the chain loop ends on an expected "no start line"
  return ctx;
}

// What a connection does after a request.
enum class After { kKeepAlive, kClose, kCloseLinger };

class ProxyImpl final : public Proxy {
 public:
  explicit ProxyImpl(ProxyOptions opts) : opts_(std::move(opts)) {}
  ~ProxyImpl() override { Stop(); }

  Status Init() {
    // OpenSSL writes to its sockets with write(): a client gone mid-answer must give EPIPE,
    // not kill the process (as the kubelet server does).
    signal(SIGPIPE, SIG_IGN);
    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) return Internal("eventfd: " + ErrnoText(errno));
    http_.tls = false;
    https_.tls = true;
    if (opts_.https_port != -1) {
      if (opts_.default_certificate.cert_pem.empty())
        return BadRequest("ingress proxy: HTTPS needs a default certificate");
      auto ctx = NewServerCtx(opts_.default_certificate);
      if (!ctx.ok()) return ctx.status().WithContext("ingress proxy: default certificate");
      tls_ctx_ = std::move(*ctx);
      SSL_CTX_set_tlsext_servername_callback(tls_ctx_.get(), OnServerName);
      SSL_CTX_set_tlsext_servername_arg(tls_ctx_.get(), this);
    }
    if (opts_.http_port != -1) RETURN_IF_ERROR(Listen(opts_.http_port, &http_));
    if (opts_.https_port != -1) RETURN_IF_ERROR(Listen(opts_.https_port, &https_));
    for (Listener* l : {&http_, &https_})
      if (l->fd >= 0) l->thread = std::thread([this, l] { AcceptLoop(*l); });
    LOG(INFO) << "ingress proxy listening on " << opts_.bind_address << " (http " << http_.port
              << ", https " << https_.port << ")";
    return Status::Ok();
  }

  int http_port() const override { return http_.port; }
  int https_port() const override { return https_.port; }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    if (stop_fd_ >= 0) {
      uint64_t one = 1;
      (void)!write(stop_fd_, &one, sizeof one);
    }
    for (Listener* l : {&http_, &https_}) {
      if (l->thread.joinable()) l->thread.join();
      if (l->fd >= 0) close(l->fd);
      l->fd = -1;
    }
    // The acceptors are gone, so no connection thread starts after this.
    std::map<uint64_t, std::thread> threads;
    {
      std::lock_guard lk(mu_);
      threads.swap(threads_);
      done_.clear();
    }
    for (auto& [id, t] : threads) t.join();
    if (stop_fd_ >= 0) close(stop_fd_);
    stop_fd_ = -1;
    std::lock_guard lk(cert_mu_);
    cert_ctxs_.clear();
    tls_ctx_.reset();
  }

 private:
  struct Listener {
    bool tls = false;
    int fd = -1;
    int port = -1;
    std::thread thread;
  };

  Status Listen(int port, Listener* l) {
    std::string where = opts_.bind_address + ":" + std::to_string(port);
    sockaddr_storage ss{};
    socklen_t len;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, opts_.bind_address.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(static_cast<uint16_t>(port));
      len = sizeof *v4;
    } else if (inet_pton(AF_INET6, opts_.bind_address.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(static_cast<uint16_t>(port));
      len = sizeof *v6;
      where = "[" + opts_.bind_address + "]:" + std::to_string(port);
    } else {
      return BadRequest("ingress proxy: invalid bind address " + opts_.bind_address);
    }
    if (port < 0 || port > 65535) return BadRequest("ingress proxy: invalid port " + where);
    l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (l->fd < 0) return Unavailable("listen on " + where + ": " + ErrnoText(errno));
    int one = 1;
    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l->fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(l->fd, 512) != 0)
      return Unavailable("listen on " + where + ": " + ErrnoText(errno));
    sockaddr_storage bound{};
    socklen_t blen = sizeof bound;
    getsockname(l->fd, reinterpret_cast<sockaddr*>(&bound), &blen);
    l->port =
        ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    return Status::Ok();
  }

  void AcceptLoop(const Listener& l) {
    util::NameThisThread(l.tls ? "ingress-acc-tls" : "ingress-accept");
    for (;;) {
      pollfd p[2] = {{l.fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      // The timeout joins finished connection threads when no connection comes.
      int rc = poll(p, 2, 1000);
      if (rc < 0 && errno != EINTR) {
        LOG(WARNING) << "ingress proxy: poll: " << ErrnoText(errno);
        return;
      }
      if (p[1].revents) return;
      Reap();
      if (!(p[0].revents & POLLIN)) continue;
      int fd = accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
          continue;
        // Out of fds or memory: back off rather than spin on a readable listener.
        LOG(WARNING) << "ingress proxy: accept: " << ErrnoText(errno);
        pollfd s{stop_fd_, POLLIN, 0};
        poll(&s, 1, 100);
        continue;
      }
      if (!Admit(fd, l)) close(fd);
    }
  }

  // Starts a connection thread unless max_connections are open.
  bool Admit(int fd, const Listener& l) {
    std::lock_guard lk(mu_);
    if (active_ >= opts_.max_connections) {
      LOG(DEBUG) << "ingress proxy: " << active_ << " connections open; refusing another";
      return false;
    }
    uint64_t id = next_id_++;
    try {
      threads_.emplace(id, std::thread([this, fd, &l, id] {
                         Serve(fd, l);
                         std::lock_guard lk(mu_);
                         done_.push_back(id);
                         --active_;
                       }));
    } catch (const std::system_error& e) {
      LOG(WARNING) << "ingress proxy: no thread for a connection: " << e.what();
      return false;
    }
    ++active_;
    return true;
  }

  // Joins the connection threads that have finished.
  void Reap() {
    std::vector<std::thread> finished;
    {
      std::lock_guard lk(mu_);
      for (uint64_t id : done_) {
        auto it = threads_.find(id);
        if (it == threads_.end()) continue;
        finished.push_back(std::move(it->second));
        threads_.erase(it);
      }
      done_.clear();
    }
    for (std::thread& t : finished) t.join();
  }

  static int OnServerName(SSL* ssl, int*, void* arg) {
    static_cast<ProxyImpl*>(arg)->SelectCertificate(ssl);
    return SSL_TLSEXT_ERR_OK;
  }

  // Switches `ssl` to the certificate the selector picks for its SNI name, if any.
  void SelectCertificate(SSL* ssl) {
    if (!opts_.certificates) return;
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    std::shared_ptr<const Certificate> cert;
    try {
      cert = opts_.certificates(Lower(name ? name : ""));
    } catch (const std::exception& e) {
      LOG(WARNING) << "ingress proxy: certificate selector failed: " << e.what();
    }
    if (!cert) return;
    // Keyed by content, not by pointer: a resync builds new Certificate objects for the same
    // PEM, and a freed pointer's address can come back holding another certificate.
    std::string key = cert->cert_pem;
    key += '\0';
    key += cert->key_pem;
    std::lock_guard lk(cert_mu_);
    auto it = cert_ctxs_.find(key);
    if (it == cert_ctxs_.end()) {
      // Certificates come and go with Ingresses: a full cache is dropped wholesale (a context
      // in use lives on by its reference count).
      if (cert_ctxs_.size() >= kMaxCachedCerts) cert_ctxs_.clear();
      auto ctx = NewServerCtx(*cert);
      if (!ctx.ok())
        LOG(WARNING) << "ingress proxy: the certificate for \"" << (name ? name : "")
                     << "\" does not load, serving the default: " << ctx.status().message();
      // A broken one is remembered too (as null), so it is not parsed again per handshake.
      it = cert_ctxs_.emplace(std::move(key), ctx.ok() ? std::move(*ctx) : CtxPtr()).first;
    }
    if (it->second) SSL_set_SSL_CTX(ssl, it->second.get());
  }

  // One client connection: its requests in turn.
  void Serve(int fd, const Listener& l) {
    util::NameThisThread("ingress-conn");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL* ssl = nullptr;
    if (l.tls) {
      ssl = SSL_new(tls_ctx_.get());
      if (!ssl) {
        close(fd);
        return;
      }
      SSL_set_fd(ssl, fd);
    }
    Stream client(fd, ssl, stop_fd_);
    if (l.tls) {
      if (Status st = client.Handshake(Clock::now() + opts_.idle_timeout); !st.ok()) {
        LOG(DEBUG) << "ingress proxy: TLS handshake: " << st.message();
        return;
      }
    }
    std::string ip = PeerIp(fd);
    for (;;) {
      auto req = ReadHead(client, true, Clock::now() + opts_.idle_timeout);
      After after;
      if (req.ok()) {
        after = Handle(client, *req, ip, l);
      } else {
        const Status& st = req.status();
        if (st.code() == Code::kRequestTooLarge || st.code() == Code::kBadRequest) {
          int code = st.code() == Code::kBadRequest ? 400 : 431;
          (void)client.WriteAll(
              PlainResponse(code, streaming::StatusText(code) + "\n", true, false),
              opts_.idle_timeout);
          after = After::kCloseLinger;
        } else {
          after = After::kClose;  // closed, idle too long, or stopping
        }
      }
      if (after == After::kKeepAlive) continue;
      client.Shutdown();
      if (after == After::kCloseLinger) client.Linger(std::min(opts_.idle_timeout, kLinger));
      return;
    }
  }

  bool stopping() const {
    pollfd p{stop_fd_, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
  }

  struct Request {
    Request(Stream& c, const Head& h, const std::string& ip, const Listener& l)
        : client(c), head(h), client_ip(ip), listener(l) {}
    Stream& client;
    const Head& head;
    const std::string& client_ip;
    const Listener& listener;
    Framing framing;
    std::vector<std::string> connection;  // the Connection header's tokens
    bool close = false;                   // the client wants the connection closed after
    bool expect_continue = false;
    bool upgrade = false;
    bool head_method = false;
  };

  After Handle(Stream& client, const Head& head, const std::string& ip, const Listener& l) {
    Request r(client, head, ip, l);
    r.connection = head.Tokens("connection");
    // HTTP/1.0 keep-alive is not offered: those clients are rare and it is easy to get wrong.
    r.close = head.minor == 0 || Has(r.connection, "close");
    r.head_method = head.method == "HEAD";
    auto hosts = head.Values("host");
    if (hosts.size() > 1 || (hosts.empty() && head.minor >= 1))
      return Answer(r, 400, "a request needs exactly one Host header\n", true);
    auto framing = RequestFraming(head);
    if (!framing.ok()) return Answer(r, 400, framing.status().message() + "\n", true);
    r.framing = *framing;
    std::vector<std::string> expect = head.Tokens("expect");
    r.expect_continue = head.minor >= 1 && Has(expect, "100-continue") && r.framing.has_body();
    r.upgrade = head.minor >= 1 && Has(r.connection, "upgrade") && head.Has("upgrade");

    // The absolute form (a client talking to us as to a forward proxy) carries the authority.
    std::string_view target = head.target, authority = hosts.empty() ? "" : hosts[0];
    for (std::string_view scheme : {"http://", "https://"}) {
      if (target.size() > scheme.size() && IEquals(target.substr(0, scheme.size()), scheme)) {
        target.remove_prefix(scheme.size());
        auto slash = target.find_first_of("/?#");
        authority = target.substr(0, slash);
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
        break;
      }
    }
    std::string_view path = target.substr(0, target.find_first_of("?#"));
    if (path.empty()) path = "/";

    Decision d;
    try {
      d = opts_.router(HostName(authority), path, l.tls);
    } catch (const std::exception& e) {
      LOG(WARNING) << "ingress proxy: router failed: " << e.what();
      d.status = 500;
      d.body = "router failed\n";
    }
    if (d.status != 0) {
      if (d.status < 200 || d.status > 999) d.status = 500;  // no interim answer ends a request
      return Answer(r, d.status, d.body, false);
    }
    return Forward(r, d.upstream);
  }

  // Answers the request ourselves. The connection stays open if the client allows and its
  // body (if any) can be read and dropped first.
  After Answer(Request& r, int status, std::string_view body, bool close) {
    // A client waiting for 100 Continue may or may not send its body now: we cannot tell.
    bool keep = !close && !r.close && !r.expect_continue;
    bool unread = r.framing.has_body();
    if (keep && unread) {
      if (r.framing.kind == Body::kLength && r.framing.length > kMaxDiscard) {
        keep = false;
      } else {
        BodyCopy drop(r.client, nullptr, opts_.idle_timeout, opts_.idle_timeout);
        drop.set_limit(kMaxDiscard);
        Status st = drop.Copy(r.framing);
        if (st.code() == Code::kBadRequest) {
          status = 400;
          body = "malformed request body\n";
          keep = false;
        } else if (st.code() == Code::kRequestTooLarge) {
          keep = false;
        } else if (!st.ok()) {
          return After::kClose;
        } else {
          unread = false;
        }
      }
    }
    if (!r.client.WriteAll(PlainResponse(status, body, !keep, r.head_method), opts_.idle_timeout)
             .ok())
      return After::kClose;
    if (keep) return After::kKeepAlive;
    return unread ? After::kCloseLinger : After::kClose;
  }

  Result<std::unique_ptr<Stream>> Connect(const Upstream& u) {
    std::string where = u.ip + ":" + std::to_string(u.port);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(u.port));
    if (inet_pton(AF_INET, u.ip.c_str(), &sa.sin_addr) != 1 || u.port <= 0 || u.port > 65535)
      return Unavailable("invalid upstream " + where);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Unavailable("socket: " + ErrnoText(errno));
    auto s = std::make_unique<Stream>(fd, nullptr, stop_fd_);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      if (errno != EINPROGRESS) return Unavailable("connect to " + where + ": " + ErrnoText(errno));
      Status st = s->Wait(POLLOUT, Clock::now() + opts_.connect_timeout);
      if (st.code() == Code::kTimeout) return TimedOut("connect to " + where + " timed out");
      RETURN_IF_ERROR(st);
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return Unavailable("connect to " + where + ": " + ErrnoText(err));
    }
    return s;
  }

  std::string UpstreamHead(const Request& r, const Upstream& u) {
    const Head& h = r.head;
    std::string out = h.method + " " + h.target + " HTTP/1.1\r\n";
    std::string xff, host;
    for (const Header& hd : h.headers) {
      std::string name = Lower(hd.name);
      if (name == "x-forwarded-for") {
        xff += (xff.empty() ? "" : ", ") + hd.value;
        continue;
      }
      if (name == "host") host = hd.value;
      if (IsHopByHop(name, r.connection) && !(r.upgrade && name == "upgrade")) continue;
      // Ours to set: a client's own values would be believed by the backend.
      if (name == "x-forwarded-host" || name == "x-forwarded-port" || name == "x-forwarded-proto" ||
          name == "x-real-ip")
        continue;
      if (r.expect_continue && name == "expect") continue;  // we answered it
      out += hd.name + ": " + hd.value + "\r\n";
    }
    if (!h.Has("host")) out += "Host: " + u.ip + ":" + std::to_string(u.port) + "\r\n";
    // One upstream connection per request: tell the upstream so, and close-delimited answers
    // then end where the upstream closes.
    out += r.upgrade ? "Connection: Upgrade\r\n" : "Connection: close\r\n";
    out += "X-Forwarded-For: " + (xff.empty() ? r.client_ip : xff + ", " + r.client_ip) + "\r\n";
    if (!host.empty()) out += "X-Forwarded-Host: " + host + "\r\n";
    out += "X-Forwarded-Port: " + std::to_string(r.listener.port) + "\r\n";
    out += std::string("X-Forwarded-Proto: ") + (r.listener.tls ? "https" : "http") + "\r\n";
    out += "X-Real-Ip: " + r.client_ip + "\r\n\r\n";
    return out;
  }

  // How much of the request body went upstream.
  enum class Sent { kNone, kAll, kPart };

  // An error answer after the request went (partly) upstream.
  After Fail(Request& r, int status, const Status& why, const Upstream& u, Sent sent) {
    if (stopping()) return After::kClose;
    LOG(WARNING) << "ingress proxy: " << r.head.method << " " << r.head.target << " to upstream "
                 << u.ip << ":" << u.port << ": " << status << " (" << why.message() << ")";
    if (sent == Sent::kAll) r.framing = Framing();
    // Unsent, the body is dropped by Answer; half sent, the rest cannot be found cheaply.
    return Answer(r, status, streaming::StatusText(status) + "\n", sent == Sent::kPart);
  }

  After Forward(Request& r, const Upstream& u) {
    Ms idle = opts_.idle_timeout, upstream_timeout = opts_.upstream_timeout;
    auto up = Connect(u);
    if (!up.ok()) {
      // The body is still unread: Answer drops it (or closes).
      int code = up.status().code() == Code::kTimeout ? 504 : 502;
      if (stopping()) return After::kClose;
      LOG(WARNING) << "ingress proxy: " << up.status().message();
      return Answer(r, code, streaming::StatusText(code) + "\n", false);
    }
    Stream& upstream = **up;
    if (Status st = upstream.WriteAll(UpstreamHead(r, u), upstream_timeout); !st.ok())
      return Fail(r, 502, st, u, Sent::kNone);
    if (r.expect_continue && !r.client.WriteAll("HTTP/1.1 100 Continue\r\n\r\n", idle).ok())
      return After::kClose;

    // The request body, then the answer: an upstream that answers early and stops reading
    // leaves the rest of the body unread, and the client connection is closed after.
    Sent sent = Sent::kAll;
    if (r.framing.has_body()) {
      BodyCopy copy(r.client, &upstream, idle, upstream_timeout);
      Status st = copy.Copy(r.framing);
      if (!st.ok() && !copy.dst_failed()) {
        LOG(DEBUG) << "ingress proxy: request body from " << r.client_ip << ": " << st.message();
        if (st.code() != Code::kBadRequest) return After::kClose;
        // Malformed chunked framing: the upstream got half a body, the client gets a 400.
        return Answer(r, 400, "malformed request body\n", true);
      }
      if (!st.ok()) sent = Sent::kPart;
    }

    Result<Head> resp = Unavailable("no answer");
    for (;;) {
      resp = ReadHead(upstream, false, Clock::now() + upstream_timeout);
      // Interim answers (100 Continue, 103 Early Hints) are not passed on: an HTTP/1.0 client
      // must not get them, and none is needed.
      if (!resp.ok() || resp->status >= 200 || resp->status == 101) break;
    }
    if (!resp.ok()) {
      int code = resp.status().code() == Code::kTimeout ? 504 : 502;
      return Fail(r, code, resp.status(), u, sent);
    }
    if (resp->status == 101) {
      if (!r.upgrade) return Fail(r, 502, Unavailable("101 without an upgrade"), u, sent);
      std::string out = ResponseHead(*resp, false, false);
      if (!r.client.WriteAll(out, idle).ok()) return After::kClose;
      Splice(r.client, upstream);
      return After::kClose;
    }
    auto framing = ResponseFraming(*resp, r.head_method);
    if (!framing.ok()) return Fail(r, 502, framing.status(), u, sent);
    // An HTTP/1.0 client does not know chunked: it gets the data, delimited by our close.
    bool dechunk = r.head.minor == 0 && framing->kind == Body::kChunked;
    bool close = r.close || sent == Sent::kPart || framing->kind == Body::kUntilClose || dechunk;
    if (!r.client.WriteAll(ResponseHead(*resp, close, dechunk), idle).ok()) return After::kClose;
    BodyCopy copy(upstream, &r.client, upstream_timeout, idle);
    if (Status st = copy.Copy(*framing, dechunk); !st.ok()) {
      // Too late for an error answer: the client sees the connection end early.
      LOG(DEBUG) << "ingress proxy: response body from " << u.ip << ":" << u.port << ": "
                 << st.message();
      return After::kClose;
    }
    if (!close) return After::kKeepAlive;
    return sent == Sent::kPart ? After::kCloseLinger : After::kClose;
  }

  // The upstream's response head as the client gets it.
  static std::string ResponseHead(const Head& resp, bool close, bool dechunk) {
    std::vector<std::string> connection = resp.Tokens("connection");
    bool upgrade = resp.status == 101;
    bool has_te = resp.Has("transfer-encoding");
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " +
                      (resp.reason.empty() ? streaming::StatusText(resp.status) : resp.reason) +
                      "\r\n";
    for (const Header& h : resp.headers) {
      std::string name = Lower(h.name);
      if (IsHopByHop(name, connection) && !(upgrade && name == "upgrade")) continue;
      // Transfer-Encoding wins over Content-Length (RFC 9112 section 6.3): pass one, not both.
      if (name == "content-length" && (has_te || dechunk)) continue;
      if (name == "transfer-encoding" && dechunk) continue;
      out += h.name + ": " + h.value + "\r\n";
    }
    if (upgrade)
      out += "Connection: Upgrade\r\n";
    else if (close)
      out += "Connection: close\r\n";
    out += "\r\n";
    return out;
  }

  // Copies bytes both ways between the client and the upstream after a 101, until the
  // upstream closes, either side fails, or the proxy stops. A client's EOF is passed on as a
  // half-close; the upstream then has idle_timeout to finish.
  void Splice(Stream& client, Stream& upstream) {
    std::string c2u = std::move(client.in), u2c = std::move(upstream.in);
    client.in.clear();
    upstream.in.clear();
    bool client_eof = false, upstream_eof = false, half_closed = false;
    auto deadline = Clock::time_point::max();
    char buf[16384];
    auto pump = [&](Stream& from, Stream& to, std::string& pending, bool& eof, bool& progress) {
      if (!eof && pending.size() < kSpliceBuf) {
        ssize_t n = from.TryRead(buf, sizeof buf);
        if (n > 0) pending.append(buf, n);
        if (n >= 0) progress = true;
        if (n == 0) eof = true;
      }
      if (!pending.empty()) {
        ssize_t n = to.TryWrite(pending.data(), pending.size());
        if (n == 0) return false;
        if (n > 0) {
          pending.erase(0, n);
          progress = true;
        }
      }
      return true;
    };
    for (;;) {
      bool progress = false;
      if (!pump(client, upstream, c2u, client_eof, progress)) return;
      if (client_eof && c2u.empty() && !half_closed) {
        shutdown(upstream.fd(), SHUT_WR);
        half_closed = true;
        deadline = Clock::now() + opts_.idle_timeout;
      }
      if (!pump(upstream, client, u2c, upstream_eof, progress)) return;
      if (upstream_eof && u2c.empty()) return;
      if (progress) continue;
      // Nothing moved: every read would block (TLS bytes already decrypted were taken by the
      // reads above, so polling the socket misses nothing) or the buffers are full.
      short cev = 0, uev = 0;
      if (!client_eof && c2u.size() < kSpliceBuf) cev |= client.read_want();
      if (!u2c.empty()) cev |= client.write_want();
      if (!upstream_eof && u2c.size() < kSpliceBuf) uev |= upstream.read_want();
      if (!c2u.empty()) uev |= upstream.write_want();
      // A socket with nothing wanted stays out of the poll: its POLLHUP would spin.
      pollfd p[3] = {{cev ? client.fd() : -1, cev, 0},
                     {uev ? upstream.fd() : -1, uev, 0},
                     {stop_fd_, POLLIN, 0}};
      int rc = poll(p, 3, PollTimeout(deadline));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0 || p[2].revents) return;
    }
  }

  ProxyOptions opts_;
  Listener http_, https_;
  int stop_fd_ = -1;
  std::atomic<bool> stopped_{false};
  CtxPtr tls_ctx_;

  std::mutex mu_;
  std::map<uint64_t, std::thread> threads_;  // connection threads by id
  std::vector<uint64_t> done_;               // finished, to be joined
  size_t active_ = 0;
  uint64_t next_id_ = 0;

  std::mutex cert_mu_;
  std::unordered_map<std::string, CtxPtr> cert_ctxs_;  // by PEM; null: does not load
};

}  // namespace

Result<std::unique_ptr<Proxy>> Proxy::Start(ProxyOptions opts) {
  if (!opts.router) return BadRequest("ingress proxy: a router is required");
  auto p = std::make_unique<ProxyImpl>(std::move(opts));
  RETURN_IF_ERROR(p->Init());
  return std::unique_ptr<Proxy>(std::move(p));
}

}  // namespace sampan::ingress
