// One probe attempt (exec, httpGet, tcpSocket) and the thresholding probe thread.
#include "podspec/prober.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <optional>

namespace sampan::podspec {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kUserAgent = "kube-probe/1.32";
constexpr int kMaxRedirects = 10;
constexpr size_t kMaxBody = 10 * 1024;

int64_t IntOr(const json::object& o, const char* key, int64_t fallback) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_number()) return fallback;
  return v->to_number<int64_t>();
}

std::string StringOr(const json::object& o, const char* key, std::string fallback = "") {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : fallback;
}

ProbeOutcome Fail(std::string msg) { return {ProbeResult::kFailure, std::move(msg)}; }
ProbeOutcome Ok(std::string msg = "") { return {ProbeResult::kSuccess, std::move(msg)}; }

// The probe's port: a number, a numeric string or a container port name.
Result<int> ResolvePort(const json::value* port, const ProbeTarget& t) {
  int p = -1;
  if (port && port->is_number()) {
    p = port->to_number<int>();
  } else if (port && port->is_string()) {
    std::string s(port->get_string());
    if (!s.empty() &&
        std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      p = std::atoi(s.c_str());
    } else {
      for (const auto& [name, num] : t.named_ports)
        if (name == s) p = num;
      if (p < 0) return NotFound("couldn't find port: " + s);
    }
  } else {
    return Invalid("probe port is missing");
  }
  if (p < 1 || p > 65535) return Invalid("invalid port number: " + std::to_string(p));
  return p;
}

