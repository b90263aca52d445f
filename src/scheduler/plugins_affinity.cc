// InterPodAffinity: required and preferred pod affinity and anti-affinity, in
// both directions (this pod's terms against existing pods, and existing pods'
// terms against this pod), per topology domain (the nodes sharing a label value).
#include <algorithm>
#include <limits>

#include "scheduler/json_view.h"
#include "scheduler/plugins.h"

namespace sampan::scheduler {
namespace json = boost::json;
using namespace internal;

namespace {

using TopologyPair = std::pair<std::string, std::string>;  // label key, value
using PairCounts = std::map<TopologyPair, int64_t>;

constexpr char kFilterKey[] = "InterPodAffinity/filter";
constexpr char kScoreKey[] = "InterPodAffinity/score";
constexpr char kName[] = "InterPodAffinity";
constexpr int64_t kHardPodAffinityWeight = 1;

bool SelectsAll(const std::vector<AffinityTerm>& terms, const std::string& owner_ns,
                const PodInfo& candidate, const NamespaceLabels& ns_labels) {
  for (const auto& t : terms)
    if (!TermSelects(t, owner_ns, candidate, ns_labels)) return false;
  return true;
}

// A pair whose count drops to 0 is dropped (the filter's "no pod of the group yet" test reads
// whether the affinity counts are empty).
void AddPair(PairCounts& counts, const NodeInfo& node, const std::string& key, int64_t delta) {
  std::string value;
  if (key.empty() || !node.Label(key, &value)) return;
  auto it = counts.try_emplace({key, std::move(value)}, 0).first;
  it->second += delta;
  if (it->second == 0) counts.erase(it);
}

struct FilterState : StateData {
  PairCounts existing_anti;  // existing pods' required anti-affinity terms that select this pod
  PairCounts anti;           // existing pods this pod's required anti-affinity terms select
  PairCounts affinity;       // existing pods matching all of this pod's required affinity terms
  std::unique_ptr<StateData> Clone() const override { return std::make_unique<FilterState>(*this); }
};

class InterPodAffinityFilter final : public FilterPlugin {
 public:
  std::string_view name() const override { return kName; }
  bool SkipFilter(const PodInfo&, const CycleState& state) const override {
    return !state.Read<FilterState>(kFilterKey);
  }

  std::string PreFilter(const PodInfo& pod, const ClusterView& cluster,
                        CycleState& state) const override {
    const bool own_terms = !pod.required_affinity.empty() || !pod.required_anti_affinity.empty();
    if (!own_terms && cluster.pods_with_affinity == 0) return "";
    auto st = std::make_unique<FilterState>();
    bool any = false;
    for (const NodeInfo* node : cluster.nodes) {
      if (!own_terms && node->pods_with_affinity == 0) continue;
      for (const auto& [key, other] : node->pods) {
        for (const auto& t : other->required_anti_affinity) {
          if (TermSelects(t, other->ns, pod, cluster.namespace_labels)) {
            AddPair(st->existing_anti, *node, t.topology_key, 1);
            any = true;
          }
        }
        if (!own_terms) continue;
        for (const auto& t : pod.required_anti_affinity) {
          if (TermSelects(t, pod.ns, *other, cluster.namespace_labels)) {
            AddPair(st->anti, *node, t.topology_key, 1);
            any = true;
          }
        }
        if (!pod.required_affinity.empty() &&
            SelectsAll(pod.required_affinity, pod.ns, *other, cluster.namespace_labels)) {
          for (const auto& t : pod.required_affinity)
            AddPair(st->affinity, *node, t.topology_key, 1);
        }
      }
    }
    if (any || own_terms) state.Write(kFilterKey, std::move(st));
    return "";
  }

  std::vector<std::string> Filter(const PodInfo& pod, const NodeInfo& node,
                                  const CycleState& state) const override {
    const FilterState* st = state.Read<FilterState>(kFilterKey);
    if (!st) return {};
    std::string value;
    for (const auto& [pair, count] : st->existing_anti) {
      if (count > 0 && node.Label(pair.first, &value) && value == pair.second)
        return {"node(s) didn't satisfy existing pods anti-affinity rules"};
    }
    for (const auto& t : pod.required_anti_affinity) {
      if (!node.Label(t.topology_key, &value)) continue;
      auto it = st->anti.find({t.topology_key, value});
      if (it != st->anti.end() && it->second > 0)
        return {"node(s) didn't match pod anti-affinity rules"};
    }
    if (!pod.required_affinity.empty()) {
      bool pods_exist = true;
      for (const auto& t : pod.required_affinity) {
        // Every topology key must be on the node.
        if (!node.Label(t.topology_key, &value)) return {"node(s) didn't match pod affinity rules"};
        auto it = st->affinity.find({t.topology_key, value});
        if (it == st->affinity.end() || it->second <= 0) pods_exist = false;
      }
      if (!pods_exist) {
        // The first pod of a group with affinity to itself may go anywhere.
        bool first_of_group = st->affinity.empty() &&
                              SelectsAll(pod.required_affinity, pod.ns, pod, NamespaceLabels());
        if (!first_of_group) return {"node(s) didn't match pod affinity rules"};
      }
    }
    return {};
  }

  void AddPod(const PodInfo& pod, const PodInfo& other, const NodeInfo& node,
              CycleState& state) const override {
    Update(pod, other, node, state, 1);
  }
  void RemovePod(const PodInfo& pod, const PodInfo& other, const NodeInfo& node,
                 CycleState& state) const override {
    Update(pod, other, node, state, -1);
  }

