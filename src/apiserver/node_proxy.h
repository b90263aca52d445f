// The API server's client of the node agents' kubelet API: forwards a request to
// https://<node InternalIP>:<kubeletEndpoint port><path> with the API server's
// kubelet-client certificate and relays the reply byte for byte; for an upgrade
// (WebSocket or SPDY: exec, attach, port-forward) it then splices both directions
// until either side closes. Like Kubernetes without --kubelet-certificate-authority,
// the node agent's serving certificate is not verified.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/json/fwd.hpp>
#include <optional>
#include <string>

#include "apiserver/http.h"
#include "util/status.h"

namespace sampan::apiserver {

struct KubeletEndpoint {
  std::string host;  // an IP address
  int port = 0;
};

// The node's InternalIP (else its first address) and status.daemonEndpoints.kubeletEndpoint.Port;
// nullopt if the node does not advertise a reachable kubelet.
std::optional<KubeletEndpoint> KubeletEndpointOf(const boost::json::object& node);

// The kubelet API path and query for a pod subresource ("log", "exec", "attach",
// "portforward") with the client's query parameters; `container` already resolved.
std::string KubeletTarget(std::string_view subresource, std::string_view ns, std::string_view pod,
                          std::string_view container, const Request& req);

// Which container a log/exec/attach request means: the `container` parameter, else the
// only container (BadRequest naming the choices when there are several or it is unknown).
Result<std::string> ResolveContainer(const boost::json::object& pod, std::string_view requested);

class NodeProxy {
 public:
  NodeProxy(std::string cert_file, std::string key_file);
  Status Init();
  // Forwards `req` to the kubelet at `ep` as `target` and relays the answer through `res`.
  // Errors reaching the kubelet are answered as Status objects (503).
  asio::awaitable<void> Forward(Request& req, Responder& res, KubeletEndpoint ep,
                                std::string target);
  // The same over plain TCP (pods/proxy to a pod's IP and port).
  asio::awaitable<void> ForwardPlain(Request& req, Responder& res, KubeletEndpoint ep,
                                     std::string target);

 private:
  std::string cert_file_, key_file_;
  asio::ssl::context ctx_;
};

}  // namespace sampan::apiserver
