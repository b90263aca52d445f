#include "podspec/prober.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <map>

namespace sampan::podspec {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// A small HTTP(S) server on 127.0.0.1 with fixed routes; counts requests.
class TestServer {
 public:
  explicit TestServer(bool tls = false) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    if (tls) MakeTls();
    thread_ = std::thread([this] { Serve(); });
  }
  ~TestServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
    if (ctx_) SSL_CTX_free(ctx_);
  }
  int port() const { return port_; }
  int hits(const std::string& path) {
    std::lock_guard<std::mutex> l(mu_);
    return hits_[path];
  }
  std::atomic<int> toggle_status{500};

 private:
  void MakeTls() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("probe-test"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx_, cert);
    SSL_CTX_use_PrivateKey(ctx_, key);
    X509_free(cert);
    EVP_PKEY_free(key);
  }

  void Serve() {
    while (!stop_) {
      pollfd p = {fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      Handle(c);
      ::close(c);
    }
  }

  void Handle(int c) {
    SSL* ssl = nullptr;
    if (ctx_) {
      ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, c);
      if (SSL_accept(ssl) != 1) {
        SSL_free(ssl);
        return;
      }
    }
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      int n = ssl ? SSL_read(ssl, buf, sizeof buf) : static_cast<int>(::read(c, buf, sizeof buf));
      if (n <= 0) break;
      req.append(buf, n);
    }
    if (req.size() < 5) {  // a TCP probe: connect and close
      if (ssl) SSL_free(ssl);
      return;
    }
    std::string path = req.substr(4, req.find(' ', 4) - 4);
    {
      std::lock_guard<std::mutex> l(mu_);
      ++hits_[path];
    }
    auto header = [&](const std::string& name) {
      size_t p = req.find("\r\n" + name + ": ");
      if (p == std::string::npos) return std::string();
      p += name.size() + 4;
      return req.substr(p, req.find("\r\n", p) - p);
    };
    int status = 200;
    std::string extra;
    if (path == "/fail") {
      status = 500;
    } else if (path == "/redirect") {
      status = 302;
      extra = "Location: /ok\r\n";
    } else if (path == "/redirect-fail") {
      status = 301;
      extra = "Location: http://127.0.0.1:" + std::to_string(port_) + "/fail\r\n";
    } else if (path == "/redirect-loop") {
      status = 302;
      extra = "Location: /redirect-loop\r\n";
    } else if (path == "/redirect-away") {
      status = 302;
      extra = "Location: http://elsewhere.invalid:1/x\r\n";
    } else if (path == "/slow") {
      std::this_thread::sleep_for(1500ms);
    } else if (path == "/header") {
      status = header("X-Probe") == "yes" && header("User-Agent").rfind("kube-probe/", 0) == 0 &&
                       header("Host") == "custom.example"
                   ? 200
                   : 400;
    } else if (path == "/toggle") {
      status = toggle_status.load();
    }
    std::string body = "hello";
    std::string resp = "HTTP/1.1 " + std::to_string(status) + " X\r\n" + extra +
                       "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (ssl) {
      SSL_write(ssl, resp.data(), static_cast<int>(resp.size()));
      SSL_shutdown(ssl);
      SSL_free(ssl);
    } else {
      (void)::write(c, resp.data(), resp.size());
    }
  }

  int fd_ = -1, port_ = 0;
  SSL_CTX* ctx_ = nullptr;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<std::string, int> hits_;
  std::thread thread_;
};

json::object Http(int port, const std::string& path, const std::string& extra = "") {
  return json::parse(R"({"httpGet":{"path":")" + path + R"(","port":)" + std::to_string(port) +
                     extra + "}}")
      .as_object();
}

ProbeTarget Target() {
  ProbeTarget t;
  t.pod_ip = "127.0.0.1";
  return t;
}

