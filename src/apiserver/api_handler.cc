// Routing and the CRUD verbs; watch is in watch_handler.cc, discovery/OpenAPI/health
// in meta_handler.cc.
#include "apiserver/api_handler.h"

#include <algorithm>

#include <boost/json.hpp>
#include <charconv>
#include <optional>

#include "api/codec.h"
#include "api/event_conversion.h"
#include "api/validate.h"
#include "api/printers.h"
#include "apiserver/rest_internal.h"
#include "apiserver/rbac.h"
#include "apiserver/review.h"
#include "util/clock.h"
#include "util/log.h"

namespace sampan::apiserver {

namespace {

std::string MediaType(std::string_view content_type) {
  std::string t(content_type.substr(0, content_type.find(';')));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return t;
}

}  // namespace

Result<json::value> DecodeBody(const Request& req, const api::Registry& registry,
                               std::vector<std::string>* duplicates) {
  std::string mt = MediaType(req.Header("content-type"));
  if (req.body.empty()) return BadRequest("the request body is empty; an object is required");
  if (mt.empty() || mt == "application/json" || mt == "*/*")
    return api::DecodeJson(req.body, {}, duplicates);
  if (mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml")
    return api::DecodeYaml(req.body, {}, duplicates);
  if (mt == "application/vnd.kubernetes.protobuf") return api::DecodeProtobuf(req.body, registry);
  return Status(Code::kUnsupportedMedia,
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json, application/yaml, application/vnd.kubernetes.protobuf");
}

namespace {

bool WantsTable(const Request& req) { return api::AcceptsTable(req.Header("accept")); }

// A reply we can give: JSON unless the client accepts only something else.
Status CheckAccept(const Request& req) {
  std::string_view accept = req.Header("accept");
  if (accept.empty()) return Status::Ok();
  for (std::string_view a : {"application/json", "*/*", "application/*", "application/yaml"}) {
    if (accept.find(a) != std::string_view::npos) return Status::Ok();
  }
  return Status(Code::kNotAcceptable,
                "only the following media types are accepted: application/json, application/yaml");
}

Result<WriteOptions> ParseWriteOptions(const Request& req, std::vector<std::string>* warnings) {
  WriteOptions o;
  for (const auto& d : req.QueryAll("dryRun")) {
    if (d != "All") return BadRequest("unsupported dryRun value \"" + d + "\" (only All is supported)");
    o.dry_run = true;
  }
  std::string_view fv = req.Query("fieldValidation");
  if (!fv.empty()) {
    if (fv != "Strict" && fv != "Warn" && fv != "Ignore") {
      return BadRequest("fieldValidation must be one of Ignore, Warn or Strict, not \"" +
                        std::string(fv) + "\"");
    }
    o.field_validation = std::string(fv);
  } else {
    o.field_validation = "Warn";
  }
  o.field_manager = std::string(req.Query("fieldManager"));
  if (o.field_manager.size() > 128) {
    return Invalid("fieldManager: Too long: may not be more than 128 bytes",
                   {Cause{"FieldValueTooLong", "Too long: may not be more than 128 bytes",
                          "fieldManager"}});
  }
  std::string_view force = req.Query("force");
  if (!force.empty()) {
    if (force != "true" && force != "false") {
      return BadRequest("force must be true or false, not \"" + std::string(force) + "\"");
    }
    o.force = force == "true";
  }
  std::string_view agent = req.Header("user-agent");
  o.default_manager = std::string(agent.substr(0, agent.find('/')));
  o.warnings = warnings;
  o.identity = &req.identity;
  return o;
}

void AddWarnings(Response& r, const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) {
    std::string esc;
    for (char c : w) {
      if (c == '"' || c == '\\') esc.push_back('\\');
      esc.push_back(c);
    }
    r.headers.emplace_back("Warning", "299 - \"" + esc + "\"");
  }
}

// An events.k8s.io/v1 Event body: checked against its own schema, then stored in the core form.
Result<json::value> ToStoredEvent(const RequestInfo& info, json::value body, const WriteOptions& opts) {
  if (!body.is_object()) return BadRequest("the request body must be a JSON or YAML object");
  api::SchemaCheck check = api::CheckAgainstSchema(body, info.view_kind->schema);
  check.duplicate_fields = opts.duplicate_fields;
  api::FieldValidation mode = opts.field_validation == "Ignore" ? api::FieldValidation::kIgnore
                              : opts.field_validation == "Warn" ? api::FieldValidation::kWarn
                                                                : api::FieldValidation::kStrict;
  RETURN_IF_ERROR(api::ApplyFieldValidation(check, mode, opts.warnings));
  return json::value(api::EventsV1ToCoreEvent(body.as_object()));
}

std::optional<int64_t> ParseInt64(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// One object as the client's API version shows it, using the stored text when it can.
Response ObjectReply(const RequestInfo& info, int status, const StoredObject& obj) {
  if (!info.events_v1()) return StoredResponse(status, obj);
  Response r;
  r.status = status;
  r.body = json::serialize(ViewOf(info, obj.obj));
  return r;
}

std::string ListKind(const api::KindInfo& k) { return k.kind + "List"; }

// The list reply, serialized directly: lists can be large and the objects are immutable.
std::string ListJson(const RequestInfo& info, const ListOutcome& list) {
  const api::KindInfo& kind = *info.view_kind;
  std::string body = "{\"kind\":\"" + ListKind(kind) + "\",\"apiVersion\":\"" + kind.ApiVersion() +
                     "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(list.revision) + "\"";
  if (!list.continue_token.empty()) {
    body += ",\"continue\":\"" + list.continue_token + "\"";
    if (list.remaining >= 0) body += ",\"remainingItemCount\":" + std::to_string(list.remaining);
  }
  body += "},\"items\":[";
  for (size_t i = 0; i < list.items.size(); ++i) {
    if (i) body += ',';
    if (info.events_v1()) {
      body += json::serialize(api::CoreEventToEventsV1(list.items[i]->obj));
    } else {
      body += list.items[i]->json;
    }
  }
  body += "]}";
  return body;
}

// DeleteOptions from the body (JSON) and the query string.
Result<DeleteOptions> ParseDeleteOptions(const Request& req) {
  DeleteOptions d;
  if (!req.body.empty()) {
    auto body = api::DecodeJson(req.body);
    if (!body.ok()) return BadRequest("the DeleteOptions body is not valid JSON: " + body.status().message());
    if (!body->is_object()) return BadRequest("the DeleteOptions body must be a JSON object");
    const json::object& o = body->as_object();
    if (auto* g = o.if_contains("gracePeriodSeconds"); g && g->is_int64())
      d.grace_period_seconds = g->as_int64();
    if (auto* p = o.if_contains("propagationPolicy"); p && p->is_string())
      d.propagation_policy = std::string(p->as_string());
    if (auto* od = o.if_contains("orphanDependents"); od && od->is_bool() && od->as_bool())
      d.propagation_policy = "Orphan";
    if (auto* dr = o.if_contains("dryRun"); dr && dr->is_array() && !dr->as_array().empty())
      d.dry_run = true;
    if (auto* pre = o.if_contains("preconditions"); pre && pre->is_object()) {
      if (auto* u = pre->as_object().if_contains("uid"); u && u->is_string())
        d.precondition_uid = std::string(u->as_string());
      if (auto* rv = pre->as_object().if_contains("resourceVersion"); rv && rv->is_string())
        d.precondition_resource_version = std::string(rv->as_string());
    }
  }
  if (auto g = req.Query("gracePeriodSeconds"); !g.empty()) {
    auto v = ParseInt64(g);
    if (!v) return BadRequest("gracePeriodSeconds must be an integer");
    d.grace_period_seconds = *v;
  }
  if (auto p = req.Query("propagationPolicy"); !p.empty()) d.propagation_policy = std::string(p);
  if (req.Query("dryRun") == "All") d.dry_run = true;
  if (!d.propagation_policy.empty() && d.propagation_policy != "Orphan" &&
      d.propagation_policy != "Background" && d.propagation_policy != "Foreground") {
    return Invalid("propagationPolicy: Unsupported value: \"" + d.propagation_policy +
                   "\": supported values: \"Foreground\", \"Background\", \"Orphan\"");
  }
  return d;
}

}  // namespace

std::string FieldSelectorForStorage(const RequestInfo& info, std::string_view selector) {
  if (!info.events_v1() || selector.empty()) return std::string(selector);
  std::string out;
  size_t i = 0;
  while (i <= selector.size()) {
    size_t comma = selector.find(',', i);
    if (comma == std::string_view::npos) comma = selector.size();
    std::string_view term = selector.substr(i, comma - i);
    size_t op = term.find_first_of("!=");
    if (!out.empty()) out += ',';
    out += api::EventsV1FieldToCore(term.substr(0, op));
    if (op != std::string_view::npos) out += term.substr(op);
    i = comma + 1;
  }
  return out;
}

ApiHandler::ApiHandler(Rest& rest, const api::Registry& registry)
    : rest_(rest), registry_(registry) {}

namespace {

// The verb Kubernetes authorizes a non-resource request with: the method, lower-cased.
std::string PathVerb(std::string_view method) {
  if (method == "HEAD") return "get";
  std::string v(method);
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v;
}

std::vector<std::string> SplitList(std::string_view joined) {
  // Repeated headers arrive joined by ", " (http_server.cc).
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= joined.size()) {
    size_t j = joined.find(',', i);
    if (j == std::string_view::npos) j = joined.size();
    std::string_view part = joined.substr(i, j - i);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    i = j + 1;
  }
  return out;
}

}  // namespace

Result<json::object> ApiHandler::Review(const Request& req, const RequestInfo& info,
                                        json::object request) const {
  ReviewContext ctx{req.identity, authz_, token_reviewer_ ? &token_reviewer_ : nullptr, info.ns};
  return AnswerReview(*info.kind, std::move(request), ctx);
}

Status ApiHandler::AuthorizePath(const Request& req) const {
  if (!authz_) return Status::Ok();
  const std::string verb = PathVerb(req.method);
  AuthzAttributes a;
  a.verb = verb;
  a.resource_request = false;
  a.path = req.path;
  if (authz_->Authorize(req.identity, a).allowed) return Status::Ok();
  return ForbiddenError(req.identity, a);
}

Status ApiHandler::AuthorizeResource(const Request& req, const RequestInfo& info) const {
  if (!authz_) return Status::Ok();
  AuthzAttributes a;
  a.verb = info.verb;
  // Streams into a container are creations whatever the method (Kubernetes asks for create on
  // a websocket GET too).
  if (info.subresource == "exec" || info.subresource == "attach" ||
      info.subresource == "portforward") {
    a.verb = "create";
  }
  a.group = info.group;
  a.resource = info.resource;
  a.subresource = info.subresource;
  // A namespace is its own namespace, so a RoleBinding there may grant reading it.
  a.ns = info.resource == "namespaces" && info.api_prefix == "api" ? info.name : info.ns;
  a.name = info.name;
  if (authz_->Authorize(req.identity, a).allowed) return Status::Ok();
  return ForbiddenError(req.identity, a);
}

Status ApiHandler::Impersonate(Request& req) const {
  if (!req.identity.authenticated) return Status(Code::kUnauthorized, "Unauthorized");
  std::string user(req.Header("impersonate-user"));
  std::vector<std::string> groups = SplitList(req.Header("impersonate-group"));
  std::string uid(req.Header("impersonate-uid"));
  std::vector<std::pair<std::string, std::string>> extras;
  for (auto it = req.headers.lower_bound(std::string_view("impersonate-extra-"));
       it != req.headers.end() && it->first.starts_with("impersonate-extra-"); ++it) {
    for (auto& v : SplitList(it->second)) extras.emplace_back(it->first.substr(18), std::move(v));
  }
  if (user.empty()) {
    return BadRequest("requested impersonation of groups, a uid or extra fields without "
                      "impersonating a user");
  }
  auto check = [&](AuthzAttributes a) -> Status {
    a.verb = "impersonate";
    if (!authz_ || authz_->Authorize(req.identity, a).allowed) return Status::Ok();
    return ForbiddenError(req.identity, a);
  };
  constexpr std::string_view kSa = "system:serviceaccount:";
  std::vector<std::string> sa_groups;
  if (user.starts_with(kSa) && user.find(':', kSa.size()) != std::string::npos) {
    size_t colon = user.find(':', kSa.size());
    std::string ns = user.substr(kSa.size(), colon - kSa.size());
    std::string name = user.substr(colon + 1);
    AuthzAttributes a;
    a.resource = "serviceaccounts";
    a.ns = ns;
    a.name = name;
    RETURN_IF_ERROR(check(a));
    sa_groups = {"system:serviceaccounts", "system:serviceaccounts:" + ns};
  } else {
    AuthzAttributes a;
    a.resource = "users";
    a.name = user;
    RETURN_IF_ERROR(check(a));
  }
  for (const auto& g : groups) {
    AuthzAttributes a;
    a.resource = "groups";
    a.name = g;
    RETURN_IF_ERROR(check(a));
  }
  for (const auto& [key, value] : extras) {
    AuthzAttributes a;
    a.group = "authentication.k8s.io";
    a.resource = "userextras";
    a.subresource = key;
    a.name = value;
    RETURN_IF_ERROR(check(a));
  }
  if (!uid.empty()) {
    AuthzAttributes a;
    a.group = "authentication.k8s.io";
    a.resource = "uids";
    a.name = uid;
    RETURN_IF_ERROR(check(a));
  }
  if (groups.empty()) groups = std::move(sa_groups);
  const bool anonymous = user == "system:anonymous";
  const char* all = anonymous ? "system:unauthenticated" : "system:authenticated";
  if (std::find(groups.begin(), groups.end(), all) == groups.end()) groups.emplace_back(all);
  req.identity.user = std::move(user);
  req.identity.groups = std::move(groups);
  req.identity.authenticated = !anonymous;
  return Status::Ok();
}

asio::awaitable<void> ApiHandler::Handle(Request& req, Responder& res) {
  std::string failure;
  try {
    co_await Route(req, res);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (!failure.empty()) {
    LOG(ERROR) << req.method << " " << req.target << ": unexpected exception: " << failure;
    if (!res.sent()) {
      Response reply = ErrorResponse(Internal(failure));
      co_await res.Send(std::move(reply));
    }
  }
}

asio::awaitable<void> ApiHandler::Route(Request& req, Responder& res) {
  if (auto imp = req.headers.lower_bound(std::string_view("impersonate-"));
      imp != req.headers.end() && imp->first.starts_with("impersonate-")) {
    if (Status st = Impersonate(req); !st.ok()) {
      RETURN_REPLY(ErrorResponse(st));
    }
  }
  if (co_await HandleNonResource(req, res)) co_return;
  if (!req.identity.authenticated) {
    RETURN_REPLY(ErrorResponse(Status(Code::kUnauthorized, "Unauthorized")));
  }
  auto info = ParseRequestInfo(req, registry_);
  if (!info.ok()) {
    // A path that names no resource is still authorized first, as Kubernetes does: a user
    // who may not read it learns nothing of what exists.
    if (Status st = AuthorizePath(req); !st.ok()) {
      RETURN_REPLY(ErrorResponse(st));
    }
    RETURN_REPLY(ErrorResponse(info.status()));
  }
  if (Status st = AuthorizeResource(req, *info); !st.ok()) {
    Response reply;
    reply.status = CodeHttpStatus(st.code());
    reply.body = StatusJson(st, info->resource, info->name, info->group);
    co_await res.Send(std::move(reply));
    co_return;
  }
  if (Status st = CheckAccept(req); !st.ok()) {
    RETURN_REPLY(ErrorResponse(st, &*info));
  }
  // A verb the resource does not offer (a list of bindings, a get of a review): 405, as
  // Kubernetes answers.
  if (info->subresource.empty() && info->kind &&
      std::find(info->kind->verbs.begin(), info->kind->verbs.end(), info->verb) ==
          info->kind->verbs.end()) {
    RETURN_REPLY(ErrorResponse(MethodNotAllowed(), &*info));
  }
  if (!info->subresource.empty()) {
    co_await HandleSubresource(req, res, *info);
  } else if (info->verb == "watch") {
    // Straight to Watch, not through HandleResource: a watch lives long, and HandleResource's
    // coroutine frame (~10 KB, sized for every verb) would stay allocated for all of it.
    co_await Watch(req, res, *info);
  } else {
    co_await HandleResource(req, res, *info);
  }
}

asio::awaitable<void> ApiHandler::HandleResource(Request& req, Responder& res,
                                                 const RequestInfo& info) {
  const api::KindInfo& kind = *info.kind;
  std::vector<std::string> warnings;
  if (info.verb == "watch") {
    co_await Watch(req, res, info);
    co_return;
  }
  if (info.verb == "get") {
    auto obj = rest_.Get(kind, info.ns, info.name);
    if (!obj.ok()) {
      RETURN_REPLY(ErrorResponse(obj.status(), &info));
    }
    if (WantsTable(req)) {
      auto include = api::ParseIncludeObject(req.Query("includeObject"));
      if (!include.ok()) {
        RETURN_REPLY(ErrorResponse(include.status(), &info));
      }
      api::TableOptions to;
      to.include_object = *include;
      to.now_unix = Clock::Real().NowUnix();
      to.resource_version = std::to_string((*obj)->mod_revision);
      std::vector<const json::object*> one;
      one.push_back(&(*obj)->obj);
      Response table = JsonResponse(200, api::BuildTable(kind, one, to));
      co_await res.Send(std::move(table));
      co_return;
    }
    RETURN_REPLY(ObjectReply(info, 200, **obj));
  }
  if (info.verb == "list") {
    ListOptions lo;
    lo.label_selector = std::string(req.Query("labelSelector"));
    lo.field_selector = FieldSelectorForStorage(info, req.Query("fieldSelector"));
    lo.continue_token = std::string(req.Query("continue"));
    if (auto l = req.Query("limit"); !l.empty()) {
      auto v = ParseInt64(l);
      if (!v) {
        RETURN_REPLY(ErrorResponse(BadRequest("limit must be an integer"), &info));
      }
      lo.limit = *v;
    }
    auto list = rest_.List(kind, info.ns, lo);
    if (!list.ok()) {
      RETURN_REPLY(ErrorResponse(list.status(), &info));
    }
    if (WantsTable(req)) {
      auto include = api::ParseIncludeObject(req.Query("includeObject"));
      if (!include.ok()) {
        RETURN_REPLY(ErrorResponse(include.status(), &info));
      }
      std::vector<const json::object*> objs;
      for (auto& o : list->items) objs.push_back(&o->obj);
      api::TableOptions to;
      to.include_object = *include;
      to.now_unix = Clock::Real().NowUnix();
      to.resource_version = std::to_string(list->revision);
      to.continue_token = list->continue_token;
      if (list->remaining > 0) to.remaining_item_count = list->remaining;
      RETURN_REPLY(JsonResponse(200, api::BuildTable(kind, objs, to)));
    }
    std::string body = ListJson(info, *list);
    Response r;
    r.body = std::move(body);
    co_await res.Send(std::move(r));
    co_return;
  }
  if (info.verb == "create") {
    if (!info.name.empty()) {
      {
        Response reply = ErrorResponse(
          Status(Code::kMethodNotAllowed, "POST is not allowed on a named " + kind.singular), &info);
        co_await res.Send(std::move(reply));
      }
      co_return;
    }
    auto opts = ParseWriteOptions(req, &warnings);
    std::vector<std::string> dups;
    auto body = DecodeBody(req, registry_, &dups);
    if (opts.ok()) opts->duplicate_fields = std::move(dups);
    if (opts.ok() && body.ok() && info.events_v1()) {
      auto conv = ToStoredEvent(info, std::move(*body), *opts);
      if (!conv.ok()) {
        Response reply = ErrorResponse(conv.status(), &info);
        co_await res.Send(std::move(reply));
        co_return;
      }
      body = std::move(*conv);
    }
    if (!opts.ok() || !body.ok()) {
      RETURN_REPLY(ErrorResponse(!opts.ok() ? opts.status() : body.status(), &info));
    }
    RequestInfo named = info;
    if (body->is_object()) {
      if (auto* m = body->as_object().if_contains("metadata"); m && m->is_object()) {
        if (auto* n = m->as_object().if_contains("name"); n && n->is_string())
          named.name = std::string(n->as_string());
      }
    }
    if (IsReview(kind)) {
      auto request = rest_.Decode(kind, std::move(*body), *opts);
      auto answer = request.ok() ? Review(req, info, std::move(*request))
                                 : Result<json::object>(request.status());
      if (!answer.ok()) {
        RETURN_REPLY(ErrorResponse(answer.status(), &info));
      }
      Response r = JsonResponse(201, *answer);
      AddWarnings(r, warnings);
      co_await res.Send(std::move(r));
      co_return;
    }
    std::string ns = info.ns;
    WriteOptions wo = *opts;
    json::value v = std::move(*body);
    auto created = co_await rest_.Create(kind, ns, std::move(v), wo);
    if (!created.ok()) {
      RETURN_REPLY(ErrorResponse(created.status(), &named));
    }
    Response r = ObjectReply(info, 201, **created);
    AddWarnings(r, warnings);
    co_await res.Send(std::move(r));
    co_return;
  }
  if (info.verb == "update" || info.verb == "patch") {
    if (info.name.empty()) {
      {
        Response reply = ErrorResponse(
          Status(Code::kMethodNotAllowed, "the server does not allow this method on a collection"),
          &info);
        co_await res.Send(std::move(reply));
      }
      co_return;
    }
    auto opts = ParseWriteOptions(req, &warnings);
    if (!opts.ok()) {
      RETURN_REPLY(ErrorResponse(opts.status(), &info));
    }
    Result<ObjectPtr> out = Status(Code::kInternal, "unreachable");
    bool created = false;  // a server-side apply that created the object
    if (info.verb == "update") {
      std::vector<std::string> dups;
      auto body = DecodeBody(req, registry_, &dups);
      opts->duplicate_fields = std::move(dups);
      if (body.ok() && info.events_v1()) body = ToStoredEvent(info, std::move(*body), *opts);
      if (!body.ok()) {
        RETURN_REPLY(ErrorResponse(body.status(), &info));
      }
      std::string ns = info.ns, name = info.name, no_sub;
      WriteOptions wo = *opts;
      json::value v = std::move(*body);
      out = co_await rest_.Update(kind, ns, name, no_sub, std::move(v), wo);
    } else {
      std::string mt = MediaType(req.Header("content-type"));
      PatchType pt;
      if (mt == "application/json-patch+json") {
        pt = PatchType::kJson;
      } else if (mt == "application/merge-patch+json") {
        pt = PatchType::kMerge;
      } else if (mt == "application/strategic-merge-patch+json") {
        pt = PatchType::kStrategic;
      } else if (mt == "application/apply-patch+yaml") {
        pt = PatchType::kApply;
      } else {
        {
          Response reply = ErrorResponse(
            Status(Code::kUnsupportedMedia,
                   "the body of the request was in an unknown format - accepted media types "
                   "include: application/json-patch+json, application/merge-patch+json, "
                   "application/strategic-merge-patch+json, application/apply-patch+yaml"),
            &info);
          co_await res.Send(std::move(reply));
        }
        co_return;
      }
      auto patch = pt == PatchType::kApply ? api::DecodeYaml(req.body) : api::DecodeJson(req.body);
      if (!patch.ok()) {
        RETURN_REPLY(ErrorResponse(patch.status(), &info));
      }
      std::string ns = info.ns, name = info.name, no_sub;
      WriteOptions wo = *opts;
      json::value v = std::move(*patch);
      if (info.events_v1()) {
        Response reply = ErrorResponse(
            Status(Code::kMethodNotAllowed,
                   "patching events.k8s.io/v1 Events is not supported yet; patch the v1 Event"),
            &info);
        co_await res.Send(std::move(reply));
        co_return;
      }
      if (pt != PatchType::kApply && wo.force) {
        RETURN_REPLY(ErrorResponse(BadRequest("force may only be set on apply requests"), &info));
      }
      wo.created = &created;
      out = co_await rest_.Patch(kind, ns, name, no_sub, pt, std::move(v), wo);
    }
    if (!out.ok()) {
      RETURN_REPLY(ErrorResponse(out.status(), &info));
    }
    Response r = ObjectReply(info, created ? 201 : 200, **out);
    AddWarnings(r, warnings);
    co_await res.Send(std::move(r));
    co_return;
  }
  if (info.verb == "delete" || info.verb == "deletecollection") {
    auto dopts = ParseDeleteOptions(req);
    if (!dopts.ok()) {
      RETURN_REPLY(ErrorResponse(dopts.status(), &info));
    }
    DeleteOptions d = *dopts;
    d.identity = &req.identity;
    if (info.verb == "delete") {
      std::string ns = info.ns, name = info.name;
      auto out = co_await rest_.Delete(kind, ns, name, d);
      if (!out.ok()) {
        RETURN_REPLY(ErrorResponse(out.status(), &info));
      }
      RETURN_REPLY(ObjectReply(info, 200, **out));
    }
    ListOptions lo;
    lo.label_selector = std::string(req.Query("labelSelector"));
    lo.field_selector = std::string(req.Query("fieldSelector"));
    auto list = rest_.List(kind, info.ns, lo);
    if (!list.ok()) {
      RETURN_REPLY(ErrorResponse(list.status(), &info));
    }
    json::array items;
    for (auto& o : list->items) {
      std::string ns(internal::MetaString(o->obj, "namespace"));
      std::string name(o->obj.at("metadata").as_object().at("name").as_string());
      auto out = co_await rest_.Delete(kind, ns, name, d);
      if (out.ok()) items.push_back((*out)->obj);
    }
    json::object l;
    l["kind"] = ListKind(kind);
    l["apiVersion"] = kind.ApiVersion();
    l["metadata"] = json::object{{"resourceVersion", std::to_string(list->revision)}};
    l["items"] = std::move(items);
    RETURN_REPLY(JsonResponse(200, l));
  }
  {
    Response reply = ErrorResponse(
      Status(Code::kMethodNotAllowed, "the server does not allow this method"), &info);
    co_await res.Send(std::move(reply));
  }
}

}  // namespace sampan::apiserver
