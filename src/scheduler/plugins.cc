#include "scheduler/plugins.h"

#include <algorithm>
#include <cstdlib>

#include "api/labels.h"
#include "scheduler/json_view.h"
#include "scheduler/volume_binding.h"

namespace sampan::scheduler {
namespace json = boost::json;
using namespace internal;

namespace {

bool ToleratedBy(const json::array* tolerations, const json::object& taint) {
  if (!tolerations) return false;
  for (const auto& t : *tolerations)
    if (t.is_object() && Tolerates(t.as_object(), taint)) return true;
  return false;
}

std::string Label(const json::object& node, const std::string& key, bool* present) {
  const json::object* labels = client::MetaObject(node, "labels");
  auto* v = labels ? labels->if_contains(key) : nullptr;
  *present = v && v->is_string();
  return *present ? std::string(v->as_string()) : std::string();
}

// One NodeSelectorRequirement against a value (from a label or a field).

class NodeUnschedulable final : public FilterPlugin {
 public:
  std::string_view name() const override { return "NodeUnschedulable"; }
  std::vector<std::string> Filter(const PodInfo& pod, const NodeInfo& node,
                                  const CycleState&) const override {
    if (!node.unschedulable) return {};
    static const Taint kTaint{"node.kubernetes.io/unschedulable", "", "NoSchedule"};
    if (pod.Tolerates(kTaint)) return {};
    return {"node(s) were unschedulable"};
  }
};

class NodeName final : public FilterPlugin {
 public:
  std::string_view name() const override { return "NodeName"; }
  bool SkipFilter(const PodInfo& pod, const CycleState&) const override {
    return pod.node_name.empty();
  }
  std::vector<std::string> Filter(const PodInfo& pod, const NodeInfo& node,
                                  const CycleState&) const override {
    if (pod.node_name.empty() || pod.node_name == node.name) return {};
    return {"node(s) didn't match the requested node name"};
  }
};

class TaintTolerationFilter final : public FilterPlugin {
 public:
  std::string_view name() const override { return "TaintToleration"; }
  std::vector<std::string> Filter(const PodInfo& pod, const NodeInfo& node,
                                  const CycleState&) const override {
    for (const Taint& t : node.taints) {
      if (t.effect != "NoSchedule" && t.effect != "NoExecute") continue;
      if (pod.Tolerates(t)) continue;
      return {"node(s) had untolerated taint {" + t.key + ": " + t.value + "}"};
    }
    return {};
  }
};

class NodeAffinityFilter final : public FilterPlugin {
 public:
  std::string_view name() const override { return "NodeAffinity"; }
  bool SkipFilter(const PodInfo& pod, const CycleState&) const override {
    return pod.node_selector.empty() && !pod.required_node_affinity;
  }
  std::vector<std::string> Filter(const PodInfo& pod, const NodeInfo& node,
                                  const CycleState&) const override {
    static const std::vector<std::string> kFail{
        "node(s) didn't match Pod's node affinity/selector"};
    for (const auto& [k, v] : pod.node_selector) {
      const json::string* have = node.LabelValue(k);
      if (!have || *have != v) return kFail;
    }
    if (!pod.required_node_affinity) return {};
    const json::array* terms = Arr(pod.required_node_affinity, "nodeSelectorTerms");
    if (!terms) return kFail;
    for (const auto& t : *terms)
      if (t.is_object() && TermMatches(t.as_object(), *node.node)) return {};
    return kFail;
  }
};

class NodePorts final : public FilterPlugin {
 public:
  std::string_view name() const override { return "NodePorts"; }
  bool SkipFilter(const PodInfo& pod, const CycleState&) const override {
    return pod.host_ports.empty();
  }
  std::vector<std::string> Filter(const PodInfo& pod, const NodeInfo& node,
                                  const CycleState&) const override {
    const auto& want = pod.host_ports;
    if (want.empty()) return {};
    for (const auto& [key, other] : node.pods) {
      for (const auto& used : other->host_ports) {
        for (const auto& w : want) {
          if (w.port != used.port || w.protocol != used.protocol) continue;
          if (w.ip == used.ip || w.ip == "0.0.0.0" || used.ip == "0.0.0.0")
            return {"node(s) didn't have free ports for the requested pod ports"};
        }
      }
    }
    return {};
  }
};

class NodeResourcesFit final : public FilterPlugin {
 public:
  std::string_view name() const override { return "NodeResourcesFit"; }
  std::vector<std::string> Filter(const PodInfo& pod, const NodeInfo& node,
                                  const CycleState&) const override {
    std::vector<std::string> why;
    if (node.pod_count + 1 > node.allowed_pods) why.push_back("Too many pods");
    const Resources& r = pod.requests;
    if (r.milli_cpu > 0 && r.milli_cpu > node.allocatable.milli_cpu - node.requested.milli_cpu)
      why.push_back("Insufficient cpu");
    if (r.memory > 0 && r.memory > node.allocatable.memory - node.requested.memory)
      why.push_back("Insufficient memory");
    if (r.ephemeral_storage > 0 &&
        r.ephemeral_storage > node.allocatable.ephemeral_storage - node.requested.ephemeral_storage)
      why.push_back("Insufficient ephemeral-storage");
    for (const auto& [k, v] : r.scalar) {
      if (v <= 0) continue;
      auto a = node.allocatable.scalar.find(k);
      auto u = node.requested.scalar.find(k);
      int64_t free = (a == node.allocatable.scalar.end() ? 0 : a->second) -
                     (u == node.requested.scalar.end() ? 0 : u->second);
      if (v > free) why.push_back("Insufficient " + k);
    }
    return why;
  }
};

class TaintTolerationScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return "TaintToleration"; }
  int64_t weight() const override { return 3; }
  int64_t Score(const PodInfo& pod, const NodeInfo& node, const CycleState& state) const override {
    int64_t count = 0;
    for (const Taint& t : node.taints) {
      if (t.effect != "PreferNoSchedule") continue;
      // Only tolerations that can apply to PreferNoSchedule count.
      bool tolerated = false;
      for (const auto& tol : pod.tolerations)
        if ((tol.effect.empty() || tol.effect == "PreferNoSchedule") && tol.Tolerates(t))
          tolerated = true;
      if (!tolerated) ++count;
    }
    return count;
  }
  // Fewer intolerable taints is better: the node with the most gets 0.
  void Normalize(const PodInfo&, const std::vector<const NodeInfo*>&, const CycleState&,
                 std::vector<int64_t>& s) const override {
    int64_t max = s.empty() ? 0 : *std::max_element(s.begin(), s.end());
    for (auto& v : s) v = max == 0 ? 100 : (max - v) * 100 / max;
  }
};

class NodeAffinityScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return "NodeAffinity"; }
  int64_t weight() const override { return 2; }
  bool SkipScore(const PodInfo& pod, const CycleState&) const override {
    return !pod.preferred_node_affinity;
  }
  int64_t Score(const PodInfo& pod, const NodeInfo& node, const CycleState& state) const override {
    const json::array* prefs = pod.preferred_node_affinity;
    if (!prefs) return 0;
    int64_t sum = 0;
    for (const auto& p : *prefs) {
      if (!p.is_object()) continue;
      const json::object* term = Obj(&p.as_object(), "preference");
      if (term && TermMatches(*term, *node.node)) sum += Int(&p.as_object(), "weight");
    }
    return sum;
  }
  void Normalize(const PodInfo&, const std::vector<const NodeInfo*>&, const CycleState&,
                 std::vector<int64_t>& s) const override {
    int64_t max = s.empty() ? 0 : *std::max_element(s.begin(), s.end());
    if (max <= 0) return;
    for (auto& v : s) v = v * 100 / max;
  }
};

// (allocatable − requested)·100/allocatable, 0 when over-committed.
int64_t LeastAllocatedOne(int64_t requested, int64_t allocatable) {
  if (allocatable <= 0 || requested > allocatable) return 0;
  return (allocatable - requested) * 100 / allocatable;
}

class LeastAllocated final : public ScorePlugin {
 public:
  std::string_view name() const override { return "NodeResourcesFit"; }
  int64_t weight() const override { return 1; }
  int64_t Score(const PodInfo& pod, const NodeInfo& node, const CycleState& state) const override {
    int64_t cpu =
        LeastAllocatedOne(node.non_zero_requested.milli_cpu + pod.non_zero_requests.milli_cpu,
                          node.allocatable.milli_cpu);
    int64_t mem = LeastAllocatedOne(node.non_zero_requested.memory + pod.non_zero_requests.memory,
                                    node.allocatable.memory);
    return (cpu + mem) / 2;
  }
};

class BalancedAllocation final : public ScorePlugin {
 public:
  std::string_view name() const override { return "NodeResourcesBalancedAllocation"; }
  int64_t weight() const override { return 1; }
  int64_t Score(const PodInfo& pod, const NodeInfo& node, const CycleState& state) const override {
    auto frac = [](int64_t req, int64_t alloc) {
      if (alloc <= 0) return 1.0;
      return std::min(1.0, static_cast<double>(req) / static_cast<double>(alloc));
    };
    double c = frac(node.non_zero_requested.milli_cpu + pod.non_zero_requests.milli_cpu,
                    node.allocatable.milli_cpu);
    double m = frac(node.non_zero_requested.memory + pod.non_zero_requests.memory,
                    node.allocatable.memory);
    double std_dev = std::abs(c - m) / 2;  // standard deviation of two values
    return static_cast<int64_t>((1 - std_dev) * 100);
  }
};

}  // namespace

