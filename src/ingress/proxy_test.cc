// The ingress proxy between hand-written HTTP clients (plain sockets and an OpenSSL client with
// SNI) and a small in-test upstream server whose behaviour each request's path picks.
#include "ingress/proxy.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace sampan::ingress {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// --- blocking sockets ---

int ListenAny(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd, 64) != 0) {
    close(fd);
    return -1;
  }
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  *port = ntohs(sa.sin_port);
  return fd;
}

// A loopback port nothing listens on (bound, then released).
int ClosedPort() {
  int port = 0;
  int fd = ListenAny(&port);
  close(fd);
  return port;
}

void SetTimeouts(int fd, std::chrono::milliseconds t) {
  timeval tv{static_cast<time_t>(t.count() / 1000),
             static_cast<suseconds_t>(t.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int Dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  SetTimeouts(fd, 5s);  // a hung proxy fails the test instead of hanging it
  return fd;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The value of the first `name` header in a head ("" when absent).
std::string HeaderOf(const std::string& head, const std::string& name) {
  std::string lower = Lower(head), key = "\r\n" + Lower(name) + ":";
  auto at = lower.find(key);
  if (at == std::string::npos) return "";
  auto start = at + key.size();
  auto end = head.find("\r\n", start);
  std::string v = head.substr(start, end - start);
  while (!v.empty() && v.front() == ' ') v.erase(0, 1);
  return v;
}

bool HasHeader(const std::string& head, const std::string& name) {
  return Lower(head).find("\r\n" + Lower(name) + ":") != std::string::npos;
}

// A blocking connection, plain or TLS, reading HTTP/1.1 messages.
class Wire {
 public:
  explicit Wire(int fd, SSL* ssl = nullptr) : fd_(fd), ssl_(ssl) {}
  ~Wire() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

  bool Send(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ssl_ ? SSL_write(ssl_, s.data(), static_cast<int>(s.size()))
                       : send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      s.remove_prefix(n);
    }
    return true;
  }

  // Reads what arrives next into buf; false on EOF, error or timeout.
  bool More() {
    char b[16384];
    ssize_t n = ssl_ ? SSL_read(ssl_, b, sizeof b) : recv(fd_, b, sizeof b, 0);
    if (n <= 0) return false;
    buf.append(b, n);
    return true;
  }

  // The next head, through its empty line ("" when the connection ends first).
  std::string ReadHead() {
    for (;;) {
      auto end = buf.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = buf.substr(0, end + 4);
        buf.erase(0, end + 4);
        return head;
      }
      if (!More()) return "";
    }
  }

  std::string ReadN(size_t n) {
    while (buf.size() < n)
      if (!More()) break;
    std::string out = buf.substr(0, n);
    buf.erase(0, out.size());
    return out;
  }

  std::string ReadLine() {
    for (;;) {
      auto end = buf.find("\r\n");
      if (end != std::string::npos) {
        std::string line = buf.substr(0, end);
        buf.erase(0, end + 2);
        return line;
      }
      if (!More()) return "";
    }
  }

  std::string ReadToEof() {
    while (More()) {
    }
    return std::exchange(buf, "");
  }

  // The message body after `head` (chunked bodies decoded, their trailer in *trailer). A
  // request without a length has none; a response without one lasts until EOF.
  std::string ReadBody(const std::string& head, bool request, std::string* trailer = nullptr) {
    if (Lower(HeaderOf(head, "Transfer-Encoding")).find("chunked") != std::string::npos) {
      std::string body;
      for (;;) {
        std::string line = ReadLine();
        char* end = nullptr;
        size_t size = std::strtoul(line.c_str(), &end, 16);
        if (line.empty() || end == line.c_str()) return body + "<bad chunk line: " + line + ">";
        if (size == 0) break;
        body += ReadN(size);
        ReadLine();
      }
      for (std::string t; !(t = ReadLine()).empty();)
        if (trailer) *trailer += t + "\r\n";
      return body;
    }
    std::string cl = HeaderOf(head, "Content-Length");
    if (!cl.empty()) return ReadN(std::stoul(cl));
    return request ? "" : ReadToEof();
  }

  // Whether the peer closes the connection within `wait` (with nothing more sent).
  bool ClosedWithin(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    if (!(ssl_ && SSL_pending(ssl_) > 0) && poll(&p, 1, static_cast<int>(wait.count())) <= 0)
      return false;
    char b[256];
    ssize_t n = ssl_ ? SSL_read(ssl_, b, sizeof b) : recv(fd_, b, sizeof b, 0);
    return n <= 0;
  }

  std::string buf;

 private:
  int fd_;
  SSL* ssl_;
};

struct Response {
  int status = 0;
  std::string head, body, trailer;
};

Response ReadResponse(Wire& w, bool head_request = false) {
  Response r;
  r.head = w.ReadHead();
  if (r.head.size() < 12) return r;
  r.status = std::stoi(r.head.substr(9, 3));
  bool bodiless = head_request || r.status / 100 == 1 || r.status == 204 || r.status == 304;
  if (!bodiless) r.body = w.ReadBody(r.head, false, &r.trailer);
  return r;
}

// --- the upstream: an HTTP server on its own threads, whose behaviour the path picks ---

class TestUpstream {
 public:
  TestUpstream() {
    listen_fd_ = ListenAny(&port_);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~TestUpstream() {
    stopping_ = true;
    shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    acceptor_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard lk(mu_);
      for (int fd : open_) shutdown(fd, SHUT_RDWR);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    close(listen_fd_);
  }
  int port() const { return port_; }

  // The request heads received, in order.
  std::vector<std::string> heads() {
    std::lock_guard lk(mu_);
    return heads_;
  }

 private:
  void Accept() {
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stopping_) return;
        continue;
      }
      std::lock_guard lk(mu_);
      open_.insert(fd);
      threads_.emplace_back([this, fd] {
        Wire w(fd);
        Serve(w);
        // Out of open_ before ~Wire closes the fd, so the destructor never shuts down a
        // reused number.
        std::lock_guard lk(mu_);
        open_.erase(fd);
      });
    }
  }

  void Serve(Wire& w) {
    for (;;) {
      std::string head = w.ReadHead();
      if (head.empty()) break;
      {
        std::lock_guard lk(mu_);
        heads_.push_back(head);
      }
      std::string line = head.substr(0, head.find("\r\n"));
      std::string path = line.substr(line.find(' ') + 1);
      path = path.substr(0, path.find(' '));
      bool is_head = line.rfind("HEAD ", 0) == 0;
      std::string body = w.ReadBody(head, true);
      if (path == "/silent") {
        w.ReadToEof();  // never answers; waits for the proxy to go
        break;
      }
      if (path == "/hangup") break;
      if (path == "/garbage") {
        w.Send("SPDY/9 what\r\n\r\n");
        break;
      }
      if (path == "/close") {
        w.Send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it, until the close");
        break;
      }
      if (path == "/chunked") {
        w.Send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Up: 1\r\n\r\n5\r\nHello\r\n");
        std::this_thread::sleep_for(20ms);  // the proxy must stream, not wait for the end
        w.Send("7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n");
        continue;
      }
      if (path == "/upgrade") {
        // Bytes right after the 101 head reach the proxy in the same read as the head.
        w.Send(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n"
            "\r\nhello");
        for (;;) {
          if (w.buf.empty() && !w.More()) break;
          if (!w.Send("echo:" + std::exchange(w.buf, ""))) break;
        }
        break;
      }
      std::string out = "HEAD\n" + head + "BODY\n" + body;
      std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Up-Header: yes\r\n";
      resp +=
          "Connection: keep-alive, X-Up-Private\r\nX-Up-Private: p\r\nKeep-Alive: timeout=5\r\n";
      resp += "Content-Length: " + std::to_string(out.size()) + "\r\n\r\n";
      if (!is_head) resp += out;
      if (!w.Send(resp)) break;
    }
  }

  int listen_fd_ = -1, port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> threads_;
  std::set<int> open_;
  std::vector<std::string> heads_;
};

