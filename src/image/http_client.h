// A small synchronous HTTP/1.1 client (Boost.Beast, OpenSSL) for registry traffic: one
// connection per request, TLS verified against the system CAs (plus an optional CA file),
// redirects followed, bodies streamed to a sink. Kept in src/image for now; it may move to
// a shared place once src/client needs the same. Thread-compatible (one client per thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "util/status.h"
#include "util/url.h"

namespace sampan::image {

struct Url {
  std::string scheme;            // "http" | "https"
  std::string host;              // without port; IPv6 without brackets
  std::string port;              // always set ("80"/"443" by default)
  std::string target;            // path + query, "/" at least
  std::string HostPort() const;  // "host:port" omitting the scheme's default port
  std::string String() const;
};
Result<Url> ParseUrl(std::string_view text);
// Resolves `ref` (absolute URL, absolute path or relative path) against `base`.
Result<Url> ResolveUrl(const Url& base, std::string_view ref);
using url::QueryEscape;  // %-encodes a query parameter value

struct TlsOptions {
  std::string ca_file;    // extra trusted CAs (PEM); system CAs are always trusted
  std::string cert_file;  // client certificate (PEM), with key_file
  std::string key_file;
  bool insecure_skip_verify = false;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; repeated ones joined ", "
  std::string body;                            // unless streamed to a sink
  Url final_url;                               // after redirects
  std::string Header(const std::string& lower_name) const;
};

// Receives body bytes of a 2xx response; a non-OK status aborts the transfer.
using BodySink = std::function<Status(const char* data, size_t size)>;

struct HttpRequest {
  std::string method = "GET";
  Url url;
  std::map<std::string, std::string> headers;
  BodySink sink;               // 2xx bodies go here when set
  int64_t max_body = 8 << 20;  // limit for bodies kept in memory
  int max_redirects = 5;
  int timeout_s = 60;  // per read/write
};

class HttpClient {
 public:
  explicit HttpClient(TlsOptions tls = {}) : tls_(std::move(tls)) {}
  // Unavailable on connection, TLS and protocol failures (with the cause); any HTTP status
  // is a successful result. Redirects (301/302/303/307/308) are followed; Authorization is
  // dropped when a redirect leaves the original host.
  Result<HttpResponse> Do(const HttpRequest& req) const;

 private:
  Result<HttpResponse> Once(const HttpRequest& req, const Url& url, bool keep_auth) const;
  TlsOptions tls_;
};

}  // namespace sampan::image
