// The scheduling framework: node and pod views, filter and score plugins with
// their per-pod pre-computation (PreFilter/PreScore), and the algorithm that
// picks a node for one pod. Pure computation over JSON objects (no I/O), so it
// is unit-tested on fake node/pod sets; cache.h keeps the NodeInfos current and
// scheduler.h drives it.
//
// Plugins are registered explicitly in DefaultFramework() (a static library
// would silently drop self-registering plugins).
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/labels.h"
#include "client/informer.h"
#include "util/status.h"

namespace sampan::scheduler {

using client::ObjectPtr;

struct Resources {
  int64_t milli_cpu = 0;
  int64_t memory = 0;                     // bytes
  int64_t ephemeral_storage = 0;          // bytes
  std::map<std::string, int64_t> scalar;  // extended resources (e.g. nvidia.com/gpu), by value
  void Add(const Resources& o);
  void Sub(const Resources& o);
};

// The effective requests of a pod: max(Σ containers, each init container) + overhead.
// `non_zero` substitutes 100m CPU / 200 MiB for unset CPU/memory (used for scoring).
Resources PodRequests(const boost::json::object& pod, bool non_zero = false);

struct Taint {
  std::string key, value, effect;
};
struct Toleration {
  std::string key, op, value, effect;  // op "Equal" or "Exists"
  bool Tolerates(const Taint& t) const;
};

struct HostPort {
  std::string ip, protocol;
  int64_t port = 0;
};

// One (anti-)affinity term of a pod, parsed: which pods it selects and where.
struct AffinityTerm {
  api::LabelSelector selector;
  bool selector_set = false;            // a null labelSelector matches no pod
  std::vector<std::string> namespaces;  // explicit list
  bool has_namespace_selector = false;
  api::LabelSelector namespace_selector;  // {} = every namespace
  std::string topology_key;
  int64_t weight = 0;  // preferred terms
};

// A pod as the plugins read it: the object plus what is parsed once per pod.
struct PodInfo {
  ObjectPtr pod;
  std::string key, ns;
  Resources requests;
  Resources non_zero_requests;
  std::vector<HostPort> host_ports;
  std::vector<Toleration> tolerations;
  std::string node_name;  // spec.nodeName asked for (NodeName plugin)
  std::vector<std::pair<std::string, std::string>> node_selector;
  const boost::json::object* required_node_affinity = nullptr;  // inside `pod`
  const boost::json::array* preferred_node_affinity = nullptr;  // inside `pod`
  bool has_spread_constraints = false;
  std::vector<AffinityTerm> required_affinity, required_anti_affinity;
  std::vector<AffinityTerm> preferred_affinity, preferred_anti_affinity;
  explicit PodInfo(ObjectPtr p);
  const boost::json::value* labels() const;  // metadata.labels or nullptr
  bool Tolerates(const Taint& t) const;
  bool HasAffinity() const {
    return !required_affinity.empty() || !required_anti_affinity.empty() ||
           !preferred_affinity.empty() || !preferred_anti_affinity.empty();
  }
};
using PodInfoPtr = std::shared_ptr<const PodInfo>;

// One node and the pods assigned (or assumed) to it.
struct NodeInfo {
  // What every filter and score reads per node comes first, together (a cycle walks hundreds
  // of NodeInfos: their first cache lines are what it waits for; see PrefetchNodeInfo).
  bool unschedulable = false;  // parsed from `node` by SetNode, as are taints..allowed_pods
  std::vector<Taint> taints;
  int64_t pod_count = 0;
  int64_t allowed_pods = 0;
  Resources allocatable;
  Resources requested;
  Resources non_zero_requested;
  ObjectPtr node;  // null while only pods name this node (it is not known yet)
  std::string name;
  const boost::json::object* labels = nullptr;       // metadata.labels inside `node`
  std::unordered_map<std::string, PodInfoPtr> pods;  // by pod key
  int pods_with_affinity = 0;
  explicit NodeInfo(ObjectPtr n);
  NodeInfo() = default;
  void SetNode(ObjectPtr n);
  void AddPod(const ObjectPtr& pod);  // convenience for tests
  void AddPod(PodInfoPtr pod);
  void RemovePod(const std::string& key);
  // The node's label value for `key`; false if absent.
  bool Label(const std::string& key, std::string* value) const;
  // The same without a copy; nullptr if absent.
  const boost::json::string* LabelValue(std::string_view key) const;
};

// Asks the CPU to fetch the hot part of a NodeInfo that will be read soon.
inline void PrefetchNodeInfo(const NodeInfo* n) {
  const char* p = reinterpret_cast<const char*>(n);
  const char* end = reinterpret_cast<const char*>(&n->non_zero_requested.scalar);
  for (; p < end; p += 64) __builtin_prefetch(p);
  __builtin_prefetch(end - 1);
}

// Pods nominated to a node by preemption (status.nominatedNodeName) and not bound yet, by node
// name. Filters count those of the scheduled pod's priority or higher as if they ran there (in
// the node's pods and, through the filters' AddPod extensions, in the pod (anti-)affinity and
// topology spread counts), so the room a preemptor waits for is not given to another pod, nor
// taken by one its presence would rule out (Kubernetes' RunFilterPluginsWithNominatedPods).
using NominatedPods = std::unordered_map<std::string, std::vector<PodInfoPtr>>;

// The pod's priority (spec.priority, 0 when unset).
int64_t PodPriority(const PodInfo& pod);

// Namespace labels for namespaceSelector terms: namespace → metadata.labels (may be null).
using NamespaceLabels = std::function<const boost::json::value*(const std::string& ns)>;

// Per-pod, per-cycle data a plugin computes before filtering or scoring.
struct StateData {
  virtual ~StateData() = default;
  // A deep copy: a simulated view (nominated pods added, preemption victims removed) changes
  // its own copy.
  virtual std::unique_ptr<StateData> Clone() const = 0;
};
class CycleState {
 public:
  CycleState() = default;
  CycleState(CycleState&&) = default;
  CycleState& operator=(CycleState&&) = default;
  void Write(std::string_view plugin, std::unique_ptr<StateData> d) {
    data_[std::string(plugin)] = std::move(d);
  }
  template <typename T>
  const T* Read(std::string_view plugin) const {
    auto it = data_.find(plugin);  // no string built: Filter reads this per node
    return it == data_.end() ? nullptr : static_cast<const T*>(it->second.get());
  }
  // For the PreFilter extensions (FilterPlugin::AddPod/RemovePod), which update their state.
  template <typename T>
  T* Mutable(std::string_view plugin) {
    auto it = data_.find(plugin);
    return it == data_.end() ? nullptr : static_cast<T*>(it->second.get());
  }
  CycleState Clone() const {
    CycleState out;
    out.namespace_labels = namespace_labels;
    for (const auto& [k, v] : data_) out.data_.emplace(k, v->Clone());
    return out;
  }
  // The cycle's namespace labels (ClusterView::namespace_labels), set by the framework for the
  // PreFilter extensions.
  NamespaceLabels namespace_labels;

