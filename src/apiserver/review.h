// Reviews: SelfSubjectAccessReview and SelfSubjectRulesReview (authorization.k8s.io/v1, behind
// `kubectl auth can-i`), SelfSubjectReview (authentication.k8s.io/v1, `kubectl auth whoami`),
// and the delegated ones other components ask: SubjectAccessReview and
// LocalSubjectAccessReview (may this user do that?) and TokenReview (whose token is this?).
// A review is created, answered from the authenticator and the authorizer, and never stored.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/schema.h"
#include "apiserver/http.h"
#include "util/status.h"

namespace sampan::apiserver {

bool IsReview(const api::KindInfo& kind);

// What a TokenReview learns of a bearer token: whose it is, and for which of the asked-for
// audiences it was issued.
struct ReviewedToken {
  Identity user;
  std::string uid;
  std::vector<std::pair<std::string, std::string>> extra;  // key, value
  std::vector<std::string> audiences;
};
// Checks `token` for one of `audiences` (empty: the API server's own); nullopt if invalid.
using TokenReviewer = std::function<std::optional<ReviewedToken>(
    std::string_view token, const std::vector<std::string>& audiences)>;

struct ReviewContext {
  const Identity& who;                    // the requester (for the Self* reviews)
  const class Authorizer* authz = nullptr;  // null: every authenticated user may do all
  const TokenReviewer* tokens = nullptr;    // null: TokenReview answers unauthenticated
  std::string_view ns;                    // the URL's namespace (LocalSubjectAccessReview)
};

// The review `request` (decoded and checked against its schema) answered as Kubernetes
// answers it: its status filled in. Invalid or BadRequest when the spec asks nothing
// answerable.
Result<boost::json::object> AnswerReview(const api::KindInfo& kind, boost::json::object request,
                                         const ReviewContext& ctx);

}  // namespace sampan::apiserver
