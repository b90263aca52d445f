// OpenAPI documents generated from the kind schemas: v3 (one document per
// group-version, plus the root that lists them) and v2 (swagger 2.0, one document).
//
// kubectl needs v3 for `explain` and for `create -f` / `apply -f`:
//  - GET /openapi/v3 → the root {"paths":{"api/v1":{"serverRelativeURL":
//    "/openapi/v3/api/v1?hash=H"}, "apis/apps/v1":{...}}}; kubectl then fetches exactly
//    that URL (serve it with Content-Type application/json; Kubernetes adds
//    "Cache-Control: public, immutable" when the hash matches, and redirects a stale hash).
//  - Each group-version document has `paths` for the list/create (collection) and
//    get/replace/patch/delete (item) operations, namespaced and cluster forms, each
//    operation carrying x-kubernetes-group-version-kind as an OBJECT and
//    x-kubernetes-action; the patch operation declares the fieldValidation query parameter
//    (kubectl then sends ?fieldValidation=Strict) and a requestBody with the four patch
//    content types (kubectl then computes strategic merge patches from the schemas'
//    x-kubernetes-patch-merge-key / x-kubernetes-patch-strategy).
//  - components.schemas holds every named type reachable from the group-version's kinds,
//    named by openapi_name ("io.k8s.api.core.v1.Pod"); a kind's schema carries
//    x-kubernetes-group-version-kind as an ARRAY; nested named types are referenced as
//    {"allOf":[{"$ref":"#/components/schemas/..."}]} beside the field's description.
//    Quantity, IntOrString, Time and MicroTime are named schemas as in Kubernetes; list
//    types ("io.k8s.api.core.v1.PodList") and meta.v1.Patch are generated.
// v2 carries the same content with `definitions` and "#/definitions/..." refs, as JSON or
// as the protobuf kubectl asks for.
// All functions are pure and thread-safe; build once per registry and cache the text.
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/schema.h"
#include "util/status.h"

namespace sampan::api {

// The Kubernetes release whose API surface the documents describe (info.version).
inline constexpr std::string_view kOpenApiInfoVersion = "v1.32.0";

// "api/v1" for the core group, "apis/<group>/<version>" otherwise: the key of a
// group-version in the v3 root and the tail of its URL (/openapi/v3/<key>).
std::string OpenApiV3Key(std::string_view group, std::string_view version);

// The v3 document of one group-version. NotFound if the registry has no kind there.
Result<boost::json::object> OpenApiV3Document(const Registry& registry, std::string_view group,
                                              std::string_view version);

// Every v3 document, serialized, with its hash, and the root that points at them.
struct OpenApiV3Set {
  std::map<std::string, std::string> documents;  // OpenApiV3Key → JSON text
  std::map<std::string, std::string> hashes;     // OpenApiV3Key → hash of that text
  std::string root;                              // JSON text of the /openapi/v3 reply
};
OpenApiV3Set BuildOpenApiV3(const Registry& registry);

// The v3 root for the given key → hash map.
boost::json::object OpenApiV3Root(const std::map<std::string, std::string>& hashes);

// The swagger 2.0 document of every kind (GET /openapi/v2 as application/json).
boost::json::object OpenApiV2Document(const Registry& registry);

// The v2 document (as OpenApiV2Document returns it) encoded as the protobuf message
// kubectl asks /openapi/v2 for: gnostic's openapi_v2.Document. kubectl sends
// "Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf" (or the same with
// ".v1.0" for "@v1.0"); the reply's Content-Type must be the parseable ".v1.0" form below
// (a "@" there makes kubectl fail with "mime: unexpected content after media subtype").
// kubectl 1.27/1.28 `explain`, and `explain --output plaintext-openapiv2`, need this form.
inline constexpr std::string_view kOpenApiV2ProtobufContentType =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
std::string OpenApiV2Protobuf(const boost::json::object& v2_document);

// A stable hash of a document's text (upper-case hex), for ?hash= and ETags.
std::string OpenApiHash(std::string_view text);

}  // namespace sampan::api