 private:
  std::map<std::string, std::unique_ptr<StateData>, std::less<>> data_;
};

// What the cluster looks like to one scheduling cycle.
struct ClusterView {
  const std::vector<const NodeInfo*>& nodes;  // every node
  NamespaceLabels namespace_labels;           // may be empty (then no namespace matches a selector)
  int64_t pods_with_affinity = -1;            // over all nodes; -1 = unknown (plugins count)
};

class FilterPlugin {
 public:
  virtual ~FilterPlugin() = default;
  virtual std::string_view name() const = 0;
  // Once per pod before filtering. A non-empty reason rejects every node with it.
  virtual std::string PreFilter(const PodInfo& pod, const ClusterView& cluster,
                                CycleState& state) const {
    return "";
  }
  // Empty if the pod fits the node; otherwise the reasons (Kubernetes' wording).
  virtual std::vector<std::string> Filter(const PodInfo& pod, const NodeInfo& node,
                                          const CycleState& state) const = 0;
  // After PreFilter: true when Filter would pass every node for this pod and state (Kubernetes'
  // PreFilter Skip), so the framework need not call it. Views changed by AddPod (nominated
  // pods) run every filter.
  virtual bool SkipFilter(const PodInfo& pod, const CycleState& state) const { return false; }
  // PreFilter extensions (Kubernetes' PreFilterExtensions): in a simulated view, `other` was
  // added to / removed from `node` (already updated); bring what PreFilter wrote in `state` for
  // `pod` up to date. Plugins whose Filter reads only the node need none.
  virtual void AddPod(const PodInfo& pod, const PodInfo& other, const NodeInfo& node,
                      CycleState& state) const {}
  virtual void RemovePod(const PodInfo& pod, const PodInfo& other, const NodeInfo& node,
                         CycleState& state) const {}
};

class ScorePlugin {
 public:
  virtual ~ScorePlugin() = default;
  virtual std::string_view name() const = 0;
  virtual int64_t weight() const = 0;
  // Once per pod before scoring the feasible nodes.
  virtual void PreScore(const PodInfo& pod, const std::vector<const NodeInfo*>& feasible,
                        const ClusterView& cluster, CycleState& state) const {}
  // After PreScore: true when every node would score 0 after Normalize (Kubernetes' PreScore
  // Skip); the framework then calls neither Score nor Normalize.
  virtual bool SkipScore(const PodInfo& pod, const CycleState& state) const { return false; }
  // A raw score for the node; Normalize maps all raw scores to 0..100.
  virtual int64_t Score(const PodInfo& pod, const NodeInfo& node,
                        const CycleState& state) const = 0;
  virtual void Normalize(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes,
                         const CycleState& state, std::vector<int64_t>& scores) const {}
};

struct ScheduleResult {
  std::string node;  // chosen node; empty when the pod fits nowhere
  // For a failure: "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."
  std::string message;
  int evaluated = 0;
  int feasible = 0;
  // For a failure: each node that was filtered out and its first reason (preemption reads them);
  // empty when PreFilter rejected the pod outright.
  std::vector<std::pair<const NodeInfo*, std::string>> failures;
};

class Framework {
 public:
  void AddFilter(std::unique_ptr<FilterPlugin> p) { filters_.push_back(std::move(p)); }
  void AddScore(std::unique_ptr<ScorePlugin> p) { scores_.push_back(std::move(p)); }
  // Filters nodes (first failing plugin per node gives its reasons) from a rotating
  // start until enough feasible nodes are found (Kubernetes' adaptive
  // percentageOfNodesToScore: all below 100 nodes, else max(100, n·max(5, 50 − n/125)%)),
  // scores the feasible ones (Σ weight·score), ties broken at random. Not thread-safe.
  // A pod with status.nominatedNodeName is tried on that node first and placed there if it
  // fits (no scoring), as kube-scheduler does. `nominated` (may be null): see NominatedPods.
  ScheduleResult Schedule(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes,
                          NamespaceLabels namespace_labels = {}, int64_t pods_with_affinity = -1,
                          const NominatedPods* nominated = nullptr);
  // The filters' reasons for `node` (empty = fits), run once with the nominated pods of the
  // pod's priority or higher added to the node (if any) and once without, as Kubernetes does.
  // The filters see the nominated pods through a copy of the node and of `state` updated by
  // AddPodToView.
  std::vector<std::string> RunFilters(const PodInfo& pod, const NodeInfo& node,
                                      const CycleState& state,
                                      const NominatedPods* nominated) const;
  // A simulated change to `node` (a copy the caller owns) during `pod`'s cycle: `other` added
  // or removed there, and every filter's PreFilter state in `state` updated to match.
  void AddPodToView(const PodInfo& pod, const PodInfoPtr& other, NodeInfo& node,
                    CycleState& state) const;
  void RemovePodFromView(const PodInfo& pod, const PodInfoPtr& other, NodeInfo& node,
                         CycleState& state) const;
  const std::vector<std::unique_ptr<FilterPlugin>>& filters() const { return filters_; }
  const std::vector<std::unique_ptr<ScorePlugin>>& scores() const { return scores_; }
  // 0 = adaptive (the default); 100 = every node.
  void set_percentage_of_nodes_to_score(int p) { percentage_ = p; }

