// Field selectors (?fieldSelector=metadata.name=x,status.phase!=Running).
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace sampan::api {

class FieldSelector {
 public:
  struct Term {
    std::string field;  // "metadata.name", "spec.nodeName", "involvedObject.uid", ...
    bool equals = true;  // = / == vs !=
    std::string value;
  };
  FieldSelector() = default;  // matches everything
  // BadRequest if malformed. Which fields are allowed per kind is the caller's check.
  static Result<FieldSelector> Parse(std::string_view text);
  // Compares the object's value at each term's dotted path (absent = "").
  bool Matches(const boost::json::object& obj) const;
  bool empty() const { return terms_.empty(); }
  const std::vector<Term>& terms() const { return terms_; }
  // The value required for `field` by an equality term, if any ("metadata.name" for fast paths).
  const std::string* RequiredValue(std::string_view field) const;

 private:
  std::vector<Term> terms_;
};

}  // namespace sampan::api
