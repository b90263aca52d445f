// Internal to the client: one HTTP/1.1 connection (TLS or plain) that a single
// thread drives synchronously. Each connection owns its own io_context, run by
// the calling thread for the duration of one operation; Cancel() may be called
// from any thread and makes a blocked operation return.
#pragma once

#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "client/config.h"
#include "util/status.h"

namespace sampan::client {
struct LoopbackEvent;  // client/loopback.h
}  // namespace sampan::client

namespace sampan::client::internal {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct Endpoint {
  bool tls = true;
  std::string host;
  std::string port;
  std::string base_path;  // a path prefix in the server URL, without the trailing '/'
};
Result<Endpoint> ParseServerUrl(const std::string& url);

class Connection {
 public:
  virtual ~Connection() = default;
  // Sends `req` and reads the whole response, within `timeout`.
  virtual Result<Response> RoundTrip(Request& req, std::chrono::milliseconds timeout) = 0;
  // Streaming: sends `req`, reads the response header (status + fields) within `timeout`;
  // then ReadSome() hands out body bytes as they arrive (no deadline), 0 at the end.
  virtual Result<int> StartStream(Request& req, std::chrono::milliseconds timeout) = 0;
  virtual Result<size_t> ReadSome(char* buf, size_t cap) = 0;
  // A stream over the in-process loopback may carry watch events as objects instead of
  // bytes: blocks until the stream has something, then true with `*event` filled when an
  // object is next; false when bytes are (ReadSome) or the stream ended. Network
  // connections carry bytes only.
  virtual bool NextEvent(LoopbackEvent* /*event*/) { return false; }
  // Unblocks the operation in progress; the connection is unusable afterwards. Thread-safe.
  virtual void Cancel() = 0;
  // Whether the server allows reuse after the last RoundTrip.
  virtual bool reusable() const = 0;
};

// Opens connections to one server with one set of TLS credentials (loaded once).
class Dialer {
 public:
  virtual ~Dialer() = default;
  static Result<std::unique_ptr<Dialer>> New(const ClientConfig& cfg);
  // A connected (and, for TLS, handshaken) connection. Unavailable on failure.
  virtual Result<std::unique_ptr<Connection>> Connect(std::chrono::milliseconds timeout) = 0;
  virtual const Endpoint& endpoint() const = 0;
};

// Connections to an API server in this process (client/loopback.h): requests go to
// `server` directly, without TLS, TCP or HTTP text. Dialer::New returns one when
// ClientConfig::loopback is set. Upgrading requests (exec, attach, port-forward) are
// answered with an error on these connections.
std::unique_ptr<Dialer> NewLoopbackDialer(std::shared_ptr<LoopbackServer> server);

}  // namespace sampan::client::internal
