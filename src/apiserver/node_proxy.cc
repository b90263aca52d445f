#include "apiserver/node_proxy.h"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include "apiserver/api_handler.h"
#include "util/log.h"

namespace sampan::apiserver {

namespace {

namespace beast = boost::beast;
namespace ssl = asio::ssl;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using asio::use_awaitable;
using Upstream = beast::ssl_stream<beast::tcp_stream>;

const json::object* Obj(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_object() ? &v->as_object() : nullptr;
}
const json::array* Arr(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_array() ? &v->as_array() : nullptr;
}
std::string Str(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string Escape(std::string_view s, bool path) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (path && c == ':')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::vector<std::string> ContainerNames(const json::object& spec, std::string_view list) {
  std::vector<std::string> names;
  if (auto* a = Arr(spec, list))
    for (const auto& c : *a)
      if (c.is_object()) names.push_back(Str(c.as_object(), "name"));
  return names;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

template <typename Stream>
asio::awaitable<void> UpstreamToClient(Stream& up, Responder& res) {
  std::string buf(32768, '\0');
  for (;;) {
    beast::error_code ec;
    size_t n =
        co_await up.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    if (n > 0) {
      std::string chunk = buf.substr(0, n);
      Status st = co_await res.WriteRaw(std::move(chunk));
      if (!st.ok()) break;
    }
    if (ec) break;
  }
  res.CloseRaw();
}

template <typename Stream>
asio::awaitable<void> ClientToUpstream(Stream& up, Responder& res) {
  for (;;) {
    std::string chunk = co_await res.ReadRaw();
    if (chunk.empty()) break;
    beast::error_code ec;
    co_await asio::async_write(up, asio::buffer(chunk), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
  }
  beast::get_lowest_layer(up).close();
}

Response ProxyError(const Status& st) { return ErrorResponse(st); }

// Sends the request head (and body) upstream, relays the reply head, then splices.
template <typename Stream>
asio::awaitable<void> Relay(Stream& up, Request& req, Responder& res, const std::string& where,
                            const std::string& target) {
  using namespace asio::experimental::awaitable_operators;
  beast::error_code ec;
  bool upgrade = !req.Header("upgrade").empty();
  std::string head = req.method + " " + target + " HTTP/1.1\r\nHost: " + where + "\r\n";
  for (const auto& [k, v] : req.headers) {
    if (k == "host" || k == "authorization" || k == "content-length" || k == "transfer-encoding" ||
        k == "keep-alive" || (!upgrade && k == "connection") || k == "accept-encoding")
      continue;
    head += k + ": " + v + "\r\n";
  }
  if (!req.body.empty()) head += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  if (!upgrade) head += "Connection: close\r\n";
  head += "\r\n";
  head += req.body;
  co_await asio::async_write(up, asio::buffer(head), asio::redirect_error(use_awaitable, ec));
  if (ec) {
    RETURN_REPLY(ProxyError(Unavailable("error sending to " + where + ": " + ec.message())));
  }
  // The reply head comes back within the timeout; the body and upgraded streams may idle.
  std::string reply;
  beast::get_lowest_layer(up).expires_after(std::chrono::seconds(60));
  co_await asio::async_read_until(up, asio::dynamic_buffer(reply), "\r\n\r\n",
                                  asio::redirect_error(use_awaitable, ec));
  beast::get_lowest_layer(up).expires_never();
  if (ec) {
    RETURN_REPLY(ProxyError(Unavailable("error reading from " + where + ": " + ec.message())));
  }
  Status st = co_await res.WriteRaw(std::move(reply));
  if (!st.ok()) co_return;
  co_await (UpstreamToClient(up, res) && ClientToUpstream(up, res));
}

}  // namespace

std::optional<KubeletEndpoint> KubeletEndpointOf(const json::object& node) {
  const json::object* status = Obj(node, "status");
  if (!status) return std::nullopt;
  KubeletEndpoint ep;
  if (auto* de = Obj(*status, "daemonEndpoints"))
    if (auto* ke = Obj(*de, "kubeletEndpoint"))
      if (auto* p = ke->if_contains("Port"); p && p->is_number())
        ep.port = static_cast<int>(p->to_number<int64_t>());
  if (auto* addrs = Arr(*status, "addresses")) {
    for (const auto& a : *addrs) {
      if (!a.is_object()) continue;
      std::string type = Str(a.as_object(), "type"), addr = Str(a.as_object(), "address");
      boost::system::error_code ec;
      asio::ip::make_address(addr, ec);
      if (ec) continue;
      if (type == "InternalIP") {
        ep.host = addr;
        break;
      }
      if (ep.host.empty()) ep.host = addr;
    }
  }
  if (ep.host.empty() || ep.port <= 0 || ep.port > 65535) return std::nullopt;
  return ep;
}

Result<std::string> ResolveContainer(const json::object& pod, std::string_view requested) {
  const json::object* spec = Obj(pod, "spec");
  const json::object* meta = Obj(pod, "metadata");
  std::string name = meta ? Str(*meta, "name") : std::string();
  if (!spec) return BadRequest("pod " + name + " has no spec");
  auto main = ContainerNames(*spec, "containers");
  auto init = ContainerNames(*spec, "initContainers");
  auto eph = ContainerNames(*spec, "ephemeralContainers");
  if (requested.empty()) {
    if (main.size() == 1) return main[0];
    std::string msg = "a container name must be specified for pod " + name + ", choose one of: [" +
                      Join(main) + "]";
    if (!init.empty()) msg += " or one of the init containers: [" + Join(init) + "]";
    return BadRequest(msg);
  }
  for (const auto* list : {&main, &init, &eph})
    for (const auto& c : *list)
      if (c == requested) return std::string(requested);
  std::string msg = "container " + std::string(requested) + " is not valid for pod " + name;
  return BadRequest(msg);
}

std::string KubeletTarget(std::string_view sub, std::string_view ns, std::string_view pod,
                          std::string_view container, const Request& req) {
  std::string path;
  std::vector<std::string> keep;
  if (sub == "log") {
    path = "/containerLogs/" + Escape(ns, true) + "/" + Escape(pod, true) + "/" +
           Escape(container, true);
    keep = {"follow",     "previous",     "timestamps", "tailLines",
            "limitBytes", "sinceSeconds", "sinceTime",  "insecureSkipTLSVerifyBackend"};
  } else if (sub == "portforward") {
    path = "/portForward/" + Escape(ns, true) + "/" + Escape(pod, true);
  } else {
    path = "/" + std::string(sub) + "/" + Escape(ns, true) + "/" + Escape(pod, true) + "/" +
           Escape(container, true);
  }
  std::string query;
  for (const auto& [k, v] : req.query) {
    if (k == "container") continue;
    if (!keep.empty() && std::find(keep.begin(), keep.end(), k) == keep.end()) continue;
    query += (query.empty() ? "?" : "&") + Escape(k, false) + "=" + Escape(v, false);
  }
  return path + query;
}

NodeProxy::NodeProxy(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)),
      key_file_(std::move(key_file)),
      ctx_(ssl::context::tls_client) {}

Status NodeProxy::Init() {
  beast::error_code ec;
  ctx_.use_certificate_chain_file(cert_file_, ec);
  if (ec) return Internal("load " + cert_file_ + ": " + ec.message());
  ctx_.use_private_key_file(key_file_, ssl::context::pem, ec);
  if (ec) return Internal("load " + key_file_ + ": " + ec.message());
  ctx_.set_verify_mode(ssl::verify_none);
  return Status::Ok();
}

asio::awaitable<void> NodeProxy::Forward(Request& req, Responder& res, KubeletEndpoint ep,
                                         std::string target) {
  auto ex = co_await asio::this_coro::executor;
  Upstream up(beast::tcp_stream(ex), ctx_);
  std::string where = ep.host + ":" + std::to_string(ep.port);
  beast::error_code ec;
  tcp::endpoint endpoint(asio::ip::make_address(ep.host, ec), static_cast<uint16_t>(ep.port));
  beast::get_lowest_layer(up).expires_after(std::chrono::seconds(10));
  co_await beast::get_lowest_layer(up).async_connect(endpoint,
                                                     asio::redirect_error(use_awaitable, ec));
  if (!ec)
    co_await up.async_handshake(ssl::stream_base::client, asio::redirect_error(use_awaitable, ec));
  if (ec) {
    RETURN_REPLY(
        ProxyError(Unavailable("error dialing backend: dial tcp " + where + ": " + ec.message())));
  }
  co_await Relay(up, req, res, where, target);
}

asio::awaitable<void> NodeProxy::ForwardPlain(Request& req, Responder& res, KubeletEndpoint ep,
                                              std::string target) {
  auto ex = co_await asio::this_coro::executor;
  beast::tcp_stream up(ex);
  std::string where = ep.host + ":" + std::to_string(ep.port);
  beast::error_code ec;
  tcp::endpoint endpoint(asio::ip::make_address(ep.host, ec), static_cast<uint16_t>(ep.port));
  up.expires_after(std::chrono::seconds(10));
  co_await up.async_connect(endpoint, asio::redirect_error(use_awaitable, ec));
  if (ec) {
    RETURN_REPLY(ProxyError(
        Unavailable("error trying to reach service: dial tcp " + where + ": " + ec.message())));
  }
  co_await Relay(up, req, res, where, target);
}

void ApiHandler::SetKubeletClient(std::string cert_file, std::string key_file) {
  auto p = std::make_shared<NodeProxy>(std::move(cert_file), std::move(key_file));
  Status st = p->Init();
  if (!st.ok()) {
    LOG(WARNING) << "kubelet client certificate: " << st.ToString();
    return;
  }
  node_proxy_ = std::move(p);
}

asio::awaitable<void> ApiHandler::ProxyToNode(Request& req, Responder& res, const RequestInfo& info,
                                              const json::object& pod) {
  const std::string& sub = info.subresource;
  const json::object* spec = Obj(pod, "spec");
  std::string node = spec ? Str(*spec, "nodeName") : std::string();
  std::string container;
  if (sub != "portforward") {
    auto c = ResolveContainer(pod, req.Query("container"));
    if (!c.ok()) {
      RETURN_REPLY(ErrorResponse(c.status(), &info));
    }
    container = *c;
  }
  if (sub == "exec" && req.QueryAll("command").empty()) {
    RETURN_REPLY(ErrorResponse(BadRequest("you must specify at least 1 command"), &info));
  }
  std::optional<KubeletEndpoint> ep;
  if (const api::KindInfo* nodes = registry_.FindResource("", "v1", "nodes")) {
    auto n = rest_.Get(*nodes, "", node);
    if (n.ok()) ep = KubeletEndpointOf((*n)->obj);
  }
  if (!ep || !node_proxy_) {
    RETURN_REPLY(ErrorResponse(
        Unavailable("no node agent is serving node " + node + ": " + sub +
                    " needs the node agent, and the node advertises no reachable kubelet endpoint"),
        &info));
  }
  std::string target = KubeletTarget(sub, info.ns, info.name, container, req);
  std::shared_ptr<NodeProxy> proxy = node_proxy_;
  co_await proxy->Forward(req, res, *ep, std::move(target));
}

asio::awaitable<void> ApiHandler::ProxyNodeApi(Request& req, Responder& res,
                                               const RequestInfo& info, const json::object& node) {
  std::optional<KubeletEndpoint> ep = KubeletEndpointOf(node);
  if (!ep || !node_proxy_) {
    RETURN_REPLY(ErrorResponse(Unavailable("no node agent is serving node " + info.name +
                                           ": the node advertises no reachable kubelet endpoint"),
                               &info));
  }
  // Everything after ".../nodes/{name}/proxy" is the kubelet path.
  std::string marker = "/nodes/" + info.name + "/proxy";
  auto at = req.path.find(marker);
  std::string path = at == std::string::npos ? "/" : req.path.substr(at + marker.size());
  if (path.empty() || path[0] != '/') path = "/" + path;
  std::string target;
  for (size_t i = 0; i < path.size(); ++i) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (i > 0) target += "/";
    target += Escape(std::string_view(path).substr(i, j - i), true);
    i = j;
  }
  if (target.empty()) target = "/";
  std::string query;
  for (const auto& [k, v] : req.query)
    query += (query.empty() ? "?" : "&") + Escape(k, false) + "=" + Escape(v, false);
  target += query;
  std::shared_ptr<NodeProxy> proxy = node_proxy_;
  co_await proxy->Forward(req, res, *ep, std::move(target));
}

asio::awaitable<void> ApiHandler::ProxyToPod(Request& req, Responder& res,
                                             const RequestInfo& info) {
  // "name", "name:port", "scheme:name:port" (only http is spoken here).
  std::vector<std::string> parts;
  for (size_t i = 0;;) {
    size_t c = info.name.find(':', i);
    parts.push_back(info.name.substr(i, c == std::string::npos ? std::string::npos : c - i));
    if (c == std::string::npos) break;
    i = c + 1;
  }
  std::string scheme, name, port;
  if (parts.size() == 1) {
    name = parts[0];
  } else if (parts.size() == 2) {
    name = parts[0];
    port = parts[1];
  } else if (parts.size() == 3) {
    scheme = parts[0];
    name = parts[1];
    port = parts[2];
  }
  if (name.empty() || parts.size() > 3 || (!scheme.empty() && scheme != "http")) {
    RETURN_REPLY(ErrorResponse(
        BadRequest("invalid pod proxy target \"" + info.name + "\" (only [http:]name[:port])"),
        &info));
  }
  auto pod = rest_.Get(*info.kind, info.ns, name);
  if (!pod.ok()) {
    RETURN_REPLY(ErrorResponse(pod.status(), &info));
  }
  std::string ip;
  if (const json::object* status = Obj((*pod)->obj, "status")) ip = Str(*status, "podIP");
  if (ip.empty()) {
    RETURN_REPLY(ErrorResponse(
        BadRequest("address not allowed: pod " + name + " has no IP address yet"), &info));
  }
  int port_number = port.empty() ? 80 : std::atoi(port.c_str());
  if (port_number <= 0 || port_number > 65535) {
    RETURN_REPLY(ErrorResponse(BadRequest("invalid port \"" + port + "\""), &info));
  }
  std::string marker = "/pods/" + info.name + "/proxy";
  auto at = req.path.find(marker);
  std::string path = at == std::string::npos ? "" : req.path.substr(at + marker.size());
  std::string target;
  for (size_t i = 0; i < path.size();) {
    size_t j = path.find('/', i + 1);
    if (j == std::string::npos) j = path.size();
    target += "/" + Escape(std::string_view(path).substr(i + 1, j - i - 1), true);
    i = j;
  }
  if (target.empty()) target = "/";
  std::string query;
  for (const auto& [k, v] : req.query)
    query += (query.empty() ? "?" : "&") + Escape(k, false) + "=" + Escape(v, false);
  target += query;
  KubeletEndpoint ep{ip, port_number};
  auto proxy = node_proxy_ ? node_proxy_ : std::make_shared<NodeProxy>("", "");
  co_await proxy->ForwardPlain(req, res, ep, std::move(target));
}

}  // namespace sampan::apiserver
