// The API server's half of the in-process loopback (client/loopback.h): requests
// from components in this process enter the same request path an HTTPS request
// takes once parsed (ServeRequest in http.h: the ApiHandler with its
// authentication check, admission, REST storage and watch), authenticated as a
// fixed identity, on a strand of the server's io_context. Responses and watch
// streams go back through the exchange; no TLS, TCP or HTTP text on the way.
#pragma once

#include <memory>

#include "apiserver/http.h"
#include "client/loopback.h"

namespace sampan::apiserver {

// Lets a LoopbackServer outlive the API server safely: once Close() returned, new
// requests are refused (the client sees Unavailable) and none is being handed over.
class LoopbackGate {
 public:
  virtual ~LoopbackGate() = default;
  virtual void Close() = 0;
};

// Serves loopback requests on `io` (or, when `pick` is set, each on the io_context it picks)
// with `handler`, as `identity`. Requests that upgrade the
// connection (exec, attach, port-forward, node proxy: Responder::WriteRaw/ReadRaw) are
// answered with a BadRequest Status. `gate` (shared by all loopback servers of one API
// server) must be closed before `io` or `handler` go away.
std::shared_ptr<client::LoopbackServer> NewLoopbackServer(asio::io_context& io,
                                                          const Handler& handler,
                                                          Identity identity,
                                                          std::shared_ptr<LoopbackGate> gate,
                                                          IoPicker pick = {});
std::shared_ptr<LoopbackGate> NewLoopbackGate();

}  // namespace sampan::apiserver
