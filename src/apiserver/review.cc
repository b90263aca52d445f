#include "apiserver/review.h"

#include <boost/json.hpp>

namespace sampan::apiserver {

namespace json = boost::json;

namespace {

// The authorizer. There is no RBAC yet: every authenticated user may do everything, which is
// what the API handler enforces (unauthenticated requests are refused before they get here).
struct Decision {
  bool allowed = false;
  std::string reason;
};

Decision Authorize(const Identity& who) {
  if (!who.authenticated) return {false, "the request is not authenticated"};
  return {true, "every authenticated user is allowed (no RBAC in this cluster yet)"};
}

const json::object* ObjectAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

Status InvalidSpec(const api::KindInfo& kind, std::string_view field, std::string_view message) {
  return Invalid(kind.kind + "." + kind.group + " \"\" is invalid: " + std::string(field) + ": " +
                     std::string(message),
                 {Cause{"FieldValueInvalid", std::string(message), std::string(field)}});
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
  return (kind.group == "authorization.k8s.io" &&
          (kind.kind == "SelfSubjectAccessReview" || kind.kind == "SelfSubjectRulesReview")) ||
         (kind.group == "authentication.k8s.io" && kind.kind == "SelfSubjectReview");
}

Result<json::object> AnswerReview(const api::KindInfo& kind, json::object request,
                                  const Identity& who) {
  request["kind"] = kind.kind;
  request["apiVersion"] = kind.ApiVersion();
  // Nothing is stored: the reply carries no name, uid or resourceVersion of its own.
  json::object meta;
  meta["creationTimestamp"] = nullptr;
  request["metadata"] = std::move(meta);
  const json::object* spec = ObjectAt(request, "spec");
  if (kind.kind == "SelfSubjectReview") {
    json::object status;
    status["userInfo"] = UserInfo(who);
    request["status"] = std::move(status);
    return request;
  }
  const Decision d = Authorize(who);
  json::object status;
  if (kind.kind == "SelfSubjectAccessReview") {
    const bool resource = spec && ObjectAt(*spec, "resourceAttributes");
    const bool other = spec && ObjectAt(*spec, "nonResourceAttributes");
    if (resource == other) {
      return InvalidSpec(kind, "spec.resourceAttributes",
                         "exactly one of nonResourceAttributes or resourceAttributes must be "
                         "specified");
    }
    status["allowed"] = d.allowed;
    if (!d.allowed) status["denied"] = true;
    status["reason"] = d.reason;
  } else {  // SelfSubjectRulesReview
    if (!spec || !spec->contains("namespace")) {
      return InvalidSpec(kind, "spec.namespace", "Required value");
    }
    json::array resource_rules, other_rules;
    if (d.allowed) {
      resource_rules.push_back(json::object{{"verbs", json::array{"*"}},
                                            {"apiGroups", json::array{"*"}},
                                            {"resources", json::array{"*"}}});
      other_rules.push_back(
          json::object{{"verbs", json::array{"*"}}, {"nonResourceURLs", json::array{"*"}}});
    }
    status["resourceRules"] = std::move(resource_rules);
    status["nonResourceRules"] = std::move(other_rules);
    status["incomplete"] = false;
  }
  request["status"] = std::move(status);
  return request;
}

}  // namespace sampan::apiserver
