#include "ingress/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "util/log.h"
#include "util/thread_name.h"

namespace sampan::ingress {

namespace {

using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

constexpr size_t kMaxHead = 64 * 1024;     // a request or response head
constexpr size_t kMaxLine = 8 * 1024;      // a chunk-size line
constexpr size_t kSpliceBuf = 64 * 1024;   // per direction, while splicing an upgrade
constexpr uint64_t kMaxDiscard = 1 << 20;  // request body dropped to keep a connection alive
constexpr size_t kMaxCachedCerts = 512;
constexpr Ms kLinger{2000};

Status TimedOut(std::string m) { return Status(Code::kTimeout, std::move(m)); }
Status Stopping() { return Unavailable("the proxy is stopping"); }

std::string ErrnoText(int e) { return std::error_code(e, std::generic_category()).message(); }

char LowerChar(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

std::string Lower(std::string_view s) {
  std::string o(s);
  for (char& c : o) c = LowerChar(c);
  return o;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (LowerChar(a[i]) != LowerChar(b[i])) return false;
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The items of a comma-separated header value, trimmed and lower-cased.
void AddTokens(std::string_view list, std::vector<std::string>* out) {
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string_view item = Trim(list.substr(0, comma));
    if (!item.empty()) out->push_back(Lower(item));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

bool Has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool IsTchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), IsTchar); }

int PollTimeout(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return -1;
  auto left = std::chrono::ceil<Ms>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, INT_MAX));
}

std::string Reason(int status) {
  static const std::map<int, std::string_view> kReasons = {{100, "Continue"},
                                                           {101, "Switching Protocols"},
                                                           {200, "OK"},
                                                           {201, "Created"},
                                                           {202, "Accepted"},
                                                           {204, "No Content"},
                                                           {206, "Partial Content"},
                                                           {301, "Moved Permanently"},
                                                           {302, "Found"},
                                                           {303, "See Other"},
                                                           {304, "Not Modified"},
                                                           {307, "Temporary Redirect"},
                                                           {308, "Permanent Redirect"},
                                                           {400, "Bad Request"},
                                                           {401, "Unauthorized"},
                                                           {403, "Forbidden"},
                                                           {404, "Not Found"},
                                                           {405, "Method Not Allowed"},
                                                           {408, "Request Timeout"},
                                                           {409, "Conflict"},
                                                           {410, "Gone"},
                                                           {411, "Length Required"},
                                                           {413, "Content Too Large"},
                                                           {414, "URI Too Long"},
                                                           {421, "Misdirected Request"},
                                                           {429, "Too Many Requests"},
                                                           {431, "Request Header Fields Too Large"},
                                                           {500, "Internal Server Error"},
                                                           {501, "Not Implemented"},
                                                           {502, "Bad Gateway"},
                                                           {503, "Service Unavailable"},
                                                           {504, "Gateway Timeout"}};
  auto it = kReasons.find(status);
  if (it != kReasons.end()) return std::string(it->second);
  return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
}

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

Status ParseHeaderLine(std::string_view line, std::vector<Header>* out) {
  // No obsolete line folding and no whitespace before the colon: both are request
  // smuggling vectors when the upstream reads them differently.
  auto colon = line.find(':');
  if (colon == std::string_view::npos || !IsToken(line.substr(0, colon)))
    return BadRequest("malformed header line");
  std::string_view value = Trim(line.substr(colon + 1));
  for (char c : value)
    if (c == '\0' || c == '\r' || c == '\n') return BadRequest("malformed header value");
  out->push_back({std::string(line.substr(0, colon)), std::string(value)});
  return Status::Ok();
}

bool ParseVersion(std::string_view v, int* minor) {
  if (v.size() != 8 || v.substr(0, 7) != "HTTP/1." || v[7] < '0' || v[7] > '9') return false;
  *minor = v[7] - '0';
  return true;
}

// Parses a head ending with its empty line (lines end in CRLF or LF).
Result<Head> ParseHead(std::string_view text, bool request) {
  Head h;
  bool first = true;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first) {
      first = false;
      auto sp1 = line.find(' ');
      if (sp1 == std::string_view::npos) return BadRequest("malformed start line");
      if (request) {
        auto sp2 = line.find(' ', sp1 + 1);
        if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
          return BadRequest("malformed request line");
        h.method = std::string(line.substr(0, sp1));
        h.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
        if (!IsToken(h.method) || h.target.empty() || !ParseVersion(line.substr(sp2 + 1), &h.minor))
          return BadRequest("malformed request line");
        for (char c : h.target)
          if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
            return BadRequest("malformed request target");
      } else {
        std::string_view code = line.substr(sp1 + 1, 3);
        if (!ParseVersion(line.substr(0, sp1), &h.minor) || code.size() != 3 ||
            !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
            (line.size() > sp1 + 4 && line[sp1 + 4] != ' '))
          return BadRequest("malformed status line");
        h.status = std::stoi(std::string(code));
        if (h.status < 100) return BadRequest("malformed status code");
        h.reason = std::string(Trim(line.substr(std::min(line.size(), sp1 + 4))));
      }
      continue;
    }
    if (line.empty()) break;
    RETURN_IF_ERROR(ParseHeaderLine(line, &h.headers));
  }
  if (first) return BadRequest("empty head");
  return h;
}

