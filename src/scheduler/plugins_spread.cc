// PodTopologySpread: topologySpreadConstraints as Kubernetes 1.32 applies them
// (nodeAffinityPolicy Honor and nodeTaintsPolicy Ignore by default, minDomains,
// matchLabelKeys), and the system default spreading for pods of a controller.
#include <cmath>
#include <limits>
#include <set>

#include "scheduler/json_view.h"
#include "scheduler/plugins.h"

namespace sampan::scheduler {
namespace json = boost::json;
using namespace internal;

namespace {

constexpr char kFilterKey[] = "PodTopologySpread/filter";
constexpr char kScoreKey[] = "PodTopologySpread/score";
constexpr char kName[] = "PodTopologySpread";
constexpr char kHostname[] = "kubernetes.io/hostname";
constexpr char kZone[] = "topology.kubernetes.io/zone";

struct Constraint {
  int64_t max_skew = 1;
  std::string key;
  bool hard = true;  // DoNotSchedule
  api::LabelSelector selector;
  bool selector_set = false;
  std::vector<std::pair<std::string, std::string>> extra;  // from matchLabelKeys
  int64_t min_domains = 1;
  bool honor_affinity = true;
  bool honor_taints = false;

  bool Selects(const PodInfo& p, const std::string& ns) const {
    if (!selector_set || p.ns != ns) return false;
    if (!selector.Matches(p.labels())) return false;
    const json::value* labels = p.labels();
    for (const auto& [k, v] : extra) {
      const json::value* have =
          labels && labels->is_object() ? labels->as_object().if_contains(k) : nullptr;
      if (!have || !have->is_string() || have->as_string() != v) return false;
    }
    return true;
  }
};

std::vector<Constraint> ReadConstraints(const PodInfo& pod, bool hard) {
  std::vector<Constraint> out;
  const json::array* list = Arr(Obj(pod.pod.get(), "spec"), "topologySpreadConstraints");
  if (!list) return out;
  const json::value* labels = pod.labels();
  for (const auto& v : *list) {
    if (!v.is_object()) continue;
    const json::object& o = v.as_object();
    Constraint c;
    c.hard = Str(&o, "whenUnsatisfiable") != "ScheduleAnyway";
    if (c.hard != hard) continue;
    c.max_skew = std::max<int64_t>(1, Int(&o, "maxSkew", 1));
    c.key = Str(&o, "topologyKey");
    if (const json::value* sel = o.if_contains("labelSelector"); sel && sel->is_object()) {
      auto parsed = api::LabelSelector::FromJson(*sel);
      if (parsed.ok()) {
        c.selector = std::move(*parsed);
        c.selector_set = true;
      }
    }
    if (const json::array* keys = Arr(&o, "matchLabelKeys")) {
      for (const auto& k : *keys) {
        if (!k.is_string() || !labels || !labels->is_object()) continue;
        const json::value* val = labels->as_object().if_contains(k.as_string());
        if (val && val->is_string())
          c.extra.emplace_back(std::string(k.as_string()), std::string(val->as_string()));
      }
    }
    if (c.hard) c.min_domains = std::max<int64_t>(1, Int(&o, "minDomains", 1));
    c.honor_affinity = Str(&o, "nodeAffinityPolicy") != "Ignore";
    c.honor_taints = Str(&o, "nodeTaintsPolicy") == "Honor";
    out.push_back(std::move(c));
  }
  return out;
}

// The system default constraints (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway) for a
// pod without constraints of its own that a ReplicaSet, ReplicationController or StatefulSet
// controls. Its selector stands in for the controller's: the pod's own labels.
std::vector<Constraint> DefaultConstraints(const PodInfo& pod) {
  if (Arr(Obj(pod.pod.get(), "spec"), "topologySpreadConstraints")) return {};
  const json::object* owner = nullptr;
  if (const json::object* m = Obj(pod.pod.get(), "metadata")) {
    if (const json::array* refs = Arr(m, "ownerReferences")) {
      for (const auto& r : *refs)
        if (r.is_object() && Bool(&r.as_object(), "controller")) owner = &r.as_object();
    }
  }
  std::string kind = Str(owner, "kind");
  if (kind != "ReplicaSet" && kind != "ReplicationController" && kind != "StatefulSet") return {};
  const json::value* labels = pod.labels();
  if (!labels || !labels->is_object() || labels->as_object().empty()) return {};
  auto sel = api::LabelSelector::FromJson(json::object{{"matchLabels", *labels}});
  if (!sel.ok()) return {};
  std::vector<Constraint> out(2);
  out[0].key = kHostname;
  out[0].max_skew = 3;
  out[1].key = kZone;
  out[1].max_skew = 5;
  for (auto& c : out) {
    c.hard = false;
    c.selector = *sel;
    c.selector_set = true;
  }
  return out;
}

bool HasAllKeys(const NodeInfo& node, const std::vector<Constraint>& cons) {
  for (const auto& c : cons)
    if (!node.Label(c.key, nullptr)) return false;
  return true;
}

// Whether the node counts for constraint c under its node inclusion policies.
bool Eligible(const Constraint& c, const PodInfo& pod, const NodeInfo& node) {
  if (c.honor_affinity && !MatchesNodeSelectorAndAffinity(*pod.pod, *node.node)) return false;
  if (c.honor_taints && !ToleratesNodeTaints(*pod.pod, *node.node)) return false;
  return true;
}

int64_t CountMatching(const NodeInfo& node, const Constraint& c, const std::string& ns) {
  int64_t n = 0;
  for (const auto& [key, p] : node.pods) {
    if (!client::MetaString(*p->pod, "deletionTimestamp").empty()) continue;
    if (c.Selects(*p, ns)) ++n;
  }
  return n;
}

struct FilterState : StateData {
  std::vector<Constraint> cons;
  std::vector<std::map<std::string, int64_t>> counts;  // per constraint: domain → pods
  // Per constraint: how many domains hold each count (its first key is the minimum), kept so
  // that a simulated pod added or removed updates the minimum without a pass over the domains.
  std::vector<std::map<int64_t, int64_t>> count_domains;
  std::vector<int64_t> min_match;
  std::unique_ptr<StateData> Clone() const override { return std::make_unique<FilterState>(*this); }
  // The global minimum of constraint i (0 below minDomains domains).
  void UpdateMin(size_t i) {
    const auto& by_count = count_domains[i];
    int64_t min = by_count.empty() ? 0 : by_count.begin()->first;
    // Fewer domains than minDomains: the global minimum is taken as 0.
    if (static_cast<int64_t>(counts[i].size()) < cons[i].min_domains) min = 0;
    min_match[i] = min;
  }
};

class SpreadFilter final : public FilterPlugin {
 public:
  std::string_view name() const override { return kName; }
  bool SkipFilter(const PodInfo&, const CycleState& state) const override {
    return !state.Read<FilterState>(kFilterKey);
  }

