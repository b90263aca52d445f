// OpenAPI documents: the paths and operations of each kind, v3 and v2 framing.
#include "api/openapi.h"

#include <cctype>
#include <cstdio>

#include "api/discovery.h"
#include "api/openapi_schemas.h"

namespace sampan::api {

namespace json = boost::json;
using openapi_internal::Gvk;
using openapi_internal::SchemaWriter;

namespace {

constexpr std::string_view kPatchContentTypes[] = {
    "application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
    "application/strategic-merge-patch+json"};
constexpr std::string_view kReplyContentTypes[] = {"application/json", "application/yaml",
                                                   "application/vnd.kubernetes.protobuf"};

bool HasVerb(const std::vector<std::string>& verbs, std::string_view verb) {
  for (const std::string& v : verbs) {
    if (v == verb) return true;
  }
  return false;
}

// "coordination.k8s.io" → "Coordination", "rbac.authorization.k8s.io" → "RbacAuthorization",
// "" → "Core"; as in Kubernetes' operation ids.
std::string GroupCamel(std::string_view group) {
  if (group.empty()) return "Core";
  std::string g(group);
  constexpr std::string_view kSuffix = ".k8s.io";
  if (g.size() > kSuffix.size() && g.ends_with(kSuffix)) g.resize(g.size() - kSuffix.size());
  std::string out;
  bool upper = true;
  for (char c : g) {
    if (c == '.' || c == '-') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

std::string Capitalize(std::string_view s) {
  std::string out(s);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

// "core_v1", "apps_v1", "rbacAuthorization_v1": the operation tag.
std::string Tag(std::string_view group, std::string_view version) {
  std::string camel = GroupCamel(group);
  camel[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(camel[0])));
  return camel + "_" + std::string(version);
}

json::object GvkObject(const Gvk& g) {
  return json::object{{"group", g.group}, {"version", g.version}, {"kind", g.kind}};
}

// Builds the paths of one document, in either dialect.
class PathWriter {
 public:
  PathWriter(SchemaWriter& schemas, bool v3) : schemas_(schemas), v3_(v3) {}

  void AddKind(const KindInfo& kind);
  json::object Take() {
    json::object o;
    for (auto& [path, item] : paths_) o[path] = std::move(item);
    return o;
  }

 private:
  enum class Body { kNone, kObject, kPatch, kDeleteOptions };
  struct Op {
    std::string method;  // "get", "post", ...
    std::string action;  // x-kubernetes-action
    std::string id;
    std::string description;
    Gvk gvk;
    std::string response_type;  // component name of the 200 reply
    Body body = Body::kNone;
    std::string body_type;  // for kObject
    std::vector<json::value> params;
  };

  json::object Param(std::string_view name, std::string_view in, std::string_view type,
                     std::string_view description, bool required = false) const;
  std::vector<json::value> WriteParams() const;
  std::vector<json::value> ListParams() const;
  std::vector<json::value> DeleteParams() const;
  json::object Responses(const Op& op) const;
  json::object Operation(const Op& op, std::string_view group, std::string_view version);
  void AddOp(const std::string& path, const std::vector<std::string>& path_params, Op op,
             std::string_view group, std::string_view version);

  SchemaWriter& schemas_;
  bool v3_;
  std::map<std::string, json::object> paths_;
};

json::object PathWriter::Param(std::string_view name, std::string_view in, std::string_view type,
                               std::string_view description, bool required) const {
  json::object p;
  p["name"] = name;
  p["in"] = in;
  p["description"] = description;
  if (required) p["required"] = true;
  if (v3_) {
    p["schema"] = json::object{{"type", type}, {"uniqueItems", true}};
  } else {
    p["type"] = type;
    p["uniqueItems"] = true;
  }
  return p;
}

std::vector<json::value> PathWriter::WriteParams() const {
  return {
      Param("dryRun", "query", "string",
            "When present (\"All\"), the request is validated and admitted but not persisted."),
      Param("fieldManager", "query", "string",
            "The name of the actor making the change, recorded in managedFields."),
      Param("fieldValidation", "query", "string",
            "What to do with unknown or duplicate fields in the body: Ignore drops them, Warn "
            "keeps going and returns a warning, Strict fails the request."),
  };
}

std::vector<json::value> PathWriter::ListParams() const {
  return {
      Param("allowWatchBookmarks", "query", "boolean", "Ask for BOOKMARK events in a watch."),
      Param("continue", "query", "string", "The token of the next page of a paged list."),
      Param("fieldSelector", "query", "string", "Only objects whose fields match."),
      Param("labelSelector", "query", "string", "Only objects whose labels match."),
      Param("limit", "query", "integer", "The largest number of items to return."),
      Param("resourceVersion", "query", "string", "The version to list or watch from."),
      Param("resourceVersionMatch", "query", "string",
            "How resourceVersion is applied: Exact or NotOlderThan."),
      Param("sendInitialEvents", "query", "boolean",
            "Start a watch with the current objects as ADDED events."),
      Param("timeoutSeconds", "query", "integer", "End the list or watch after this long."),
      Param("watch", "query", "boolean", "Stream changes instead of returning a list."),
  };
}

std::vector<json::value> PathWriter::DeleteParams() const {
  return {
      Param("dryRun", "query", "string",
            "When present (\"All\"), the request is validated but not persisted."),
      Param("gracePeriodSeconds", "query", "integer",
            "Seconds before the object is deleted; 0 deletes at once."),
      Param("propagationPolicy", "query", "string",
            "Whether and how dependents are garbage collected: Orphan, Background or "
            "Foreground."),
  };
}

json::object PathWriter::Responses(const Op& op) const {
  auto reply = [&](std::string_view description, std::string_view type) {
    json::object r;
    r["description"] = description;
    if (v3_) {
      json::object content;
      for (std::string_view ct : kReplyContentTypes) {
        content[ct] = json::object{{"schema", schemas_.Ref(type)}};
      }
      r["content"] = std::move(content);
    } else {
      r["schema"] = schemas_.Ref(type);
    }
    return r;
  };
  json::object rs;
  rs["200"] = reply("OK", op.response_type);
  if (op.method == "post" || op.method == "put" || op.method == "patch") {
    rs["201"] = reply("Created", op.response_type);
  }
  if (op.method == "post" || op.method == "delete") rs["202"] = reply("Accepted", op.response_type);
  rs["401"] = json::object{{"description", "Unauthorized"}};
  return rs;
}

json::object PathWriter::Operation(const Op& op, std::string_view group, std::string_view version) {
  json::object o;
  o["tags"] = json::array{json::string(Tag(group, version))};
  o["description"] = op.description;
  o["operationId"] = op.id;
  if (!v3_) {
    json::array consumes;
    if (op.body == Body::kPatch) {
      for (std::string_view ct : kPatchContentTypes) consumes.push_back(json::string(ct));
    } else {
      consumes.push_back("*/*");
    }
    o["consumes"] = std::move(consumes);
    json::array produces;
    for (std::string_view ct : kReplyContentTypes) produces.push_back(json::string(ct));
    o["produces"] = std::move(produces);
    o["schemes"] = json::array{"https"};
  }
  json::array params(op.params.begin(), op.params.end());
  std::string body_type = op.body == Body::kObject  ? op.body_type
                          : op.body == Body::kPatch ? std::string(openapi_internal::kPatch)
                          : op.body == Body::kDeleteOptions
                              ? std::string(openapi_internal::kDeleteOptions)
                              : std::string();
  if (!body_type.empty()) {
    bool required = op.body != Body::kDeleteOptions;
    if (v3_) {
      json::object content;
      if (op.body == Body::kPatch) {
        for (std::string_view ct : kPatchContentTypes) {
          content[ct] = json::object{{"schema", schemas_.Ref(body_type)}};
        }
      } else {
        content["*/*"] = json::object{{"schema", schemas_.Ref(body_type)}};
      }
      json::object rb;
      rb["content"] = std::move(content);
      if (required) rb["required"] = true;
      o["requestBody"] = std::move(rb);
    } else {
      json::object b;
      b["name"] = "body";
      b["in"] = "body";
      if (required) b["required"] = true;
      b["schema"] = schemas_.Ref(body_type);
      params.push_back(std::move(b));
    }
  }
  if (!params.empty()) o["parameters"] = std::move(params);
  o["responses"] = Responses(op);
  o["x-kubernetes-action"] = op.action;
  o["x-kubernetes-group-version-kind"] = GvkObject(op.gvk);
  return o;
}

void PathWriter::AddOp(const std::string& path, const std::vector<std::string>& path_params, Op op,
                       std::string_view group, std::string_view version) {
  json::object& item = paths_[path];
  if (!item.contains("parameters")) {
    json::array params;
    for (const std::string& p : path_params) {
      std::string_view description =
          p == "namespace" ? "The namespace of the object." : "The name of the object.";
      params.push_back(Param(p, "path", "string", description, true));
    }
    params.push_back(Param("pretty", "query", "string", "If \"true\", indent the output."));
    item["parameters"] = std::move(params);
  }
  item[op.method] = Operation(op, group, version);
}

void PathWriter::AddKind(const KindInfo& kind) {
  if (kind.schema == nullptr || kind.schema->openapi_name.empty()) return;
  const std::string type = schemas_.AddType(kind.schema);
  const std::string list_type = schemas_.AddListType(kind);
  schemas_.AddWellKnown(openapi_internal::kStatus);
  schemas_.AddWellKnown(openapi_internal::kDeleteOptions);
  schemas_.AddWellKnown(openapi_internal::kPatch);
  const std::string status_type(openapi_internal::kStatus);
  const Gvk gvk{kind.group, kind.version, kind.kind};
  const std::vector<std::string> verbs = ResourceVerbs(kind);
  const std::string base = "/" + OpenApiV3Key(kind.group, kind.version);
  const std::string gv = GroupCamel(kind.group) + Capitalize(kind.version);
  const std::string scoped = (kind.namespaced ? "Namespaced" : "") + kind.kind;
  const std::string coll =
      base + (kind.namespaced ? "/namespaces/{namespace}/" : "/") + kind.plural;
  const std::string item = coll + "/{name}";
  std::vector<std::string> coll_params, item_params{"name"};
  if (kind.namespaced) {
    coll_params = {"namespace"};
    item_params = {"name", "namespace"};
  }
  const std::string& g = kind.group;
  const std::string& v = kind.version;
  auto with = [](std::vector<json::value> a, std::vector<json::value> b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };

  if (HasVerb(verbs, "list")) {
    AddOp(coll, coll_params,
          {"get", "list", "list" + gv + scoped, "list or watch objects of kind " + kind.kind, gvk,
           list_type, Body::kNone, "", ListParams()},
          g, v);
    if (kind.namespaced) {
      AddOp(base + "/" + kind.plural, {},
            {"get", "list", "list" + gv + kind.kind + "ForAllNamespaces",
             "list or watch objects of kind " + kind.kind + " in every namespace", gvk, list_type,
             Body::kNone, "", ListParams()},
            g, v);
    }
  }
  if (HasVerb(verbs, "create")) {
    AddOp(coll, coll_params,
          {"post", "post", "create" + gv + scoped, "create " + kind.singular, gvk, type,
           Body::kObject, type, WriteParams()},
          g, v);
  }
  if (HasVerb(verbs, "deletecollection")) {
    AddOp(coll, coll_params,
          {"delete", "deletecollection", "deleteCollection" + gv + scoped,
           "delete a collection of " + kind.kind, gvk, status_type, Body::kDeleteOptions, "",
           with(DeleteParams(), ListParams())},
          g, v);
  }
  if (HasVerb(verbs, "get")) {
    AddOp(item, item_params,
          {"get",
           "get",
           "read" + gv + scoped,
           "read the specified " + kind.kind,
           gvk,
           type,
           Body::kNone,
           "",
           {}},
          g, v);
  }
  if (HasVerb(verbs, "update")) {
    AddOp(item, item_params,
          {"put", "put", "replace" + gv + scoped, "replace the specified " + kind.kind, gvk, type,
           Body::kObject, type, WriteParams()},
          g, v);
  }
  if (HasVerb(verbs, "patch")) {
    std::vector<json::value> params = WriteParams();
    params.push_back(Param("force", "query", "boolean",
                           "Take over fields owned by other managers (apply patches only)."));
    AddOp(item, item_params,
          {"patch", "patch", "patch" + gv + scoped, "partially update the specified " + kind.kind,
           gvk, type, Body::kPatch, "", std::move(params)},
          g, v);
  }
  if (HasVerb(verbs, "delete")) {
    AddOp(item, item_params,
          {"delete", "delete", "delete" + gv + scoped, "delete " + kind.singular, gvk, status_type,
           Body::kDeleteOptions, "", DeleteParams()},
          g, v);
  }

  // Subresources that read and write an object (status, scale, ...) or create one
  // (binding, eviction); streaming ones (log, exec, ...) are not described.
  for (const SubresourceView& sub : Subresources(kind)) {
    Gvk sub_gvk{sub.group, sub.version, sub.kind};
    const Schema* sub_schema = schemas_.TypeForGvk(sub_gvk);
    if (sub_schema == nullptr || sub_schema->openapi_name.empty()) continue;
    if (sub.name == "log" || sub.name == "exec" || sub.name == "attach" ||
        sub.name == "portforward" || sub.name == "proxy") {
      continue;
    }
    const std::string sub_type = schemas_.AddType(sub_schema);
    schemas_.AddGvk(sub_type, sub_gvk);
    const std::string path = item + "/" + sub.name;
    const std::string suffix = scoped + Capitalize(sub.name);
    const std::string what = sub.name + " of the specified " + kind.kind;
    if (HasVerb(sub.verbs, "get")) {
      AddOp(path, item_params,
            {"get",
             "get",
             "read" + gv + suffix,
             "read " + what,
             sub_gvk,
             sub_type,
             Body::kNone,
             "",
             {}},
            g, v);
    }
    if (HasVerb(sub.verbs, "update")) {
      AddOp(path, item_params,
            {"put", "put", "replace" + gv + suffix, "replace " + what, sub_gvk, sub_type,
             Body::kObject, sub_type, WriteParams()},
            g, v);
    }
    if (HasVerb(sub.verbs, "patch")) {
      AddOp(path, item_params,
            {"patch", "patch", "patch" + gv + suffix, "partially update " + what, sub_gvk, sub_type,
             Body::kPatch, "", WriteParams()},
            g, v);
    }
    if (HasVerb(sub.verbs, "create")) {
      AddOp(path, item_params,
            {"post", "post", "create" + gv + suffix, "create " + what, sub_gvk, sub_type,
             Body::kObject, sub_type, WriteParams()},
            g, v);
    }
  }
}

json::object Info() {
  return json::object{{"title", "Kubernetes"}, {"version", kOpenApiInfoVersion}};
}

}  // namespace

std::string OpenApiV3Key(std::string_view group, std::string_view version) {
  if (group.empty()) return "api/" + std::string(version);
  return "apis/" + std::string(group) + "/" + std::string(version);
}

Result<json::object> OpenApiV3Document(const Registry& registry, std::string_view group,
                                       std::string_view version) {
  SchemaWriter schemas(registry, /*v3=*/true);
  PathWriter paths(schemas, /*v3=*/true);
  bool any = false;
  for (const KindInfo* k : registry.kinds()) {
    if (k->group != group || k->version != version) continue;
    paths.AddKind(*k);
    any = true;
  }
  if (!any) return NotFound("the server could not find the requested resource");
  json::object doc;
  doc["openapi"] = "3.0.0";
  doc["info"] = Info();
  doc["paths"] = paths.Take();
  doc["components"] = json::object{{"schemas", schemas.Take()}};
  return doc;
}

std::string OpenApiHash(std::string_view text) {
  // Two FNV-1a passes with different offsets: 128 stable bits, no crypto needed for an ETag.
  uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
  for (unsigned char c : text) {
    a = (a ^ c) * 0x100000001b3ULL;
    b = (b ^ c) * 0x100000001b3ULL;
    b ^= b >> 29;
  }
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llX%016llX", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  return buf;
}

json::object OpenApiV3Root(const std::map<std::string, std::string>& hashes) {
  json::object paths;
  for (const auto& [key, hash] : hashes) {
    paths[key] = json::object{{"serverRelativeURL", "/openapi/v3/" + key + "?hash=" + hash}};
  }
  return json::object{{"paths", std::move(paths)}};
}

OpenApiV3Set BuildOpenApiV3(const Registry& registry) {
  OpenApiV3Set set;
  for (const KindInfo* k : registry.kinds()) {
    std::string key = OpenApiV3Key(k->group, k->version);
    if (set.documents.count(key)) continue;
    Result<json::object> doc = OpenApiV3Document(registry, k->group, k->version);
    if (!doc.ok()) continue;
    std::string text = json::serialize(*doc);
    set.hashes[key] = OpenApiHash(text);
    set.documents[key] = std::move(text);
  }
  set.root = json::serialize(OpenApiV3Root(set.hashes));
  return set;
}

json::object OpenApiV2Document(const Registry& registry) {
  SchemaWriter schemas(registry, /*v3=*/false);
  PathWriter paths(schemas, /*v3=*/false);
  for (const KindInfo* k : registry.kinds()) paths.AddKind(*k);
  json::object doc;
  doc["swagger"] = "2.0";
  doc["info"] = Info();
  doc["paths"] = paths.Take();
  doc["definitions"] = schemas.Take();
  return doc;
}

}  // namespace sampan::api