// --- certificates ---

std::shared_ptr<Certificate> SelfSigned(const char* cn) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  static std::atomic<long> serial{1};
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  X509_sign(x, key, EVP_sha256());
  auto pem = [](auto write) {
    BIO* b = BIO_new(BIO_s_mem());
    write(b);
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    std::string s(data, n);
    BIO_free(b);
    return s;
  };
  auto c = std::make_shared<Certificate>();
  c->cert_pem = pem([&](BIO* b) { PEM_write_bio_X509(b, x); });
  c->key_pem =
      pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
  X509_free(x);
  EVP_PKEY_free(key);
  return c;
}

// A TLS connection to `port` (SNI `sni` unless null); *cn gets the served certificate's CN.
std::unique_ptr<Wire> DialTls(int port, const char* sni, std::string* cn) {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);  // self-signed; the CN is checked instead
    return c;
  }();
  int fd = Dial(port);
  if (fd < 0) return nullptr;
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (sni) SSL_set_tlsext_host_name(ssl, sni);
  auto w = std::make_unique<Wire>(fd, ssl);
  if (SSL_connect(ssl) != 1) return nullptr;
  X509* peer = SSL_get1_peer_certificate(ssl);
  if (!peer) return nullptr;
  char buf[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, sizeof buf);
  X509_free(peer);
  *cn = buf;
  return w;
}

