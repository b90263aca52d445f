// The filter and score plugins of the default profile. Each matches the
// Kubernetes plugin of the same name in behaviour and in its failure wording.
#pragma once

#include <boost/json.hpp>
#include <memory>

#include "scheduler/framework.h"

namespace sampan::scheduler {

std::unique_ptr<FilterPlugin> NewNodeUnschedulable();
std::unique_ptr<FilterPlugin> NewNodeName();
std::unique_ptr<FilterPlugin> NewTaintTolerationFilter();
std::unique_ptr<FilterPlugin> NewNodeAffinityFilter();
std::unique_ptr<FilterPlugin> NewNodePorts();
std::unique_ptr<FilterPlugin> NewNodeResourcesFit();
// plugins_spread.cc: DoNotSchedule constraints (maxSkew, minDomains, nodeAffinityPolicy
// Honor / nodeTaintsPolicy Ignore by default, matchLabelKeys).
std::unique_ptr<FilterPlugin> NewPodTopologySpreadFilter();
// plugins_affinity.cc: required pod affinity and anti-affinity, both directions.
std::unique_ptr<FilterPlugin> NewInterPodAffinityFilter();

std::unique_ptr<ScorePlugin> NewTaintTolerationScore();  // weight 3
std::unique_ptr<ScorePlugin> NewNodeAffinityScore();     // weight 2
std::unique_ptr<ScorePlugin> NewLeastAllocated();        // NodeResourcesFit, weight 1
std::unique_ptr<ScorePlugin> NewBalancedAllocation();    // weight 1
// ScheduleAnyway constraints, or the system default spreading (hostname maxSkew 3,
// zone maxSkew 5) for pods of a ReplicaSet/ReplicationController/StatefulSet without
// constraints of their own. Weight 2.
std::unique_ptr<ScorePlugin> NewPodTopologySpreadScore();
// Preferred pod affinity/anti-affinity, and existing pods' terms towards this pod. Weight 2.
std::unique_ptr<ScorePlugin> NewInterPodAffinityScore();

// Whether `toleration` tolerates `taint` (both core/v1 JSON objects).
bool Tolerates(const boost::json::object& toleration, const boost::json::object& taint);
// Whether a NodeSelectorTerm (matchExpressions and matchFields, ANDed) matches the node.
// A term with neither matches nothing.
bool TermMatches(const boost::json::object& term, const boost::json::object& node);
// The pod's nodeSelector and required node affinity both hold on the node.
bool MatchesNodeSelectorAndAffinity(const boost::json::object& pod,
                                    const boost::json::object& node);
// The pod tolerates every NoSchedule/NoExecute taint of the node.
bool ToleratesNodeTaints(const boost::json::object& pod, const boost::json::object& node);

// Whether an affinity term of `owner` (a pod in namespace owner_ns) selects `candidate`.
bool TermSelects(const AffinityTerm& term, const std::string& owner_ns, const PodInfo& candidate,
                 const NamespaceLabels& namespace_labels);

}  // namespace sampan::scheduler
