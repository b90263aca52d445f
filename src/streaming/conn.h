// Internal to src/streaming: one client connection of the kubelet server, a TLS
// socket driven without blocking from the connection's own thread (poll), with an
// input buffer of decrypted bytes and an output queue; and the HTTP/1.1 request head.
#pragma once

#include <openssl/ssl.h>
#include <poll.h>

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace sampan::streaming {

struct HttpRequest {
  std::string method, target, path;  // path percent-decoded, without the query
  std::multimap<std::string, std::string, std::less<>> query;
  std::map<std::string, std::string> headers;  // lower-case names; repeats joined with ", "
  std::string Query(const std::string& name) const;
  std::vector<std::string> QueryAll(const std::string& name) const;
  bool QueryBool(const std::string& name, bool def = false) const;
  std::string Header(const std::string& lower_name) const;
  // Comma-separated values of a header, trimmed ("a, b" → {"a","b"}).
  std::vector<std::string> HeaderList(const std::string& lower_name) const;
};

// Parses "GET /x?a=b HTTP/1.1\r\nHost: ..\r\n\r\n" (the head only).
Result<HttpRequest> ParseHttpHead(std::string_view head);

class Conn {
 public:
  Conn(int fd, SSL* ssl, int stop_fd) : fd_(fd), ssl_(ssl), stop_fd_(stop_fd) {}
  ~Conn();
  int fd() const { return fd_; }
  int stop_fd() const { return stop_fd_; }

  Status Handshake(std::chrono::milliseconds timeout);
  // Reads the request head; what follows it stays in `in`.
  Result<HttpRequest> ReadHead(std::chrono::milliseconds timeout);

  // Drains everything readable now into `in`; sets eof() on EOF or error.
  void ReadAvailable();
  bool has_pending_input() const { return SSL_pending(ssl_) > 0; }
  void Queue(std::string_view bytes) { out_.append(bytes); }
  // Writes as much of the queue as the socket takes now; false on error (eof() is then set).
  bool Flush();
  size_t queued() const { return out_.size() - out_pos_; }
  // The poll events the connection needs now.
  short PollEvents(bool want_input) const;
  // Queue + Flush until sent or `timeout` (also returns early when stop_fd fires).
  Status WriteAll(std::string_view bytes, std::chrono::milliseconds timeout);
  // Waits up to `timeout` for input or EOF; returns false on timeout or stop.
  bool WaitReadable(std::chrono::milliseconds timeout);
  // TLS close_notify (best effort) and socket shutdown.
  void Shutdown();
  bool eof() const { return eof_; }
  bool stopping() const;

  std::string in;

 private:
  int fd_;
  SSL* ssl_;
  int stop_fd_;
  std::string out_;
  size_t out_pos_ = 0;
  bool eof_ = false;
  bool write_wants_read_ = false;
};

// The reason phrase of an HTTP status code (a class name for codes not listed).
std::string StatusText(int code);
// A complete non-upgrade HTTP response with Connection: close.
std::string HttpResponse(int code, std::string_view content_type, std::string_view body,
                         const std::vector<std::pair<std::string, std::string>>& extra = {});
// The metav1.Status JSON for an error, as the kubelet and API server send it.
std::string StatusJson(const Status& st);
int HttpCode(const Status& st);

}  // namespace sampan::streaming
