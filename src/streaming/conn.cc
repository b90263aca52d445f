#include "streaming/conn.h"

#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <map>

#include "util/url.h"

namespace sampan::streaming {

namespace {

std::string Lower(std::string_view s) {
  std::string o(s);
  for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

std::string HttpRequest::Query(const std::string& name) const {
  auto it = query.find(name);
  return it == query.end() ? std::string() : it->second;
}

std::vector<std::string> HttpRequest::QueryAll(const std::string& name) const {
  std::vector<std::string> out;
  auto [b, e] = query.equal_range(name);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

bool HttpRequest::QueryBool(const std::string& name, bool def) const {
  auto it = query.find(name);
  if (it == query.end()) return def;
  const std::string& v = it->second;
  return v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True";
}

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::vector<std::string> HttpRequest::HeaderList(const std::string& lower_name) const {
  std::vector<std::string> out;
  std::string v = Header(lower_name);
  std::string_view s = v;
  while (!s.empty()) {
    auto c = s.find(',');
    std::string_view item = Trim(s.substr(0, c));
    if (!item.empty()) out.emplace_back(item);
    if (c == std::string_view::npos) break;
    s.remove_prefix(c + 1);
  }
  return out;
}

Result<HttpRequest> ParseHttpHead(std::string_view head) {
  HttpRequest r;
  auto eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  auto sp1 = line.find(' ');
  auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return BadRequest("malformed request line");
  r.method = std::string(line.substr(0, sp1));
  r.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  if (line.substr(sp2 + 1).substr(0, 5) != "HTTP/") return BadRequest("malformed request line");
  std::string_view rest = eol == std::string_view::npos ? "" : head.substr(eol + 2);
  while (!rest.empty()) {
    auto e = rest.find("\r\n");
    std::string_view h = rest.substr(0, e);
    rest = e == std::string_view::npos ? "" : rest.substr(e + 2);
    if (h.empty()) break;
    auto colon = h.find(':');
    if (colon == std::string_view::npos) return BadRequest("malformed header line");
    std::string name = Lower(Trim(h.substr(0, colon)));
    std::string value(Trim(h.substr(colon + 1)));
    auto [it, fresh] = r.headers.emplace(name, value);
    if (!fresh) it->second += ", " + value;
  }
  url::SplitTarget(r.target, &r.path, &r.query);
  return r;
}

Conn::~Conn() {
  SSL_free(ssl_);
  close(fd_);
}

bool Conn::stopping() const {
  pollfd p{stop_fd_, POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

Status Conn::Handshake(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    ERR_clear_error();
    int rc = SSL_accept(ssl_);
    if (rc == 1) return Status::Ok();
    int err = SSL_get_error(ssl_, rc);
    short ev = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (!ev) return Unavailable("TLS handshake failed");
    pollfd p[2] = {{fd_, ev, 0}, {stop_fd_, POLLIN, 0}};
    int left = RemainingMs(deadline);
    if (left == 0 || poll(p, 2, left) <= 0 || p[1].revents)
      return Unavailable("TLS handshake timed out");
  }
}

void Conn::ReadAvailable() {
  char buf[16384];
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      in.append(buf, n);
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
    eof_ = true;
    return;
  }
}

bool Conn::Flush() {
  write_wants_read_ = false;
  while (out_pos_ < out_.size()) {
    ERR_clear_error();
    size_t chunk = std::min<size_t>(out_.size() - out_pos_, 1 << 20);
    int n = SSL_write(ssl_, out_.data() + out_pos_, static_cast<int>(chunk));
    if (n > 0) {
      out_pos_ += n;
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_WRITE) return true;
    if (err == SSL_ERROR_WANT_READ) {
      write_wants_read_ = true;
      return true;
    }
    eof_ = true;
    out_.clear();
    out_pos_ = 0;
    return false;
  }
  out_.clear();
  out_pos_ = 0;
  return true;
}

short Conn::PollEvents(bool want_input) const {
  short ev = 0;
  if ((want_input && !eof_) || write_wants_read_) ev |= POLLIN;
  if (queued() > 0 && !write_wants_read_) ev |= POLLOUT;
  return ev;
}

Status Conn::WriteAll(std::string_view bytes, std::chrono::milliseconds timeout) {
  Queue(bytes);
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (!Flush()) return Unavailable("client connection lost");
    if (queued() == 0) return Status::Ok();
    pollfd p[2] = {{fd_, PollEvents(false), 0}, {stop_fd_, POLLIN, 0}};
    int left = RemainingMs(deadline);
    if (left == 0 || poll(p, 2, left) <= 0 || p[1].revents) return Unavailable("write timed out");
  }
}

bool Conn::WaitReadable(std::chrono::milliseconds timeout) {
  if (has_pending_input()) return true;
  pollfd p[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  int rc = poll(p, 2, static_cast<int>(timeout.count()));
  return rc > 0 && !p[1].revents;
}

Result<HttpRequest> Conn::ReadHead(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto end = in.find("\r\n\r\n");
    if (end != std::string::npos) {
      auto req = ParseHttpHead(std::string_view(in).substr(0, end + 2));
      in.erase(0, end + 4);
      return req;
    }
    if (in.size() > 64 * 1024) return BadRequest("request head too large");
    if (eof_) return Unavailable("client closed the connection");
    if (!WaitReadable(std::chrono::milliseconds(RemainingMs(deadline))))
      return Unavailable("timed out reading the request");
    ReadAvailable();
  }
}

void Conn::Shutdown() {
  if (!eof_) {
    ERR_clear_error();
    SSL_shutdown(ssl_);
  }
  shutdown(fd_, SHUT_RDWR);
}

std::string StatusText(int code) {
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
                                                           {422, "Unprocessable Entity"},
                                                           {429, "Too Many Requests"},
                                                           {431, "Request Header Fields Too Large"},
                                                           {500, "Internal Server Error"},
                                                           {501, "Not Implemented"},
                                                           {502, "Bad Gateway"},
                                                           {503, "Service Unavailable"},
                                                           {504, "Gateway Timeout"}};
  auto it = kReasons.find(code);
  if (it != kReasons.end()) return std::string(it->second);
  return code < 400 ? "OK" : code < 500 ? "Client Error" : "Server Error";
}

std::string HttpResponse(int code, std::string_view content_type, std::string_view body,
                         const std::vector<std::pair<std::string, std::string>>& extra) {
  std::string r = "HTTP/1.1 " + std::to_string(code) + " " + StatusText(code) + "\r\n";
  r += "Content-Type: " + std::string(content_type) + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  for (const auto& [k, v] : extra) r += k + ": " + v + "\r\n";
  r += "Connection: close\r\n\r\n";
  r.append(body);
  return r;
}

int HttpCode(const Status& st) { return CodeHttpStatus(st.code()); }

std::string StatusJson(const Status& st) {
  boost::json::object o;
  o["kind"] = "Status";
  o["apiVersion"] = "v1";
  o["metadata"] = boost::json::object();
  o["status"] = st.ok() ? "Success" : "Failure";
  if (!st.ok()) {
    o["message"] = st.message();
    o["reason"] = std::string(CodeReason(st.code()));
    o["code"] = CodeHttpStatus(st.code());
  }
  return boost::json::serialize(o);
}

}  // namespace sampan::streaming
