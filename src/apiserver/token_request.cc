// serviceaccounts/{name}/token: the TokenRequest API (authentication.k8s.io/v1) behind
// `kubectl create token`. The token is signed here (sa_tokens.h) and never stored.
#include <boost/json.hpp>

#include "apiserver/api_handler.h"
#include "apiserver/node_restriction.h"
#include "apiserver/rest_internal.h"
#include "apiserver/sa_tokens.h"
#include "util/clock.h"

namespace sampan::apiserver {

namespace json = boost::json;

namespace {

constexpr int64_t kDefaultExpiration = 3600;     // seconds, as Kubernetes
constexpr int64_t kMinExpiration = 600;          // "may not specify a duration less than 10 minutes"
constexpr int64_t kMaxExpiration = 1LL << 32;    // "... larger than 2^32 seconds"

}  // namespace

asio::awaitable<void> ApiHandler::CreateToken(Request& req, Responder& res,
                                              const RequestInfo& info,
                                              const json::object& account) {
  if (!sa_tokens_) {
    RETURN_REPLY(ErrorResponse(NotFound("the server could not find the requested resource"), &info));
  }
  std::vector<std::string> dups;
  auto body = DecodeBody(req, registry_, &dups);
  if (!body.ok()) {
    RETURN_REPLY(ErrorResponse(body.status(), &info));
  }
  if (!body->is_object()) {
    RETURN_REPLY(ErrorResponse(BadRequest("the body must be a TokenRequest"), &info));
  }
  const json::object& in = body->as_object();
  if (auto* k = in.if_contains("kind"); k && k->is_string() && k->as_string() != "TokenRequest") {
    RETURN_REPLY(ErrorResponse(
        BadRequest("the body is a " + std::string(k->as_string()) + ", not a TokenRequest"), &info));
  }
  json::object spec;
  if (auto* s = in.if_contains("spec"); s && s->is_object()) spec = s->as_object();
  std::vector<Cause> causes;
  int64_t expiration = kDefaultExpiration;
  if (auto* e = spec.if_contains("expirationSeconds"); e && !e->is_null()) {
    if (!e->is_number()) {
      causes.push_back({"FieldValueInvalid", "must be a number", "spec.expirationSeconds"});
    } else {
      expiration = e->to_number<int64_t>();
      if (expiration < kMinExpiration) {
        causes.push_back({"FieldValueInvalid",
                          "Invalid value: " + std::to_string(expiration) +
                              ": may not specify a duration less than 10 minutes",
                          "spec.expirationSeconds"});
      } else if (expiration > kMaxExpiration) {
        causes.push_back({"FieldValueInvalid",
                          "Invalid value: " + std::to_string(expiration) +
                              ": may not specify a duration larger than 2^32 seconds",
                          "spec.expirationSeconds"});
      }
    }
  }
  std::vector<std::string> audiences;
  if (auto* a = spec.if_contains("audiences"); a && a->is_array()) {
    for (const auto& v : a->as_array())
      if (v.is_string() && !v.as_string().empty()) audiences.emplace_back(v.as_string());
  }
  if (audiences.empty()) audiences.emplace_back(kServiceAccountIssuer);

  {  // NodeRestriction: a node asks only for tokens bound to its own pods.
    json::object request;
    request["spec"] = spec;
    if (Status st = AdmitNodeTokenRequest(&req.identity, info.ns, info.name, request, registry_,
                                          rest_.cache());
        !st.ok()) {
      RETURN_REPLY(ErrorResponse(st, &info));
    }
  }
  TokenClaims claims;
  claims.ns = info.ns;
  claims.name = info.name;
  claims.uid = std::string(internal::MetaString(account, "uid"));
  claims.audiences = audiences;
  // The object the token is bound to: it must exist (and be the one named by uid, if given).
  if (auto* b = spec.if_contains("boundObjectRef"); b && b->is_object()) {
    const json::object& ref = b->as_object();
    auto str = [&](std::string_view k) {
      auto* v = ref.if_contains(k);
      return v && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    std::string kind = str("kind"), name = str("name"), uid = str("uid");
    if (kind != "Pod" && kind != "Secret" && kind != "Node") {
      causes.push_back({"FieldValueNotSupported",
                        "Unsupported value: \"" + kind +
                            "\": supported values: \"Node\", \"Pod\", \"Secret\"",
                        "spec.boundObjectRef.kind"});
    } else if (name.empty()) {
      causes.push_back({"FieldValueRequired", "Required value", "spec.boundObjectRef.name"});
    } else if (causes.empty()) {
      const api::KindInfo* bk = registry_.FindKind("", "v1", kind);
      auto bound = rest_.Get(*bk, kind == "Node" ? "" : info.ns, name);
      if (!bound.ok()) {
        RETURN_REPLY(ErrorResponse(bound.status(), &info));
      }
      std::string have(internal::MetaString((*bound)->obj, "uid"));
      if (!uid.empty() && uid != have) {
        RETURN_REPLY(ErrorResponse(
            Conflict("the UID in the bound object reference (" + uid +
                     ") does not match the UID in record. The object might have been deleted "
                     "and then recreated"),
            &info));
      }
      claims.bound_kind = kind;
      claims.bound_name = name;
      claims.bound_uid = have;
      json::object fixed = ref;
      fixed["uid"] = have;
      if (!fixed.contains("apiVersion")) fixed["apiVersion"] = "v1";
      spec["boundObjectRef"] = std::move(fixed);
    }
  }
  if (!causes.empty()) {
    api::KindInfo token_request;  // not a resource of its own: named for the message only
    token_request.kind = "TokenRequest";
    RETURN_REPLY(
        ErrorResponse(rest_.InvalidError(token_request, info.name, std::move(causes)), &info));
  }
  const int64_t now = Clock::Real().NowUnix();
  claims.issued_at = claims.not_before = now;
  claims.expires = now + expiration;
  auto token = sa_tokens_->Issue(claims);
  if (!token.ok()) {
    RETURN_REPLY(ErrorResponse(token.status(), &info));
  }
  json::array aud;
  for (const auto& a : audiences) aud.emplace_back(a);
  spec["audiences"] = std::move(aud);
  spec["expirationSeconds"] = expiration;
  json::object out{
      {"kind", "TokenRequest"},
      {"apiVersion", "authentication.k8s.io/v1"},
      {"metadata", json::object{{"name", info.name},
                                {"namespace", info.ns},
                                {"creationTimestamp", FormatRfc3339(now)}}},
      {"spec", std::move(spec)},
      {"status", json::object{{"token", *token},
                              {"expirationTimestamp", FormatRfc3339(claims.expires)}}}};
  RETURN_REPLY(JsonResponse(201, out));
}

}  // namespace sampan::apiserver
