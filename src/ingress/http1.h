// Internal to src/ingress: the proxy's HTTP/1.1 pieces. A non-blocking socket, plain or TLS,
// whose waits also watch a stop fd (Stream); message heads as received, in order and case
// (Head, ParseHead, ReadHead); body framing by RFC 9112 (RequestFraming, ResponseFraming) and
// hop-by-hop headers; a body moved piece by piece between two streams, chunked bodies re-framed
// (BodyCopy); and the small answers the proxy makes itself.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace sampan::ingress::internal {

using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

inline constexpr size_t kMaxHead = 64 * 1024;  // a request or response head
inline constexpr size_t kMaxLine = 8 * 1024;   // a chunk-size line
// A request body dropped to keep a connection alive (also what a closing stream reads and
// drops, so that the client gets the answer rather than a reset).
inline constexpr uint64_t kMaxDiscard = 1 << 20;

Status TimedOut(std::string m);
Status Stopping();
std::string ErrnoText(int e);
char LowerChar(char c);
std::string Lower(std::string_view s);
bool IEquals(std::string_view a, std::string_view b);
std::string_view Trim(std::string_view s);
// The items of a comma-separated header value, trimmed and lower-cased.
void AddTokens(std::string_view list, std::vector<std::string>* out);
bool Has(const std::vector<std::string>& v, std::string_view s);
bool IsTchar(char c);
bool IsToken(std::string_view s);
// Milliseconds left until `deadline` for poll(): -1 for none, 0 when past.
int PollTimeout(Clock::time_point deadline);
std::string Hex(uint64_t n);

// One socket, plain or TLS, driven without blocking (the fd is O_NONBLOCK) so that every wait
// can also watch the proxy's stop fd. `in` holds bytes read and not yet consumed.
class Stream {
 public:
  Stream(int fd, SSL* ssl, int stop_fd) : fd_(fd), ssl_(ssl), stop_fd_(stop_fd) {}
  ~Stream() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  int fd() const { return fd_; }
  // What to poll for before retrying the last TryRead / TryWrite that would block (TLS may
  // need to write to read and the other way round).
  short read_want() const { return read_want_; }
  short write_want() const { return write_want_; }

  // > 0: bytes read; 0: EOF or error; -1: would block.
  ssize_t TryRead(char* buf, size_t n) {
    if (!ssl_) {
      for (;;) {
        ssize_t r = recv(fd_, buf, n, MSG_DONTWAIT);
        if (r >= 0) return r;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          read_want_ = POLLIN;
          return -1;
        }
        return 0;
      }
    }
    ERR_clear_error();
    int r = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(n, INT_MAX)));
    if (r > 0) return r;
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_WANT_READ:
        read_want_ = POLLIN;
        return -1;
      case SSL_ERROR_WANT_WRITE:
        read_want_ = POLLOUT;
        return -1;
      case SSL_ERROR_ZERO_RETURN:
        return 0;
      default:
        tls_broken_ = true;
        return 0;
    }
  }

  // > 0: bytes written; 0: error; -1: would block.
  ssize_t TryWrite(const char* buf, size_t n) {
    if (!ssl_) {
      for (;;) {
        ssize_t r = send(fd_, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r > 0) return r;
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          write_want_ = POLLOUT;
          return -1;
        }
        return 0;
      }
    }
    ERR_clear_error();
    int r = SSL_write(ssl_, buf, static_cast<int>(std::min<size_t>(n, INT_MAX)));
    if (r > 0) return r;
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_WANT_WRITE:
        write_want_ = POLLOUT;
        return -1;
      case SSL_ERROR_WANT_READ:
        write_want_ = POLLIN;
        return -1;
      default:
        tls_broken_ = true;
        return 0;
    }
  }

  // Waits for `events` until `deadline`; Timeout, or Unavailable when the proxy stops.
  Status Wait(short events, Clock::time_point deadline) {
    for (;;) {
      pollfd p[2] = {{fd_, events, 0}, {stop_fd_, POLLIN, 0}};
      int rc = poll(p, 2, PollTimeout(deadline));
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) return Unavailable("poll: " + ErrnoText(errno));
      if (p[1].revents) return Stopping();
      if (rc == 0) return TimedOut("timed out");
      return Status::Ok();
    }
  }

  Status Handshake(Clock::time_point deadline) {
    for (;;) {
      ERR_clear_error();
      int rc = SSL_accept(ssl_);
      if (rc == 1) return Status::Ok();
      int err = SSL_get_error(ssl_, rc);
      short ev = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      if (!ev) {
        tls_broken_ = true;
        return Unavailable("TLS handshake failed");
      }
      RETURN_IF_ERROR(Wait(ev, deadline));
    }
  }

  // Reads what arrives next into `in`: the byte count, 0 on EOF.
  Result<size_t> Fill(Clock::time_point deadline) {
    char buf[16384];
    for (;;) {
      ssize_t n = TryRead(buf, sizeof buf);
      if (n > 0) {
        in.append(buf, n);
        return static_cast<size_t>(n);
      }
      if (n == 0) return size_t{0};
      RETURN_IF_ERROR(Wait(read_want_, deadline));
    }
  }

  // Writes all of `data`; `timeout` bounds each wait for progress.
  Status WriteAll(std::string_view data, Ms timeout) {
    auto deadline = Clock::now() + timeout;
    while (!data.empty()) {
      ssize_t n = TryWrite(data.data(), data.size());
      if (n > 0) {
        data.remove_prefix(n);
        deadline = Clock::now() + timeout;
        continue;
      }
      if (n == 0) return Unavailable("connection lost");
      RETURN_IF_ERROR(Wait(write_want_, deadline));
    }
    return Status::Ok();
  }

  // Ends our side: TLS close_notify (best effort; OpenSSL forbids it after a fatal error), FIN.
  void Shutdown() {
    if (ssl_ && !tls_broken_) {
      ERR_clear_error();
      SSL_shutdown(ssl_);
    }
    shutdown(fd_, SHUT_WR);
  }

  // After Shutdown: drops what the peer still sends until it closes (or `timeout`), so that
  // closing with unread input does not reset the connection and lose the answer just sent.
  void Linger(Ms timeout) {
    auto deadline = Clock::now() + timeout;
    char buf[16384];
    size_t total = 0;
    while (total < kMaxDiscard) {
      ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return;
      if (n > 0) {
        total += n;
        continue;
      }
      if (!Wait(POLLIN, deadline).ok()) return;
    }
  }

  std::string in;

 private:
  int fd_;
  SSL* ssl_;
  int stop_fd_;
  short read_want_ = POLLIN;
  short write_want_ = POLLOUT;
  bool tls_broken_ = false;
};

