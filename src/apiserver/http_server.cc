#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>

#include "apiserver/http.h"
#include "apiserver/http_wire.h"
#include "util/log.h"
#include "util/url.h"

namespace sampan::apiserver {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::use_awaitable;

std::string_view Request::Query(std::string_view name) const {
  auto it = query.find(name);
  return it == query.end() ? std::string_view() : std::string_view(it->second);
}

bool Request::QueryBool(std::string_view name) const {
  std::string_view v = Query(name);
  return v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True";
}

std::vector<std::string> Request::QueryAll(std::string_view name) const {
  std::vector<std::string> out;
  auto [b, e] = query.equal_range(name);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

std::string_view Request::Header(std::string_view lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string_view() : std::string_view(it->second);
}

asio::awaitable<Status> Responder::WriteEvents(std::vector<StreamEvent>) {
  co_return Status(Code::kInternal, "this connection takes watch events as text only");
}

asio::awaitable<Status> Responder::WriteRaw(std::string) {
  co_return Status(Code::kMethodNotAllowed, "this connection cannot be proxied");
}

asio::awaitable<std::string> Responder::ReadRaw() { co_return std::string(); }

namespace {

void ParseTarget(Request& req) { url::SplitTarget(req.target, &req.path, &req.query); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string PlainStatus(int code, std::string_view reason, std::string_view msg) {
  return std::string(
             R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")") +
         std::string(msg) + R"(","reason":")" + std::string(reason) + R"(","code":)" +
         std::to_string(code) + "}";
}

// Identity from a verified client certificate: CN = user, O = groups.
Identity CertIdentity(SSL* ssl) {
  Identity id;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return id;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    X509_NAME* name = X509_get_subject_name(cert);
    for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
      X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
      int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
      ASN1_STRING* d = X509_NAME_ENTRY_get_data(e);
      std::string v(reinterpret_cast<const char*>(ASN1_STRING_get0_data(d)), ASN1_STRING_length(d));
      if (nid == NID_commonName) id.user = v;
      if (nid == NID_organizationName) id.groups.push_back(v);
    }
    id.authenticated = !id.user.empty();
    if (id.authenticated) id.groups.push_back("system:authenticated");
  }
  X509_free(cert);
  return id;
}

// Bodies up to this size are copied behind the header and sent as one buffer; larger ones
// (lists) are sent from where they are.
constexpr size_t kCopyBodyLimit = 64 * 1024;

template <typename Stream>
class StreamResponder final : public Responder {
 public:
  StreamResponder(Stream& s, bool keep_alive, beast::flat_buffer* read_ahead = nullptr)
      : s_(s), keep_alive_(keep_alive), read_ahead_(read_ahead) {}

  asio::awaitable<void> Send(Response r) override {
    sent_ = true;
    http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
    res.set(http::field::content_type, r.content_type);
    res.set(http::field::cache_control, "no-cache, private");
    // Warning may repeat (one per warning, as Kubernetes sends them); other headers replace.
    for (auto& [k, v] : r.headers) {
      if (beast::iequals(k, "warning")) {
        res.insert(k, v);
      } else {
        res.set(k, v);
      }
    }
    res.keep_alive(keep_alive_);
    res.body() = std::move(r.body);
    res.prepare_payload();
    // Written out here (http_wire.h), header and body into one buffer, and sent with one write:
    // the bytes http::async_write would send, without its serializer and layers of composed
    // asynchronous operations, which cost more than the TLS encryption of the reply.
    const bool one_buffer = res.body().size() <= kCopyBodyLimit;
    std::string wire = ResponseWire(res, one_buffer);
    beast::error_code ec;
    if (one_buffer) {
      co_await asio::async_write(s_, asio::buffer(wire), asio::redirect_error(use_awaitable, ec));
    } else {
      // Two writes, not one of two buffers: Beast's flat_stream writes nothing for a sequence
      // whose first buffer is empty (as it is once the header is out), which ends async_write
      // with the body unsent.
      co_await asio::async_write(s_, asio::buffer(wire), asio::redirect_error(use_awaitable, ec));
      if (!ec) {
        co_await asio::async_write(s_, asio::buffer(res.body()),
                                   asio::redirect_error(use_awaitable, ec));
      }
    }
    if (ec) failed_ = true;
  }

