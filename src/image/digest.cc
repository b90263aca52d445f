#include "image/digest.h"

#include <openssl/evp.h>

namespace sampan::image {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  SAMPAN_CHECK(ctx_->md != nullptr);
  SAMPAN_CHECK(EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) == 1);
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_->md); }

void Sha256::Update(const void* data, size_t size) {
  if (size > 0) SAMPAN_CHECK(EVP_DigestUpdate(ctx_->md, data, size) == 1);
}

std::string Sha256::Finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  SAMPAN_CHECK(EVP_DigestFinal_ex(ctx_->md, out, &len) == 1);
  static const char kHex[] = "0123456789abcdef";
  std::string s = "sha256:";
  for (unsigned i = 0; i < len; ++i) {
    s.push_back(kHex[out[i] >> 4]);
    s.push_back(kHex[out[i] & 15]);
  }
  return s;
}

std::string DigestOf(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status ValidateDigest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.substr(0, kPrefix.size()) != kPrefix) {
    return Invalid("unsupported digest \"" + std::string(digest) + "\": only sha256 is supported");
  }
  if (!IsHex64(digest.substr(kPrefix.size()))) {
    return Invalid("invalid digest \"" + std::string(digest) + "\": want sha256:<64 hex digits>");
  }
  return Status::Ok();
}

std::string_view DigestHex(std::string_view digest) {
  auto pos = digest.find(':');
  return pos == std::string_view::npos ? digest : digest.substr(pos + 1);
}

}  // namespace sampan::image
