// A small HTTP/1.1 server over TLS (and, when asked, plain TCP on loopback) for
// the Kubernetes API. Handlers see our own Request/Responder types, so only
// http_server.cc pulls in Beast. Each connection runs as a coroutine on its own
// strand of the shared io_context; handlers are coroutines on that strand.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace boost::json {
class object;
}

namespace sampan::apiserver {

namespace asio = boost::asio;

// A watch event as an object (see Responder::takes_objects): `object` is immutable and may be
// the watch cache's own copy.
struct StreamEvent {
  std::string type;  // ADDED | MODIFIED | DELETED | BOOKMARK | ERROR
  std::shared_ptr<const boost::json::object> object;
};

struct Identity {
  std::string user;                 // "system:admin", "system:anonymous", ...
  std::vector<std::string> groups;  // "system:masters", "system:authenticated", ...
  bool authenticated = false;
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target
  std::string path;    // percent-decoded path without the query
  std::multimap<std::string, std::string, std::less<>> query;  // decoded
  std::map<std::string, std::string, std::less<>> headers;     // lower-case names
  std::string body;
  Identity identity;
  std::string remote;  // "127.0.0.1:51234"

  // First value of a query parameter, or "".
  std::string_view Query(std::string_view name) const;
  bool HasQuery(std::string_view name) const { return query.find(name) != query.end(); }
  // A boolean parameter as Go's strconv.ParseBool reads it: 1 t T TRUE true True.
  bool QueryBool(std::string_view name) const;
  std::vector<std::string> QueryAll(std::string_view name) const;
  std::string_view Header(std::string_view lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// How a handler answers: once with Send, or as a chunked stream.
class Responder {
 public:
  virtual ~Responder() = default;
  virtual asio::awaitable<void> Send(Response response) = 0;
  // Starts a chunked response; then Write chunks (each flushed), then Finish.
  virtual asio::awaitable<Status> BeginStream(int status, std::string content_type) = 0;
  // Returns non-OK once the client is gone; the handler should then stop.
  virtual asio::awaitable<Status> Write(std::string chunk) = 0;
  virtual asio::awaitable<void> Finish() = 0;
  virtual bool sent() const = 0;
  // For a stream: calls `on_close` (on the connection's strand) once the client hangs up,
  // so an idle stream (a quiet watch) ends promptly. The connection is not reused after.
  virtual void WatchForClose(std::function<void()> on_close) = 0;
  virtual bool client_closed() const = 0;
  // Whether a watch may send its events as objects (WriteEvents) instead of JSON text: the
  // in-process loopback, whose reader then shares them instead of parsing. Either one or the
  // other for the whole stream.
  virtual bool takes_objects() const { return false; }
  virtual asio::awaitable<Status> WriteEvents(std::vector<StreamEvent> events);

  // Raw access, for proxying a response or an upgraded connection byte for byte (node
  // agent streams). WriteRaw sends bytes as they are (the handler writes the status line
  // and headers itself); ReadRaw returns what the client sends next, starting with bytes
  // already read past the request, or "" at EOF/error; CloseRaw ends a pending ReadRaw.
  // After raw use the connection is closed when the handler returns.
  virtual asio::awaitable<Status> WriteRaw(std::string bytes);
  virtual asio::awaitable<std::string> ReadRaw();
  virtual void CloseRaw() {}
};

using Handler = std::function<asio::awaitable<void>(Request&, Responder&)>;

// What every transport does with a parsed request whose identity is set (HTTPS and plain
// connections in http_server.cc, the in-process loopback in loopback.cc): runs `handler`,
// and answers 500 if it sent nothing.
asio::awaitable<void> ServeRequest(const Handler& handler, Request& req, Responder& res);
// Maps a bearer token to an identity; false if the token is unknown.
using TokenAuthenticator = std::function<bool(std::string_view token, Identity* out)>;

// Picks the io_context a connection or an in-process request runs on (an API server spreads
// them over one io_context per thread); empty = the server's own io_context.
using IoPicker = std::function<asio::io_context&()>;

struct ServerOptions {
  std::string bind_address = "0.0.0.0";
  int https_port = 6443;  // 0 = pick a free port
  int http_port = -1;     // plain HTTP on 127.0.0.1 only; -1 = off
  std::string cert_file, key_file, client_ca_file;
  size_t max_body_bytes = 3 * 1024 * 1024;  // Kubernetes' request size limit
  IoPicker connection_io;                    // where each accepted connection runs
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // Binds the listeners; returns the bound HTTPS port.
  virtual Result<int> Start() = 0;
  virtual int http_port() const = 0;
  virtual void Stop() = 0;
};

std::unique_ptr<HttpServer> NewHttpServer(asio::io_context& io, ServerOptions options,
                                          Handler handler, TokenAuthenticator tokens);

}  // namespace sampan::apiserver