// --- the fixture ---

struct Seen {
  std::string host, path;
  bool tls;
};

class ProxyTest : public ::testing::Test {
 protected:
  void Start(const std::function<void(ProxyOptions&)>& tweak = {}) {
    ProxyOptions o;
    o.bind_address = "127.0.0.1";
    o.http_port = 0;
    o.https_port = -1;
    o.connect_timeout = 2s;
    o.upstream_timeout = 5s;
    o.idle_timeout = 5s;
    o.router = [this](std::string_view host, std::string_view path, bool tls) {
      {
        std::lock_guard lk(mu_);
        seen_.push_back({std::string(host), std::string(path), tls});
      }
      Decision d;
      if (host == "missing.example") {
        d.status = 404;
        d.body = "no rule for missing.example\n";
      } else if (host == "refused.example") {
        d.upstream = {"127.0.0.1", closed_port_};
      } else {
        d.upstream = {"127.0.0.1", upstream_.port()};
      }
      return d;
    };
    if (tweak) tweak(o);
    auto p = Proxy::Start(std::move(o));
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    proxy_ = std::move(*p);
  }

  std::unique_ptr<Wire> Connect() {
    int fd = Dial(proxy_->http_port());
    EXPECT_GE(fd, 0);
    return std::make_unique<Wire>(fd);
  }

  // One request on `w`; the response.
  Response Exchange(Wire& w, const std::string& request) {
    EXPECT_TRUE(w.Send(request));
    return ReadResponse(w, request.rfind("HEAD ", 0) == 0);
  }

  static std::string Get(const std::string& path, const std::string& host = "app.example",
                         const std::string& extra = "") {
    return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra + "\r\n";
  }

  // What the upstream's echo says it received: its head and its body.
  static std::string EchoedHead(const Response& r) {
    auto b = r.body.find("BODY\n");
    return r.body.substr(5, b == std::string::npos ? std::string::npos : b - 5);
  }
  static std::string EchoedBody(const Response& r) {
    auto b = r.body.find("BODY\n");
    return b == std::string::npos ? "<none>" : r.body.substr(b + 5);
  }

  std::vector<Seen> seen() {
    std::lock_guard lk(mu_);
    return seen_;
  }

  TestUpstream upstream_;
  int closed_port_ = ClosedPort();
  std::mutex mu_;
  std::vector<Seen> seen_;
  std::unique_ptr<Proxy> proxy_;  // last: stops before the upstream goes
};

TEST_F(ProxyTest, ReportsBoundPortsAndNamesATakenOne) {
  Start();
  EXPECT_GT(proxy_->http_port(), 0);
  EXPECT_EQ(proxy_->https_port(), -1);

  int taken = 0;
  int fd = ListenAny(&taken);
  ASSERT_GE(fd, 0);
  ProxyOptions o;
  o.bind_address = "127.0.0.1";
  o.http_port = taken;
  o.https_port = -1;
  o.router = [](std::string_view, std::string_view, bool) { return Decision{}; };
  auto p = Proxy::Start(std::move(o));
  close(fd);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kUnavailable);
  EXPECT_NE(p.status().message().find("127.0.0.1:" + std::to_string(taken)), std::string::npos)
      << p.status().message();
}

