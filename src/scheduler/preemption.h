// DefaultPreemption (kube-scheduler's PostFilter), computed without I/O: for a pod
// that fits nowhere, find a node where evicting lower-priority pods makes it fit,
// with as few and as unimportant victims as possible.
//  - Nodes that failed for a reason eviction cannot fix (node affinity/selector,
//    taints, unschedulable, node name, pod affinity, missing topology label) are
//    "Preemption is not helpful for scheduling".
//  - On the others, every pod of lower priority is removed in a copy of the node;
//    if the pod then passes the filters, victims are given back highest priority
//    first while it still fits (the reprieve); a node with no such set is "No
//    preemption victims found for incoming pod".
//  - The node whose victims have the lowest highest priority wins, then the lowest
//    sum of priorities, then the fewest victims.
// Each simulated eviction and reprieve goes through the filters' PreFilter extensions
// (Framework::RemovePodFromView / AddPodToView), so pod anti-affinity and topology spread
// counts follow the victims as in kube-scheduler's SelectVictimsOnNode.
#pragma once

#include <string>
#include <vector>

#include "scheduler/framework.h"

namespace sampan::scheduler {

struct PreemptionResult {
  std::string node;                 // chosen node ("" = no candidate)
  std::vector<PodInfoPtr> victims;  // pods to evict there
  // For the FailedScheduling message when there is no candidate, e.g. "preemption: 0/3 nodes
  // are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found
  // for incoming pod."
  std::string message;
  // False when the pod may not preempt now (preemptionPolicy Never, or victims still leaving
  // its nominated node): its nomination stays. When eligible but without a candidate, a
  // nomination it had is cleared.
  bool eligible = true;
};

// `nominated`: pods nominated to nodes (framework.h); the simulated evictions are checked with
// those of the pod's priority or higher counted on their node.
PreemptionResult Preempt(const Framework& fw, const PodInfo& pod,
                         const std::vector<const NodeInfo*>& nodes, const ScheduleResult& failure,
                         NamespaceLabels namespace_labels = {},
                         const NominatedPods* nominated = nullptr);

}  // namespace sampan::scheduler
