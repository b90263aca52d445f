// Reviews: SelfSubjectAccessReview and SelfSubjectRulesReview (authorization.k8s.io/v1, behind
// `kubectl auth can-i`) and SelfSubjectReview (authentication.k8s.io/v1, `kubectl auth whoami`).
// A review is created, answered from the request's identity and the authorizer, and never stored.
#pragma once

#include <boost/json/object.hpp>

#include "api/schema.h"
#include "apiserver/http.h"
#include "util/status.h"

namespace sampan::apiserver {

bool IsReview(const api::KindInfo& kind);

// The review `request` (decoded and checked against its schema) answered for `who`: its status
// filled in, as Kubernetes returns it. Invalid when the spec asks nothing answerable.
Result<boost::json::object> AnswerReview(const api::KindInfo& kind, boost::json::object request,
                                         const Identity& who);

}  // namespace sampan::apiserver