// --- HTTP/1.1 messages ---

struct Header {
  std::string name, value;  // as received (value without surrounding whitespace)
};

struct Head {
  std::string method, target;  // a request
  int status = 0;              // a response
  std::string reason;
  int minor = 1;  // HTTP/1.minor
  std::vector<Header> headers;

  // The values of every `lower_name` header, in order.
  std::vector<std::string_view> Values(std::string_view lower_name) const {
    std::vector<std::string_view> out;
    for (const Header& h : headers)
      if (IEquals(h.name, lower_name)) out.push_back(h.value);
    return out;
  }
  bool Has(std::string_view lower_name) const { return !Values(lower_name).empty(); }
  std::vector<std::string> Tokens(std::string_view lower_name) const {
    std::vector<std::string> out;
    for (std::string_view v : Values(lower_name)) AddTokens(v, &out);
    return out;
  }
};

// One "Name: value" line into `out` (no obsolete folding, no whitespace before the colon).
Status ParseHeaderLine(std::string_view line, std::vector<Header>* out);
// Parses a head ending with its empty line (lines end in CRLF or LF).
Result<Head> ParseHead(std::string_view text, bool request);
// Reads one message head from `s` (through its empty line); what follows stays in s.in.
// Unavailable: closed before a byte of it (or stopping); Timeout; RequestTooLarge; BadRequest.
Result<Head> ReadHead(Stream& s, bool request, Clock::time_point deadline);

enum class Body { kNone, kLength, kChunked, kUntilClose };

struct Framing {
  Body kind = Body::kNone;
  uint64_t length = 0;
  bool has_body() const { return kind != Body::kNone && !(kind == Body::kLength && length == 0); }
};

Result<uint64_t> ContentLength(const Head& h);
// The framing of a request body (RFC 9112 section 6.3).
Result<Framing> RequestFraming(const Head& req);
Result<Framing> ResponseFraming(const Head& resp, bool head_request);
// Hop-by-hop headers (RFC 9110 section 7.6.1) and those the Connection header names.
// The framing headers and Host never go, whatever Connection names: dropping them would make
// the next hop frame the message differently.
bool IsHopByHop(const std::string& lower, const std::vector<std::string>& connection);

// Moves one message body from `src` (starting with src.in) to `dst`, or drops it when `dst`
// is null. Bodies pass through in pieces; a chunked one is re-framed chunk by chunk (with its
// trailer) unless `dechunk` (then only the data goes on).
class BodyCopy {
 public:
  BodyCopy(Stream& src, Stream* dst, Ms read_timeout, Ms write_timeout)
      : src_(src), dst_(dst), read_timeout_(read_timeout), write_timeout_(write_timeout) {}