bool Tolerates(const json::object& tol, const json::object& taint) {
  std::string effect = Str(&tol, "effect");
  if (!effect.empty() && effect != Str(&taint, "effect")) return false;
  std::string key = Str(&tol, "key");
  std::string op = Str(&tol, "operator");
  if (op.empty()) op = "Equal";
  if (key.empty()) return op == "Exists";  // empty key + Exists tolerates everything
  if (key != Str(&taint, "key")) return false;
  if (op == "Exists") return true;
  return op == "Equal" && Str(&tol, "value") == Str(&taint, "value");
}

bool MatchesNodeSelectorAndAffinity(const json::object& pod, const json::object& node) {
  const json::object* spec = Obj(&pod, "spec");
  if (const json::object* sel = Obj(spec, "nodeSelector")) {
    for (const auto& [k, v] : *sel) {
      bool present = false;
      std::string have = Label(node, std::string(k), &present);
      if (!present || !v.is_string() || have != v.as_string()) return false;
    }
  }
  const json::object* required = Obj(Obj(Obj(spec, "affinity"), "nodeAffinity"),
                                     "requiredDuringSchedulingIgnoredDuringExecution");
  if (!required) return true;
  const json::array* terms = Arr(required, "nodeSelectorTerms");
  if (!terms) return false;
  for (const auto& t : *terms)
    if (t.is_object() && TermMatches(t.as_object(), node)) return true;
  return false;
}

bool ToleratesNodeTaints(const json::object& pod, const json::object& node) {
  const json::array* taints = Arr(Obj(&node, "spec"), "taints");
  if (!taints) return true;
  const json::array* tols = Arr(Obj(&pod, "spec"), "tolerations");
  for (const auto& t : *taints) {
    if (!t.is_object()) continue;
    std::string effect = Str(&t.as_object(), "effect");
    if (effect != "NoSchedule" && effect != "NoExecute") continue;
    if (!ToleratedBy(tols, t.as_object())) return false;
  }
  return true;
}

bool TermMatches(const json::object& term, const json::object& node) {
  static const json::object kNoLabels;
  const json::object* labels = client::MetaObject(node, "labels");
  return api::NodeSelectorTermMatches(term, labels ? *labels : kNoLabels,
                                      client::MetaString(node, "name"));
}

std::unique_ptr<FilterPlugin> NewNodeUnschedulable() {
  return std::make_unique<NodeUnschedulable>();
}
std::unique_ptr<FilterPlugin> NewNodeName() { return std::make_unique<NodeName>(); }
std::unique_ptr<FilterPlugin> NewTaintTolerationFilter() {
  return std::make_unique<TaintTolerationFilter>();
}
std::unique_ptr<FilterPlugin> NewNodeAffinityFilter() {
  return std::make_unique<NodeAffinityFilter>();
}
std::unique_ptr<FilterPlugin> NewNodePorts() { return std::make_unique<NodePorts>(); }
std::unique_ptr<FilterPlugin> NewNodeResourcesFit() { return std::make_unique<NodeResourcesFit>(); }
std::unique_ptr<ScorePlugin> NewTaintTolerationScore() {
  return std::make_unique<TaintTolerationScore>();
}
std::unique_ptr<ScorePlugin> NewNodeAffinityScore() {
  return std::make_unique<NodeAffinityScore>();
}
std::unique_ptr<ScorePlugin> NewLeastAllocated() { return std::make_unique<LeastAllocated>(); }
std::unique_ptr<ScorePlugin> NewBalancedAllocation() {
  return std::make_unique<BalancedAllocation>();
}

std::unique_ptr<Framework> DefaultFramework(std::shared_ptr<const VolumeObjects> volumes) {
  auto fw = std::make_unique<Framework>();
  fw->AddFilter(NewNodeUnschedulable());
  fw->AddFilter(NewNodeName());
  fw->AddFilter(NewTaintTolerationFilter());
  fw->AddFilter(NewNodeAffinityFilter());
  fw->AddFilter(NewNodePorts());
  fw->AddFilter(NewNodeResourcesFit());
  if (volumes) fw->AddFilter(NewVolumeBinding(std::move(volumes)));
  fw->AddFilter(NewPodTopologySpreadFilter());
  fw->AddFilter(NewInterPodAffinityFilter());
  fw->AddScore(NewTaintTolerationScore());
  fw->AddScore(NewNodeAffinityScore());
  fw->AddScore(NewLeastAllocated());
  fw->AddScore(NewPodTopologySpreadScore());
  fw->AddScore(NewInterPodAffinityScore());
  fw->AddScore(NewBalancedAllocation());
  return fw;
}

}  // namespace sampan::scheduler
