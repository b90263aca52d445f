// OCI and Docker schema 2 image documents: descriptors, manifests, indexes (manifest lists)
// and image configs, parsed from JSON; platform selection; layer chain IDs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace sampan::image {

namespace media {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerForeignLayerGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
// The Accept header value for manifest requests: every type we can read.
std::string ManifestAccept();
bool IsManifest(std::string_view media_type);
bool IsIndex(std::string_view media_type);
bool IsLayer(std::string_view media_type);
}  // namespace media

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // "amd64"
  std::string variant;       // "v8" or empty
};

// The platform of this machine, in Go's names (linux/amd64, linux/arm64/v8, ...).
Platform HostPlatform();
std::string PlatformString(const Platform& p);  // "linux/amd64"

struct Descriptor {
  std::string media_type;
  std::string digest;  // validated "sha256:<hex>"
  int64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
};

struct Manifest {
  std::string media_type;  // OCI or Docker manifest type
  Descriptor config;
  std::vector<Descriptor> layers;
};

struct Index {
  std::string media_type;  // OCI index or Docker manifest list
  std::vector<Descriptor> manifests;
};

// The parts of an image config that running a container needs.
struct ImageConfig {
  std::string architecture, os, variant;
  std::string user;
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::vector<std::string> exposed_ports;  // "80/tcp", sorted
  std::vector<std::string> volumes;        // sorted
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  std::string created;
  std::vector<std::string> diff_ids;  // rootfs.diff_ids, bottom layer first
};

// What a JSON document is, from its own mediaType field, or the hint (a Content-Type or
// descriptor type) when the document has none; from its shape as a last resort.
enum class DocKind { kManifest, kIndex, kUnknown };
DocKind ClassifyDocument(std::string_view json, std::string_view media_type_hint);

// Parsers: Invalid with a reason on malformed JSON, missing required fields, a bad
// digest, schemaVersion != 2 or an unsupported media type.
Result<Descriptor> ParseDescriptorJson(std::string_view json);
Result<Manifest> ParseManifest(std::string_view json, std::string_view media_type_hint = {});
Result<Index> ParseIndex(std::string_view json, std::string_view media_type_hint = {});
Result<ImageConfig> ParseImageConfig(std::string_view json);

// The index entry for `want` (os+architecture must match; a variant is compared when both
// sides have one). NotFound listing the available platforms when none matches.
Result<Descriptor> SelectPlatform(const Index& index, const Platform& want);

// Serialises an OCI manifest (used when converting `docker save` archives).
std::string SerializeManifest(const Manifest& m);
std::string SerializeDescriptor(const Descriptor& d);

// ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(n)).
std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids);

}  // namespace sampan::image
