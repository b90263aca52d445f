#include "client/transport.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

namespace sampan::client::internal {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using beast::error_code;

Result<Endpoint> ParseServerUrl(const std::string& url) {
  Endpoint ep;
  std::string_view rest = url;
  if (rest.rfind("https://", 0) == 0) {
    rest.remove_prefix(8);
  } else if (rest.rfind("http://", 0) == 0) {
    ep.tls = false;
    rest.remove_prefix(7);
  } else {
    return Invalid("server URL \"" + url + "\" must start with https:// or http://");
  }
  std::string_view hostport = rest.substr(0, rest.find('/'));
  if (hostport.size() < rest.size()) ep.base_path = std::string(rest.substr(hostport.size()));
  while (!ep.base_path.empty() && ep.base_path.back() == '/') ep.base_path.pop_back();
  if (!hostport.empty() && hostport.front() == '[') {  // [v6]:port
    auto close = hostport.find(']');
    if (close == std::string_view::npos)
      return Invalid("server URL \"" + url + "\": bad IPv6 host");
    ep.host = std::string(hostport.substr(1, close - 1));
    if (close + 1 < hostport.size() && hostport[close + 1] == ':')
      ep.port = std::string(hostport.substr(close + 2));
  } else if (auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
    ep.host = std::string(hostport.substr(0, colon));
    ep.port = std::string(hostport.substr(colon + 1));
  } else {
    ep.host = std::string(hostport);
  }
  if (ep.host.empty()) return Invalid("server URL \"" + url + "\" has no host");
  if (ep.port.empty()) ep.port = ep.tls ? "443" : "80";
  return ep;
}

namespace {

std::string Describe(const error_code& ec) { return ec.message(); }

// Runs the io_context until `done`; `timeout` bounds the whole operation through
// the tcp_stream's own expiry.
template <typename Stream>
class ConnImpl final : public Connection {
 public:
  template <typename... Args>
  explicit ConnImpl(Args&&... args) : stream_(io_, std::forward<Args>(args)...) {}

  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }
  Stream& stream() { return stream_; }
  asio::io_context& io() { return io_; }

  // Runs one asynchronous operation to completion on this thread.
  template <typename Start>
  error_code Run(Start&& start) {
    error_code result;
    start([&result](error_code ec, auto&&...) { result = ec; });
    io_.restart();
    io_.run();
    return result;
  }

  Result<Response> RoundTrip(Request& req, std::chrono::milliseconds timeout) override {
    tcp().expires_after(timeout);
    error_code ec = Run([&](auto h) { http::async_write(stream_, req, h); });
    if (ec) return Unavailable("sending request: " + Describe(ec));
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ull << 30);
    parser.header_limit(1 << 20);
    ec = Run([&](auto h) { http::async_read(stream_, buffer_, parser, h); });
    if (ec) {
      broken_ = true;
      if (ec == beast::error::timeout) return Status(Code::kTimeout, "request timed out");
      return Unavailable("reading response: " + Describe(ec));
    }
    Response res = parser.release();
    reusable_ = res.keep_alive();
    return res;
  }

  Result<int> StartStream(Request& req, std::chrono::milliseconds timeout) override {
    reusable_ = false;
    tcp().expires_after(timeout);
    error_code ec = Run([&](auto h) { http::async_write(stream_, req, h); });
    if (ec) return Unavailable("sending request: " + Describe(ec));
    parser_.emplace();
    parser_->body_limit(boost::none);
    ec = Run([&](auto h) { http::async_read_header(stream_, buffer_, *parser_, h); });
    if (ec) return Unavailable("reading response header: " + Describe(ec));
    tcp().expires_never();
    return static_cast<int>(parser_->get().result_int());
  }

  Result<size_t> ReadSome(char* buf, size_t cap) override {
    if (!parser_) return Internal("ReadSome before StartStream");
    // A read may consume only framing (a chunk header): loop until body bytes arrive.
    for (;;) {
      if (parser_->is_done()) return size_t{0};
      parser_->get().body().data = buf;
      parser_->get().body().size = cap;
      error_code ec = Run([&](auto h) { http::async_read_some(stream_, buffer_, *parser_, h); });
      if (ec == http::error::need_buffer) ec = {};
      size_t n = cap - parser_->get().body().size;
      if (n > 0) return n;
      if (ec) {
        if (ec == http::error::end_of_stream || ec == asio::error::eof ||
            ec == ssl::error::stream_truncated)
          return size_t{0};
        return Unavailable("reading stream: " + Describe(ec));
      }
    }
  }

