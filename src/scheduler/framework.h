// The scheduling framework: node snapshots, filter and score plugins, and the
// algorithm that picks a node for one pod. Pure computation over JSON objects
// (no I/O), so it is unit-tested on fake node/pod sets; scheduler.h drives it.
//
// Plugins are registered explicitly in DefaultFramework() (a static library
// would silently drop self-registering plugins).
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

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
};

// The effective requests of a pod: max(Σ containers, each init container) + overhead.
// `non_zero` substitutes 100m CPU / 200 MiB for unset CPU/memory (used for scoring).
Resources PodRequests(const boost::json::object& pod, bool non_zero = false);

struct PodInfo {
  ObjectPtr pod;
  Resources requests;
  Resources non_zero_requests;
  explicit PodInfo(ObjectPtr p);
};

// One node and the pods assigned (or assumed) to it.
struct NodeInfo {
  ObjectPtr node;
  std::string name;
  Resources allocatable;
  int64_t allowed_pods = 0;
  Resources requested;
  Resources non_zero_requested;
  int64_t pod_count = 0;
  std::vector<ObjectPtr> pods;
  explicit NodeInfo(ObjectPtr n);
  void AddPod(const ObjectPtr& pod);
};

class FilterPlugin {
 public:
  virtual ~FilterPlugin() = default;
  virtual std::string_view name() const = 0;
  // Empty if the pod fits the node; otherwise the reasons (Kubernetes' wording).
  virtual std::vector<std::string> Filter(const PodInfo& pod, const NodeInfo& node) const = 0;
};

class ScorePlugin {
 public:
  virtual ~ScorePlugin() = default;
  virtual std::string_view name() const = 0;
  virtual int64_t weight() const = 0;
  // A raw score for the node; Normalize maps all raw scores to 0..100.
  virtual int64_t Score(const PodInfo& pod, const NodeInfo& node) const = 0;
  virtual void Normalize(const PodInfo& pod, std::vector<int64_t>& scores) const {}
};

struct ScheduleResult {
  std::string node;  // chosen node; empty when the pod fits nowhere
  // For a failure: "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."
  std::string message;
  int evaluated = 0;
  int feasible = 0;
};

class Framework {
 public:
  void AddFilter(std::unique_ptr<FilterPlugin> p) { filters_.push_back(std::move(p)); }
  void AddScore(std::unique_ptr<ScorePlugin> p) { scores_.push_back(std::move(p)); }
  // Filters every node (first failing plugin per node gives its reasons), scores
  // the feasible ones (Σ weight·score), ties broken at random.
  ScheduleResult Schedule(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes);
  const std::vector<std::unique_ptr<FilterPlugin>>& filters() const { return filters_; }
  const std::vector<std::unique_ptr<ScorePlugin>>& scores() const { return scores_; }

 private:
  std::vector<std::unique_ptr<FilterPlugin>> filters_;
  std::vector<std::unique_ptr<ScorePlugin>> scores_;
  std::mt19937_64 rng_{std::random_device{}()};
};

// The default plugin set, in Kubernetes' order: NodeUnschedulable, NodeName,
// TaintToleration, NodeAffinity (incl. nodeSelector), NodePorts, NodeResourcesFit;
// scores TaintToleration (3), NodeAffinity (2), NodeResourcesFit/LeastAllocated (1),
// NodeResourcesBalancedAllocation (1).
std::unique_ptr<Framework> DefaultFramework();

// "0/N nodes are available: <sorted "count reason" list>." from per-reason node counts.
std::string FailureMessage(int total_nodes, const std::map<std::string, int>& reason_counts);

}  // namespace sampan::scheduler
