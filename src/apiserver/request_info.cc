// Path → RequestInfo, and Status → HTTP response.
#include <boost/json.hpp>

#include "apiserver/api_handler.h"

#include "api/event_conversion.h"

namespace sampan::apiserver {

namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) parts.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

}  // namespace

Result<RequestInfo> ParseRequestInfo(const Request& req, const api::Registry& registry) {
  RequestInfo info;
  std::vector<std::string> p = SplitPath(req.path);
  size_t i = 0;
  if (p.empty() || (p[0] != "api" && p[0] != "apis")) return NotFound("the server could not find the requested resource");
  info.api_prefix = p[i++];
  if (info.api_prefix == "apis") {
    if (i >= p.size()) return NotFound("the server could not find the requested resource");
    info.group = p[i++];
  }
  if (i >= p.size()) return NotFound("the server could not find the requested resource");
  info.version = p[i++];
  if (i >= p.size()) return NotFound("the server could not find the requested resource");
  bool watch_prefix = false;
  if (p[i] == "watch") {
    watch_prefix = true;
    ++i;
  }
  if (i >= p.size()) return NotFound("the server could not find the requested resource");
  info.is_resource = true;
  if (p[i] == "namespaces" && i + 2 < p.size()) {
    // /namespaces/{ns}/{resource}/...
    info.ns = p[i + 1];
    i += 2;
    info.resource = p[i++];
  } else if (p[i] == "namespaces") {
    info.resource = p[i++];
    if (i < p.size()) info.name = p[i++];
    if (i < p.size()) info.subresource = p[i++];
    // /namespaces/{name}[/{sub}] is the Namespace itself.
  } else {
    info.resource = p[i++];
  }
  if (info.name.empty() && i < p.size()) info.name = p[i++];
  if (info.subresource.empty() && i < p.size()) info.subresource = p[i++];
  if (i < p.size()) {
    // Only proxy subresources take a trailing path.
    if (info.subresource != "proxy") return NotFound("the server could not find the requested resource");
  }
  info.kind = registry.FindResource(info.group, info.version, info.resource);
  if (!info.kind || info.kind->plural != info.resource) {
    return NotFound("the server could not find the requested resource");
  }
  info.view_kind = info.kind;
  if (info.kind->group == "events.k8s.io" && info.kind->kind == "Event") {
    info.kind = registry.FindKind("", "v1", "Event");
  }
  if (info.resource == "namespaces" && !info.ns.empty()) {
    return NotFound("the server could not find the requested resource");
  }
  if (!info.kind->namespaced && !info.ns.empty()) {
    return NotFound("the server could not find the requested resource");
  }
  const std::string& m = req.method;
  bool watch = watch_prefix || req.QueryBool("watch");
  if (m == "GET" || m == "HEAD") {
    info.verb = info.name.empty() ? (watch ? "watch" : "list") : (watch ? "watch" : "get");
  } else if (m == "POST") {
    info.verb = "create";
  } else if (m == "PUT") {
    info.verb = "update";
  } else if (m == "PATCH") {
    info.verb = "patch";
  } else if (m == "DELETE") {
    info.verb = info.name.empty() ? "deletecollection" : "delete";
  } else {
    return MethodNotAllowed();
  }
  return info;
}

json::object ViewOf(const RequestInfo& info, const json::object& stored) {
  if (info.events_v1()) return api::CoreEventToEventsV1(stored);
  return stored;
}

std::string StatusJson(const Status& st, std::string_view kind, std::string_view name,
                       std::string_view group) {
  json::object o;
  o["kind"] = "Status";
  o["apiVersion"] = "v1";
  o["metadata"] = json::object();
  o["status"] = st.ok() ? "Success" : "Failure";
  if (!st.ok()) {
    o["message"] = st.message();
    o["reason"] = std::string(CodeReason(st.code()));
    json::object details;
    if (!name.empty()) details["name"] = name;
    if (!group.empty()) details["group"] = group;
    if (!kind.empty()) details["kind"] = kind;
    if (!st.causes().empty()) {
      json::array causes;
      for (const auto& c : st.causes()) {
        json::object co;
        if (!c.reason.empty()) co["reason"] = c.reason;
        co["message"] = c.message;
        if (!c.field.empty()) co["field"] = c.field;
        causes.push_back(std::move(co));
      }
      details["causes"] = std::move(causes);
    }
    if (!details.empty()) o["details"] = std::move(details);
  }
  o["code"] = CodeHttpStatus(st.code());
  return json::serialize(o);
}

Response JsonResponse(int status, const json::value& v, std::string_view content_type) {
  Response r;
  r.status = status;
  r.content_type = std::string(content_type);
  r.body = json::serialize(v);
  return r;
}

Response StoredResponse(int status, const StoredObject& obj) {
  Response r;
  r.status = status;
  r.body = obj.json;
  return r;
}

Status MethodNotAllowed() {
  return Status(Code::kMethodNotAllowed,
                "the server does not allow this method on the requested resource");
}

Response ErrorResponse(const Status& st, const RequestInfo* info) {
  Response r;
  r.status = CodeHttpStatus(st.code());
  std::string_view kind, group;
  std::string name;
  if (info && info->kind) {
    // NotFound/AlreadyExists/Conflict details name the resource (plural); Invalid names the kind.
    kind = st.code() == Code::kInvalid ? std::string_view(info->kind->kind)
                                       : std::string_view(info->kind->plural);
    group = info->kind->group;
    name = info->name;
  }
  r.body = StatusJson(st, kind, name, group);
  return r;
}

}  // namespace sampan::apiserver
