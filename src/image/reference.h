// Image references, parsed and normalised the way Docker and Kubernetes name images:
//   busybox                      -> docker.io/library/busybox:latest
//   localhost:5000/kubia:v1      -> localhost:5000/kubia:v1
//   quay.io/a/b@sha256:<hex>     -> quay.io/a/b@sha256:<hex>
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"

namespace sampan::image {

inline constexpr std::string_view kDefaultDomain = "docker.io";
// The host that actually serves docker.io's registry API.
inline constexpr std::string_view kDockerHubHost = "registry-1.docker.io";

struct Reference {
  std::string domain;  // "docker.io", "localhost:5000"
  std::string path;    // "library/busybox"
  std::string tag;     // "latest"; empty when a digest is given
  std::string digest;  // "sha256:<hex>" or empty

  // "docker.io/library/busybox"
  std::string Name() const { return domain + "/" + path; }
  // The fully qualified form: "name@digest" if a digest is set, else "name:tag".
  std::string String() const;
  // Docker's short form: "busybox:latest", "localhost:5000/kubia:v1".
  std::string Familiar() const;
  // The tag or digest, as used in /v2/<path>/manifests/<this>.
  const std::string& Locator() const { return digest.empty() ? tag : digest; }
};

// Parses and normalises `text`. Invalid (with the reason) for: empty input, upper case in the
// repository path, bad path components, tags or digests, names over 255 characters and a bare
// 64-hex image ID (which is not a reference: see LooksLikeImageId). A reference with both a tag
// and a digest keeps the digest only.
Result<Reference> ParseReference(std::string_view text);

// True for a 64-hex image ID or a "sha256:<hex>" digest, optionally abbreviated (>= 12 hex).
bool LooksLikeImageId(std::string_view text);

}  // namespace sampan::image
