// The kubelet API over a HostBackend, driven by a small TLS client speaking the older
// protocol variants that the end-to-end tests' clients do not use (base64 channels,
// channel.k8s.io, SPDY v2, base64 port-forward), plus TLS client authentication.
#include "streaming/kubelet_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "streaming/spdy.h"
#include "streaming/testing/host_backend.h"
#include "streaming/websocket.h"
#include "util/base64.h"

namespace sampan::streaming {
namespace {

// --- a throwaway PKI ---
EVP_PKEY* NewKey() { return EVP_EC_gen("P-256"); }

X509* MakeCert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, bool ca) {
  X509* c = X509_new();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), static_cast<long>(std::rand()) + 1);
  X509_gmtime_adj(X509_getm_notBefore(c), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c), 3600);
  X509_set_pubkey(c, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(c, X509_get_subject_name(issuer ? issuer : c));
  if (ca) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, c, c, nullptr, nullptr, 0);
    X509_EXTENSION* ext =
        X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(c, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256());
  return c;
}

void WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (cert) PEM_write_X509(f, cert);
  if (key) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

class KubeletServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kubeletsrvXXXXXX";
    dir_ = mkdtemp(tmpl);
    EVP_PKEY* ca_key = NewKey();
    X509* ca = MakeCert(ca_key, "test-ca", nullptr, nullptr, true);
    EVP_PKEY* srv_key = NewKey();
    X509* srv = MakeCert(srv_key, "node", ca, ca_key, false);
    client_key_ = NewKey();
    client_cert_ = MakeCert(client_key_, "apiserver", ca, ca_key, false);
    WritePem(dir_ + "/ca.crt", ca, nullptr);
    WritePem(dir_ + "/srv.crt", srv, nullptr);
    WritePem(dir_ + "/srv.key", nullptr, srv_key);
    X509_free(ca);
    X509_free(srv);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(srv_key);
    backend_ = std::make_unique<testing::HostBackend>(dir_ + "/root");
    ASSERT_TRUE(
        backend_
            ->Run("ns", "pod", "main", {"sh", "-c", "echo booted; exec sleep 1000"}, false, false)
            .ok());
    ServerOptions o;
    o.bind_address = "127.0.0.1";
    o.port = 0;
    o.cert_file = dir_ + "/srv.crt";
    o.key_file = dir_ + "/srv.key";
    o.client_ca_file = dir_ + "/ca.crt";
    auto s = KubeletServer::Start(o, backend_.get());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
  }

  void TearDown() override {
    server_.reset();
    backend_.reset();
    X509_free(client_cert_);
    EVP_PKEY_free(client_key_);
    std::system(("rm -rf " + dir_).c_str());
  }

  // A blocking TLS client connection.
  struct Client {
    SSL_CTX* ctx = nullptr;
    SSL* ssl = nullptr;
    int fd = -1;
    std::string in;
    ~Client() {
      if (ssl) SSL_free(ssl);
      if (ctx) SSL_CTX_free(ctx);
      if (fd >= 0) close(fd);
    }
    bool Send(std::string_view b) {
      return SSL_write(ssl, b.data(), static_cast<int>(b.size())) == static_cast<int>(b.size());
    }
    bool Fill() {
      char buf[16384];
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) return false;
      in.append(buf, n);
      return true;
    }
    std::string Head() {
      while (in.find("\r\n\r\n") == std::string::npos)
        if (!Fill()) return "";
      auto e = in.find("\r\n\r\n");
      std::string h = in.substr(0, e + 4);
      in.erase(0, e + 4);
      return h;
    }
    std::string Rest() {
      while (Fill()) {
      }
      return in;
    }
  };

  std::unique_ptr<Client> Connect(bool with_cert, bool* handshake_ok = nullptr) {
    auto c = std::make_unique<Client>();
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (with_cert) {
      SSL_CTX_use_certificate(c->ctx, client_cert_);
      SSL_CTX_use_PrivateKey(c->ctx, client_key_);
    }
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(server_->port()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{10, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    EXPECT_EQ(connect(c->fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    c->ssl = SSL_new(c->ctx);
    SSL_set_fd(c->ssl, c->fd);
    bool ok = SSL_connect(c->ssl) == 1;
    // With TLS 1.3 a refused client certificate shows on the first read.
    if (handshake_ok) *handshake_ok = ok;
    return c;
  }

  std::unique_ptr<Client> Upgrade(const std::string& target, const std::string& headers) {
    auto c = Connect(true);
    c->Send("GET " + target + " HTTP/1.1\r\nHost: node\r\n" + headers + "\r\n");
    return c;
  }

  static std::string WsHeaders(const std::string& proto) {
    return "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: " +
           proto + "\r\n";
  }

  // Reads WebSocket messages until the close frame; returns them (close excluded).
  static std::vector<ws::Message> ReadUntilClose(Client& c) {
    ws::Parser p(false);
    std::vector<ws::Message> out;
    for (;;) {
      p.Feed(c.in);
      c.in.clear();
      for (;;) {
        auto m = p.Next();
        EXPECT_TRUE(m.ok());
        if (!m.ok() || !*m) break;
        if ((*m)->op == ws::kClose) {
          c.Send(ws::EncodeClose(1000, "", 1u));
          shutdown(c.fd, SHUT_WR);
          return out;
        }
        out.push_back(std::move(**m));
      }
      if (!c.Fill()) return out;
    }
  }

  std::string dir_;
  EVP_PKEY* client_key_ = nullptr;
  X509* client_cert_ = nullptr;
  std::unique_ptr<testing::HostBackend> backend_;
  std::unique_ptr<KubeletServer> server_;
};

TEST_F(KubeletServerTest, RefusesClientsWithoutACertificateFromTheCa) {
  bool ok = true;
  auto c = Connect(false, &ok);
  if (ok) {
    c->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_FALSE(c->Fill());
  }
  auto good = Connect(true);
  good->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string all = good->Rest();
  EXPECT_NE(all.find("200 OK"), std::string::npos);
  EXPECT_NE(all.find("\r\n\r\nok"), std::string::npos);
}

TEST_F(KubeletServerTest, ExecOverBase64Channels) {
  auto c = Upgrade(
      "/exec/ns/pod/"
      "main?command=sh&command=-c&command=echo%20hi%3B%20echo%20err%20%3E%262%3B%20exit%202&stdout="
      "1&stderr=1",
      WsHeaders("base64.channel.k8s.io"));
  std::string head = c->Head();
  ASSERT_NE(head.find("101 Switching Protocols"), std::string::npos) << head;
  EXPECT_NE(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos);
  EXPECT_NE(head.find("Sec-WebSocket-Protocol: base64.channel.k8s.io"), std::string::npos);
  std::map<char, std::string> got;
  for (auto& m : ReadUntilClose(*c)) {
    EXPECT_EQ(m.op, ws::kText);
    auto d = Base64Decode(std::string_view(m.payload).substr(1));
    ASSERT_TRUE(d);
    got[m.payload[0]] += *d;
  }
  EXPECT_EQ(got['1'], "hi\n");
  EXPECT_EQ(got['2'], "err\n");
  // channel.k8s.io variants report a failure as text.
  EXPECT_EQ(got['3'], "command terminated with non-zero exit code: exit status 2");
}

TEST_F(KubeletServerTest, ExecOverV1ChannelsWithStdin) {
  auto c = Upgrade(
      "/exec/ns/pod/main?command=head&command=-c&command=5&stdin=true&stdout=true&stderr=false",
      WsHeaders("channel.k8s.io"));
  ASSERT_NE(c->Head().find("101"), std::string::npos);
  c->Send(ws::EncodeFrame(ws::kBinary, std::string("\0hel", 4), true, 0x1234u));
  c->Send(ws::EncodeFrame(ws::kPing, "are you there", true, 0x99u));
  c->Send(ws::EncodeFrame(ws::kBinary, std::string("\0lo!", 4), true, 0x4321u));
  std::string out;
  bool pong = false;
  for (auto& m : ReadUntilClose(*c)) {
    if (m.op == ws::kPong) {
      pong = m.payload == "are you there";
      continue;
    }
    if (m.payload.empty()) continue;
    if (m.payload[0] == 1) out += m.payload.substr(1);
    EXPECT_NE(m.payload[0], 3) << "success sends no error text";
  }
  EXPECT_TRUE(pong);
  EXPECT_EQ(out, "hello");
}

TEST_F(KubeletServerTest, ExecOverSpdyV2) {
  auto c = Connect(true);
  c->Send(
      "POST "
      "/exec/ns/pod/main?command=sh&command=-c&command=cat%3B%20exit%201&stdin=1&stdout=1&stderr=1 "
      "HTTP/1.1\r\n"
      "Host: node\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
      "X-Stream-Protocol-Version: v2.channel.k8s.io\r\nX-Stream-Protocol-Version: "
      "channel.k8s.io\r\n\r\n");
  std::string head = c->Head();
  ASSERT_NE(head.find("101"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Stream-Protocol-Version: v2.channel.k8s.io"), std::string::npos);
  spdy::Codec codec;
  std::string open = codec.SynStream(1, {{"streamtype", "error"}}, false);
  open += codec.SynStream(3, {{"streamtype", "stdin"}}, false);
  open += codec.SynStream(5, {{"streamtype", "stdout"}}, false);
  open += codec.SynStream(7, {{"streamtype", "stderr"}}, false);
  open += spdy::Codec::Data(3, "via spdy\n", true);
  c->Send(open);
  std::map<uint32_t, std::string> data;
  std::set<uint32_t> replied, finished;
  codec.Feed(c->in);
  c->in.clear();
  while (!finished.count(1) || !finished.count(5) || !finished.count(7)) {
    auto f = codec.Next();
    ASSERT_TRUE(f.ok());
    if (!*f) {
      ASSERT_TRUE(c->Fill()) << "connection closed early";
      codec.Feed(c->in);
      c->in.clear();
      continue;
    }
    if ((*f)->type == spdy::kSynReply) replied.insert((*f)->stream_id);
    if ((*f)->type == spdy::kData) {
      data[(*f)->stream_id] += (*f)->data;
      if ((*f)->fin()) finished.insert((*f)->stream_id);
    }
  }
  EXPECT_EQ(replied, (std::set<uint32_t>{1, 3, 5, 7}));
  EXPECT_EQ(data[5], "via spdy\n");
  EXPECT_EQ(data[1], "command terminated with non-zero exit code: exit status 1");
}

TEST_F(KubeletServerTest, PortForwardOverBase64WebSocket) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  listen(l, 4);
  socklen_t len = sizeof a;
  getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  std::thread upper([l] {
    int c = accept(l, nullptr, nullptr);
    char buf[256];
    ssize_t n = read(c, buf, sizeof buf);
    for (ssize_t i = 0; i < n; ++i) buf[i] = static_cast<char>(std::toupper(buf[i]));
    (void)!write(c, buf, n);
    close(c);
  });
  auto c = Upgrade("/portForward/ns/pod?ports=" + std::to_string(port),
                   WsHeaders("v4.base64.channel.k8s.io"));
  ASSERT_NE(c->Head().find("101"), std::string::npos);
  c->Send(ws::EncodeFrame(ws::kText, "0" + Base64Encode("shout"), true, 0x55u));
  std::vector<std::string> frames;
  for (auto& m : ReadUntilClose(*c)) {
    auto d = Base64Decode(std::string_view(m.payload).substr(1));
    ASSERT_TRUE(d);
    frames.push_back(m.payload.substr(0, 1) + *d);
  }
  upper.join();
  close(l);
  std::string prefix = {static_cast<char>(port & 0xff), static_cast<char>(port >> 8)};
  ASSERT_GE(frames.size(), 3u);
  EXPECT_EQ(frames[0], "0" + prefix);  // each channel opens with the port, little-endian
  EXPECT_EQ(frames[1], "1" + prefix);
  EXPECT_EQ(frames[2], "0SHOUT");
}

TEST_F(KubeletServerTest, LogsAndErrors) {
  for (int i = 0; i < 50; ++i) {
    auto c = Connect(true);
    c->Send("GET /containerLogs/ns/pod/main?tailLines=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string all = c->Rest();
    if (all.find("booted") != std::string::npos) {
      EXPECT_NE(all.find("200 OK"), std::string::npos);
      EXPECT_NE(all.find("\r\n\r\n7\r\nbooted\n\r\n0\r\n\r\n"), std::string::npos) << all;
      EXPECT_NE(all.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto c = Connect(true);
  c->Send("GET /containerLogs/ns/nopod/main HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string nf = c->Rest();
  EXPECT_NE(nf.find("404"), std::string::npos);
  EXPECT_NE(nf.find("\"reason\":\"NotFound\""), std::string::npos);
  auto bad = Upgrade("/exec/ns/pod/main?command=true", WsHeaders("v9.channel.k8s.io"));
  EXPECT_NE(bad->Rest().find("400 Bad Request"), std::string::npos);
  auto plain = Connect(true);
  plain->Send("GET /exec/ns/pod/main?command=true HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(plain->Rest().find("400 Bad Request"), std::string::npos);
}

}  // namespace
}  // namespace sampan::streaming