// Reads one message head from `s` (through its empty line); what follows stays in s.in.
// Unavailable: closed before a byte of it (or stopping); Timeout; RequestTooLarge; BadRequest.
Result<Head> ReadHead(Stream& s, bool request, Clock::time_point deadline) {
  size_t scan = 0;  // the start of the first line not yet seen complete
  for (;;) {
    if (request && scan == 0) {
      // Empty lines before a request line are ignored (RFC 9112 section 2.2): some clients
      // send a CRLF after a POST body.
      size_t k = 0;
      while (k < s.in.size() && (s.in[k] == '\r' || s.in[k] == '\n')) ++k;
      s.in.erase(0, k);
    }
    for (size_t nl; (nl = s.in.find('\n', scan)) != std::string::npos;) {
      size_t len = nl - scan;
      if (len > 0 && s.in[nl - 1] == '\r') --len;
      if (len == 0 && scan > 0) {
        if (nl + 1 > kMaxHead) return Status(Code::kRequestTooLarge, "head too large");
        auto head = ParseHead(std::string_view(s.in).substr(0, nl + 1), request);
        s.in.erase(0, nl + 1);
        return head;
      }
      if (len == 0) return BadRequest("empty start line");
      scan = nl + 1;
    }
    if (s.in.size() > kMaxHead) return Status(Code::kRequestTooLarge, "head too large");
    ASSIGN_OR_RETURN(size_t n, s.Fill(deadline));
    if (n == 0) {
      if (s.in.empty()) return Unavailable("connection closed");
      return BadRequest("connection closed within a head");
    }
  }
}

enum class Body { kNone, kLength, kChunked, kUntilClose };

struct Framing {
  Body kind = Body::kNone;
  uint64_t length = 0;
  bool has_body() const { return kind != Body::kNone && !(kind == Body::kLength && length == 0); }
};

Result<uint64_t> ContentLength(const Head& h) {
  std::vector<std::string> values;
  for (std::string_view v : h.Values("content-length")) AddTokens(v, &values);
  uint64_t n = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    // Differing lengths are a smuggling attempt; repeats of one value are tolerated.
    if (values[i].empty() || values[i].size() > 18 || values[i] != values[0] ||
        !std::all_of(values[i].begin(), values[i].end(),
                     [](char c) { return c >= '0' && c <= '9'; }))
      return BadRequest("invalid Content-Length");
  }
  if (!values.empty()) n = std::stoull(values[0]);
  return n;
}

// The framing of a request body (RFC 9112 section 6.3).
Result<Framing> RequestFraming(const Head& req) {
  std::vector<std::string> te = req.Tokens("transfer-encoding");
  bool has_te = req.Has("transfer-encoding"), has_cl = req.Has("content-length");
  Framing f;
  if (has_te) {
    // Both at once, or a body length the chunked coding does not end, cannot be framed
    // reliably: refuse rather than risk reading it differently from the upstream.
    if (has_cl) return BadRequest("both Transfer-Encoding and Content-Length");
    if (req.minor == 0) return BadRequest("Transfer-Encoding in an HTTP/1.0 request");
    if (te.empty() || te.back() != "chunked") return BadRequest("unsupported Transfer-Encoding");
    f.kind = Body::kChunked;
    return f;
  }
  if (has_cl) {
    ASSIGN_OR_RETURN(f.length, ContentLength(req));
    f.kind = Body::kLength;
  }
  return f;
}

Result<Framing> ResponseFraming(const Head& resp, bool head_request) {
  Framing f;
  if (head_request || resp.status / 100 == 1 || resp.status == 204 || resp.status == 304) return f;
  if (resp.Has("transfer-encoding")) {
    std::vector<std::string> te = resp.Tokens("transfer-encoding");
    f.kind = !te.empty() && te.back() == "chunked" ? Body::kChunked : Body::kUntilClose;
    return f;
  }
  if (resp.Has("content-length")) {
    ASSIGN_OR_RETURN(f.length, ContentLength(resp));
    f.kind = Body::kLength;
    return f;
  }
  f.kind = Body::kUntilClose;
  return f;
}

