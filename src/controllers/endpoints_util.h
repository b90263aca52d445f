// What the Endpoints and EndpointSlice controllers share (Kubernetes keeps the same rules in
// k8s.io/endpointslice/util): which Services they manage, which pods of a Service count,
// how a service port maps onto a pod, which Services a pod change concerns, and the
// endpoints.kubernetes.io/last-change-trigger-time bookkeeping.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/informer.h"

namespace sampan::controllers::endpoints {

inline constexpr char kLastChangeTriggerTime[] = "endpoints.kubernetes.io/last-change-trigger-time";
inline constexpr char kOverCapacity[] = "endpoints.kubernetes.io/over-capacity";
inline constexpr char kHeadlessLabel[] = "service.kubernetes.io/headless";
inline constexpr char kServiceNameLabel[] = "kubernetes.io/service-name";
inline constexpr char kManagedByLabel[] = "endpointslice.kubernetes.io/managed-by";
// Endpoints of the leader-election record of old components: never treated as leftovers.
inline constexpr char kLeaderAnnotation[] = "control-plane.alpha.kubernetes.io/leader";

// The Services both controllers fill: a spec.selector with at least one label and a type
// other than ExternalName. (Kubernetes tests for a nil selector; an empty one does not
// survive its storage round trip, so it reads as nil there too.)
bool ManagesService(const boost::json::object& svc);
// spec.selector (a plain label map) matches `labels` (metadata.labels, may be null).
bool SelectorMatches(const boost::json::object& selector, const boost::json::object* labels);
// clusterIP set and not "None" (otherwise the Service is headless for these controllers).
bool IsServiceIpSet(const boost::json::object& svc);

// The pod's IPs as the API would report them in status.podIPs: podIPs, unless status.podIP
// is set and differs from podIPs[0] (then [podIP]), or [podIP] when podIPs is empty
// (Kubernetes' PodStatus conversion).
std::vector<std::string> PodIps(const boost::json::object& pod);
// `ip` as inet_ntop writes it, or "" when it is not an address; `*v6` tells the family.
std::string NormalizeIp(const std::string& ip, bool* v6);
// Not Succeeded/Failed, has an IP, and not terminating unless `include_terminating`.
bool ShouldPodBeInEndpoints(const boost::json::object& pod, bool include_terminating);
// The pod's hostname goes into its endpoint when spec.subdomain names the Service.
bool ShouldSetHostname(const boost::json::object& pod, const boost::json::object& svc);
// The pod port a service port reaches: targetPort as a number, or the container port of
// that name and the service port's protocol (app containers, then restartable init
// containers). nullopt when the pod has no such port.
std::optional<int64_t> FindPort(const boost::json::object& pod,
                                const boost::json::object& service_port);
// {kind: Pod, namespace, name, uid}.
boost::json::object PodTargetRef(const boost::json::object& pod);

// Keys ("ns/name") of the Services in `ns` whose selector matches `labels`. `services` needs
// the "namespace" index.
std::set<std::string> ServicesSelecting(const client::Informer& services, const std::string& ns,
                                        const boost::json::object* labels);
// The Services a pod update concerns (Kubernetes' GetPodUpdateProjectionKey +
// GetServicesToUpdate): none when nothing that endpoints show changed; those selecting the
// new labels; when the labels changed, also those selecting the old ones (all of them if the
// pod changed too, else only those that gained or lost the pod).
std::set<std::string> ServicesForPodUpdate(const client::Informer& services,
                                           const boost::json::object& old_pod,
                                           const boost::json::object& new_pod);

// Pod event handlers that queue (through `queue`, a work queue) the keys of the Services each
// pod event concerns: both controllers follow pods the same way.
template <typename Queue>
client::EventHandlers PodEventHandlers(const client::Informer* services, Queue* queue) {
  auto add = [queue](const std::set<std::string>& keys) {
    for (const std::string& k : keys) queue->Add(k);
  };
  auto selecting = [services, add](const client::ObjectPtr& p) {
    const boost::json::value* meta = p->if_contains("metadata");
    const boost::json::object* labels = nullptr;
    if (meta && meta->is_object()) {
      if (const boost::json::value* l = meta->as_object().if_contains("labels");
          l && l->is_object()) {
        labels = &l->as_object();
      }
    }
    add(ServicesSelecting(*services, client::MetaString(*p, "namespace"), labels));
  };
  return client::EventHandlers{
      selecting,
      [services, add](const client::ObjectPtr& o, const client::ObjectPtr& p) {
        if (o != p) add(ServicesForPodUpdate(*services, *o, *p));
      },
      selecting};
}

// "namespace" index function for informers.
std::vector<std::string> NamespaceIndex(const boost::json::object& obj);

// RFC 3339 with the nanoseconds Go's RFC3339Nano keeps (trailing zeros dropped), UTC.
std::string FormatRfc3339Nano(int64_t unix_nanos);

// Kubernetes' TriggerTimeTracker: the value of last-change-trigger-time for one sync of a
// Service: its creationTimestamp the first time the Service is seen, afterwards the earliest
// of the trigger times that moved since the previous sync (a pod's Ready condition
// lastTransitionTime, the Service's creationTimestamp); "" when none moved (the annotation is
// then dropped). Thread-safe; one sync per Service at a time (the work queue sees to it).
class TriggerTimeTracker {
 public:
  std::string Compute(const boost::json::object& svc, const std::vector<client::ObjectPtr>& pods);
  void Forget(const std::string& service_key);

 private:
  struct State {
    int64_t service_time = 0;
    std::map<std::string, int64_t> pod_times;  // pod name → Ready lastTransitionTime (ns)
  };
  std::mutex mu_;
  std::map<std::string, State> states_;  // guarded
};

}  // namespace sampan::controllers::endpoints
