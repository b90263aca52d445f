// Label selectors: the string form (?labelSelector=) and the LabelSelector object
// (matchLabels / matchExpressions) that workloads carry.
#pragma once

#include <boost/json/fwd.hpp>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace sampan::api {

struct Requirement {
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist, kGt, kLt };
  std::string key;
  Op op = Op::kExists;
  std::vector<std::string> values;
};

class LabelSelector {
 public:
  LabelSelector() = default;  // matches everything
  // "a=b,c!=d,e in (f,g),h notin (i),j,!k". BadRequest with a precise message if malformed.
  static Result<LabelSelector> Parse(std::string_view text);
  // A metav1.LabelSelector JSON object. Null/absent = match nothing per Kubernetes
  // workload semantics is the caller's concern; an empty object matches everything.
  static Result<LabelSelector> FromJson(const boost::json::value& selector);

  bool Matches(const std::map<std::string, std::string, std::less<>>& labels) const;
  // Matches against a JSON object of labels (metadata.labels), null = no labels.
  bool Matches(const boost::json::value* labels) const;
  bool empty() const { return reqs_.empty(); }
  std::string ToString() const;  // canonical string form
  const std::vector<Requirement>& requirements() const { return reqs_; }

 private:
  std::vector<Requirement> reqs_;
};

// A NodeSelectorTerm of node affinity (or of a PersistentVolume's nodeAffinity) against a node
// with `labels` (its metadata.labels) named `node_name`: every matchExpression (In, NotIn,
// Exists, DoesNotExist, Gt, Lt) and matchField (metadata.name) holds; a term with neither
// matches nothing, as Kubernetes.
bool NodeSelectorTermMatches(const boost::json::object& term, const boost::json::object& labels,
                             std::string_view node_name);

}  // namespace sampan::api
