// The pull side of the OCI distribution API for one repository, over the endpoints that
// EndpointsFor chose (mirrors first): manifests by tag or digest, blobs streamed into the
// content store, Bearer-token and Basic auth challenges answered. Not thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "image/content_store.h"
#include "image/image_store.h"
#include "image/manifest.h"
#include "image/registry_config.h"

namespace sampan::image {

class RegistryClient {
 public:
  explicit RegistryClient(std::vector<Endpoint> endpoints);

  struct Fetched {
    std::string body;
    std::string media_type;  // from Content-Type
    std::string digest;      // sha256 of body (checked against Docker-Content-Digest)
  };
  // NotFound ("manifest unknown"), Unauthorized, Forbidden or Unavailable with the
  // registry's own message; Invalid if the registry's digest header disagrees with the body.
  // A digest locator is verified against the body.
  Result<Fetched> GetManifest(const std::string& locator);
  // Streams the blob into `store`; Invalid on a digest or size mismatch (nothing is stored).
  Status FetchBlob(const Descriptor& d, ContentStore& store, const ProgressFn& progress,
                   bool* created);

 private:
  Result<HttpResponse> Send(size_t endpoint, const std::string& suffix, HttpRequest req);
  Status Authenticate(size_t endpoint, const std::string& challenge);
  std::string UrlFor(size_t endpoint, const std::string& suffix) const;

  std::vector<Endpoint> endpoints_;
  size_t preferred_ = 0;                       // the endpoint that served the manifest
  std::map<size_t, std::string> auth_header_;  // per endpoint: "Bearer ..." / "Basic ..."
};

// Parses a WWW-Authenticate value: scheme ("bearer"/"basic", lower-cased) and parameters.
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};
Challenge ParseChallenge(std::string_view header);

// An error Status from a registry response: the status code mapped to a Code, with the
// registry's error codes and messages from its JSON body.
Status RegistryError(const HttpResponse& resp, std::string_view what);

}  // namespace sampan::image
