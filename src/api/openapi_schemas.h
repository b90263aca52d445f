// Internal to openapi*.cc: turns Schema trees into OpenAPI schema objects (v3 or v2).
#pragma once

#include <boost/json.hpp>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "api/schema.h"

namespace sampan::api::openapi_internal {

namespace json = boost::json;

inline constexpr std::string_view kQuantity = "io.k8s.apimachinery.pkg.api.resource.Quantity";
inline constexpr std::string_view kIntOrString = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
inline constexpr std::string_view kTime = "io.k8s.apimachinery.pkg.apis.meta.v1.Time";
inline constexpr std::string_view kMicroTime = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime";
inline constexpr std::string_view kPatch = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
inline constexpr std::string_view kStatus = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
inline constexpr std::string_view kDeleteOptions =
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
inline constexpr std::string_view kListMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

struct Gvk {
  std::string group, version, kind;
  auto operator<=>(const Gvk&) const = default;
};

// Collects the component schemas (v3) or definitions (v2) of one document.
class SchemaWriter {
 public:
  SchemaWriter(const Registry& registry, bool v3);

  // "#/components/schemas/NAME" or "#/definitions/NAME".
  json::object Ref(std::string_view name) const;
  // Adds the named type (and every type it references) to the document; returns its name.
  std::string AddType(const Schema* type);
  // Adds one of the fixed names above (Quantity, Patch, Status, ...), generating it when
  // the registry does not define it.
  void AddWellKnown(std::string_view name);
  // Adds the "<Kind>List" type of `kind` (generated unless the registry has one); its name.
  std::string AddListType(const KindInfo& kind);
  // Records that the named type is the schema of `gvk` (x-kubernetes-group-version-kind).
  void AddGvk(std::string_view type_name, const Gvk& gvk);
  // The named type Kubernetes uses for `gvk`: a registered kind's schema, or a type named
  // by Kubernetes' package convention ("io.k8s.api.autoscaling.v1.Scale"); nullptr if none.
  const Schema* TypeForGvk(const Gvk& gvk) const;

  // The collected schemas, sorted by name.
  json::object Take();

 private:
  // A schema for a type expression with no siblings (array items, map values).
  json::value Inline(const Schema* s);
  // The schema of a field: its type plus description, default, enum and patch extensions.
  json::object Property(const Field& f);
  json::object ObjectSchema(const Schema* s);

  const Registry& registry_;
  bool v3_;
  std::map<std::string, json::object> out_;
  std::set<std::string> visiting_;
  std::map<std::string, std::set<Gvk>> gvks_;
};

}  // namespace sampan::api::openapi_internal
