#include "scheduler/preemption.h"

#include <algorithm>
#include <limits>
#include <map>

#include "scheduler/json_view.h"

namespace sampan::scheduler {
using namespace internal;

namespace {

// Filter failures that removing pods cannot fix (kube-scheduler's UnschedulableAndUnresolvable).
bool Unresolvable(const std::string& reason) {
  static const char* kPrefixes[] = {
      "node(s) didn't match Pod's node affinity/selector",
      "node(s) had untolerated taint",
      "node(s) were unschedulable",
      "node(s) didn't match the requested node name",
      "node(s) didn't match pod affinity rules",
      "node(s) didn't match pod topology spread constraints (missing required label)",
      // VolumeBinding's Filter reasons are all UnschedulableAndUnresolvable.
      "node(s) had volume node affinity conflict",
      "node(s) didn't find available persistent volumes to bind",
      "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)",
  };
  for (const char* p : kPrefixes)
    if (reason.rfind(p, 0) == 0) return true;
  return false;
}

bool Fits(const Framework& fw, const PodInfo& pod, const NodeInfo& node, const CycleState& state,
          const NominatedPods* nominated) {
  return fw.RunFilters(pod, node, state, nominated).empty();
}

struct Candidate {
  const NodeInfo* node = nullptr;
  std::vector<PodInfoPtr> victims;
  int64_t max_priority = std::numeric_limits<int64_t>::min();
  int64_t sum_priority = 0;
};

}  // namespace

PreemptionResult Preempt(const Framework& fw, const PodInfo& pod,
                         const std::vector<const NodeInfo*>& nodes, const ScheduleResult& failure,
                         NamespaceLabels namespace_labels, const NominatedPods* nominated) {
  PreemptionResult out;
  const int n = static_cast<int>(nodes.size());
  if (Str(Obj(pod.pod.get(), "spec"), "preemptionPolicy") == "Never") {
    out.message = "preemption: not eligible due to preemptionPolicy=Never.";
    out.eligible = false;
    return out;
  }
  const int64_t priority = PodPriority(pod);
  // Already nominated and victims still going away there: wait for them.
  std::string nominated_node = Str(Obj(pod.pod.get(), "status"), "nominatedNodeName");
  if (!nominated_node.empty()) {
    for (const NodeInfo* node : nodes) {
      if (node->name != nominated_node) continue;
      for (const auto& [key, p] : node->pods) {
        if (PodPriority(*p) < priority &&
            !client::MetaString(*p->pod, "deletionTimestamp").empty()) {
          out.message = "preemption: not eligible due to a terminating pod on the nominated node.";
          out.eligible = false;
          return out;
        }
      }
    }
  }
  ClusterView view{nodes, std::move(namespace_labels), -1};
  CycleState state;
  state.namespace_labels = view.namespace_labels;
  for (const auto& f : fw.filters()) {
    if (!f->PreFilter(pod, view, state).empty()) {
      out.message = "preemption: 0/" + std::to_string(n) +
                    " nodes are available: " + std::to_string(n) +
                    " Preemption is not helpful for scheduling.";
      return out;
    }
  }
  std::map<std::string, int> reasons;
  std::vector<Candidate> candidates;
  for (const auto& [node, why] : failure.failures) {
    if (Unresolvable(why)) {
      reasons["Preemption is not helpful for scheduling"]++;
      continue;
    }
    std::vector<PodInfoPtr> lower;
    for (const auto& [key, p] : node->pods)
      if (PodPriority(*p) < priority) lower.push_back(p);
    bool found = false;
    if (!lower.empty()) {
      // The evictions are simulated on copies of the node and of the filters' state, so pod
      // (anti-)affinity and topology spread see the victims gone.
      NodeInfo sim = *node;
      CycleState sim_state = state.Clone();
      for (const auto& v : lower) fw.RemovePodFromView(pod, v, sim, sim_state);
      if (Fits(fw, pod, sim, sim_state, nominated)) {
        // Reprieve the most important victims first, as long as the pod still fits.
        std::sort(lower.begin(), lower.end(), [](const PodInfoPtr& a, const PodInfoPtr& b) {
          int64_t pa = PodPriority(*a), pb = PodPriority(*b);
          return pa != pb ? pa > pb : a->key < b->key;
        });
        Candidate c;
        c.node = node;
        for (const auto& v : lower) {
          fw.AddPodToView(pod, v, sim, sim_state);
          if (!Fits(fw, pod, sim, sim_state, nominated)) {
            fw.RemovePodFromView(pod, v, sim, sim_state);
            c.victims.push_back(v);
            c.max_priority = std::max(c.max_priority, PodPriority(*v));
            c.sum_priority += PodPriority(*v);
          }
        }
        if (!c.victims.empty()) {
          candidates.push_back(std::move(c));
          found = true;
        }
      }
    }
    if (!found) reasons["No preemption victims found for incoming pod"]++;
  }
  if (candidates.empty()) {
    out.message = "preemption: " + FailureMessage(n, reasons);
    return out;
  }
  auto best = std::min_element(candidates.begin(), candidates.end(),
                               [](const Candidate& a, const Candidate& b) {
                                 if (a.max_priority != b.max_priority)
                                   return a.max_priority < b.max_priority;
                                 if (a.sum_priority != b.sum_priority)
                                   return a.sum_priority < b.sum_priority;
                                 if (a.victims.size() != b.victims.size())
                                   return a.victims.size() < b.victims.size();
                                 return a.node->name < b.node->name;
                               });
  out.node = best->node->name;
  out.victims = std::move(best->victims);
  return out;
}

}  // namespace sampan::scheduler
