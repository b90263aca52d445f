// Service account tokens: the JWTs that the TokenRequest API (`kubectl create token`) issues and
// that the API server accepts as bearer tokens, in Kubernetes' form (RS256, issuer and audience
// https://kubernetes.default.svc.cluster.local, subject system:serviceaccount:NS:NAME, the
// "kubernetes.io" claim naming the account and the object the token is bound to).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace sampan::apiserver {

inline constexpr std::string_view kServiceAccountIssuer =
    "https://kubernetes.default.svc.cluster.local";

// What a token says about its holder.
struct TokenClaims {
  std::string ns, name, uid;  // the service account
  std::vector<std::string> audiences;
  int64_t issued_at = 0, not_before = 0, expires = 0;  // unix seconds
  std::string bound_kind, bound_name, bound_uid;       // Pod or Secret or Node; "" if unbound
  std::string id;                                      // jti
};

class ServiceAccountTokens {
 public:
  // The signing key in `key_file` (PEM), made (RSA 2048, mode 0600) when it does not exist.
  static Result<std::unique_ptr<ServiceAccountTokens>> Load(const std::string& key_file);
  ~ServiceAccountTokens();

  // A signed token with `claims` (its id is filled in).
  Result<std::string> Issue(TokenClaims claims) const;
  // The claims of a token this server signed that is valid at `now` for one of `audiences`;
  // nullopt when the signature, issuer, audience or time window is wrong.
  std::optional<TokenClaims> Verify(std::string_view token, int64_t now,
                                    const std::vector<std::string>& audiences) const;
  // The public key as a JSON Web Key Set (/openid/v1/jwks), for whoever verifies the tokens.
  std::string JwksJson() const;

 private:
  struct Key;
  explicit ServiceAccountTokens(std::unique_ptr<Key> key);
  std::unique_ptr<Key> key_;
};

}  // namespace sampan::apiserver