  void set_limit(uint64_t limit) { limit_ = limit; }
  // Whether the failure was writing to `dst` (else reading `src`, or `src` malformed).
  bool dst_failed() const { return dst_failed_; }

  Status Copy(const Framing& f, bool dechunk = false) {
    switch (f.kind) {
      case Body::kNone:
        return Status::Ok();
      case Body::kLength:
        return Length(f.length);
      case Body::kChunked:
        return Chunked(!dechunk);
      case Body::kUntilClose:
        return UntilClose();
    }
    return Status::Ok();
  }

 private:
  Status Write(std::string_view data) {
    if (!dst_) return Status::Ok();
    Status st = dst_->WriteAll(data, write_timeout_);
    if (!st.ok()) dst_failed_ = true;
    return st;
  }

  Result<size_t> Fill() { return src_.Fill(Clock::now() + read_timeout_); }

  Status Take(size_t n) {
    copied_ += n;
    if (copied_ > limit_) return Status(Code::kRequestTooLarge, "body too large to drop");
    RETURN_IF_ERROR(Write(std::string_view(src_.in).substr(0, n)));
    src_.in.erase(0, n);
    return Status::Ok();
  }

  Status Length(uint64_t n) {
    while (n > 0) {
      if (src_.in.empty()) {
        ASSIGN_OR_RETURN(size_t got, Fill());
        if (got == 0) return Unavailable("connection closed within a body");
      }
      size_t take = static_cast<size_t>(std::min<uint64_t>(n, src_.in.size()));
      RETURN_IF_ERROR(Take(take));
      n -= take;
    }
    return Status::Ok();
  }

  Status UntilClose() {
    for (;;) {
      if (src_.in.empty()) {
        ASSIGN_OR_RETURN(size_t got, Fill());
        if (got == 0) return Status::Ok();
      }
      RETURN_IF_ERROR(Take(src_.in.size()));
    }
  }

  // One line of chunked framing, without its line end.
  Result<std::string> Line() {
    for (;;) {
      auto nl = src_.in.find('\n');
      if (nl != std::string::npos) {
        std::string line = src_.in.substr(0, nl);
        src_.in.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      if (src_.in.size() > kMaxLine) return BadRequest("chunked framing line too long");
      ASSIGN_OR_RETURN(size_t got, Fill());
      if (got == 0) return Unavailable("connection closed within a chunked body");
    }
  }

  Status Chunked(bool framing) {
    for (;;) {
      ASSIGN_OR_RETURN(std::string line, Line());
      uint64_t size = 0;
      size_t i = 0;
      for (; i < line.size() && std::isxdigit(static_cast<unsigned char>(line[i])); ++i) {
        if (size >> 56) return BadRequest("chunk size too large");
        char c = LowerChar(line[i]);
        size = size * 16 + (c <= '9' ? c - '0' : c - 'a' + 10);
      }
      std::string_view ext = Trim(std::string_view(line).substr(i));
      if (i == 0 || (!ext.empty() && ext.front() != ';')) return BadRequest("malformed chunk size");
      if (size == 0) {
        // The trailer section: header lines up to an empty one, passed on as they are.
        std::string trailer;
        std::vector<Header> fields;
        for (;;) {
          ASSIGN_OR_RETURN(std::string t, Line());
          if (t.empty()) break;
          RETURN_IF_ERROR(ParseHeaderLine(t, &fields));
          trailer += t + "\r\n";
          if (trailer.size() > kMaxHead) return BadRequest("trailer too large");
        }
        if (framing) RETURN_IF_ERROR(Write("0\r\n" + trailer + "\r\n"));
        return Status::Ok();
      }
      // Chunk extensions are dropped: nothing on the way needs them.
      if (framing) RETURN_IF_ERROR(Write(Hex(size) + "\r\n"));
      RETURN_IF_ERROR(Length(size));
      ASSIGN_OR_RETURN(std::string end, Line());
      if (!end.empty()) return BadRequest("chunk data longer than its size");
      if (framing) RETURN_IF_ERROR(Write("\r\n"));
    }
  }

  Stream& src_;
  Stream* dst_;
  Ms read_timeout_, write_timeout_;
  uint64_t limit_ = UINT64_MAX;
  uint64_t copied_ = 0;
  bool dst_failed_ = false;
};

// A complete answer of the proxy's own, text/plain.
std::string PlainResponse(int status, std::string_view body, bool close, bool head_request);
// The host a request is for: lower-case, without a port.
std::string HostName(std::string_view authority);
std::string PeerIp(int fd);

}  // namespace sampan::ingress::internal