  asio::awaitable<Status> BeginStream(int status, std::string content_type) override {
    sent_ = true;
    streaming_ = true;
    http::response<http::empty_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, content_type);
    res.set(http::field::cache_control, "no-cache, private");
    res.chunked(true);
    res.keep_alive(keep_alive_);
    http::response_serializer<http::empty_body> sr{res};
    beast::error_code ec;
    co_await http::async_write_header(s_, sr, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      failed_ = true;
      co_return Unavailable("client gone");
    }
    co_return Status::Ok();
  }

  asio::awaitable<Status> Write(std::string chunk) override {
    if (failed_) co_return Unavailable("client gone");
    beast::error_code ec;
    co_await asio::async_write(s_, http::make_chunk(asio::buffer(chunk)),
                               asio::redirect_error(use_awaitable, ec));
    if (ec) {
      failed_ = true;
      co_return Unavailable("client gone");
    }
    co_return Status::Ok();
  }

  asio::awaitable<void> Finish() override {
    if (failed_) co_return;
    beast::error_code ec;
    co_await asio::async_write(s_, http::make_chunk_last(),
                               asio::redirect_error(use_awaitable, ec));
    if (ec) failed_ = true;
  }

  bool sent() const override { return sent_; }
  bool failed() const { return failed_; }

  void WatchForClose(std::function<void()> on_close) override {
    close_ = std::make_shared<CloseState>(s_.get_executor());
    close_->on_close = std::move(on_close);
    auto state = close_;
    s_.async_read_some(asio::buffer(state->byte, 1), [state](beast::error_code, std::size_t) {
      state->closed = true;
      state->read_done = true;
      state->done.cancel();
      if (state->on_close) state->on_close();
    });
    reading_ = true;
  }
  bool client_closed() const override { return close_ && close_->closed; }

  // Ends the read WatchForClose started and waits for its handler. The stream must outlive
  // that read: a TLS read still pending when the stream is destroyed completes into freed
  // memory (the server crashed that way when a watch hit its timeoutSeconds).
  asio::awaitable<void> StopReading() {
    if (!reading_ || close_->read_done) co_return;
    close_->on_close = nullptr;
    beast::get_lowest_layer(s_).cancel();
    while (!close_->read_done) {
      close_->done.expires_at(asio::steady_timer::time_point::max());
      beast::error_code ec;
      co_await close_->done.async_wait(asio::redirect_error(use_awaitable, ec));
    }
  }

  asio::awaitable<Status> WriteRaw(std::string bytes) override {
    sent_ = true;
    raw_ = true;
    if (failed_) co_return Unavailable("client gone");
    beast::error_code ec;
    co_await asio::async_write(s_, asio::buffer(bytes), asio::redirect_error(use_awaitable, ec));
    if (ec) {
      failed_ = true;
      co_return Unavailable("client gone");
    }
    co_return Status::Ok();
  }

  asio::awaitable<std::string> ReadRaw() override {
    raw_ = true;
    if (read_ahead_ && read_ahead_->size() > 0) {
      std::string out = beast::buffers_to_string(read_ahead_->data());
      read_ahead_->consume(read_ahead_->size());
      co_return out;
    }
    if (raw_closed_) co_return std::string();
    std::string buf(16384, '\0');
    beast::error_code ec;
    size_t n =
        co_await s_.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    if (ec || raw_closed_) co_return std::string();
    buf.resize(n);
    co_return buf;
  }

  void CloseRaw() override {
    raw_closed_ = true;
    beast::get_lowest_layer(s_).cancel();
  }

  bool raw() const { return raw_; }
  bool reading() const { return reading_; }
  bool streaming() const { return streaming_; }

 private:
  struct CloseState {
    explicit CloseState(asio::any_io_executor ex) : done(std::move(ex)) {}
    char byte[1];
    bool closed = false;     // the client hung up (or sent bytes, which a watch does not expect)
    bool read_done = false;  // the read's handler has run
    asio::steady_timer done;
    std::function<void()> on_close;
  };
  Stream& s_;
  std::shared_ptr<CloseState> close_;
  bool reading_ = false;
  bool keep_alive_;
  beast::flat_buffer* read_ahead_;
  bool raw_ = false;
  bool raw_closed_ = false;
  bool sent_ = false;
  bool failed_ = false;
  bool streaming_ = false;
};

