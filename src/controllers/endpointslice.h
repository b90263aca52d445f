// Kubernetes' EndpointSlice controller (kube-controller-manager's "endpointslice"): the
// discovery.k8s.io/v1 EndpointSlices of every Service that has a selector and is not of type
// ExternalName, labelled kubernetes.io/service-name=<service> and
// endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io (plus the Service's
// own labels and service.kubernetes.io/headless when it has no cluster IP), named
// "<service>-<random>", owned by the Service (controller, blockOwnerDeletion).
//  - One set of slices per address type of the Service (spec.ipFamilies; without them the
//    family of its clusterIP, or both for a headless Service) and per distinct port list;
//    at most `max_endpoints_per_slice` (100) endpoints in a slice.
//  - Every pod the selector picks that has an IP and is not Succeeded/Failed is an endpoint,
//    terminating ones included: {addresses, conditions {ready, serving, terminating},
//    hostname, targetRef, nodeName, zone (the Node's topology.kubernetes.io/zone)}; serving =
//    the pod's Ready condition, ready = serving and not terminating (always true with
//    publishNotReadyAddresses). A pod whose Node does not exist is left out (and the Service
//    retried) unless the Service publishes not-ready addresses.
//  - Reconciling follows Kubernetes' reconciler: endpoints stay in the slice that holds them,
//    changed slices are refilled first, the rest go into the unchanged slice that they fill
//    best or into new slices; slices left empty are deleted (or reused instead of creating
//    one); a Service without endpoints keeps one empty placeholder slice; unchanged slices
//    are not written. Written slices carry endpoints.kubernetes.io/last-change-trigger-time.
//  - Slices managed by someone else (another managed-by value) are never touched.
//  - A tracker of the resourceVersions this controller wrote tells its own slice events from
//    others' and refuses to act on an informer cache that has not caught up with them.
//  - When the Service is gone, its slices are deleted here: sampan's garbage collector does
//    not follow EndpointSlices (Kubernetes leaves this to its GC through ownerReferences).
// Not done: topology-aware hints and trafficDistribution.
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

inline constexpr char kEndpointSliceControllerName[] = "endpointslice-controller.k8s.io";

class EndpointSliceController {
 public:
  EndpointSliceController(client::SharedInformers* informers, client::EventRecorder* recorder,
                          int max_endpoints_per_slice = 100);
  ~EndpointSliceController();
  void Run(int workers);
  void Stop();
  // Brings the slices of one Service (key "ns/name") up to date. Public for tests.
  Status Sync(const std::string& key);

 private:
  // resourceVersions of the slices this controller wrote, per Service (Kubernetes'
  // EndpointSliceTracker, which keeps generations; EndpointSlices have no spec, so here the
  // resourceVersion, a store revision, plays that part). -1 = deletion expected.
  class Tracker {
   public:
    bool Has(const boost::json::object& slice);
    bool ShouldSync(const boost::json::object& slice);
    bool Stale(const boost::json::object& svc, const std::vector<client::ObjectPtr>& slices);
    void Update(const boost::json::object& slice);
    void ExpectDeletion(const boost::json::object& slice);
    bool HandleDeletion(const boost::json::object& slice);  // false if not expected
    void DeleteService(const std::string& key);

   private:
    std::mutex mu_;
    std::map<std::string, std::map<std::string, int64_t>> by_service_;  // guarded
    std::map<std::string, std::string> service_uids_;                   // guarded
  };
  struct Desired;
  struct Plan;

  void EnqueueForSlice(const boost::json::object& slice);
  std::vector<client::ObjectPtr> ManagedSlices(const std::string& key) const;
  Status DeleteSlicesOfGoneService(const std::string& key);
  Status Reconcile(const boost::json::object& svc, const std::vector<client::ObjectPtr>& pods,
                   const std::vector<client::ObjectPtr>& slices, const std::string& trigger);
  Status ReconcileAddressType(const boost::json::object& svc,
                              const std::vector<client::ObjectPtr>& pods,
                              const std::vector<client::ObjectPtr>& existing,
                              const std::string& trigger, const std::string& address_type);
  void ReconcilePorts(const boost::json::object& svc,
                      const std::vector<const boost::json::object*>& existing, Desired& desired,
                      Plan& plan);
  Status Finalize(const boost::json::object& svc, Plan& plan, const std::string& trigger);
  Status DeleteSlice(const boost::json::object& svc, const boost::json::object& slice);

  client::RestClient* client_;
  client::EventRecorder* recorder_;
  const size_t max_per_slice_;
  client::Informer* services_;
  client::Informer* pods_;
  client::Informer* nodes_;
  client::Informer* slices_;
  client::WorkQueue queue_;
  endpoints::TriggerTimeTracker trigger_times_;
  Tracker tracker_;
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

}  // namespace sampan::controllers