// Hop-by-hop headers (RFC 9110 section 7.6.1) and those the Connection header names.
// The framing headers and Host never go, whatever Connection names: dropping them would make
// the next hop frame the message differently.
bool IsHopByHop(const std::string& lower, const std::vector<std::string>& connection) {
  if (lower == "content-length" || lower == "transfer-encoding" || lower == "host") return false;
  return lower == "connection" || lower == "keep-alive" || lower == "proxy-connection" ||
         lower == "te" || lower == "trailer" || lower == "upgrade" || Has(connection, lower);
}

std::string Hex(uint64_t n) {
  char buf[24];
  int len = snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(n));
  return std::string(buf, len);
}

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

std::string PlainResponse(int status, std::string_view body, bool close, bool head_request) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) + "\r\n";
  if (status == 204 || status == 304) return r + (close ? "Connection: close\r\n\r\n" : "\r\n");
  r += "Content-Type: text/plain; charset=utf-8\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (close) r += "Connection: close\r\n";
  r += "\r\n";
  if (!head_request) r.append(body);
  return r;
}

// The host a request is for: lower-case, without a port.
std::string HostName(std::string_view authority) {
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (!authority.empty() && authority.front() == '[') {
    auto end = authority.find(']');
    return Lower(authority.substr(0, end == std::string_view::npos ? end : end + 1));
  }
  return Lower(authority.substr(0, authority.find(':')));
}

std::string PeerIp(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  char buf[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a))
      inet_ntop(AF_INET, &a.s6_addr[12], buf, sizeof buf);
    else
      inet_ntop(AF_INET6, &a, buf, sizeof buf);
  }
  return buf;
}

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// We speak HTTP/1.1 only: a client offering h2 by ALPN must not think it got it.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// A TLS 1.2+ server context serving `cert`.
Result<CtxPtr> NewServerCtx(const Certificate& cert) {
  CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return Internal("SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_alpn_select_cb(ctx.get(), SelectAlpn, nullptr);

  std::unique_ptr<BIO, BioFree> certs(
      BIO_new_mem_buf(cert.cert_pem.data(), static_cast<int>(cert.cert_pem.size())));
  std::unique_ptr<X509, X509Free> leaf(
      PEM_read_bio_X509_AUX(certs.get(), nullptr, nullptr, nullptr));
  if (!leaf || SSL_CTX_use_certificate(ctx.get(), leaf.get()) != 1)
    return BadRequest("the certificate PEM does not parse");
  while (X509* ca = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx.get(), ca) != 1) {
      X509_free(ca);
      return BadRequest("the certificate chain does not load");
    }
  }
  std::unique_ptr<BIO, BioFree> keys(
      BIO_new_mem_buf(cert.key_pem.data(), static_cast<int>(cert.key_pem.size())));
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(keys.get(), nullptr, nullptr, nullptr));
  if (!key || SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1)
    return BadRequest("the private key PEM does not parse");
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return BadRequest("the private key does not match the certificate");
  ERR_clear_error();  // the chain loop ends on an expected "no start line"
  return ctx;
}

// What a connection does after a request.
enum class After { kKeepAlive, kClose, kCloseLinger };

class ProxyImpl final : public Proxy {
 public:
  explicit ProxyImpl(ProxyOptions opts) : opts_(std::move(opts)) {}
  ~ProxyImpl() override { Stop(); }

