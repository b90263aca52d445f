#include "apiserver/review.h"

#include <algorithm>
#include <boost/json.hpp>

#include "apiserver/rbac.h"

namespace sampan::apiserver {

namespace json = boost::json;

namespace {

const json::object* ObjectAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

Status InvalidSpec(const api::KindInfo& kind, std::string_view field, std::string_view message) {
  return Invalid(kind.kind + "." + kind.group + " \"\" is invalid: " + std::string(field) + ": " +
                     std::string(message),
                 {Cause{"FieldValueInvalid", std::string(message), std::string(field)}});
}

std::string_view StrAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

json::object UserInfo(const Identity& who) {
  json::object u;
  u["username"] = who.user;
  json::array groups;
  for (const auto& g : who.groups) groups.emplace_back(g);
  u["groups"] = std::move(groups);
  return u;
}

}  // namespace

bool IsReview(const api::KindInfo& kind) {
  if (kind.group == "authorization.k8s.io") {
    return kind.kind == "SelfSubjectAccessReview" || kind.kind == "SelfSubjectRulesReview" ||
           kind.kind == "SubjectAccessReview" || kind.kind == "LocalSubjectAccessReview";
  }
  return kind.group == "authentication.k8s.io" &&
         (kind.kind == "SelfSubjectReview" || kind.kind == "TokenReview");
}

namespace {

json::array StringArray(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

// The user a SubjectAccessReview asks about.
Identity SubjectOf(const json::object& spec) {
  Identity who;
  who.user = std::string(StrAt(spec, "user"));
  if (const json::value* g = spec.if_contains("groups"); g && g->is_array()) {
    for (const auto& e : g->as_array())
      if (e.is_string()) who.groups.emplace_back(e.as_string());
  }
  who.authenticated = true;
  return who;
}

Result<json::object> AnswerAccessReview(const api::KindInfo& kind, json::object request,
                                        const ReviewContext& ctx) {
  const json::object* spec = ObjectAt(request, "spec");
  const json::object* ra = spec ? ObjectAt(*spec, "resourceAttributes") : nullptr;
  const json::object* na = spec ? ObjectAt(*spec, "nonResourceAttributes") : nullptr;
  const bool self = kind.kind == "SelfSubjectAccessReview";
  const bool local = kind.kind == "LocalSubjectAccessReview";
  if (local && na) {
    return InvalidSpec(kind, "spec.nonResourceAttributes", "disallowed on this kind of request");
  }
  if (!ra == !na) {
    return InvalidSpec(kind, "spec.resourceAttributes",
                       "exactly one of nonResourceAttributes or resourceAttributes must be "
                       "specified");
  }
  Identity subject = self ? ctx.who : SubjectOf(*spec);
  if (!self && subject.user.empty() && subject.groups.empty()) {
    return InvalidSpec(kind, "spec.user", "at least one of user or group must be specified");
  }
  if (local && ra) {
    // The namespace comes from the URL; written into the review before anything reads it
    // (the attributes below are views into these objects).
    const std::string asked(StrAt(*ra, "namespace"));
    if (!asked.empty() && asked != ctx.ns) {
      return BadRequest("spec.resourceAttributes.namespace must match metadata.namespace: \"" +
                        asked + "\" != \"" + std::string(ctx.ns) + "\"");
    }
    request["metadata"].as_object()["namespace"] = ctx.ns;
    request["spec"].as_object()["resourceAttributes"].as_object()["namespace"] = ctx.ns;
    spec = ObjectAt(request, "spec");
    ra = ObjectAt(*spec, "resourceAttributes");
  }
  AuthzAttributes a;
  const json::object& attrs = ra ? *ra : *na;
  a.verb = StrAt(attrs, "verb");
  if (ra) {
    a.group = StrAt(attrs, "group");
    a.resource = StrAt(attrs, "resource");
    a.subresource = StrAt(attrs, "subresource");
    a.ns = StrAt(attrs, "namespace");
    a.name = StrAt(attrs, "name");
  } else {
    a.resource_request = false;
    a.path = StrAt(attrs, "path");
  }
  AuthzDecision d;
  if (!subject.authenticated) {
    d.reason = "the request is not authenticated";
  } else if (!ctx.authz) {
    d = {true, "every authenticated user is allowed (authorization is off)"};
  } else {
    d = ctx.authz->Authorize(subject, a);
  }
  json::object status;
  status["allowed"] = d.allowed;
  if (!d.reason.empty()) status["reason"] = d.reason;
  request["status"] = std::move(status);
  return request;
}

Result<json::object> AnswerTokenReview(const api::KindInfo& kind, json::object request,
                                       const ReviewContext& ctx) {
  const json::object* spec = ObjectAt(request, "spec");
  std::string_view token = spec ? StrAt(*spec, "token") : std::string_view();
  if (token.empty()) return InvalidSpec(kind, "spec.token", "Required value");
  std::vector<std::string> audiences;
  if (const json::value* a = spec->if_contains("audiences"); a && a->is_array()) {
    for (const auto& e : a->as_array())
      if (e.is_string()) audiences.emplace_back(e.as_string());
  }
  std::optional<ReviewedToken> t;
  if (ctx.tokens) t = (*ctx.tokens)(token, audiences);
  json::object status;
  json::object user;
  if (t) {
    status["authenticated"] = true;
    user["username"] = t->user.user;
    if (!t->uid.empty()) user["uid"] = t->uid;
    std::vector<std::string> groups = t->user.groups;
    if (std::find(groups.begin(), groups.end(), "system:authenticated") == groups.end())
      groups.emplace_back("system:authenticated");
    user["groups"] = StringArray(groups);
    if (!t->extra.empty()) {
      json::object extra;
      for (const auto& [k, v] : t->extra) {
        json::value& slot = extra[k];
        if (!slot.is_array()) slot.emplace_array();
        slot.as_array().emplace_back(v);
      }
      user["extra"] = std::move(extra);
    }
    if (!t->audiences.empty()) status["audiences"] = StringArray(t->audiences);
  } else {
    status["error"] = "invalid bearer token";
  }
  status["user"] = std::move(user);
  request["status"] = std::move(status);
  return request;
}

}  // namespace

Result<json::object> AnswerReview(const api::KindInfo& kind, json::object request,
                                  const ReviewContext& ctx) {
  const Identity& who = ctx.who;
  request["kind"] = kind.kind;
  request["apiVersion"] = kind.ApiVersion();
  // Nothing is stored: the reply carries no name, uid or resourceVersion of its own.
  json::object meta;
  meta["creationTimestamp"] = nullptr;
  request["metadata"] = std::move(meta);
  if (kind.kind == "SelfSubjectReview") {
    json::object status;
    status["userInfo"] = UserInfo(who);
    request["status"] = std::move(status);
    return request;
  }
  if (kind.kind == "TokenReview") return AnswerTokenReview(kind, std::move(request), ctx);
  if (kind.kind != "SelfSubjectRulesReview") {
    return AnswerAccessReview(kind, std::move(request), ctx);
  }
  const json::object* spec = ObjectAt(request, "spec");
  if (!spec || !spec->contains("namespace")) {
    return InvalidSpec(kind, "spec.namespace", "Required value");
  }
  std::vector<PolicyRule> rules;
  if (who.authenticated && ctx.authz) {
    rules = ctx.authz->RulesFor(who, StrAt(*spec, "namespace"));
  } else if (who.authenticated) {
    rules = {PolicyRule{{"*"}, {"*"}, {"*"}, {}, {}}, PolicyRule{{"*"}, {}, {}, {}, {"*"}}};
  }
  json::array resource_rules, other_rules;
  for (const PolicyRule& r : rules) {
    if (!r.non_resource_urls.empty()) {
      PolicyRule nr{r.verbs, {}, {}, {}, r.non_resource_urls};
      other_rules.push_back(RuleToJson(nr));
    }
    if (!r.resources.empty() || !r.api_groups.empty()) {
      PolicyRule rr{r.verbs, r.api_groups, r.resources, r.resource_names, {}};
      resource_rules.push_back(RuleToJson(rr));
    }
  }
  json::object status;
  status["resourceRules"] = std::move(resource_rules);
  status["nonResourceRules"] = std::move(other_rules);
  status["incomplete"] = false;
  request["status"] = std::move(status);
  return request;
}

}  // namespace sampan::apiserver