class ServerImpl final : public HttpServer {
 public:
  ServerImpl(asio::io_context& io, ServerOptions opt, Handler handler, TokenAuthenticator tokens)
      : io_(io),
        opt_(std::move(opt)),
        handler_(std::move(handler)),
        tokens_(std::move(tokens)),
        ssl_(ssl::context::tls_server),
        acceptor_(io),
        plain_acceptor_(io) {}

  Result<int> Start() override {
    beast::error_code ec;
    ssl_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    ssl_.use_certificate_chain_file(opt_.cert_file, ec);
    if (ec) return Internal("load " + opt_.cert_file + ": " + ec.message());
    ssl_.use_private_key_file(opt_.key_file, ssl::context::pem, ec);
    if (ec) return Internal("load " + opt_.key_file + ": " + ec.message());
    if (!opt_.client_ca_file.empty()) {
      ssl_.load_verify_file(opt_.client_ca_file, ec);
      if (ec) return Internal("load " + opt_.client_ca_file + ": " + ec.message());
      // Ask for a client certificate but accept connections without one (token or anonymous).
      ssl_.set_verify_mode(ssl::verify_peer);
      ssl_.set_verify_callback([](bool, ssl::verify_context&) { return true; });
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(opt_.client_ca_file.c_str());
      if (names) SSL_CTX_set_client_CA_list(ssl_.native_handle(), names);
    }
    SSL_CTX_set_session_id_context(ssl_.native_handle(),
                                   reinterpret_cast<const unsigned char*>("sampan"), 6);
    // No TLS 1.3 session tickets: OpenSSL sends two after every handshake, each a copy of the
    // session (peer certificate included) encoded and encrypted, and the clients here never
    // resume with them (client-go and Python set no session cache). Under callgrind the tickets
    // were about a quarter of the instructions of a handshake with a client certificate.
    SSL_CTX_set_num_tickets(ssl_.native_handle(), 0);
    auto addr = asio::ip::make_address(opt_.bind_address, ec);
    if (ec) return BadRequest("invalid bind address " + opt_.bind_address);
    RETURN_IF_ERROR(Listen(acceptor_, tcp::endpoint(addr, opt_.https_port)));
    int port = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, Accept(true), asio::detached);
    if (opt_.http_port >= 0) {
      RETURN_IF_ERROR(Listen(plain_acceptor_,
                             tcp::endpoint(asio::ip::make_address("127.0.0.1"), opt_.http_port)));
      http_port_ = plain_acceptor_.local_endpoint().port();
      asio::co_spawn(io_, Accept(false), asio::detached);
    }
    return port;
  }

  int http_port() const override { return http_port_; }

  void Stop() override {
    asio::post(io_, [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      plain_acceptor_.close(ec);
    });
  }

 private:
  Status Listen(tcp::acceptor& a, tcp::endpoint ep) {
    beast::error_code ec;
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable("listen on " + ep.address().to_string() + ":" + std::to_string(ep.port()) +
                         ": " + ec.message());
    }
    return Status::Ok();
  }

  asio::awaitable<void> Accept(bool tls) {
    tcp::acceptor& a = tls ? acceptor_ : plain_acceptor_;
    for (;;) {
      beast::error_code ec;
      auto strand = asio::make_strand(opt_.connection_io ? opt_.connection_io() : io_);
      tcp::socket sock(strand);
      co_await a.async_accept(sock, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !a.is_open()) co_return;
        LOG(WARNING) << "accept: " << ec.message();
        continue;
      }
      sock.set_option(tcp::no_delay(true), ec);
      if (tls) {
        asio::co_spawn(strand, ServeTls(std::move(sock)), asio::detached);
      } else {
        asio::co_spawn(strand, ServePlain(std::move(sock)), asio::detached);
      }
    }
  }

  asio::awaitable<void> ServeTls(tcp::socket sock) {
    std::string remote = Remote(sock);
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(sock)), ssl_);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    beast::error_code ec;
    co_await stream.async_handshake(ssl::stream_base::server,
                                    asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    Identity id = CertIdentity(stream.native_handle());
    if (!co_await Serve(stream, id, remote)) co_return;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
  }

  asio::awaitable<void> ServePlain(tcp::socket sock) {
    std::string remote = Remote(sock);
    beast::tcp_stream stream(std::move(sock));
    Identity id{"system:admin", {"system:masters", "system:authenticated"}, true};
    co_await Serve(stream, id, remote);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  static std::string Remote(tcp::socket& s) {
    beast::error_code ec;
    auto ep = s.remote_endpoint(ec);
    if (ec) return "?";
    return ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  // Returns false when the connection must just be dropped (a read is still pending).
  template <typename Stream>
  asio::awaitable<bool> Serve(Stream& stream, const Identity& conn_id, const std::string& remote) {
    beast::flat_buffer buf;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(opt_.max_body_bytes);
      parser.header_limit(64 * 1024);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(120));
      beast::error_code ec;
      co_await http::async_read(stream, buf, parser, asio::redirect_error(use_awaitable, ec));
      if (ec == http::error::body_limit) {
        StreamResponder<Stream> r(stream, false);
        Response too_large;
        too_large.status = 413;
        too_large.body = PlainStatus(413, "RequestEntityTooLarge",
                                     "the request body is larger than the server allows (" +
                                         std::to_string(opt_.max_body_bytes) + " bytes)");
        co_await r.Send(std::move(too_large));
        co_return true;
      }
      if (ec) co_return true;
      beast::get_lowest_layer(stream).expires_never();
      auto& msg = parser.get();
      Request req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      req.remote = remote;
      for (auto& f : msg) {
        // A repeated header is one comma-separated list (RFC 9110 §5.3), e.g. the several
        // X-Stream-Protocol-Version headers of an exec over SPDY.
        auto [it, fresh] = req.headers.emplace(Lower(f.name_string()), std::string(f.value()));
        if (!fresh) it->second += ", " + std::string(f.value());
      }
      req.body = std::move(msg.body());
      ParseTarget(req);
      req.identity = conn_id;
      if (!req.identity.authenticated) Authenticate(req);
      StreamResponder<Stream> responder(stream, msg.keep_alive(), &buf);
      co_await ServeRequest(handler_, req, responder);
      if (responder.reading()) {
        co_await responder.StopReading();
        co_return false;
      }
      if (responder.raw()) co_return true;
      if (responder.failed() || !msg.keep_alive()) co_return true;
    }
  }

  void Authenticate(Request& req) {
    std::string_view auth = req.Header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (tokens_ && auth.size() > kBearer.size() && auth.substr(0, kBearer.size()) == kBearer) {
      Identity id;
      if (tokens_(auth.substr(kBearer.size()), &id)) {
        id.authenticated = true;
        id.groups.push_back("system:authenticated");
        req.identity = id;
        return;
      }
      // A bad token is an authentication failure, not anonymous access.
      req.identity = Identity{};
      return;
    }
    req.identity.user = "system:anonymous";
    req.identity.groups = {"system:unauthenticated"};
  }

  asio::io_context& io_;
  ServerOptions opt_;
  Handler handler_;
  TokenAuthenticator tokens_;
  ssl::context ssl_;
  tcp::acceptor acceptor_;
  tcp::acceptor plain_acceptor_;
  int http_port_ = -1;
};

}  // namespace

asio::awaitable<void> ServeRequest(const Handler& handler, Request& req, Responder& res) {
  co_await handler(req, res);
  if (!res.sent()) {
    Response none;
    none.status = 500;
    none.body = PlainStatus(500, "InternalError", "handler sent no response");
    co_await res.Send(std::move(none));
  }
}

std::unique_ptr<HttpServer> NewHttpServer(asio::io_context& io, ServerOptions options,
                                          Handler handler, TokenAuthenticator tokens) {
  return std::make_unique<ServerImpl>(io, std::move(options), std::move(handler),
                                      std::move(tokens));
}

}  // namespace sampan::apiserver
