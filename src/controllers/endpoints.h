// Kubernetes' endpoints controller: keeps the core/v1 Endpoints object of every Service that
// has a selector (and is not of type ExternalName) equal to the pods the selector picks in
// the Service's namespace.
//  - A pod counts when it has an IP, is not Succeeded/Failed and is not being deleted (a
//    deleting pod still counts when the Service has publishNotReadyAddresses). Its address
//    ({ip, nodeName, targetRef, hostname when spec.subdomain names the Service}) goes to
//    `addresses` when the pod is Ready or the Service publishes not-ready addresses, else to
//    `notReadyAddresses`.
//  - Each service port becomes an endpoint port {name, port, protocol, appProtocol}: a numeric
//    targetPort as is, a named one resolved per pod (a pod without that port is left out of
//    that port). A headless Service without ports lists its addresses without ports.
//  - Subsets are repacked as Kubernetes' RepackSubsets does: addresses offering the same
//    ports with the same readiness share a subset; addresses, ports and subsets are sorted.
//  - The Endpoints carry the Service's labels plus service.kubernetes.io/headless="" when the
//    Service has no cluster IP, and endpoints.kubernetes.io/last-change-trigger-time. More than
//    1000 addresses are truncated (ready ones kept first) with
//    endpoints.kubernetes.io/over-capacity=truncated.
//  - Nothing is written unless the subsets, the labels or the over-capacity state differ.
//  - When a Service this controller managed is deleted, its Endpoints go too; Endpoints
//    found without a Service when the controller starts are deleted (Kubernetes'
//    leftover check), except leader-election records. Services without a selector keep
//    whatever Endpoints their owner writes (default/kubernetes is the API server's).
// Threading as the other controllers: handlers enqueue Service keys, workers Sync() them.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/events.h"
#include "client/shared_informers.h"
#include "client/workqueue.h"
#include "controllers/endpoints_util.h"

namespace sampan::controllers {

class EndpointsController {
 public:
  EndpointsController(client::SharedInformers* informers, client::EventRecorder* recorder);
  ~EndpointsController();
  void Run(int workers);
  void Stop();
  // Brings the Endpoints of one Service (key "ns/name") up to date. Public for tests.
  Status Sync(const std::string& key);

 private:
  void CheckLeftovers();

  client::RestClient* client_;
  client::EventRecorder* recorder_;
  client::Informer* services_;
  client::Informer* pods_;
  client::Informer* endpoints_;
  client::WorkQueue queue_;
  endpoints::TriggerTimeTracker trigger_times_;
  std::mutex mu_;
  std::set<std::string> managed_;    // guarded; Services last seen with a selector
  std::set<std::string> leftovers_;  // guarded; Endpoints without a Service at start
  // guarded; Service key → the resourceVersion our last update replaced: while the informer
  // still shows it, the cache is behind our own write.
  std::map<std::string, std::string> replaced_rv_;
  std::once_flag leftovers_once_;
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

// Kubernetes' RepackSubsets over (address, ready, port) entries: `port` null = an address
// without ports (headless Service without ports). Addresses are told apart by ip + targetRef
// uid; not-ready wins over ready for the same address and port. Deterministic order:
// addresses by ip then uid, ports by name, port, protocol, subsets by their JSON text.
struct EndpointEntry {
  boost::json::object address;
  bool ready = false;
  const boost::json::object* port = nullptr;
};
boost::json::array RepackSubsets(const std::vector<EndpointEntry>& entries);

// Kubernetes' truncateEndpoints: beyond 1000 addresses keep 1000, ready ones first, spread
// over the subsets in proportion. True if anything was cut.
bool TruncateSubsets(boost::json::array& subsets);

}  // namespace sampan::controllers