  std::string PreFilter(const PodInfo& pod, const ClusterView& cluster,
                        CycleState& state) const override {
    auto cons = ReadConstraints(pod, true);
    if (cons.empty()) return "";
    auto st = std::make_unique<FilterState>();
    st->counts.resize(cons.size());
    for (const NodeInfo* node : cluster.nodes) {
      if (!node->node || !HasAllKeys(*node, cons)) continue;
      for (size_t i = 0; i < cons.size(); ++i) {
        if (!Eligible(cons[i], pod, *node)) continue;
        std::string value;
        node->Label(cons[i].key, &value);
        st->counts[i][value] += CountMatching(*node, cons[i], pod.ns);
      }
    }
    st->cons = std::move(cons);
    st->count_domains.resize(st->cons.size());
    st->min_match.resize(st->cons.size());
    for (size_t i = 0; i < st->cons.size(); ++i) {
      for (const auto& [d, n] : st->counts[i]) ++st->count_domains[i][n];
      st->UpdateMin(i);
    }
    state.Write(kFilterKey, std::move(st));
    return "";
  }

  void AddPod(const PodInfo& pod, const PodInfo& other, const NodeInfo& node,
              CycleState& state) const override {
    Update(pod, other, node, state, 1);
  }
  void RemovePod(const PodInfo& pod, const PodInfo& other, const NodeInfo& node,
                 CycleState& state) const override {
    Update(pod, other, node, state, -1);
  }

  std::vector<std::string> Filter(const PodInfo& pod, const NodeInfo& node,
                                  const CycleState& state) const override {
    const FilterState* st = state.Read<FilterState>(kFilterKey);
    if (!st) return {};
    for (size_t i = 0; i < st->cons.size(); ++i) {
      const Constraint& c = st->cons[i];
      std::string value;
      if (!node.Label(c.key, &value))
        return {"node(s) didn't match pod topology spread constraints (missing required label)"};
      int64_t self = c.Selects(pod, pod.ns) ? 1 : 0;
      auto it = st->counts[i].find(value);
      int64_t count = it == st->counts[i].end() ? 0 : it->second;
      if (count + self - st->min_match[i] > c.max_skew)
        return {"node(s) didn't match pod topology spread constraints"};
    }
    return {};
  }

