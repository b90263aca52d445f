// Registry settings in the shape of k3s' registries.yaml:
//
//   mirrors:
//     docker.io:
//       endpoint: ["http://127.0.0.1:5000"]      # tried in order, then the default
//       rewrite: {"^library/(.*)": "mirrored/$1"} # repository path, mirrors only
//     "*": {endpoint: [...]}                      # registries not listed
//   configs:
//     "127.0.0.1:5000":
//       auth: {username: u, password: p}          # or auth: base64(u:p), or token
//       tls: {ca_file, cert_file, key_file, insecure_skip_verify}
//   insecure: ["myreg.local:5000"]                # sampan extension: plain http by default
//   disable_default_endpoint: false               # k3s' --disable-default-registry-endpoint
//
// Plain http is used for endpoints written with http://, for hosts in `insecure`, and (as
// Docker does) for localhost, 127.0.0.0/8 and ::1 without any configuration.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "image/http_client.h"
#include "image/reference.h"
#include "util/status.h"

namespace sampan::image {

struct RegistryAuth {
  std::string username, password;
  std::string token;  // a bearer token sent as is
};

struct RegistryHostConfig {
  RegistryAuth auth;
  TlsOptions tls;
};

struct MirrorConfig {
  std::vector<std::string> endpoints;
  std::vector<std::pair<std::string, std::string>> rewrites;  // regex -> replacement
};

struct RegistryConfig {
  std::map<std::string, MirrorConfig> mirrors;        // by registry name, or "*"
  std::map<std::string, RegistryHostConfig> configs;  // by host[:port]
  std::vector<std::string> insecure;
  bool disable_default_endpoint = false;

  // Invalid on malformed YAML or bad values (with the key at fault).
  static Result<RegistryConfig> Parse(const std::string& yaml);
  // An empty config if `path` does not exist.
  static Result<RegistryConfig> Load(const std::string& path);
};

// One place to fetch a repository from.
struct Endpoint {
  Url base;          // "https://registry-1.docker.io" (target "/")
  std::string path;  // repository path at this endpoint, after rewrites
  bool is_mirror = false;
  std::string ns;  // the original registry, sent as ?ns= to mirrors
  RegistryHostConfig host_config;
};

// The endpoints to try for `ref`, in order: configured mirrors, then the default.
// Invalid for malformed mirror URLs or rewrite patterns.
Result<std::vector<Endpoint>> EndpointsFor(const RegistryConfig& config, const Reference& ref);

// True for localhost, 127.0.0.0/8 and ::1 (with or without a port).
bool IsLoopbackHost(std::string_view host_port);

}  // namespace sampan::image
