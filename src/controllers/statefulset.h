// The StatefulSet controller: pods "<set>-<ordinal>" (ordinals from
// spec.ordinals.start) with stable identity — hostname = pod name, subdomain =
// spec.serviceName, labels statefulset.kubernetes.io/pod-name,
// apps.kubernetes.io/pod-index and controller-revision-hash (the revision's
// name) — and one PersistentVolumeClaim per volumeClaimTemplate
// ("<template>-<set>-<ordinal>", created before the pod, kept or owned per
// persistentVolumeClaimRetentionPolicy).
//
// OrderedReady (default): pods are created one at a time in ordinal order, each
// after the previous is Running and Ready, and removed highest ordinal first,
// one at a time. Parallel: all at once. Failed pods are deleted and recreated.
// RollingUpdate: from the highest ordinal down to the partition, at most
// maxUnavailable (default 1) pods unavailable at a time, each replaced by one of
// the update revision; OnDelete: pods take the update revision when recreated.
// ControllerRevisions (daemonset_history.h) hold the history for `kubectl rollout
// history|undo statefulset`. Status: replicas, readyReplicas, availableReplicas,
// currentReplicas, updatedReplicas, currentRevision, updateRevision,
// observedGeneration, collisionCount.
//
// Orphan pods named "<set>-<ordinal>" that match the selector are adopted; pods it
// controls whose labels stop matching are released (claim.h).
//
// ControllerRevisions are claimed like pods: orphans matching the selector (e.g. the history of a
// set deleted with --cascade=orphan and made again) are adopted, owned ones whose labels stop
// matching are released.
//
// Not done: fixing the identity/storage of an
// existing pod, PVC deletion by the retention policy beyond setting ownerReferences
// (the garbage collector does the deleting).
//
// Threading as ReplicaSetController.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "api/labels.h"
#include "client/events.h"
#include "client/shared_informers.h"
#include "client/workqueue.h"
#include "util/clock.h"

namespace sampan::controllers {

class StatefulSetController {
 public:
  StatefulSetController(client::SharedInformers* informers, client::EventRecorder* recorder,
                        const Clock* clock = &Clock::Real());
  ~StatefulSetController();
  void Run(int workers);
  void Stop();
  Status Sync(const std::string& key);  // public for tests

 private:
  struct Plan;
  Status Manage(const boost::json::object& set, Plan& plan);
  // The set's ControllerRevisions, oldest first, once orphans matching `selector` were adopted
  // and its own that stopped matching released.
  Result<std::vector<client::ObjectPtr>> ClaimHistory(const boost::json::object& set,
                                                      const api::LabelSelector& selector);
  Status CreateClaims(const boost::json::object& set, int64_t ordinal);
  Status CreatePod(const boost::json::object& set, const boost::json::object& tmpl,
                   const std::string& revision, int64_t ordinal);
  Status DeletePod(const boost::json::object& set, const boost::json::object& pod);

  client::RestClient* client_;
  client::EventRecorder* recorder_;
  const Clock* clock_;
  client::Informer* sets_;
  client::Informer* pods_;
  client::Informer* revisions_;
  client::WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

// The ordinal in a pod name "<set>-<n>", or -1.
int64_t StatefulPodOrdinal(const std::string& set_name, const std::string& pod_name);
// The pod of `ordinal` built from `tmpl` (a pod template) at `revision`.
boost::json::object NewStatefulPod(const boost::json::object& set, const boost::json::object& tmpl,
                                   const std::string& revision, int64_t ordinal);

}  // namespace sampan::controllers
