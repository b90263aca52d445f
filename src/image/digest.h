// Content digests: "sha256:<64 lowercase hex>" strings and a streaming SHA-256.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "util/status.h"

namespace sampan::image {

// Incremental SHA-256 (OpenSSL). Not thread-safe; one per stream.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Returns "sha256:<hex>" of everything fed so far; the hasher must not be reused after.
  std::string Finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// "sha256:<hex>" of `data`.
std::string DigestOf(std::string_view data);

// OK if `digest` is "sha256:" + 64 lowercase hex digits; Invalid otherwise
// (other algorithms are rejected: the store holds sha256 only).
Status ValidateDigest(std::string_view digest);
// The 64-hex part of a valid digest.
std::string_view DigestHex(std::string_view digest);
// True for exactly 64 lowercase hex digits.
bool IsHex64(std::string_view s);

}  // namespace sampan::image