 private:
  // `other` on `node` counted in (delta 1) or out (-1), as PreFilter counts an existing pod.
  static void Update(const PodInfo& pod, const PodInfo& other, const NodeInfo& node,
                     CycleState& state, int64_t delta) {
    if (!node.node) return;
    const NamespaceLabels& nsl = state.namespace_labels;
    FilterState* st = state.Mutable<FilterState>(kFilterKey);
    for (const auto& t : other.required_anti_affinity) {
      if (!TermSelects(t, other.ns, pod, nsl)) continue;
      if (!st) {
        // PreFilter found nothing to check for this pod; the added pod brings the first term.
        if (delta < 0) continue;
        state.Write(kFilterKey, std::make_unique<FilterState>());
        st = state.Mutable<FilterState>(kFilterKey);
      }
      AddPair(st->existing_anti, node, t.topology_key, delta);
    }
    if (!st) return;  // the pod has no required terms of its own either
    for (const auto& t : pod.required_anti_affinity)
      if (TermSelects(t, pod.ns, other, nsl)) AddPair(st->anti, node, t.topology_key, delta);
    if (!pod.required_affinity.empty() && SelectsAll(pod.required_affinity, pod.ns, other, nsl)) {
      for (const auto& t : pod.required_affinity)
        AddPair(st->affinity, node, t.topology_key, delta);
    }
  }
};

struct ScoreState : StateData {
  PairCounts scores;
  std::unique_ptr<StateData> Clone() const override { return std::make_unique<ScoreState>(*this); }
};

class InterPodAffinityScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return kName; }
  int64_t weight() const override { return 2; }
  bool SkipScore(const PodInfo&, const CycleState& state) const override {
    return !state.Read<ScoreState>(kScoreKey);
  }

  void PreScore(const PodInfo& pod, const std::vector<const NodeInfo*>&, const ClusterView& cluster,
                CycleState& state) const override {
    const bool own = !pod.preferred_affinity.empty() || !pod.preferred_anti_affinity.empty();
    if (!own && cluster.pods_with_affinity == 0) return;
    auto st = std::make_unique<ScoreState>();
    const auto& nsl = cluster.namespace_labels;
    for (const NodeInfo* node : cluster.nodes) {
      if (!own && node->pods_with_affinity == 0) continue;
      for (const auto& [key, other] : node->pods) {
        if (!own && !other->HasAffinity()) continue;
        for (const auto& t : pod.preferred_affinity)
          if (TermSelects(t, pod.ns, *other, nsl))
            AddPair(st->scores, *node, t.topology_key, t.weight);
        for (const auto& t : pod.preferred_anti_affinity)
          if (TermSelects(t, pod.ns, *other, nsl))
            AddPair(st->scores, *node, t.topology_key, -t.weight);
        for (const auto& t : other->required_affinity)
          if (TermSelects(t, other->ns, pod, nsl))
            AddPair(st->scores, *node, t.topology_key, kHardPodAffinityWeight);
        for (const auto& t : other->preferred_affinity)
          if (TermSelects(t, other->ns, pod, nsl))
            AddPair(st->scores, *node, t.topology_key, t.weight);
        for (const auto& t : other->preferred_anti_affinity)
          if (TermSelects(t, other->ns, pod, nsl))
            AddPair(st->scores, *node, t.topology_key, -t.weight);
      }
    }
    if (!st->scores.empty()) state.Write(kScoreKey, std::move(st));
  }

  int64_t Score(const PodInfo&, const NodeInfo& node, const CycleState& state) const override {
    const ScoreState* st = state.Read<ScoreState>(kScoreKey);
    if (!st) return 0;
    int64_t sum = 0;
    std::string value;
    for (const auto& [pair, score] : st->scores)
      if (node.Label(pair.first, &value) && value == pair.second) sum += score;
    return sum;
  }

  // Min–max to 0..100 (all equal → 0).
  void Normalize(const PodInfo&, const std::vector<const NodeInfo*>&, const CycleState& state,
                 std::vector<int64_t>& s) const override {
    if (!state.Read<ScoreState>(kScoreKey) || s.empty()) {
      std::fill(s.begin(), s.end(), 0);
      return;
    }
    auto [lo, hi] = std::minmax_element(s.begin(), s.end());
    int64_t min = *lo, max = *hi;
    for (auto& v : s) v = max > min ? 100 * (v - min) / (max - min) : 0;
  }
};

}  // namespace

bool TermSelects(const AffinityTerm& term, const std::string& owner_ns, const PodInfo& candidate,
                 const NamespaceLabels& namespace_labels) {
  if (!term.selector_set) return false;
  bool ns_ok = false;
  if (term.namespaces.empty() && !term.has_namespace_selector) {
    ns_ok = candidate.ns == owner_ns;
  } else {
    ns_ok = std::find(term.namespaces.begin(), term.namespaces.end(), candidate.ns) !=
            term.namespaces.end();
    if (!ns_ok && term.has_namespace_selector) {
      if (term.namespace_selector.empty()) {
        ns_ok = true;  // {} selects every namespace
      } else if (namespace_labels) {
        ns_ok = term.namespace_selector.Matches(namespace_labels(candidate.ns));
      }
    }
  }
  return ns_ok && term.selector.Matches(candidate.labels());
}

std::unique_ptr<FilterPlugin> NewInterPodAffinityFilter() {
  return std::make_unique<InterPodAffinityFilter>();
}
std::unique_ptr<ScorePlugin> NewInterPodAffinityScore() {
  return std::make_unique<InterPodAffinityScore>();
}

}  // namespace sampan::scheduler