TEST(RunProbeOnce, HttpGet) {
  TestServer s;
  auto t = Target();
  EXPECT_EQ(RunProbeOnce(Http(s.port(), "/ok"), t).result, ProbeResult::kSuccess);
  auto fail = RunProbeOnce(Http(s.port(), "/fail"), t);
  EXPECT_EQ(fail.result, ProbeResult::kFailure);
  EXPECT_EQ(fail.message, "HTTP probe failed with statuscode: 500");
  EXPECT_EQ(RunProbeOnce(Http(s.port(), "/redirect"), t).result, ProbeResult::kSuccess);
  EXPECT_EQ(s.hits("/ok"), 2);
  EXPECT_EQ(RunProbeOnce(Http(s.port(), "/redirect-fail"), t).result, ProbeResult::kFailure);
  auto loop = RunProbeOnce(Http(s.port(), "/redirect-loop"), t);
  EXPECT_EQ(loop.result, ProbeResult::kFailure);
  EXPECT_NE(loop.message.find("stopped after 10 redirects"), std::string::npos) << loop.message;
  // Another host: not followed, the redirect itself counts as success.
  auto away = RunProbeOnce(Http(s.port(), "/redirect-away"), t);
  EXPECT_EQ(away.result, ProbeResult::kSuccess);
  EXPECT_NE(away.message.find("Probe terminated redirects"), std::string::npos);
  auto slow = RunProbeOnce(Http(s.port(), "/slow", R"(},"timeoutSeconds":1,"x":{)"), t);
  EXPECT_EQ(slow.result, ProbeResult::kFailure);
  EXPECT_NE(slow.message.find("deadline exceeded"), std::string::npos) << slow.message;
  auto hdr = json::parse(R"({"httpGet":{"path":"/header","port":"web","host":"127.0.0.1",
      "httpHeaders":[{"name":"X-Probe","value":"yes"},{"name":"Host","value":"custom.example"}]}})")
                 .as_object();
  t.named_ports = {{"web", s.port()}};
  EXPECT_EQ(RunProbeOnce(hdr, t).result, ProbeResult::kSuccess);
  hdr["httpGet"].as_object()["port"] = "nope";
  auto named = RunProbeOnce(hdr, t);
  EXPECT_EQ(named.result, ProbeResult::kFailure);
  EXPECT_NE(named.message.find("nope"), std::string::npos);
  // Nothing listening.
  TestServer* gone = new TestServer;
  int port = gone->port();
  delete gone;
  auto refused = RunProbeOnce(Http(port, "/ok"), t);
  EXPECT_EQ(refused.result, ProbeResult::kFailure);
  EXPECT_NE(refused.message.find("connection refused"), std::string::npos) << refused.message;
}

TEST(RunProbeOnce, Https) {
  TestServer s(true);
  auto p = Http(s.port(), "/ok");
  p["httpGet"].as_object()["scheme"] = "HTTPS";
  auto r = RunProbeOnce(p, Target());
  EXPECT_EQ(r.result, ProbeResult::kSuccess) << r.message;
  p["httpGet"].as_object()["path"] = "/fail";
  EXPECT_EQ(RunProbeOnce(p, Target()).result, ProbeResult::kFailure);
  EXPECT_EQ(s.hits("/fail"), 1);
}

TEST(RunProbeOnce, TcpExecGrpc) {
  TestServer s;
  auto t = Target();
  auto tcp = json::parse(R"({"tcpSocket":{"port":)" + std::to_string(s.port()) + "}}").as_object();
  EXPECT_EQ(RunProbeOnce(tcp, t).result, ProbeResult::kSuccess);
  TestServer* gone = new TestServer;
  int port = gone->port();
  delete gone;
  tcp["tcpSocket"].as_object()["port"] = port;
  auto refused = RunProbeOnce(tcp, t);
  EXPECT_EQ(refused.result, ProbeResult::kFailure);
  EXPECT_NE(refused.message.find("connection refused"), std::string::npos);

  std::vector<std::string> seen;
  std::chrono::milliseconds seen_timeout{};
  t.exec = [&](const std::vector<std::string>& cmd,
               std::chrono::milliseconds timeout) -> Result<int> {
    seen = cmd;
    seen_timeout = timeout;
    if (cmd[0] == "ok") return 0;
    if (cmd[0] == "slow") return Status(Code::kTimeout, "deadline");
    return 3;
  };
  auto exec = json::parse(R"({"exec":{"command":["ok","x"]},"timeoutSeconds":4})").as_object();
  EXPECT_EQ(RunProbeOnce(exec, t).result, ProbeResult::kSuccess);
  EXPECT_EQ(seen, (std::vector<std::string>{"ok", "x"}));
  EXPECT_EQ(seen_timeout, 4000ms);
  exec["exec"].as_object()["command"] = json::array{"bad"};
  auto bad = RunProbeOnce(exec, t);
  EXPECT_EQ(bad.result, ProbeResult::kFailure);
  EXPECT_NE(bad.message.find("exited with 3"), std::string::npos);
  exec["exec"].as_object()["command"] = json::array{"slow"};
  EXPECT_NE(RunProbeOnce(exec, t).message.find("timed out"), std::string::npos);

  auto grpc = json::parse(R"({"grpc":{"port":1}})").as_object();
  auto g = RunProbeOnce(grpc, t);
  EXPECT_EQ(g.result, ProbeResult::kFailure);
  EXPECT_NE(g.message.find("not supported"), std::string::npos);
}