 private:
  int NumFeasibleNodesToFind(int n) const;
  // RunFilters with the filters not skipped for this pod (`active`) on the node as it is.
  std::vector<std::string> RunFiltersWith(const PodInfo& pod, const NodeInfo& node,
                                          const CycleState& state, const NominatedPods* nominated,
                                          const std::vector<const FilterPlugin*>& active) const;
  std::vector<std::unique_ptr<FilterPlugin>> filters_;
  std::vector<std::unique_ptr<ScorePlugin>> scores_;
  std::mt19937_64 rng_{std::random_device{}()};
  size_t next_start_ = 0;
  int percentage_ = 0;
};

class VolumeObjects;  // volume_binding.h

// The default plugin set, in Kubernetes' order: NodeUnschedulable, NodeName,
// TaintToleration, NodeAffinity (incl. nodeSelector), NodePorts, NodeResourcesFit,
// VolumeBinding (when `volumes` is given: volume_binding.h), PodTopologySpread,
// InterPodAffinity; scores TaintToleration (3), NodeAffinity (2),
// NodeResourcesFit/LeastAllocated (1), PodTopologySpread (2), InterPodAffinity (2),
// NodeResourcesBalancedAllocation (1).
std::unique_ptr<Framework> DefaultFramework(std::shared_ptr<const VolumeObjects> volumes = nullptr);

// "0/N nodes are available: <sorted "count reason" list>." from per-reason node counts.
std::string FailureMessage(int total_nodes, const std::map<std::string, int>& reason_counts);

}  // namespace sampan::scheduler
