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

std::unique_ptr<ScorePlugin> NewTaintTolerationScore();  // weight 3
std::unique_ptr<ScorePlugin> NewNodeAffinityScore();     // weight 2
std::unique_ptr<ScorePlugin> NewLeastAllocated();        // NodeResourcesFit, weight 1
std::unique_ptr<ScorePlugin> NewBalancedAllocation();    // weight 1

// Whether `toleration` tolerates `taint` (both core/v1 JSON objects).
bool Tolerates(const boost::json::object& toleration, const boost::json::object& taint);
// Whether a NodeSelectorTerm (matchExpressions and matchFields, ANDed) matches the node.
// A term with neither matches nothing.
bool TermMatches(const boost::json::object& term, const boost::json::object& node);

}  // namespace sampan::scheduler
