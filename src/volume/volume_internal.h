// Internals of the volume module shared by its .cc files (not part of the contract).
#pragma once

#include "util/go_quote.h"

#include <sys/types.h>

#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"
#include "volume/volumes.h"

namespace sampan::volume::internal {

// ---- JSON access (absent or mistyped fields read as absent) ----
const boost::json::object* Obj(const boost::json::object& o, std::string_view key);
const boost::json::array* Arr(const boost::json::object& o, std::string_view key);
std::string Str(const boost::json::object& o, std::string_view key, std::string_view fallback = "");
std::optional<int64_t> Int(const boost::json::object& o, std::string_view key);
bool Bool(const boost::json::object& o, std::string_view key);
// Finds a container by name in spec.containers, spec.initContainers, then
// spec.ephemeralContainers; nullptr when absent.
const boost::json::object* FindContainer(const boost::json::object& pod, std::string_view name);

// GoQuote: util/go_quote.h.
using ::sampan::GoQuote;
// Go's path.Clean for relative slash-separated paths ("a//b/./c/" → "a/b/c", "" → ".").
std::string CleanPath(std::string_view p);
// Like Kubernetes' util/errors aggregate: one message as is, several as "[a, b]".
std::string AggregateMessages(const std::vector<std::string>& msgs);

// Metadata-only downward API field (fieldpath.ExtractFieldPathAsString): metadata.name,
// .namespace, .uid, .labels, .annotations and subscripted labels/annotations.
Result<std::string> ExtractMetadataField(const boost::json::object& pod, const std::string& path);

// ---- atomic writer (the kubelet's AtomicWriter layout) ----
struct FileProjection {
  std::string data;
  int mode = 0644;
  std::optional<uid_t> fs_user;  // owner of the file, when set (token files)
};
using Payload = std::map<std::string, FileProjection>;

// Writes `payload` into `target_dir` (which must exist): files live in a timestamped
// `..YYYY_MM_DD_HH_MM_SS.XXXXXX` directory, `..data` links to it and is swapped by rename,
// and each top-level name is a symlink `name → ..data/name`. Names that left the payload
// disappear; an unchanged payload writes nothing. `set_perms` (may be empty) runs after the
// new data directory is written and before it becomes visible. Invalid on a bad path.
Status AtomicWrite(const std::string& target_dir, const Payload& payload,
                   const std::function<Status()>& set_perms);
// The kubelet's validatePath for one payload path.
Status ValidatePayloadPath(const std::string& path);

// ---- payloads of configMap / secret / downwardAPI / projected sources ----
// Reads `kind` ns/name through the getter. NotFound → `configmap "name" not found` /
// `secret "name" not found` (the kubelet's wording); other errors passed through.
Result<boost::json::object> GetObject(const ObjectGetter& getter, const std::string& kind,
                                      const std::string& ns, const std::string& name);
// The key → bytes map of a ConfigMap (data + binaryData) or Secret (data, base64-decoded).
Result<std::map<std::string, std::string>> ObjectData(const boost::json::object& obj,
                                                      const std::string& kind, bool include_binary);
// configmap.MakePayload / secret.MakePayload. `source` holds items (and optional).
Result<Payload> MakeKeyPayload(const std::string& kind, const boost::json::array* items,
                               const std::map<std::string, std::string>& data, int default_mode,
                               bool optional);
// downwardapi.CollectData over `items`.
Result<Payload> CollectDownwardApi(const boost::json::array* items, const boost::json::object& pod,
                                   int default_mode, const VolumeOptions& node);

// ---- host mounts and files ----
struct MountEntry {
  std::string mount_point;
  std::string fs_type;
  std::string source;
};
// Parsed /proc/self/mountinfo.
Result<std::vector<MountEntry>> ReadMounts();
// realpath(p), or p itself when that fails (mount tables hold canonical paths).
std::string Canonical(const std::string& p);
// The mount whose mount point is exactly `path`, if any (the last one mounted).
std::optional<MountEntry> MountAt(const std::vector<MountEntry>& mounts, const std::string& path);
// tmpfs at `dir` with size=`size_bytes` when > 0 (noswap when the kernel supports it).
Status MountTmpfs(const std::string& dir, int64_t size_bytes);
// Unmounts every mount at or below `root`, deepest first. Internal if one stays.
Status UnmountAllUnder(const std::string& root);
// rm -rf that never leaves the file system of `root` (a mount left below it is an error,
// never descended into). OK when absent.
Status RemoveTree(const std::string& root);
// The kubelet's SetVolumeOwnership: every entry below `dir` gets group `fs_group`, and
// non-symlinks gain g+rw (read_only: ug+r only), directories also ug+x and setgid.
Status SetVolumeOwnership(const std::string& dir, gid_t fs_group, bool read_only);

// Safe subPath preparation (the kubelet's SafeMakeDir + PrepareSafeSubpath): creates a
// missing subPath directory inside `volume_path` without following symlinks out of it,
// then bind-mounts the resolved subPath at `target` (created if absent) from a file
// descriptor opened without following symlinks, so a later swap of a path component by a
// container cannot redirect the mount. Invalid when the subPath resolves outside the volume.
Status SafeMakeDir(const std::string& volume_path, const std::string& sub_path);
Status BindSubPath(const std::string& volume_path, const std::string& sub_path,
                   const std::string& target);

}  // namespace sampan::volume::internal
