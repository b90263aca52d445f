// API discovery documents, built from the kinds of a Registry.
//
// kubectl 1.30+ asks `/api` and `/apis` for the aggregated form (apidiscovery.k8s.io/v2
// APIGroupDiscoveryList) and learns every resource from those two replies; kubectl 1.29
// asks for v2beta1; older clients (and anyone offering only application/json) get the
// legacy APIVersions / APIGroupList and then one APIResourceList per group-version.
// The aggregated reply is recognised by its Content-Type only, so the server must send
// the exact string below with it.
//
// Ordering: groups and resources in registry (registration) order, the core group alone
// under `/api`; a group's versions newest first by Kubernetes' version priority
// (v2 > v1 > v1beta2 > v1beta1 > v1alpha1), the first being the preferred one.
// Subresources without declared verbs or response kind get Kubernetes' (status: get,
// patch, update with the parent kind; scale: autoscaling/v1 Scale; log: get; exec,
// attach, portforward: create, get; binding: create; eviction: policy/v1 Eviction ...).
// All functions are pure and thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/schema.h"
#include "util/status.h"

namespace sampan::api {

inline constexpr std::string_view kDiscoveryV2ContentType =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
inline constexpr std::string_view kDiscoveryV2Beta1ContentType =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
inline constexpr std::string_view kJsonContentType = "application/json";

enum class DiscoveryFormat {
  kLegacy,   // APIVersions / APIGroupList (application/json)
  kV2,       // apidiscovery.k8s.io/v2 APIGroupDiscoveryList
  kV2Beta1,  // apidiscovery.k8s.io/v2beta1 APIGroupDiscoveryList
};

// Picks the reply format for an Accept header of a `/api` or `/apis` request: the first
// media range that is either an aggregated discovery list we serve (v2 or v2beta1) or a
// plain JSON / wildcard type. An empty or unmatched header gets kLegacy.
DiscoveryFormat NegotiateDiscovery(std::string_view accept);
// The Content-Type to send with a reply of `format`.
std::string_view DiscoveryContentType(DiscoveryFormat format);

// The aggregated APIGroupDiscoveryList: for `/api` (core = true: the one group named "")
// or `/apis` (core = false: every other group). `format` must be kV2 or kV2Beta1.
boost::json::object AggregatedDiscovery(const Registry& registry, bool core,
                                        DiscoveryFormat format);

// `/api` legacy reply: {"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":
// [{"clientCIDR":"0.0.0.0/0","serverAddress":server_address}]}.
boost::json::object ApiVersions(std::string_view server_address);
// `/apis` legacy reply: APIGroupList with every non-core group, its versions and preferred one.
boost::json::object ApiGroupList(const Registry& registry);
// `/apis/<group>`: one APIGroup. NotFound if the registry has no kind in `group`.
Result<boost::json::object> ApiGroup(const Registry& registry, std::string_view group);
// `/api/v1`, `/apis/<group>/<version>`: APIResourceList, subresources as "pods/status"
// entries. NotFound if the registry has no kind in that group-version.
Result<boost::json::object> ApiResourceList(const Registry& registry, std::string_view group,
                                            std::string_view version);

// A resolved subresource: the declared one with Kubernetes' defaults filled in.
struct SubresourceView {
  std::string name;
  std::string group, version, kind;  // responseKind
  std::vector<std::string> verbs;
};
std::vector<SubresourceView> Subresources(const KindInfo& kind);
// The kind's verbs, or the full set (create delete deletecollection get list patch update
// watch) when the kind declares none.
std::vector<std::string> ResourceVerbs(const KindInfo& kind);
// The versions of `group` that the registry serves, in preference order (first = preferred).
std::vector<std::string> GroupVersions(const Registry& registry, std::string_view group);
// Kubernetes' version priority: negative if `a` is preferred over `b`, 0 if equal.
int CompareKubeVersions(std::string_view a, std::string_view b);

}  // namespace sampan::api
