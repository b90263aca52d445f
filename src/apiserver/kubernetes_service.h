// The `default/kubernetes` Service: how pods reach the API server. Its clusterIP is the first
// address of the service range; its Endpoints and EndpointSlice (both named "kubernetes")
// list this server's address and HTTPS port. Kubernetes' apiserver keeps them the same way
// (its endpoint reconciler); here one server per store writes them at start.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "util/status.h"

namespace sampan::apiserver {

class Rest;

// Creates or corrects the Service, and (when `address` is not empty) its Endpoints and
// EndpointSlice pointing at address:port; and kube-system/kube-dns, the cluster DNS's
// address (the 10th of the service range), without endpoints: every node agent answers it
// itself.
boost::asio::awaitable<Status> EnsureKubernetesService(Rest& rest, std::string address, int port);

}  // namespace sampan::apiserver
