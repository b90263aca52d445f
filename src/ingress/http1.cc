#include "ingress/http1.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <system_error>

#include "streaming/conn.h"

namespace sampan::ingress::internal {

namespace {

bool ParseVersion(std::string_view v, int* minor) {
  if (v.size() != 8 || v.substr(0, 7) != "HTTP/1." || v[7] < '0' || v[7] > '9') return false;
  *minor = v[7] - '0';
  return true;
}

}  // namespace

char LowerChar(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

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

Status TimedOut(std::string m) { return Status(Code::kTimeout, std::move(m)); }
Status Stopping() { return Unavailable("the proxy is stopping"); }

std::string ErrnoText(int e) { return std::error_code(e, std::generic_category()).message(); }

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

std::string PlainResponse(int status, std::string_view body, bool close, bool head_request) {
  std::string r =
      "HTTP/1.1 " + std::to_string(status) + " " + streaming::StatusText(status) + "\r\n";
  if (status == 204 || status == 304) return r + (close ? "Connection: close\r\n\r\n" : "\r\n");
  r += "Content-Type: text/plain; charset=utf-8\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (close) r += "Connection: close\r\n";
  r += "\r\n";
  if (!head_request) r.append(body);
  return r;
}

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

}  // namespace sampan::ingress::internal