  Status Init() {
    // OpenSSL writes to its sockets with write(): a client gone mid-answer must give EPIPE,
    // not kill the process (as the kubelet server does).
    signal(SIGPIPE, SIG_IGN);
    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) return Internal("eventfd: " + ErrnoText(errno));
    http_.tls = false;
    https_.tls = true;
    if (opts_.https_port != -1) {
      if (opts_.default_certificate.cert_pem.empty())
        return BadRequest("ingress proxy: HTTPS needs a default certificate");
      auto ctx = NewServerCtx(opts_.default_certificate);
      if (!ctx.ok()) return ctx.status().WithContext("ingress proxy: default certificate");
      tls_ctx_ = std::move(*ctx);
      SSL_CTX_set_tlsext_servername_callback(tls_ctx_.get(), OnServerName);
      SSL_CTX_set_tlsext_servername_arg(tls_ctx_.get(), this);
    }
    if (opts_.http_port != -1) RETURN_IF_ERROR(Listen(opts_.http_port, &http_));
    if (opts_.https_port != -1) RETURN_IF_ERROR(Listen(opts_.https_port, &https_));
    for (Listener* l : {&http_, &https_})
      if (l->fd >= 0) l->thread = std::thread([this, l] { AcceptLoop(*l); });
    LOG(INFO) << "ingress proxy listening on " << opts_.bind_address << " (http " << http_.port
              << ", https " << https_.port << ")";
    return Status::Ok();
  }

  int http_port() const override { return http_.port; }
  int https_port() const override { return https_.port; }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    if (stop_fd_ >= 0) {
      uint64_t one = 1;
      (void)!write(stop_fd_, &one, sizeof one);
    }
    for (Listener* l : {&http_, &https_}) {
      if (l->thread.joinable()) l->thread.join();
      if (l->fd >= 0) close(l->fd);
      l->fd = -1;
    }
    // The acceptors are gone, so no connection thread starts after this.
    std::map<uint64_t, std::thread> threads;
    {
      std::lock_guard lk(mu_);
      threads.swap(threads_);
      done_.clear();
    }
    for (auto& [id, t] : threads) t.join();
    if (stop_fd_ >= 0) close(stop_fd_);
    stop_fd_ = -1;
    std::lock_guard lk(cert_mu_);
    cert_ctxs_.clear();
    tls_ctx_.reset();
  }

 private:
  struct Listener {
    bool tls = false;
    int fd = -1;
    int port = -1;
    std::thread thread;
  };

  Status Listen(int port, Listener* l) {
    std::string where = opts_.bind_address + ":" + std::to_string(port);
    sockaddr_storage ss{};
    socklen_t len;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, opts_.bind_address.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(static_cast<uint16_t>(port));
      len = sizeof *v4;
    } else if (inet_pton(AF_INET6, opts_.bind_address.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(static_cast<uint16_t>(port));
      len = sizeof *v6;
      where = "[" + opts_.bind_address + "]:" + std::to_string(port);
    } else {
      return BadRequest("ingress proxy: invalid bind address " + opts_.bind_address);
    }
    if (port < 0 || port > 65535) return BadRequest("ingress proxy: invalid port " + where);
    l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (l->fd < 0) return Unavailable("listen on " + where + ": " + ErrnoText(errno));
    int one = 1;
    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l->fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(l->fd, 512) != 0)
      return Unavailable("listen on " + where + ": " + ErrnoText(errno));
    sockaddr_storage bound{};
    socklen_t blen = sizeof bound;
    getsockname(l->fd, reinterpret_cast<sockaddr*>(&bound), &blen);
    l->port =
        ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    return Status::Ok();
  }

  void AcceptLoop(const Listener& l) {
    util::NameThisThread(l.tls ? "ingress-acc-tls" : "ingress-accept");
    for (;;) {
      pollfd p[2] = {{l.fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      // The timeout joins finished connection threads when no connection comes.
      int rc = poll(p, 2, 1000);
      if (rc < 0 && errno != EINTR) {
        LOG(WARNING) << "ingress proxy: poll: " << ErrnoText(errno);
        return;
      }
      if (p[1].revents) return;
      Reap();
      if (!(p[0].revents & POLLIN)) continue;
      int fd = accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
          continue;
        // Out of fds or memory: back off rather than spin on a readable listener.
        LOG(WARNING) << "ingress proxy: accept: " << ErrnoText(errno);
        pollfd s{stop_fd_, POLLIN, 0};
        poll(&s, 1, 100);
        continue;
      }
      if (!Admit(fd, l)) close(fd);
    }
  }

  // Starts a connection thread unless max_connections are open.
  bool Admit(int fd, const Listener& l) {
    std::lock_guard lk(mu_);
    if (active_ >= opts_.max_connections) {
      LOG(DEBUG) << "ingress proxy: " << active_ << " connections open; refusing another";
      return false;
    }
    uint64_t id = next_id_++;
    try {
      threads_.emplace(id, std::thread([this, fd, &l, id] {
                         Serve(fd, l);
                         std::lock_guard lk(mu_);
                         done_.push_back(id);
                         --active_;
                       }));
    } catch (const std::system_error& e) {
      LOG(WARNING) << "ingress proxy: no thread for a connection: " << e.what();
      return false;
    }
    ++active_;
    return true;
  }

  // Joins the connection threads that have finished.
  void Reap() {
    std::vector<std::thread> finished;
    {
      std::lock_guard lk(mu_);
      for (uint64_t id : done_) {
        auto it = threads_.find(id);
        if (it == threads_.end()) continue;
        finished.push_back(std::move(it->second));
        threads_.erase(it);
      }
      done_.clear();
    }
    for (std::thread& t : finished) t.join();
  }

  static int OnServerName(SSL* ssl, int*, void* arg) {
    static_cast<ProxyImpl*>(arg)->SelectCertificate(ssl);
    return SSL_TLSEXT_ERR_OK;
  }

  // Switches `ssl` to the certificate the selector picks for its SNI name, if any.
  void SelectCertificate(SSL* ssl) {
    if (!opts_.certificates) return;
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    std::shared_ptr<const Certificate> cert;
    try {
      cert = opts_.certificates(Lower(name ? name : ""));
    } catch (const std::exception& e) {
      LOG(WARNING) << "ingress proxy: certificate selector failed: " << e.what();
    }
    if (!cert) return;
    // Keyed by content, not by pointer: a resync builds new Certificate objects for the same
    // PEM, and a freed pointer's address can come back holding another certificate.
    std::string key = cert->cert_pem;
    key += '\0';
    key += cert->key_pem;
    std::lock_guard lk(cert_mu_);
    auto it = cert_ctxs_.find(key);
    if (it == cert_ctxs_.end()) {
      // Certificates come and go with Ingresses: a full cache is dropped wholesale (a context
      // in use lives on by its reference count).
      if (cert_ctxs_.size() >= kMaxCachedCerts) cert_ctxs_.clear();
      auto ctx = NewServerCtx(*cert);
      if (!ctx.ok())
        LOG(WARNING) << "ingress proxy: the certificate for \"" << (name ? name : "")
                     << "\" does not load, serving the default: " << ctx.status().message();
      // A broken one is remembered too (as null), so it is not parsed again per handshake.
      it = cert_ctxs_.emplace(std::move(key), ctx.ok() ? std::move(*ctx) : CtxPtr()).first;
    }
    if (it->second) SSL_set_SSL_CTX(ssl, it->second.get());
  }

  // One client connection: its requests in turn.
  void Serve(int fd, const Listener& l) {
    util::NameThisThread("ingress-conn");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL* ssl = nullptr;
    if (l.tls) {
      ssl = SSL_new(tls_ctx_.get());
      if (!ssl) {
        close(fd);
        return;
      }
      SSL_set_fd(ssl, fd);
    }
    Stream client(fd, ssl, stop_fd_);
    if (l.tls) {
      if (Status st = client.Handshake(Clock::now() + opts_.idle_timeout); !st.ok()) {
        LOG(DEBUG) << "ingress proxy: TLS handshake: " << st.message();
        return;
      }
    }
    std::string ip = PeerIp(fd);
    for (;;) {
      auto req = ReadHead(client, true, Clock::now() + opts_.idle_timeout);
      After after;
      if (req.ok()) {
        after = Handle(client, *req, ip, l);
      } else {
        const Status& st = req.status();
        if (st.code() == Code::kRequestTooLarge || st.code() == Code::kBadRequest) {
          int code = st.code() == Code::kBadRequest ? 400 : 431;
          (void)client.WriteAll(PlainResponse(code, Reason(code) + "\n", true, false),
                                opts_.idle_timeout);
          after = After::kCloseLinger;
        } else {
          after = After::kClose;  // closed, idle too long, or stopping
        }
      }
      if (after == After::kKeepAlive) continue;
      client.Shutdown();
      if (after == After::kCloseLinger) client.Linger(std::min(opts_.idle_timeout, kLinger));
      return;
    }
  }

  bool stopping() const {
    pollfd p{stop_fd_, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
  }

  struct Request {
    Request(Stream& c, const Head& h, const std::string& ip, const Listener& l)
        : client(c), head(h), client_ip(ip), listener(l) {}
    Stream& client;
    const Head& head;
    const std::string& client_ip;
    const Listener& listener;
    Framing framing;
    std::vector<std::string> connection;  // the Connection header's tokens
    bool close = false;                   // the client wants the connection closed after
    bool expect_continue = false;
    bool upgrade = false;
    bool head_method = false;
  };

  After Handle(Stream& client, const Head& head, const std::string& ip, const Listener& l) {
    Request r(client, head, ip, l);
    r.connection = head.Tokens("connection");
    // HTTP/1.0 keep-alive is not offered: those clients are rare and it is easy to get wrong.
    r.close = head.minor == 0 || Has(r.connection, "close");
    r.head_method = head.method == "HEAD";
    auto hosts = head.Values("host");
    if (hosts.size() > 1 || (hosts.empty() && head.minor >= 1))
      return Answer(r, 400, "a request needs exactly one Host header\n", true);
    auto framing = RequestFraming(head);
    if (!framing.ok()) return Answer(r, 400, framing.status().message() + "\n", true);
    r.framing = *framing;
    std::vector<std::string> expect = head.Tokens("expect");
    r.expect_continue = head.minor >= 1 && Has(expect, "100-continue") && r.framing.has_body();
    r.upgrade = head.minor >= 1 && Has(r.connection, "upgrade") && head.Has("upgrade");

    // The absolute form (a client talking to us as to a forward proxy) carries the authority.
    std::string_view target = head.target, authority = hosts.empty() ? "" : hosts[0];
    for (std::string_view scheme : {"http://", "https://"}) {
      if (target.size() > scheme.size() && IEquals(target.substr(0, scheme.size()), scheme)) {
        target.remove_prefix(scheme.size());
        auto slash = target.find_first_of("/?#");
        authority = target.substr(0, slash);
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
        break;
      }
    }
    std::string_view path = target.substr(0, target.find_first_of("?#"));
    if (path.empty()) path = "/";

    Decision d;
    try {
      d = opts_.router(HostName(authority), path, l.tls);
    } catch (const std::exception& e) {
      LOG(WARNING) << "ingress proxy: router failed: " << e.what();
      d.status = 500;
      d.body = "router failed\n";
    }
    if (d.status != 0) {
      if (d.status < 200 || d.status > 999) d.status = 500;  // no interim answer ends a request
      return Answer(r, d.status, d.body, false);
    }
    return Forward(r, d.upstream);
  }

  // Answers the request ourselves. The connection stays open if the client allows and its
  // body (if any) can be read and dropped first.
  After Answer(Request& r, int status, std::string_view body, bool close) {
    // A client waiting for 100 Continue may or may not send its body now: we cannot tell.
    bool keep = !close && !r.close && !r.expect_continue;
    bool unread = r.framing.has_body();
    if (keep && unread) {
      if (r.framing.kind == Body::kLength && r.framing.length > kMaxDiscard) {
        keep = false;
      } else {
        BodyCopy drop(r.client, nullptr, opts_.idle_timeout, opts_.idle_timeout);
        drop.set_limit(kMaxDiscard);
        Status st = drop.Copy(r.framing);
        if (st.code() == Code::kBadRequest) {
          status = 400;
          body = "malformed request body\n";
          keep = false;
        } else if (st.code() == Code::kRequestTooLarge) {
          keep = false;
        } else if (!st.ok()) {
          return After::kClose;
        } else {
          unread = false;
        }
      }
    }
    if (!r.client.WriteAll(PlainResponse(status, body, !keep, r.head_method), opts_.idle_timeout)
             .ok())
      return After::kClose;
    if (keep) return After::kKeepAlive;
    return unread ? After::kCloseLinger : After::kClose;
  }

  Result<std::unique_ptr<Stream>> Connect(const Upstream& u) {
    std::string where = u.ip + ":" + std::to_string(u.port);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(u.port));
    if (inet_pton(AF_INET, u.ip.c_str(), &sa.sin_addr) != 1 || u.port <= 0 || u.port > 65535)
      return Unavailable("invalid upstream " + where);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Unavailable("socket: " + ErrnoText(errno));
    auto s = std::make_unique<Stream>(fd, nullptr, stop_fd_);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      if (errno != EINPROGRESS) return Unavailable("connect to " + where + ": " + ErrnoText(errno));
      Status st = s->Wait(POLLOUT, Clock::now() + opts_.connect_timeout);
      if (st.code() == Code::kTimeout) return TimedOut("connect to " + where + " timed out");
      RETURN_IF_ERROR(st);
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return Unavailable("connect to " + where + ": " + ErrnoText(err));
    }
    return s;
  }

  std::string UpstreamHead(const Request& r, const Upstream& u) {
    const Head& h = r.head;
    std::string out = h.method + " " + h.target + " HTTP/1.1\r\n";
    std::string xff, host;
    for (const Header& hd : h.headers) {
      std::string name = Lower(hd.name);
      if (name == "x-forwarded-for") {
        xff += (xff.empty() ? "" : ", ") + hd.value;
        continue;
      }
      if (name == "host") host = hd.value;
      if (IsHopByHop(name, r.connection) && !(r.upgrade && name == "upgrade")) continue;
      // Ours to set: a client's own values would be believed by the backend.
      if (name == "x-forwarded-host" || name == "x-forwarded-port" || name == "x-forwarded-proto" ||
          name == "x-real-ip")
        continue;
      if (r.expect_continue && name == "expect") continue;  // we answered it
      out += hd.name + ": " + hd.value + "\r\n";
    }
    if (!h.Has("host")) out += "Host: " + u.ip + ":" + std::to_string(u.port) + "\r\n";
    // One upstream connection per request: tell the upstream so, and close-delimited answers
    // then end where the upstream closes.
    out += r.upgrade ? "Connection: Upgrade\r\n" : "Connection: close\r\n";
    out += "X-Forwarded-For: " + (xff.empty() ? r.client_ip : xff + ", " + r.client_ip) + "\r\n";
    if (!host.empty()) out += "X-Forwarded-Host: " + host + "\r\n";
    out += "X-Forwarded-Port: " + std::to_string(r.listener.port) + "\r\n";
    out += std::string("X-Forwarded-Proto: ") + (r.listener.tls ? "https" : "http") + "\r\n";
    out += "X-Real-Ip: " + r.client_ip + "\r\n\r\n";
    return out;
  }

  // How much of the request body went upstream.
  enum class Sent { kNone, kAll, kPart };

  // An error answer after the request went (partly) upstream.
  After Fail(Request& r, int status, const Status& why, const Upstream& u, Sent sent) {
    if (stopping()) return After::kClose;
    LOG(WARNING) << "ingress proxy: " << r.head.method << " " << r.head.target << " to upstream "
                 << u.ip << ":" << u.port << ": " << status << " (" << why.message() << ")";
    if (sent == Sent::kAll) r.framing = Framing();
    // Unsent, the body is dropped by Answer; half sent, the rest cannot be found cheaply.
    return Answer(r, status, Reason(status) + "\n", sent == Sent::kPart);
  }

  After Forward(Request& r, const Upstream& u) {
    Ms idle = opts_.idle_timeout, upstream_timeout = opts_.upstream_timeout;
    auto up = Connect(u);
    if (!up.ok()) {
      // The body is still unread: Answer drops it (or closes).
      int code = up.status().code() == Code::kTimeout ? 504 : 502;
      if (stopping()) return After::kClose;
      LOG(WARNING) << "ingress proxy: " << up.status().message();
      return Answer(r, code, Reason(code) + "\n", false);
    }
    Stream& upstream = **up;
    if (Status st = upstream.WriteAll(UpstreamHead(r, u), upstream_timeout); !st.ok())
      return Fail(r, 502, st, u, Sent::kNone);
    if (r.expect_continue && !r.client.WriteAll("HTTP/1.1 100 Continue\r\n\r\n", idle).ok())
      return After::kClose;

    // The request body, then the answer: an upstream that answers early and stops reading
    // leaves the rest of the body unread, and the client connection is closed after.
    Sent sent = Sent::kAll;
    if (r.framing.has_body()) {
      BodyCopy copy(r.client, &upstream, idle, upstream_timeout);
      Status st = copy.Copy(r.framing);
      if (!st.ok() && !copy.dst_failed()) {
        LOG(DEBUG) << "ingress proxy: request body from " << r.client_ip << ": " << st.message();
        if (st.code() != Code::kBadRequest) return After::kClose;
        // Malformed chunked framing: the upstream got half a body, the client gets a 400.
        return Answer(r, 400, "malformed request body\n", true);
      }
      if (!st.ok()) sent = Sent::kPart;
    }

    Result<Head> resp = Unavailable("no answer");
    for (;;) {
      resp = ReadHead(upstream, false, Clock::now() + upstream_timeout);
      // Interim answers (100 Continue, 103 Early Hints) are not passed on: an HTTP/1.0 client
      // must not get them, and none is needed.
      if (!resp.ok() || resp->status >= 200 || resp->status == 101) break;
    }
    if (!resp.ok()) {
      int code = resp.status().code() == Code::kTimeout ? 504 : 502;
      return Fail(r, code, resp.status(), u, sent);
    }
    if (resp->status == 101) {
      if (!r.upgrade) return Fail(r, 502, Unavailable("101 without an upgrade"), u, sent);
      std::string out = ResponseHead(*resp, false, false);
      if (!r.client.WriteAll(out, idle).ok()) return After::kClose;
      Splice(r.client, upstream);
      return After::kClose;
    }
    auto framing = ResponseFraming(*resp, r.head_method);
    if (!framing.ok()) return Fail(r, 502, framing.status(), u, sent);
    // An HTTP/1.0 client does not know chunked: it gets the data, delimited by our close.
    bool dechunk = r.head.minor == 0 && framing->kind == Body::kChunked;
    bool close = r.close || sent == Sent::kPart || framing->kind == Body::kUntilClose || dechunk;
    if (!r.client.WriteAll(ResponseHead(*resp, close, dechunk), idle).ok()) return After::kClose;
    BodyCopy copy(upstream, &r.client, upstream_timeout, idle);
    if (Status st = copy.Copy(*framing, dechunk); !st.ok()) {
      // Too late for an error answer: the client sees the connection end early.
      LOG(DEBUG) << "ingress proxy: response body from " << u.ip << ":" << u.port << ": "
                 << st.message();
      return After::kClose;
    }
    if (!close) return After::kKeepAlive;
    return sent == Sent::kPart ? After::kCloseLinger : After::kClose;
  }

  // The upstream's response head as the client gets it.
  static std::string ResponseHead(const Head& resp, bool close, bool dechunk) {
    std::vector<std::string> connection = resp.Tokens("connection");
    bool upgrade = resp.status == 101;
    bool has_te = resp.Has("transfer-encoding");
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " +
                      (resp.reason.empty() ? Reason(resp.status) : resp.reason) + "\r\n";
    for (const Header& h : resp.headers) {
      std::string name = Lower(h.name);
      if (IsHopByHop(name, connection) && !(upgrade && name == "upgrade")) continue;
      // Transfer-Encoding wins over Content-Length (RFC 9112 section 6.3): pass one, not both.
      if (name == "content-length" && (has_te || dechunk)) continue;
      if (name == "transfer-encoding" && dechunk) continue;
      out += h.name + ": " + h.value + "\r\n";
    }
    if (upgrade)
      out += "Connection: Upgrade\r\n";
    else if (close)
      out += "Connection: close\r\n";
    out += "\r\n";
    return out;
  }

  // Copies bytes both ways between the client and the upstream after a 101, until the
  // upstream closes, either side fails, or the proxy stops. A client's EOF is passed on as a
  // half-close; the upstream then has idle_timeout to finish.
  void Splice(Stream& client, Stream& upstream) {
    std::string c2u = std::move(client.in), u2c = std::move(upstream.in);
    client.in.clear();
    upstream.in.clear();
    bool client_eof = false, upstream_eof = false, half_closed = false;
    auto deadline = Clock::time_point::max();
    char buf[16384];
    auto pump = [&](Stream& from, Stream& to, std::string& pending, bool& eof, bool& progress) {
      if (!eof && pending.size() < kSpliceBuf) {
        ssize_t n = from.TryRead(buf, sizeof buf);
        if (n > 0) pending.append(buf, n);
        if (n >= 0) progress = true;
        if (n == 0) eof = true;
      }
      if (!pending.empty()) {
        ssize_t n = to.TryWrite(pending.data(), pending.size());
        if (n == 0) return false;
        if (n > 0) {
          pending.erase(0, n);
          progress = true;
        }
      }
      return true;
    };
    for (;;) {
      bool progress = false;
      if (!pump(client, upstream, c2u, client_eof, progress)) return;
      if (client_eof && c2u.empty() && !half_closed) {
        shutdown(upstream.fd(), SHUT_WR);
        half_closed = true;
        deadline = Clock::now() + opts_.idle_timeout;
      }
      if (!pump(upstream, client, u2c, upstream_eof, progress)) return;
      if (upstream_eof && u2c.empty()) return;
      if (progress) continue;
      // Nothing moved: every read would block (TLS bytes already decrypted were taken by the
      // reads above, so polling the socket misses nothing) or the buffers are full.
      short cev = 0, uev = 0;
      if (!client_eof && c2u.size() < kSpliceBuf) cev |= client.read_want();
      if (!u2c.empty()) cev |= client.write_want();
      if (!upstream_eof && u2c.size() < kSpliceBuf) uev |= upstream.read_want();
      if (!c2u.empty()) uev |= upstream.write_want();
      // A socket with nothing wanted stays out of the poll: its POLLHUP would spin.
      pollfd p[3] = {{cev ? client.fd() : -1, cev, 0},
                     {uev ? upstream.fd() : -1, uev, 0},
                     {stop_fd_, POLLIN, 0}};
      int rc = poll(p, 3, PollTimeout(deadline));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0 || p[2].revents) return;
    }
  }

  ProxyOptions opts_;
  Listener http_, https_;
  int stop_fd_ = -1;
  std::atomic<bool> stopped_{false};
  CtxPtr tls_ctx_;

  std::mutex mu_;
  std::map<uint64_t, std::thread> threads_;  // connection threads by id
  std::vector<uint64_t> done_;               // finished, to be joined
  size_t active_ = 0;
  uint64_t next_id_ = 0;

  std::mutex cert_mu_;
  std::unordered_map<std::string, CtxPtr> cert_ctxs_;  // by PEM; null: does not load
};

}  // namespace

Result<std::unique_ptr<Proxy>> Proxy::Start(ProxyOptions opts) {
  if (!opts.router) return BadRequest("ingress proxy: a router is required");
  auto p = std::make_unique<ProxyImpl>(std::move(opts));
  RETURN_IF_ERROR(p->Init());
  return std::unique_ptr<Proxy>(std::move(p));
}

}  // namespace sampan::ingress