struct Events {
  std::mutex mu;
  std::vector<std::pair<ProbeResult, ProbeOutcome>> list;
  void Add(ProbeResult r, const ProbeOutcome& o) {
    std::lock_guard<std::mutex> l(mu);
    list.emplace_back(r, o);
  }
  size_t size() {
    std::lock_guard<std::mutex> l(mu);
    return list.size();
  }
  std::pair<ProbeResult, ProbeOutcome> at(size_t i) {
    std::lock_guard<std::mutex> l(mu);
    return list.at(i);
  }
};

bool WaitFor(const std::function<bool()>& f, std::chrono::milliseconds limit = 5s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return f();
}

TEST(Prober, ReadinessThresholds) {
  TestServer s;
  Events ev;
  auto probe = Http(s.port(), "/toggle",
                    R"(},"periodSeconds":1,"successThreshold":2,"failureThreshold":3,"x":{)");
  Prober p(ProbeKind::kReadiness, probe, Target(),
           [&](ProbeKind k, ProbeResult r, const ProbeOutcome& o) {
             EXPECT_EQ(k, ProbeKind::kReadiness);
             ev.Add(r, o);
           });
  p.set_second_for_test(20ms);
  EXPECT_EQ(p.current(), ProbeResult::kFailure);  // not ready until proven
  p.Start();
  // Failing attempts are each reported (for Unhealthy events); after 3 the result is settled.
  ASSERT_TRUE(WaitFor([&] { return ev.size() >= 3; }));
  EXPECT_EQ(ev.at(0).second.result, ProbeResult::kFailure);
  EXPECT_EQ(ev.at(0).second.message,
            "Readiness probe failed: HTTP probe failed with statuscode: 500");
  EXPECT_EQ(p.current(), ProbeResult::kFailure);
  s.toggle_status = 200;
  ASSERT_TRUE(WaitFor([&] { return p.current() == ProbeResult::kSuccess; }));
  // Success needed two probes in a row: the first success alone changed nothing.
  int hits_at_success = s.hits("/toggle");
  s.toggle_status = 500;
  ASSERT_TRUE(WaitFor([&] { return p.current() == ProbeResult::kFailure; }));
  EXPECT_GE(s.hits("/toggle") - hits_at_success, 3);
  // Readiness keeps probing after a failure.
  s.toggle_status = 200;
  ASSERT_TRUE(WaitFor([&] { return p.current() == ProbeResult::kSuccess; }));
  p.Stop();
  // Each settled change was reported once, with the thresholded value.
  int changes_to_success = 0;
  for (size_t i = 0; i < ev.size(); ++i)
    if (ev.at(i).second.result == ProbeResult::kSuccess) {
      EXPECT_EQ(ev.at(i).first, ProbeResult::kSuccess);
      ++changes_to_success;
    }
  EXPECT_EQ(changes_to_success, 2);
}

TEST(Prober, LivenessHoldsAfterFailureAndWaitsInitialDelay) {
  TestServer s;
  Events ev;
  auto probe = Http(s.port(), "/toggle",
                    R"(},"initialDelaySeconds":10,"periodSeconds":1,"failureThreshold":2,"x":{)");
  Prober p(ProbeKind::kLiveness, probe, Target(),
           [&](ProbeKind, ProbeResult r, const ProbeOutcome& o) { ev.Add(r, o); });
  p.set_second_for_test(20ms);
  EXPECT_EQ(p.current(), ProbeResult::kSuccess);
  auto start = std::chrono::steady_clock::now();
  p.Start();
  ASSERT_TRUE(WaitFor([&] { return s.hits("/toggle") > 0; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 190ms);  // 10 "seconds" of 20 ms
  ASSERT_TRUE(WaitFor([&] { return p.current() == ProbeResult::kFailure; }));
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev.at(0).first, ProbeResult::kSuccess);  // first failure: not settled yet
  EXPECT_EQ(ev.at(1).first, ProbeResult::kFailure);
  EXPECT_EQ(ev.at(1).second.message,
            "Liveness probe failed: HTTP probe failed with statuscode: 500");
  // Held: no more probes for this container.
  int hits = s.hits("/toggle");
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(s.hits("/toggle"), hits);
  p.Stop();
}

TEST(Prober, StopIsPrompt) {
  Events ev;
  auto probe = json::parse(R"({"tcpSocket":{"port":1},"initialDelaySeconds":1000})").as_object();
  Prober p(ProbeKind::kStartup, probe, Target(),
           [&](ProbeKind, ProbeResult r, const ProbeOutcome& o) { ev.Add(r, o); });
  EXPECT_EQ(p.current(), ProbeResult::kUnknown);
  p.Start();
  auto start = std::chrono::steady_clock::now();
  p.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(ev.size(), 0u);
}

}  // namespace
}  // namespace sampan::podspec