  void Cancel() override {
    asio::post(io_, [this] {
      error_code ignored;
      tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
      tcp().cancel();
    });
  }

  bool reusable() const override { return reusable_ && !broken_; }

 private:
  asio::io_context io_{1};
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::buffer_body>> parser_;
  bool reusable_ = false;
  bool broken_ = false;
};

using TlsConn = ConnImpl<beast::ssl_stream<beast::tcp_stream>>;
using PlainConn = ConnImpl<beast::tcp_stream>;

class DialerImpl final : public Dialer {
 public:
  DialerImpl(Endpoint ep) : ep_(std::move(ep)) {}

  Status Init(const ClientConfig& cfg) {
    if (!ep_.tls) return Status::Ok();
    error_code ec;
    if (cfg.insecure_skip_verify) {
      ctx_.set_verify_mode(ssl::verify_none);
    } else {
      ctx_.set_verify_mode(ssl::verify_peer);
      if (cfg.ca_pem.empty()) {
        ctx_.set_default_verify_paths(ec);
      } else {
        ctx_.add_certificate_authority(asio::buffer(cfg.ca_pem), ec);
      }
      if (ec) return Invalid("loading the CA certificate: " + Describe(ec));
    }
    if (!cfg.client_cert_pem.empty()) {
      ctx_.use_certificate_chain(asio::buffer(cfg.client_cert_pem), ec);
      if (ec) return Invalid("loading the client certificate: " + Describe(ec));
      ctx_.use_private_key(asio::buffer(cfg.client_key_pem), ssl::context::pem, ec);
      if (ec) return Invalid("loading the client key: " + Describe(ec));
    }
    verify_ = !cfg.insecure_skip_verify;
    return Status::Ok();
  }

  Result<std::unique_ptr<Connection>> Connect(std::chrono::milliseconds timeout) override {
    if (ep_.tls) {
      auto c = std::make_unique<TlsConn>(ctx_);
      RETURN_IF_ERROR(Dial(*c, timeout));
      auto& s = c->stream();
      error_code addr_ec;
      asio::ip::make_address(ep_.host, addr_ec);
      if (addr_ec) SSL_set_tlsext_host_name(s.native_handle(), ep_.host.c_str());
      if (verify_) s.set_verify_callback(ssl::host_name_verification(ep_.host));
      c->tcp().expires_after(timeout);
      error_code ec = c->Run([&](auto h) { s.async_handshake(ssl::stream_base::client, h); });
      if (ec) return Unavailable("TLS handshake with " + ep_.host + ": " + Describe(ec));
      return std::unique_ptr<Connection>(std::move(c));
    }
    auto c = std::make_unique<PlainConn>();
    RETURN_IF_ERROR(Dial(*c, timeout));
    return std::unique_ptr<Connection>(std::move(c));
  }

  const Endpoint& endpoint() const override { return ep_; }

 private:
  template <typename Conn>
  Status Dial(Conn& c, std::chrono::milliseconds timeout) {
    tcp::resolver resolver(c.io());
    error_code ec;
    auto results = resolver.resolve(ep_.host, ep_.port, ec);
    if (ec) return Unavailable("resolving " + ep_.host + ": " + Describe(ec));
    c.tcp().expires_after(timeout);
    ec = c.Run([&](auto h) { c.tcp().async_connect(results, h); });
    if (ec) return Unavailable("connecting to " + ep_.host + ":" + ep_.port + ": " + Describe(ec));
    c.tcp().socket().set_option(tcp::no_delay(true), ec);
    return Status::Ok();
  }

  Endpoint ep_;
  ssl::context ctx_{ssl::context::tls_client};
  bool verify_ = true;
};

}  // namespace

Result<std::unique_ptr<Dialer>> Dialer::New(const ClientConfig& cfg) {
  if (cfg.loopback) return NewLoopbackDialer(cfg.loopback);
  ASSIGN_OR_RETURN(Endpoint ep, ParseServerUrl(cfg.server));
  auto d = std::make_unique<DialerImpl>(std::move(ep));
  RETURN_IF_ERROR(d->Init(cfg));
  return std::unique_ptr<Dialer>(std::move(d));
}

}  // namespace sampan::client::internal
