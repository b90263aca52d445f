#include "apiserver/sa_tokens.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <boost/json.hpp>

#include "apiserver/openssl_ptr.h"
#include "util/base64.h"
#include "util/clock.h"
#include "util/fs.h"

namespace sampan::apiserver {

namespace json = boost::json;

namespace {

std::string Pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return "";
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

const json::value* Member(const json::object& o, std::string_view key) {
  return o.if_contains(key);
}

std::string StringAt(const json::object& o, std::string_view key) {
  const json::value* v = Member(o, key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

int64_t IntAt(const json::object& o, std::string_view key) {
  const json::value* v = Member(o, key);
  return v && v->is_number() ? v->to_number<int64_t>() : 0;
}

}  // namespace

struct ServiceAccountTokens::Key {
  KeyPtr pkey;
  std::string kid;  // base64url(SHA-256 of the public key's DER), as Kubernetes names its keys
};

ServiceAccountTokens::ServiceAccountTokens(std::unique_ptr<Key> key) : key_(std::move(key)) {}
ServiceAccountTokens::~ServiceAccountTokens() = default;

Result<std::unique_ptr<ServiceAccountTokens>> ServiceAccountTokens::Load(
    const std::string& key_file) {
  KeyPtr pkey;
  struct stat st {};
  if (stat(key_file.c_str(), &st) != 0) {
    pkey.reset(EVP_RSA_gen(2048));
    if (!pkey) return Internal("cannot generate the service account signing key");
    std::string pem = Pem(pkey.get());
    if (pem.empty()) return Internal("cannot encode the service account signing key");
    RETURN_IF_ERROR(fs::WriteFileAtomic(key_file, pem, 0600));
  } else {
    ASSIGN_OR_RETURN(std::string pem, fs::ReadFile(key_file));
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    pkey.reset(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!pkey || EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_RSA) {
      return Internal(key_file + ": not a PEM RSA private key");
    }
  }
  auto key = std::make_unique<Key>();
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(pkey.get(), &der);
  if (n <= 0) return Internal("cannot encode the service account public key");
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(n), digest);
  OPENSSL_free(der);
  key->kid = Base64UrlEncode(std::string_view(reinterpret_cast<char*>(digest), sizeof digest));
  key->pkey = std::move(pkey);
  return std::unique_ptr<ServiceAccountTokens>(new ServiceAccountTokens(std::move(key)));
}

Result<std::string> ServiceAccountTokens::Issue(TokenClaims c) const {
  if (c.id.empty()) c.id = NewUuid();
  json::object header{{"alg", "RS256"}, {"kid", key_->kid}};
  json::array aud;
  for (const auto& a : c.audiences) aud.emplace_back(a);
  json::object sa{{"name", c.name}, {"uid", c.uid}};
  json::object k8s{{"namespace", c.ns}, {"serviceaccount", std::move(sa)}};
  if (!c.bound_kind.empty()) {
    std::string field = c.bound_kind == "Pod" ? "pod" : c.bound_kind == "Node" ? "node" : "secret";
    k8s[field] = json::object{{"name", c.bound_name}, {"uid", c.bound_uid}};
  }
  json::object claims{
      {"aud", std::move(aud)}, {"exp", c.expires},
      {"iat", c.issued_at},    {"iss", kServiceAccountIssuer},
      {"jti", c.id},           {"kubernetes.io", std::move(k8s)},
      {"nbf", c.not_before},   {"sub", "system:serviceaccount:" + c.ns + ":" + c.name}};
  std::string signing_input =
      Base64UrlEncode(json::serialize(header)) + "." + Base64UrlEncode(json::serialize(claims));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return Internal("cannot sign the token");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return Internal("cannot sign the token");
  }
  sig.resize(len);
  return signing_input + "." + Base64UrlEncode(sig);
}

std::optional<TokenClaims> ServiceAccountTokens::Verify(
    std::string_view token, int64_t now, const std::vector<std::string>& audiences) const {
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return std::nullopt;
  auto header_text = Base64Decode(token.substr(0, dot1));
  auto claims_text = Base64Decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto sig = Base64Decode(token.substr(dot2 + 1));
  if (!header_text || !claims_text || !sig) return std::nullopt;
  json::error_code ec;
  json::value header = json::parse(*header_text, ec);
  if (ec || !header.is_object() || StringAt(header.as_object(), "alg") != "RS256")
    return std::nullopt;  // never "none", never another algorithm than the one we sign with
  std::string_view signing_input = token.substr(0, dot2);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) != 1) {
    return std::nullopt;
  }
  json::value claims_v = json::parse(*claims_text, ec);
  if (ec || !claims_v.is_object()) return std::nullopt;
  const json::object& cl = claims_v.as_object();
  if (StringAt(cl, "iss") != kServiceAccountIssuer) return std::nullopt;
  TokenClaims c;
  if (const json::value* aud = Member(cl, "aud"); aud && aud->is_array()) {
    for (const auto& a : aud->as_array())
      if (a.is_string()) c.audiences.emplace_back(a.as_string());
  } else if (aud && aud->is_string()) {
    c.audiences.emplace_back(aud->as_string());
  }
  bool audience_ok = false;
  for (const auto& a : c.audiences)
    for (const auto& want : audiences) audience_ok = audience_ok || a == want;
  if (!audience_ok) return std::nullopt;
  c.issued_at = IntAt(cl, "iat");
  c.not_before = IntAt(cl, "nbf");
  c.expires = IntAt(cl, "exp");
  constexpr int64_t kLeeway = 60;  // clock skew allowed, as Kubernetes' JWT validation
  if (c.expires == 0 || now > c.expires + kLeeway || now + kLeeway < c.not_before)
    return std::nullopt;
  c.id = StringAt(cl, "jti");
  const json::value* k8s = Member(cl, "kubernetes.io");
  if (!k8s || !k8s->is_object()) return std::nullopt;
  const json::object& ko = k8s->as_object();
  c.ns = StringAt(ko, "namespace");
  if (const json::value* sa = Member(ko, "serviceaccount"); sa && sa->is_object()) {
    c.name = StringAt(sa->as_object(), "name");
    c.uid = StringAt(sa->as_object(), "uid");
  }
  if (c.ns.empty() || c.name.empty() || c.uid.empty()) return std::nullopt;
  if (StringAt(cl, "sub") != "system:serviceaccount:" + c.ns + ":" + c.name) return std::nullopt;
  for (const auto& [field, kind] : {std::pair<std::string_view, std::string_view>{"pod", "Pod"},
                                    {"secret", "Secret"},
                                    {"node", "Node"}}) {
    if (const json::value* b = Member(ko, field); b && b->is_object()) {
      c.bound_kind = std::string(kind);
      c.bound_name = StringAt(b->as_object(), "name");
      c.bound_uid = StringAt(b->as_object(), "uid");
    }
  }
  return c;
}

std::string ServiceAccountTokens::JwksJson() const {
  auto param = [&](const char* name) {
    BIGNUM* bn = nullptr;
    std::string out;
    if (EVP_PKEY_get_bn_param(key_->pkey.get(), name, &bn) == 1) {
      out.resize(static_cast<size_t>(BN_num_bytes(bn)));
      BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
      BN_free(bn);
    }
    return Base64UrlEncode(out);
  };
  json::object key{{"use", "sig"},
                   {"kty", "RSA"},
                   {"kid", key_->kid},
                   {"alg", "RS256"},
                   {"n", param(OSSL_PKEY_PARAM_RSA_N)},
                   {"e", param(OSSL_PKEY_PARAM_RSA_E)}};
  return json::serialize(json::object{{"keys", json::array{std::move(key)}}});
}

}  // namespace sampan::apiserver