std::string HostPort(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

int MsLeft(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms < 0 ? 0 : static_cast<int>(ms);
}

// Connects to host:port before the deadline; returns a blocking socket with send/receive
// timeouts set to the time left. The error text reads like Go's net.Dial errors.
Result<int> Dial(const std::string& host, int port, Clock::time_point deadline) {
  std::string where = "dial tcp " + HostPort(host, port) + ": ";
  struct addrinfo hints = {}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  int gai = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (gai != 0) return Unavailable(where + "lookup " + host + ": " + ::gai_strerror(gai));
  std::string last = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      struct pollfd p = {fd, POLLOUT, 0};
      int n;
      do {
        n = ::poll(&p, 1, MsLeft(deadline));
      } while (n < 0 && errno == EINTR);
      if (n == 0) {
        ::close(fd);
        ::freeaddrinfo(res);
        return Status(Code::kTimeout, where + "i/o timeout");
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc != 0) {
      last = std::string("connect: ") + std::strerror(errno);
      if (errno == ECONNREFUSED) last = "connect: connection refused";
      ::close(fd);
      continue;
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int ms = std::max(MsLeft(deadline), 1);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ::freeaddrinfo(res);
    return fd;
  }
  ::freeaddrinfo(res);
  return Unavailable(where + last);
}

// A byte stream over a plain or TLS socket.
class Conn {
 public:
  ~Conn() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  Status Open(const std::string& host, int port, bool tls, Clock::time_point deadline) {
    ASSIGN_OR_RETURN(fd_, Dial(host, port, deadline));
    if (!tls) return Status();
    // HTTPS probes do not verify the server's certificate (as the kubelet's).
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) return Internal("TLS: cannot create a context");
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    if (!host.empty() && host.find(':') == std::string::npos && !IsIpv4(host))
      SSL_set_tlsext_host_name(ssl_, host.c_str());
    if (SSL_connect(ssl_) != 1) {
      unsigned long e = ERR_get_error();
      char buf[256] = "handshake failed";
      if (e) ERR_error_string_n(e, buf, sizeof buf);
      return Unavailable(std::string("TLS handshake: ") + buf);
    }
    return Status();
  }
  bool Write(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ssl_ ? SSL_write(ssl_, s.data() + off, static_cast<int>(s.size() - off))
                       : ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) {
        if (!ssl_ && n < 0 && errno == EINTR) continue;
        return false;
      }
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // >0 bytes, 0 EOF, -1 error (errno EAGAIN on timeout for plain sockets).
  ssize_t Read(char* buf, size_t len) {
    if (ssl_) {
      int n = SSL_read(ssl_, buf, static_cast<int>(len));
      if (n > 0) return n;
      int e = SSL_get_error(ssl_, n);
      return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    }
    ssize_t n;
    do {
      n = ::recv(fd_, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    return n;
  }

 private:
  static bool IsIpv4(const std::string& h) {
    struct in_addr a;
    return ::inet_pton(AF_INET, h.c_str(), &a) == 1;
  }
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

struct Url {
  std::string scheme, host, path;
  int port = 0;
  std::string Text() const { return scheme + "://" + HostPort(host, port) + path; }
};

// Resolves a Location header against the URL it came from.
std::optional<Url> ResolveLocation(const Url& base, const std::string& loc) {
  Url u = base;
  auto scheme_end = loc.find("://");
  if (scheme_end != std::string::npos) {
    u.scheme = loc.substr(0, scheme_end);
    for (char& c : u.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
    std::string rest = loc.substr(scheme_end + 3);
    size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    u.path = slash == std::string::npos ? "/" : rest.substr(slash);
    u.port = u.scheme == "https" ? 443 : 80;
    if (!authority.empty() && authority[0] == '[') {
      size_t close = authority.find(']');
      if (close == std::string::npos) return std::nullopt;
      u.host = authority.substr(1, close - 1);
      if (close + 1 < authority.size() && authority[close + 1] == ':')
        u.port = std::atoi(authority.c_str() + close + 2);
    } else {
      size_t colon = authority.rfind(':');
      u.host = authority.substr(0, colon);
      if (colon != std::string::npos) u.port = std::atoi(authority.c_str() + colon + 1);
    }
  } else if (!loc.empty() && loc[0] == '/') {
    u.path = loc;
  } else {
    size_t slash = base.path.rfind('/');
    u.path = base.path.substr(0, slash + 1) + loc;
  }
  return u;
}

// The Content-Length of a response head, -1 when absent.
int64_t ContentLength(const std::string& head) {
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string::npos) {
    pos += 2;
    if (strncasecmp(head.c_str() + pos, "content-length:", 15) == 0)
      return std::atoll(head.c_str() + pos + 15);
  }
  return -1;
}

struct HttpReply {
  int status = 0;
  std::string location, body;
};

Result<HttpReply> HttpGet(const Url& url,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          Clock::time_point deadline) {
  Conn conn;
  std::string prefix = "Get \"" + url.Text() + "\": ";
  if (Status st = conn.Open(url.host, url.port, url.scheme == "https", deadline); !st.ok())
    return Status(st.code(), prefix + st.message());
  auto has = [&](const char* name) {
    for (const auto& [k, v] : headers)
      if (strcasecmp(k.c_str(), name) == 0) return true;
    return false;
  };
  std::string req = "GET " + url.path + " HTTP/1.1\r\n";
  bool default_port =
      (url.scheme == "http" && url.port == 80) || (url.scheme == "https" && url.port == 443);
  std::string host_value = default_port ? url.host : HostPort(url.host, url.port);
  if (url.host.find(':') != std::string::npos && default_port) host_value = "[" + url.host + "]";
  if (!has("Host")) req += "Host: " + host_value + "\r\n";
  if (!has("User-Agent")) req += std::string("User-Agent: ") + kUserAgent + "\r\n";
  if (!has("Accept")) req += "Accept: */*\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "Connection: close\r\n\r\n";
  if (!conn.Write(req)) return Unavailable(prefix + "write failed");
  std::string data;
  char buf[8192];
  size_t head_end = std::string::npos;
  int64_t content_length = -1;
  while (MsLeft(deadline) > 0) {
    ssize_t n = conn.Read(buf, sizeof buf);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || MsLeft(deadline) == 0) break;
      return Unavailable(prefix + "read failed");
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (head_end == std::string::npos) {
      head_end = data.find("\r\n\r\n");
      if (head_end != std::string::npos) content_length = ContentLength(data.substr(0, head_end));
    }
    if (head_end != std::string::npos) {
      size_t body = data.size() - head_end - 4;
      if (body >= kMaxBody || (content_length >= 0 && body >= static_cast<size_t>(content_length)))
        break;
      // A chunked body ends with an empty chunk; bodiless statuses end with the head.
      if (content_length < 0 && data.size() >= 5 &&
          data.compare(data.size() - 5, 5, "0\r\n\r\n") == 0)
        break;
      int code = data.size() > 12 ? std::atoi(data.c_str() + 9) : 0;
      if (code == 204 || code == 304) break;
    }
  }
  if (head_end == std::string::npos) {
    if (MsLeft(deadline) == 0)
      return Status(
          Code::kTimeout,
          prefix + "context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
    return Unavailable(prefix + (data.empty() ? "EOF" : "malformed HTTP response"));
  }
  HttpReply r;
  if (data.rfind("HTTP/", 0) != 0) return Unavailable(prefix + "malformed HTTP response");
  size_t sp = data.find(' ');
  r.status = std::atoi(data.c_str() + sp + 1);
  size_t pos = data.find("\r\n") + 2;
  while (pos < head_end) {
    size_t eol = data.find("\r\n", pos);
    std::string line = data.substr(pos, eol - pos);
    pos = eol + 2;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (strcasecmp(line.substr(0, colon).c_str(), "Location") == 0) {
      std::string v = line.substr(colon + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      v.erase(v.find_last_not_of(" \t") + 1);
      r.location = v;
    }
  }
  r.body = data.substr(head_end + 4, kMaxBody);
  return r;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

ProbeOutcome HttpProbe(const json::object& h, const ProbeTarget& t,
                       std::chrono::milliseconds timeout) {
  auto port = ResolvePort(h.if_contains("port"), t);
  if (!port.ok()) return Fail(port.status().message());
  Url url;
  url.scheme = StringOr(h, "scheme", "HTTP");
  for (char& c : url.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (url.scheme != "http" && url.scheme != "https")
    return Fail("unsupported scheme \"" + StringOr(h, "scheme") + "\"");
  url.host = StringOr(h, "host", t.pod_ip);
  if (url.host.empty()) url.host = "127.0.0.1";
  url.port = *port;
  url.path = StringOr(h, "path", "/");
  if (url.path.empty() || url.path[0] != '/') url.path = "/" + url.path;
  std::vector<std::pair<std::string, std::string>> headers;
  if (auto* hs = h.if_contains("httpHeaders"); hs && hs->is_array())
    for (const auto& e : hs->get_array())
      if (e.is_object())
        headers.emplace_back(StringOr(e.get_object(), "name"), StringOr(e.get_object(), "value"));
  auto deadline = Clock::now() + timeout;
  const std::string first_host = url.host;
  for (int hop = 0;; ++hop) {
    auto r = HttpGet(url, headers, deadline);
    if (!r.ok()) return Fail(r.status().message());
    if (r->status >= 300 && r->status < 400 && !r->location.empty()) {
      auto next = ResolveLocation(url, r->location);
      // Redirects are followed only to the same host; another host ends the probe with the
      // redirect itself, which counts as success (the kubelet's "Probe terminated redirects").
      if (!next || next->host != first_host)
        return Ok("Probe terminated redirects, Response body: " + r->body);
      if (hop + 1 >= kMaxRedirects)
        return Fail("Get \"" + next->Text() + "\": stopped after 10 redirects");
      url = *next;
      continue;
    }
    if (r->status >= 200 && r->status < 400) return Ok();
    return Fail("HTTP probe failed with statuscode: " + std::to_string(r->status));
  }
}

ProbeOutcome TcpProbe(const json::object& s, const ProbeTarget& t,
                      std::chrono::milliseconds timeout) {
  auto port = ResolvePort(s.if_contains("port"), t);
  if (!port.ok()) return Fail(port.status().message());
  std::string host = StringOr(s, "host", t.pod_ip);
  if (host.empty()) host = "127.0.0.1";
  auto fd = Dial(host, *port, Clock::now() + timeout);
  if (!fd.ok()) return Fail(fd.status().message());
  ::close(*fd);
  return Ok();
}

ProbeOutcome ExecProbe(const json::object& e, const ProbeTarget& t,
                       std::chrono::milliseconds timeout) {
  std::vector<std::string> cmd;
  if (auto* c = e.if_contains("command"); c && c->is_array())
    for (const auto& v : c->get_array())
      if (v.is_string()) cmd.emplace_back(v.get_string());
  if (cmd.empty()) return Fail("exec probe has no command");
  if (!t.exec) return Fail("exec probes are not available for this container");
  auto rc = t.exec(cmd, timeout);
  if (!rc.ok()) {
    if (rc.status().code() == Code::kTimeout)
      return Fail("command \"" + Join(cmd) + "\" timed out");
    return Fail(rc.status().message());
  }
  if (*rc == 0) return Ok();
  return Fail("command \"" + Join(cmd) + "\" exited with " + std::to_string(*rc));
}

const char* KindName(ProbeKind k) {
  switch (k) {
    case ProbeKind::kLiveness:
      return "Liveness";
    case ProbeKind::kReadiness:
      return "Readiness";
    case ProbeKind::kStartup:
      return "Startup";
  }
  return "";
}

}  // namespace

ProbeOutcome RunProbeOnce(const json::object& probe, const ProbeTarget& target) {
  auto timeout =
      std::chrono::milliseconds(1000 * std::max<int64_t>(1, IntOr(probe, "timeoutSeconds", 1)));
  if (auto* e = probe.if_contains("exec"); e && e->is_object())
    return ExecProbe(e->get_object(), target, timeout);
  if (auto* h = probe.if_contains("httpGet"); h && h->is_object())
    return HttpProbe(h->get_object(), target, timeout);
  if (auto* s = probe.if_contains("tcpSocket"); s && s->is_object())
    return TcpProbe(s->get_object(), target, timeout);
  if (auto* g = probe.if_contains("grpc"); g && g->is_object())
    return Fail("grpc probes are not supported");
  return Fail("probe has no handler (exec, httpGet, tcpSocket or grpc)");
}

Prober::Prober(ProbeKind kind, json::object probe, ProbeTarget target, Callback cb)
    : kind_(kind),
      probe_(std::make_unique<json::object>(std::move(probe))),
      target_(std::move(target)),
      cb_(std::move(cb)) {
  current_ = kind == ProbeKind::kLiveness    ? ProbeResult::kSuccess
             : kind == ProbeKind::kReadiness ? ProbeResult::kFailure
                                             : ProbeResult::kUnknown;
}

Prober::~Prober() { Stop(); }

void Prober::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Loop(); });
}

void Prober::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void Prober::Loop() {
  const json::object& p = *probe_;
  int64_t initial_delay = std::max<int64_t>(0, IntOr(p, "initialDelaySeconds", 0));
  int64_t period = std::max<int64_t>(1, IntOr(p, "periodSeconds", 10));
  int64_t success_threshold = std::max<int64_t>(1, IntOr(p, "successThreshold", 1));
  int64_t failure_threshold = std::max<int64_t>(1, IntOr(p, "failureThreshold", 3));
  auto wait_until = [&](Clock::time_point t) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_until(l, t, [&] { return stop_; });
    return !stop_;
  };
  auto next = Clock::now() + initial_delay * second_;
  if (!wait_until(next)) return;
  ProbeResult last = ProbeResult::kUnknown, reported = ProbeResult::kUnknown;
  int64_t run = 0;
  bool hold = false;
  while (!hold) {
    next += period * second_;
    ProbeOutcome out = RunProbeOnce(p, target_);
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) return;
    }
    if (out.result == ProbeResult::kFailure)
      out.message = std::string(KindName(kind_)) + " probe failed: " + out.message;
    if (out.result == last) {
      ++run;
    } else {
      last = out.result;
      run = 1;
    }
    bool settled = (out.result == ProbeResult::kFailure && run >= failure_threshold) ||
                   (out.result == ProbeResult::kSuccess && run >= success_threshold);
    bool changed = false;
    if (settled) {
      changed = out.result != reported;
      reported = out.result;
      current_ = out.result;
      if (out.result == ProbeResult::kFailure && kind_ != ProbeKind::kReadiness) hold = true;
    }
    if ((changed || out.result == ProbeResult::kFailure) && cb_) cb_(kind_, current_.load(), out);
    if (hold) break;
    if (Clock::now() > next) next = Clock::now();
    if (!wait_until(next)) return;
  }
}

}  // namespace sampan::podspec
