// Helpers shared by the rest*.cc files.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "api/fields.h"
#include "api/labels.h"
#include "api/schema.h"
#include "util/status.h"

namespace sampan::apiserver::internal {

// metadata, created as {} if absent or not an object.
boost::json::object& Meta(boost::json::object& obj);
// A string field of metadata, or "".
std::string_view MetaString(const boost::json::object& obj, std::string_view field);
// The stored form (no resourceVersion).
std::string Serialize(const boost::json::object& obj);
// The same for an object the caller owns: resourceVersion and selfLink are removed from `obj`
// itself (no copy), so that `obj` is then exactly what the stored text holds.
std::string SerializeForStore(boost::json::object& obj);
// Schema defaults, then the kind's computed defaults.
void ApplyDefaults(const api::KindInfo& kind, boost::json::object& obj);

// Label and field selectors of a list or watch.
struct Filter {
  api::LabelSelector labels;
  api::FieldSelector fields;
  bool Matches(const boost::json::object& obj) const;
};
// BadRequest on a malformed selector or a field the kind cannot be selected on.
Result<Filter> MakeFilter(const api::KindInfo& kind, std::string_view label_selector,
                          std::string_view field_selector);

}  // namespace sampan::apiserver::internal