TEST_F(ProxyTest, RoutesByLowerCaseHostWithoutPortAndPathWithoutQuery) {
  Start();
  auto w = Connect();
  Response r = Exchange(*w, Get("/Shop/Cart?item=1&q=A", "WWW.Example.COM:8080"));
  ASSERT_EQ(r.status, 200) << r.head;
  ASSERT_EQ(seen().size(), 1u);
  EXPECT_EQ(seen()[0].host, "www.example.com");
  EXPECT_EQ(seen()[0].path, "/Shop/Cart");
  EXPECT_FALSE(seen()[0].tls);
  // The upstream gets the original target, over HTTP/1.1.
  EXPECT_EQ(EchoedHead(r).rfind("GET /Shop/Cart?item=1&q=A HTTP/1.1\r\n", 0), 0u) << r.body;
  EXPECT_EQ(HeaderOf(EchoedHead(r), "Host"), "WWW.Example.COM:8080");
}

TEST_F(ProxyTest, RouterAnswersWithItsStatusAndBodyAndKeepsTheConnection) {
  Start();
  auto w = Connect();
  // A body on the answered request is read and dropped, so the next request parses.
  Response r = Exchange(*w,
                        "POST /x HTTP/1.1\r\nHost: missing.example\r\nContent-Length: 5\r\n\r\n"
                        "abcde");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "no rule for missing.example\n");
  EXPECT_EQ(HeaderOf(r.head, "Content-Type").rfind("text/plain", 0), 0u) << r.head;
  EXPECT_FALSE(HasHeader(r.head, "Connection")) << r.head;
  EXPECT_TRUE(upstream_.heads().empty());

  r = Exchange(*w, Get("/after"));
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(EchoedHead(r).rfind("GET /after ", 0), 0u);
}

TEST_F(ProxyTest, AddsForwardedHeadersAndKeepsOthersInOrderAndCase) {
  Start();
  auto w = Connect();
  Response r = Exchange(*w, Get("/", "Shop.Example:8080",
                                "X-Forwarded-For: 10.1.2.3\r\nX-Real-Ip: 6.6.6.6\r\n"
                                "X-Forwarded-Proto: gopher\r\nX-First: 1\r\nx-MiXeD-case: two\r\n"
                                "X-Third: 3\r\n"));
  ASSERT_EQ(r.status, 200);
  std::string up = EchoedHead(r);
  EXPECT_EQ(HeaderOf(up, "X-Forwarded-For"), "10.1.2.3, 127.0.0.1") << up;
  EXPECT_EQ(HeaderOf(up, "X-Forwarded-Host"), "Shop.Example:8080");
  EXPECT_EQ(HeaderOf(up, "X-Forwarded-Port"), std::to_string(proxy_->http_port()));
  EXPECT_EQ(HeaderOf(up, "X-Forwarded-Proto"), "http");
  EXPECT_EQ(HeaderOf(up, "X-Real-Ip"), "127.0.0.1");
  EXPECT_EQ(up.find("6.6.6.6"), std::string::npos) << up;
  EXPECT_EQ(up.find("gopher"), std::string::npos) << up;
  EXPECT_NE(up.find("\r\nX-First: 1\r\nx-MiXeD-case: two\r\nX-Third: 3\r\n"), std::string::npos)
      << up;
}

