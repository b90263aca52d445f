// Namespace lifecycle, run inside the API server: a namespace marked for
// deletion has its contents deleted; once nothing is left its "kubernetes"
// finalizer is removed and it disappears. Level-triggered: it rescans the
// terminating namespaces every second, so a restart or a missed event converges.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "apiserver/rest.h"

namespace sampan::apiserver {

class NamespaceController {
 public:
  explicit NamespaceController(Rest& rest) : rest_(rest) {}
  // Runs until the executor stops.
  asio::awaitable<void> Run();
  // One pass over every terminating namespace (public for tests).
  asio::awaitable<void> SyncAll();

 private:
  asio::awaitable<void> Sync(std::string ns);
  Rest& rest_;
};

// Creates default, kube-system, kube-public and kube-node-lease if absent.
asio::awaitable<Status> EnsureSystemNamespaces(Rest& rest);

}  // namespace sampan::apiserver
