#include "image/http_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>

namespace sampan::image {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

std::string Url::HostPort() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if ((scheme == "https" && port == "443") || (scheme == "http" && port == "80")) return h;
  return h + ":" + port;
}

std::string Url::String() const { return scheme + "://" + HostPort() + target; }

Result<Url> ParseUrl(std::string_view text) {
  Url u;
  auto sep = text.find("://");
  if (sep == std::string_view::npos)
    return Invalid("URL \"" + std::string(text) + "\" has no scheme");
  u.scheme = std::string(text.substr(0, sep));
  for (auto& c : u.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u.scheme != "http" && u.scheme != "https") {
    return Invalid("URL \"" + std::string(text) + "\": unsupported scheme");
  }
  std::string_view rest = text.substr(sep + 3);
  auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!u.target.empty() && u.target[0] == '?') u.target = "/" + u.target;
  if (authority.find('@') != std::string_view::npos) {
    return Invalid("URL \"" + std::string(text) + "\": credentials in URLs are not supported");
  }
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return Invalid("URL \"" + std::string(text) + "\": bad host");
    u.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      u.port = std::string(authority.substr(close + 2));
  } else {
    auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) u.port = std::string(authority.substr(colon + 1));
  }
  if (u.host.empty()) return Invalid("URL \"" + std::string(text) + "\" has no host");
  if (u.port.empty()) u.port = u.scheme == "https" ? "443" : "80";
  for (char c : u.port)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return Invalid("URL \"" + std::string(text) + "\": bad port");
  return u;
}

Result<Url> ResolveUrl(const Url& base, std::string_view ref) {
  if (ref.find("://") != std::string_view::npos) return ParseUrl(ref);
  Url u = base;
  if (ref.empty()) return u;
  if (ref[0] == '/') {
    u.target = std::string(ref);
  } else {
    std::string path = base.target.substr(0, base.target.find('?'));
    path = path.substr(0, path.rfind('/') + 1);
    u.target = path + std::string(ref);
  }
  return u;
}


std::string HttpResponse::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

namespace {

template <typename Stream>
Result<HttpResponse> Exchange(Stream& stream, const HttpRequest& req, const Url& url,
                              bool keep_auth) {
  http::verb verb = http::string_to_verb(req.method);
  if (verb == http::verb::unknown) return Invalid("unknown HTTP method " + req.method);
  http::request<http::empty_body> r{verb, url.target, 11};
  r.set(http::field::host, url.HostPort());
  r.set(http::field::user_agent, "sampan/0.1");
  for (const auto& [k, v] : req.headers) {
    if (!keep_auth && (k == "Authorization" || k == "authorization")) continue;
    r.set(k, v);
  }
  beast::error_code ec;
  http::write(stream, r, ec);
  if (ec) return Unavailable("sending to " + url.HostPort() + ": " + ec.message());

  beast::flat_buffer buf;
  http::response_parser<http::buffer_body> p;
  p.body_limit(boost::none);
  if (verb == http::verb::head) p.skip(true);
  http::read_header(stream, buf, p, ec);
  if (ec) return Unavailable("reading from " + url.HostPort() + ": " + ec.message());

  HttpResponse resp;
  resp.status = static_cast<int>(p.get().result_int());
  resp.final_url = url;
  for (const auto& f : p.get()) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto& slot = resp.headers[name];
    slot = slot.empty() ? std::string(f.value()) : slot + ", " + std::string(f.value());
  }
  bool stream_body = req.sink && resp.status >= 200 && resp.status < 300;
  std::vector<char> chunk(256 * 1024);
  while (!p.is_done()) {
    p.get().body().data = chunk.data();
    p.get().body().size = chunk.size();
    http::read(stream, buf, p, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return Unavailable("reading the body from " + url.HostPort() + ": " + ec.message());
    size_t n = chunk.size() - p.get().body().size;
    if (n == 0) continue;
    if (stream_body) {
      RETURN_IF_ERROR(req.sink(chunk.data(), n));
    } else {
      if (static_cast<int64_t>(resp.body.size() + n) > req.max_body) {
        return Invalid("response from " + url.HostPort() + " is larger than " +
                       std::to_string(req.max_body) + " bytes");
      }
      resp.body.append(chunk.data(), n);
    }
  }
  return resp;
}

void SetTimeouts(int fd, int seconds) {
  struct timeval tv {
    seconds, 0
  };
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

Result<HttpResponse> HttpClient::Once(const HttpRequest& req, const Url& url,
                                      bool keep_auth) const {
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  auto endpoints = resolver.resolve(url.host, url.port, ec);
  if (ec) return Unavailable("resolving " + url.host + ": " + ec.message());
  tcp::socket sock(ioc);
  asio::connect(sock, endpoints, ec);
  if (ec) return Unavailable("connecting to " + url.HostPort() + ": " + ec.message());
  SetTimeouts(sock.native_handle(), req.timeout_s);
  if (url.scheme == "http") return Exchange(sock, req, url, keep_auth);

  ssl::context ctx(ssl::context::tls_client);
  ctx.set_default_verify_paths(ec);
  if (!tls_.ca_file.empty()) {
    ctx.load_verify_file(tls_.ca_file, ec);
    if (ec) return Invalid("loading CA file " + tls_.ca_file + ": " + ec.message());
  }
  if (!tls_.cert_file.empty()) {
    ctx.use_certificate_chain_file(tls_.cert_file, ec);
    if (!ec) ctx.use_private_key_file(tls_.key_file, ssl::context::pem, ec);
    if (ec) return Invalid("loading client certificate: " + ec.message());
  }
  ctx.set_verify_mode(tls_.insecure_skip_verify ? ssl::verify_none : ssl::verify_peer);
  ssl::stream<tcp::socket> tls(std::move(sock), ctx);
  if (!SSL_set_tlsext_host_name(tls.native_handle(), url.host.c_str())) {
    return Unavailable("TLS: cannot set SNI for " + url.host);
  }
  if (!tls_.insecure_skip_verify) tls.set_verify_callback(ssl::host_name_verification(url.host));
  tls.handshake(ssl::stream_base::client, ec);
  if (ec) return Unavailable("TLS handshake with " + url.HostPort() + ": " + ec.message());
  auto r = Exchange(tls, req, url, keep_auth);
  tls.shutdown(ec);  // best effort
  return r;
}

Result<HttpResponse> HttpClient::Do(const HttpRequest& req) const {
  Url url = req.url;
  bool keep_auth = true;
  for (int hop = 0;; ++hop) {
    ASSIGN_OR_RETURN(HttpResponse resp, Once(req, url, keep_auth));
    bool redirect = resp.status == 301 || resp.status == 302 || resp.status == 303 ||
                    resp.status == 307 || resp.status == 308;
    if (!redirect) return resp;
    if (hop >= req.max_redirects) return Unavailable("too many redirects from " + req.url.String());
    std::string loc = resp.Header("location");
    if (loc.empty()) return Unavailable("redirect without Location from " + url.String());
    ASSIGN_OR_RETURN(Url next, ResolveUrl(url, loc));
    if (next.host != req.url.host || next.port != req.url.port) keep_auth = false;
    url = next;
  }
}

}  // namespace sampan::image