TEST_F(ProxyTest, RemovesHopByHopHeadersBothWays) {
  Start();
  auto w = Connect();
  Response r = Exchange(*w, Get("/", "app.example",
                                "Connection: keep-alive, X-Secret\r\nX-Secret: 1\r\n"
                                "Keep-Alive: timeout=9\r\nProxy-Connection: keep-alive\r\n"
                                "TE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\nX-Kept: yes\r\n"));
  ASSERT_EQ(r.status, 200);
  std::string up = EchoedHead(r);
  for (const char* h : {"X-Secret", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade"})
    EXPECT_FALSE(HasHeader(up, h)) << h << " reached the upstream:\n" << up;
  EXPECT_EQ(HeaderOf(up, "X-Kept"), "yes");
  EXPECT_EQ(Lower(HeaderOf(up, "Connection")), "close");  // the proxy's own, not the client's
  // The upstream's Connection, the header it names and Keep-Alive stop at the proxy.
  EXPECT_EQ(HeaderOf(r.head, "X-Up-Header"), "yes");
  EXPECT_FALSE(HasHeader(r.head, "X-Up-Private")) << r.head;
  EXPECT_FALSE(HasHeader(r.head, "Keep-Alive")) << r.head;
  EXPECT_FALSE(HasHeader(r.head, "Connection")) << r.head;

  // Connection: close naming a header: the header goes, and so does the connection.
  r = Exchange(*w, Get("/", "app.example", "Connection: close, X-Secret\r\nX-Secret: 1\r\n"));
  ASSERT_EQ(r.status, 200);
  EXPECT_FALSE(HasHeader(EchoedHead(r), "X-Secret")) << EchoedHead(r);
  EXPECT_EQ(Lower(HeaderOf(r.head, "Connection")), "close");
  EXPECT_TRUE(w->ClosedWithin(2s));
}

TEST_F(ProxyTest, StreamsAContentLengthBody) {
  Start();
  auto w = Connect();
  ASSERT_TRUE(
      w->Send("POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Length: 11\r\n\r\nhel"));
  std::this_thread::sleep_for(20ms);
  Response r = Exchange(*w, "lo world");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(HeaderOf(EchoedHead(r), "Content-Length"), "11");
  EXPECT_EQ(EchoedBody(r), "hello world");
}

TEST_F(ProxyTest, RelaysAChunkedRequestBodyAndFindsItsEnd) {
  Start();
  auto w = Connect();
  ASSERT_TRUE(
      w->Send("POST /upload HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\n"));
  for (const char* piece : {"4\r\nWiki\r\n", "5;name=v\r\npedia\r\n", "E\r\n in\r\n\r\nchunks.\r\n",
                            "0\r\nX-Sum: 1\r\n\r\n"}) {
    std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(w->Send(piece));
  }
  Response r = ReadResponse(*w);
  ASSERT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(Lower(HeaderOf(EchoedHead(r), "Transfer-Encoding")), "chunked");
  EXPECT_EQ(EchoedBody(r), "Wikipedia in\r\n\r\nchunks.");
  // The body ended where its last chunk did: the connection serves another request.
  r = Exchange(*w, Get("/next"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(EchoedHead(r).rfind("GET /next ", 0), 0u);
}

TEST_F(ProxyTest, RelaysAChunkedResponseWithItsTrailer) {
  Start();
  auto w = Connect();
  Response r = Exchange(*w, Get("/chunked"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Lower(HeaderOf(r.head, "Transfer-Encoding")), "chunked");
  EXPECT_EQ(HeaderOf(r.head, "X-Up"), "1");
  EXPECT_EQ(r.body, "Hello, world");
  EXPECT_EQ(r.trailer, "X-Trailer: t\r\n");
  r = Exchange(*w, Get("/"));
  EXPECT_EQ(r.status, 200);
}

TEST_F(ProxyTest, DechunksForAnHttp10Client) {
  Start();
  auto w = Connect();
  ASSERT_TRUE(w->Send("GET /chunked HTTP/1.0\r\nHost: app.example\r\n\r\n"));
  Response r = ReadResponse(*w);
  ASSERT_EQ(r.status, 200);
  EXPECT_FALSE(HasHeader(r.head, "Transfer-Encoding")) << r.head;
  EXPECT_EQ(r.body, "Hello, world");
}

TEST_F(ProxyTest, RelaysACloseDelimitedResponseThenCloses) {
  Start();
  auto w = Connect();
  Response r = Exchange(*w, Get("/close"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Lower(HeaderOf(r.head, "Connection")), "close");
  EXPECT_EQ(r.body, "all of it, until the close");  // read to EOF: the proxy closed
}

TEST_F(ProxyTest, KeepsAnHttp11ConnectionForSeveralRequests) {
  Start();
  auto w = Connect();
  for (int i = 0; i < 3; ++i) {
    Response r = Exchange(*w, Get("/n" + std::to_string(i)));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(EchoedHead(r).rfind("GET /n" + std::to_string(i) + " ", 0), 0u);
  }
  // Pipelined: two requests in one write, answered in order.
  ASSERT_TRUE(w->Send(Get("/p1") + Get("/p2")));
  Response a = ReadResponse(*w), b = ReadResponse(*w);
  EXPECT_EQ(EchoedHead(a).rfind("GET /p1 ", 0), 0u);
  EXPECT_EQ(EchoedHead(b).rfind("GET /p2 ", 0), 0u);
  EXPECT_FALSE(w->ClosedWithin(100ms));
}

TEST_F(ProxyTest, ClosesAnHttp10ConnectionAfterTheResponse) {
  Start();
  auto w = Connect();
  ASSERT_TRUE(w->Send("GET /old HTTP/1.0\r\nHost: app.example\r\n\r\n"));
  Response r = ReadResponse(*w);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(EchoedHead(r).rfind("GET /old HTTP/1.1\r\n", 0), 0u);
  EXPECT_TRUE(w->ClosedWithin(2s));
}

TEST_F(ProxyTest, HeadResponseHasNoBody) {
  Start();
  auto w = Connect();
  Response r = Exchange(*w, "HEAD /h HTTP/1.1\r\nHost: app.example\r\n\r\n");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(HeaderOf(r.head, "Content-Length"), "0");
  // Had the proxy waited for a body, this would time out or read garbage.
  r = Exchange(*w, Get("/after-head"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(EchoedHead(r).rfind("GET /after-head ", 0), 0u);
}

TEST_F(ProxyTest, AnswersContinueItselfAndDropsExpect) {
  Start();
  auto w = Connect();
  ASSERT_TRUE(w->Send(
      "PUT /c HTTP/1.1\r\nHost: app.example\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  EXPECT_EQ(w->ReadHead(), "HTTP/1.1 100 Continue\r\n\r\n");
  Response r = Exchange(*w, "data");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(EchoedBody(r), "data");
  EXPECT_FALSE(HasHeader(EchoedHead(r), "Expect"));
}

TEST_F(ProxyTest, RefusedUpstreamIs502) {
  Start();
  auto w = Connect();
  Response r = Exchange(*w, Get("/", "refused.example"));
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(r.body, "Bad Gateway\n");
  // The proxy's own answer keeps the connection.
  EXPECT_EQ(Exchange(*w, Get("/")).status, 200);
}

TEST_F(ProxyTest, BrokenUpstreamAnswersAre502) {
  Start();
  auto w = Connect();
  EXPECT_EQ(Exchange(*w, Get("/garbage")).status, 502);
  EXPECT_EQ(Exchange(*w, Get("/hangup")).status, 502);
}

TEST_F(ProxyTest, SilentUpstreamIs504) {
  Start([](ProxyOptions& o) { o.upstream_timeout = 300ms; });
  auto w = Connect();
  auto t0 = Clock::now();
  Response r = Exchange(*w, Get("/silent"));
  EXPECT_EQ(r.status, 504);
  EXPECT_LT(Clock::now() - t0, 3s);
}

TEST_F(ProxyTest, MalformedRequestsAre400AndHugeHeadsAre431) {
  Start();
  {
    auto w = Connect();
    EXPECT_EQ(Exchange(*w, "GARBAGE\r\n\r\n").status, 400);
    EXPECT_TRUE(w->ClosedWithin(2s));
  }
  {
    auto w = Connect();
    Response r = Exchange(*w,
                          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    EXPECT_EQ(r.status, 400);
  }
  {
    auto w = Connect();
    EXPECT_EQ(Exchange(*w, "GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n").status, 400);
  }
  {
    auto w = Connect();
    Response r = Exchange(*w, Get("/", "a", "X-Big: " + std::string(70 * 1024, 'x') + "\r\n"));
    EXPECT_EQ(r.status, 431);
  }
  EXPECT_TRUE(upstream_.heads().empty());
}

TEST_F(ProxyTest, UpgradeSplicesBytesBothWays) {
  Start();
  auto w = Connect();
  Response r =
      Exchange(*w, Get("/upgrade", "ws.example", "Connection: Upgrade\r\nUpgrade: test\r\n"));
  ASSERT_EQ(r.status, 101) << r.head;
  EXPECT_EQ(HeaderOf(r.head, "Upgrade"), "test");
  EXPECT_EQ(Lower(HeaderOf(r.head, "Connection")), "upgrade");
  ASSERT_EQ(upstream_.heads().size(), 1u);
  EXPECT_EQ(HeaderOf(upstream_.heads()[0], "Upgrade"), "test");
  EXPECT_EQ(Lower(HeaderOf(upstream_.heads()[0], "Connection")), "upgrade");

  EXPECT_EQ(w->ReadN(5), "hello");
  ASSERT_TRUE(w->Send("ping"));
  EXPECT_EQ(w->ReadN(9), "echo:ping");
  ASSERT_TRUE(w->Send("second"));
  EXPECT_EQ(w->ReadN(11), "echo:second");
  // The client's half-close reaches the upstream, which closes: so does the proxy.
  shutdown(w->fd(), SHUT_WR);
  EXPECT_TRUE(w->ClosedWithin(2s));
}

class HttpsTest : public ProxyTest {
 protected:
  void StartTls() {
    a_ = SelfSigned("a.example");
    b_ = SelfSigned("b.example");
    broken_ = std::make_shared<Certificate>(Certificate{"not a pem", "nor this"});
    Start([this](ProxyOptions& o) {
      o.https_port = 0;
      o.default_certificate = *SelfSigned("default.example");
      o.certificates = [this](std::string_view name) -> std::shared_ptr<const Certificate> {
        {
          std::lock_guard lk(mu_);
          names_.emplace_back(name);
        }
        if (name == "a.example") return a_;
        if (name == "b.example") return b_;
        if (name == "broken.example") return broken_;
        return nullptr;
      };
    });
  }
  std::shared_ptr<Certificate> a_, b_, broken_;
  std::vector<std::string> names_;
};

TEST_F(HttpsTest, PicksTheCertificateBySni) {
  StartTls();
  ASSERT_GT(proxy_->https_port(), 0);
  std::string cn;
  ASSERT_TRUE(DialTls(proxy_->https_port(), nullptr, &cn));
  EXPECT_EQ(cn, "default.example");
  for (int i = 0; i < 2; ++i) {  // the second time from the cache
    ASSERT_TRUE(DialTls(proxy_->https_port(), "a.example", &cn));
    EXPECT_EQ(cn, "a.example");
  }
  ASSERT_TRUE(DialTls(proxy_->https_port(), "B.Example", &cn));
  EXPECT_EQ(cn, "b.example");
  ASSERT_TRUE(DialTls(proxy_->https_port(), "other.example", &cn));
  EXPECT_EQ(cn, "default.example");
  ASSERT_TRUE(DialTls(proxy_->https_port(), "broken.example", &cn));
  EXPECT_EQ(cn, "default.example");
  std::lock_guard lk(mu_);
  EXPECT_EQ(names_, (std::vector<std::string>{"", "a.example", "a.example", "b.example",
                                              "other.example", "broken.example"}));
}

TEST_F(HttpsTest, ForwardsWithProtoHttps) {
  StartTls();
  std::string cn;
  auto w = DialTls(proxy_->https_port(), "a.example", &cn);
  ASSERT_TRUE(w);
  for (int i = 0; i < 2; ++i) {
    Response r = Exchange(*w, Get("/secure?x=1", "a.example"));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(HeaderOf(EchoedHead(r), "X-Forwarded-Proto"), "https");
    EXPECT_EQ(HeaderOf(EchoedHead(r), "X-Forwarded-Port"), std::to_string(proxy_->https_port()));
  }
  ASSERT_FALSE(seen().empty());
  EXPECT_EQ(seen()[0].host, "a.example");
  EXPECT_EQ(seen()[0].path, "/secure");
  EXPECT_TRUE(seen()[0].tls);
}

TEST_F(HttpsTest, UpgradeSplicesOverTls) {
  StartTls();
  std::string cn;
  auto w = DialTls(proxy_->https_port(), "b.example", &cn);
  ASSERT_TRUE(w);
  Response r =
      Exchange(*w, Get("/upgrade", "b.example", "Connection: Upgrade\r\nUpgrade: test\r\n"));
  ASSERT_EQ(r.status, 101) << r.head;
  EXPECT_EQ(w->ReadN(5), "hello");
  std::string big(100 * 1024, 'z');  // more than one TLS record, and than the splice buffer
  ASSERT_TRUE(w->Send(big));
  // The upstream echoes what each of its reads got behind "echo:".
  auto zs = [&] { return std::count(w->buf.begin(), w->buf.end(), 'z'); };
  while (zs() < static_cast<long>(big.size()))
    ASSERT_TRUE(w->More()) << "closed after " << zs() << " bytes";
  std::string got = w->buf;
  for (size_t e; (e = got.find("echo:")) != std::string::npos;) got.erase(e, 5);
  EXPECT_EQ(got, big);
}

TEST_F(ProxyTest, StopClosesOpenConnectionsPromptly) {
  Start([](ProxyOptions& o) {
    o.idle_timeout = 30s;
    o.upstream_timeout = 30s;
  });
  auto idle = Connect();
  ASSERT_EQ(Exchange(*idle, Get("/")).status, 200);
  auto waiting = Connect();
  ASSERT_TRUE(waiting->Send(Get("/silent")));
  auto fresh = Connect();  // nothing sent yet
  std::this_thread::sleep_for(100ms);
  auto t0 = Clock::now();
  proxy_->Stop();
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_TRUE(idle->ClosedWithin(1s));
  EXPECT_TRUE(waiting->ClosedWithin(1s));
  EXPECT_TRUE(fresh->ClosedWithin(1s));
  EXPECT_LT(Dial(proxy_->http_port()), 0);  // the listener is gone
  proxy_->Stop();                           // idempotent
}

TEST_F(ProxyTest, ClosesConnectionsBeyondMaxConnections) {
  Start([](ProxyOptions& o) { o.max_connections = 1; });
  auto first = Connect();
  ASSERT_EQ(Exchange(*first, Get("/")).status, 200);
  auto second = Connect();
  EXPECT_TRUE(second->ClosedWithin(2s));
  first.reset();
  // The first connection's thread ends once it sees the close: then a new one is served.
  bool served = false;
  for (auto deadline = Clock::now() + 3s; !served && Clock::now() < deadline;) {
    auto w = Connect();
    w->Send(Get("/"));
    served = ReadResponse(*w).status == 200;
    if (!served) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served);
}

int CountEntries(const char* dir) {
  DIR* d = opendir(dir);
  int n = 0;
  while (readdir(d)) ++n;
  closedir(d);
  return n;
}

TEST_F(ProxyTest, ReleasesEveryFdAndThread) {
  auto fds = [] { return CountEntries("/proc/self/fd"); };
  auto threads = [] { return CountEntries("/proc/self/task"); };
  int fds0 = fds(), threads0 = threads();
  {
    Start([](ProxyOptions& o) {
      o.https_port = 0;
      o.default_certificate = *SelfSigned("default.example");
    });
    auto plain = Connect();
    ASSERT_EQ(Exchange(*plain, Get("/")).status, 200);
    ASSERT_EQ(Exchange(*plain, Get("/", "refused.example")).status, 502);
    auto upgraded = Connect();
    ASSERT_EQ(
        Exchange(*upgraded, Get("/upgrade", "a", "Connection: upgrade\r\nUpgrade: x\r\n")).status,
        101);
    std::string cn;
    auto tls = DialTls(proxy_->https_port(), "x.example", &cn);
    ASSERT_TRUE(tls);
    ASSERT_EQ(Exchange(*tls, Get("/")).status, 200);
    auto waiting = Connect();
    ASSERT_TRUE(waiting->Send(Get("/silent")));
    std::this_thread::sleep_for(50ms);
    EXPECT_GT(threads(), threads0 + 4);  // acceptors and connection threads
    proxy_.reset();
  }
  // The upstream's connection threads end once the proxy's side closes.
  auto deadline = Clock::now() + 3s;
  while ((fds() != fds0 || threads() != threads0) && Clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(fds(), fds0);
  EXPECT_EQ(threads(), threads0);
}

}  // namespace
}  // namespace sampan::ingress