 private:
  // `other` on `node` counted in (delta 1) or out (-1) where PreFilter would have counted it:
  // same namespace, a node with every topology key that the constraint's node inclusion
  // policies admit, a pod the constraint selects.
  static void Update(const PodInfo& pod, const PodInfo& other, const NodeInfo& node,
                     CycleState& state, int64_t delta) {
    FilterState* st = state.Mutable<FilterState>(kFilterKey);
    if (!st || other.ns != pod.ns || !node.node || !HasAllKeys(node, st->cons)) return;
    if (!client::MetaString(*other.pod, "deletionTimestamp").empty()) return;
    for (size_t i = 0; i < st->cons.size(); ++i) {
      const Constraint& c = st->cons[i];
      if (!c.Selects(other, pod.ns) || !Eligible(c, pod, node)) continue;
      std::string value;
      node.Label(c.key, &value);
      auto [it, added] = st->counts[i].try_emplace(value, 0);
      auto& by_count = st->count_domains[i];
      if (!added) {
        auto old = by_count.find(it->second);
        if (old != by_count.end() && --old->second == 0) by_count.erase(old);
      }
      it->second = std::max<int64_t>(0, it->second + delta);
      ++by_count[it->second];
      st->UpdateMin(i);
    }
  }
};

struct ScoreState : StateData {
  std::vector<Constraint> cons;
  std::set<std::string> ignored;                             // feasible nodes lacking a key
  std::map<std::pair<size_t, std::string>, int64_t> counts;  // (constraint, domain) → pods
  std::vector<double> weights;
  std::string ns;
  std::unique_ptr<StateData> Clone() const override { return std::make_unique<ScoreState>(*this); }
};

class SpreadScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return kName; }
  int64_t weight() const override { return 2; }
  bool SkipScore(const PodInfo&, const CycleState& state) const override {
    return !state.Read<ScoreState>(kScoreKey);
  }

  void PreScore(const PodInfo& pod, const std::vector<const NodeInfo*>& feasible,
                const ClusterView& cluster, CycleState& state) const override {
    bool system_default = false;
    auto cons = ReadConstraints(pod, false);
    if (cons.empty() && !Arr(Obj(pod.pod.get(), "spec"), "topologySpreadConstraints")) {
      cons = DefaultConstraints(pod);
      system_default = true;
    }
    if (cons.empty()) return;
    auto st = std::make_unique<ScoreState>();
    st->ns = pod.ns;
    std::vector<int64_t> sizes(cons.size(), 0);
    for (const NodeInfo* node : feasible) {
      if (!system_default && !HasAllKeys(*node, cons)) {
        st->ignored.insert(node->name);
        continue;
      }
      for (size_t i = 0; i < cons.size(); ++i) {
        if (cons[i].key == kHostname) continue;  // counted per node in Score
        std::string value;
        if (!node->Label(cons[i].key, &value)) continue;
        if (st->counts.emplace(std::make_pair(i, value), 0).second) ++sizes[i];
      }
    }
    // Pods in the domains the feasible nodes span, counted over every eligible node.
    for (const NodeInfo* node : cluster.nodes) {
      if (!node->node) continue;
      for (size_t i = 0; i < cons.size(); ++i) {
        if (cons[i].key == kHostname) continue;
        std::string value;
        if (!node->Label(cons[i].key, &value)) continue;
        auto it = st->counts.find({i, value});
        if (it == st->counts.end() || !Eligible(cons[i], pod, *node)) continue;
        it->second += CountMatching(*node, cons[i], pod.ns);
      }
    }
    for (size_t i = 0; i < cons.size(); ++i) {
      if (cons[i].key == kHostname)
        sizes[i] = static_cast<int64_t>(feasible.size() - st->ignored.size());
      st->weights.push_back(std::log(static_cast<double>(sizes[i] + 2)));
    }
    st->cons = std::move(cons);
    state.Write(kScoreKey, std::move(st));
  }

  int64_t Score(const PodInfo&, const NodeInfo& node, const CycleState& state) const override {
    const ScoreState* st = state.Read<ScoreState>(kScoreKey);
    if (!st || st->ignored.count(node.name)) return 0;
    double score = 0;
    for (size_t i = 0; i < st->cons.size(); ++i) {
      const Constraint& c = st->cons[i];
      std::string value;
      if (!node.Label(c.key, &value)) continue;
      int64_t count = 0;
      if (c.key == kHostname) {
        count = CountMatching(node, c, st->ns);
      } else if (auto it = st->counts.find({i, value}); it != st->counts.end()) {
        count = it->second;
      }
      score += static_cast<double>(count) * st->weights[i] + static_cast<double>(c.max_skew - 1);
    }
    return static_cast<int64_t>(std::llround(score));
  }

  // Fewer matching pods in the node's domains scores higher; ignored nodes get 0.
  void Normalize(const PodInfo&, const std::vector<const NodeInfo*>& nodes, const CycleState& state,
                 std::vector<int64_t>& s) const override {
    const ScoreState* st = state.Read<ScoreState>(kScoreKey);
    if (!st) {
      std::fill(s.begin(), s.end(), 0);
      return;
    }
    int64_t min = std::numeric_limits<int64_t>::max(), max = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (st->ignored.count(nodes[i]->name)) continue;
      min = std::min(min, s[i]);
      max = std::max(max, s[i]);
    }
    for (size_t i = 0; i < s.size(); ++i) {
      if (st->ignored.count(nodes[i]->name)) {
        s[i] = 0;
      } else if (max == 0) {
        s[i] = 100;
      } else {
        s[i] = 100 * (max + min - s[i]) / max;
      }
    }
  }
};

}  // namespace

std::unique_ptr<FilterPlugin> NewPodTopologySpreadFilter() {
  return std::make_unique<SpreadFilter>();
}
std::unique_ptr<ScorePlugin> NewPodTopologySpreadScore() { return std::make_unique<SpreadScore>(); }

}  // namespace sampan::scheduler
