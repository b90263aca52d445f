// The scheduler's incremental view of the cluster: one NodeInfo per node with the
// pods assigned to it, updated on node and pod events (never rebuilt per pod), plus
// the pods the scheduler has assumed (bound, not yet seen back from the API).
// An assumed pod counts at once; the informer's copy replaces it when it arrives;
// Forget() drops it when binding failed.
//
// Thread-safe: every method takes the cache's lock; Schedule() holds it while the
// framework runs on the node list, so event handlers wait for one scheduling cycle
// at most.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "scheduler/framework.h"
#include "scheduler/preemption.h"

namespace sampan::scheduler {

class Cache {
 public:
  void UpsertNode(const ObjectPtr& node);
  void RemoveNode(const std::string& name);
  // An assigned, non-terminal pod as the API has it (replaces an assumed copy).
  void UpsertPod(const ObjectPtr& pod);
  // The pod went away or finished: its resources are free again.
  void RemovePod(const std::string& key);
  // `pod` with spec.nodeName set to the chosen node.
  void AssumePod(const ObjectPtr& pod);
  // The same for a pending pod as its cycle parsed it, placed on `node` (no copy of the object
  // with spec.nodeName set is needed: the cache reads neither).
  void AssumePod(PodInfoPtr pod, const std::string& node);
  // Binding failed: drop the assumed pod (no-op if the informer's copy replaced it).
  void ForgetPod(const std::string& key);
  bool IsAssumed(const std::string& key) const;

  // Nominations (status.nominatedNodeName of pods not bound yet): `pod` with a nominated node
  // holds room there for the filters of other pods of its priority or lower; without one (or
  // bound) it holds none.
  void UpdateNomination(const ObjectPtr& pod);
  void RemoveNomination(const std::string& key);
  // Keys of the pods nominated to `node` whose priority is below `priority`.
  std::vector<std::string> LowerPriorityNominated(const std::string& node, int64_t priority) const;

  void UpsertNamespace(const ObjectPtr& ns);
  void RemoveNamespace(const std::string& name);

  // Runs the framework for `pod` on the current node list (nodes with a Node object
  // only) under the lock.
  // When the pod fits nowhere and `preemption` is given, also looks for pods to preempt
  // (preemption.h) on the same view.
  ScheduleResult Schedule(Framework& fw, const PodInfo& pod,
                          PreemptionResult* preemption = nullptr);
  size_t node_count() const;
  size_t pod_count() const;

 private:
  struct PodEntry {
    std::string node;
    bool assumed = false;
  };
  NodeInfo& NodeLocked(const std::string& name);
  void RemovePodLocked(const std::string& key);
  void AddPodLocked(const ObjectPtr& pod, bool assumed);
  void AddPodLocked(PodInfoPtr info, const std::string& node, bool assumed);

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<NodeInfo>> nodes_;  // guarded
  std::vector<const NodeInfo*> list_;                                 // guarded; nodes with objects
  bool list_dirty_ = true;                                            // guarded
  std::unordered_map<std::string, PodEntry> pods_;                    // guarded
  std::unordered_map<std::string, ObjectPtr> namespaces_;             // guarded
  std::unordered_map<std::string, PodInfoPtr> nominated_;             // guarded; by pod key
  int64_t pods_with_affinity_ = 0;                                    // guarded
};

}  // namespace sampan::scheduler
