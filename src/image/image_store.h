// The node's image store: what containerd's content store, image index, overlay snapshotter
// and pull client do, in one object over one directory (<data-dir>/images):
//
//   blobs/sha256/<hex>        content store (manifests, indexes, configs, layer blobs)
//   ingest/                   blobs being written (never visible under blobs/)
//   snapshots/<chain hex>/fs  one unpacked layer each, overlayfs lower-dir form
//   containers/<id>/          upper/ and work/ dirs of a container's rootfs, plus the list
//                             of snapshots it stacks (kept alive by GC while it exists)
//   index.json                references -> manifest digests
//   lock                      flock: index updates, GC and rootfs creation are exclusive
//
// Import and pull write blobs and snapshots without the lock (both are content-addressed and
// appear atomically), then take the lock to check that everything is still present and
// publish the references. A failed import or pull deletes what it added: the store is as
// before. GC spares objects younger than its grace period so a concurrent pull is safe.
// Thread-safe and multi-process safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "image/content_store.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "util/status.h"

namespace sampan::image {

struct RegistryConfig;  // image/registry_config.h

// One name in the index.
struct ImageRecord {
  std::string name;             // "docker.io/library/busybox:latest" or "name@sha256:..."
  std::string manifest_digest;  // the platform manifest
  std::string index_digest;     // the index/manifest list it was chosen from, if any
  std::string config_digest;    // the image ID
  int64_t size = 0;             // manifest + config + compressed layers, bytes
  std::string created;          // when the name was set (RFC 3339)
};

struct ImageInfo {
  ImageRecord record;
  std::vector<std::string> names;  // every name pointing at the same manifest
  Manifest manifest;
  ImageConfig config;
  std::vector<std::string> chain_ids;  // bottom layer first
};

// A mount(2) to perform: overlay of the image's snapshots under a writable upper dir.
struct Mount {
  std::string type = "overlay";
  std::string source = "overlay";
  std::vector<std::string> options;  // "lowerdir=top:...:bottom", "upperdir=...", "workdir=..."
  // Comma-joined options, as mount(2) takes them.
  std::string Data() const;
};

struct ImportOptions {
  // Repository for OCI layouts whose ref.name annotation is only a tag ("v1"), or to name
  // an untagged image: "localhost:5000/kubia". Empty: such images are an error.
  std::string base_name;
  Platform platform = HostPlatform();
};

// Progress of one transfer: what (a digest), bytes done, bytes total (-1 unknown).
using ProgressFn = std::function<void(const std::string& what, int64_t done, int64_t total)>;

struct PullOptions {
  Platform platform = HostPlatform();
  ProgressFn progress;  // may be empty
};

struct GcStats {
  int64_t blobs_removed = 0, bytes_removed = 0, snapshots_removed = 0;
};

class ImageStore {
 public:
  // Opens (creating if needed) the store under `data_dir`/images.
  static Result<std::unique_ptr<ImageStore>> Open(const std::string& data_dir);
  ~ImageStore();

  // Every name, sorted.
  Result<std::vector<ImageRecord>> List() const;
  // A name ("busybox", "localhost:5000/kubia:v1", "name@sha256:..") or an image ID (config
  // digest, full or an unambiguous prefix of >= 12 hex). NotFound if nothing matches.
  Result<ImageInfo> Inspect(std::string_view ref_or_id) const;
  // Removes a name, or every name of an image ID. Blobs stay until GarbageCollect.
  // Conflict if an ID prefix is ambiguous.
  Result<std::vector<std::string>> Remove(std::string_view ref_or_id);
  // Deletes blobs and snapshots no name and no container uses, older than `grace_s`.
  Result<GcStats> GarbageCollect(int grace_s = 600);

  // Imports an OCI image layout archive or a `docker save` archive (tar, optionally
  // gzip/zstd compressed). Returns the names it set.
  Result<std::vector<std::string>> Import(const std::string& archive_path,
                                          const ImportOptions& opts = {});
  // Pulls `ref` over the OCI distribution API using `registries` (mirrors, auth, TLS).
  Result<ImageRecord> Pull(std::string_view ref, const RegistryConfig& registries,
                           const PullOptions& opts = {});

  // Creates containers/<container_id>/{upper,work} and returns the overlay mount of the
  // image's snapshots (unpacking any that are missing). AlreadyExists if the container
  // already has a rootfs; NotFound if the image is absent.
  Result<Mount> PrepareRootfs(std::string_view image_ref, const std::string& container_id);
  // Mounts `m` at `target` (an existing directory). Needs CAP_SYS_ADMIN.
  static Status MountRootfs(const Mount& m, const std::string& target);
  // Deletes the container's upper/work dirs (unmount first). OK if absent.
  Status RemoveRootfs(const std::string& container_id);
  // The IDs of the containers that have a rootfs (to find those whose container is gone).
  std::vector<std::string> ContainerRootfsIds() const;

  const std::string& root() const { return root_; }
  ContentStore& content() { return *content_; }
  std::string SnapshotPath(std::string_view chain_id) const;

  // --- used by import and pull (and tests) ---
  // Tracks what one import/pull added so that a failure can take it back.
  struct Txn {
    std::vector<std::string> new_blobs;
    std::vector<std::string> new_snapshots;  // chain IDs
  };
  // Unpacks the image's layers (from blobs already in the store) into snapshots.
  Status Unpack(const Manifest& m, const ImageConfig& config, Txn* txn);
  // Publishes records (name, manifest_digest, index_digest set; the rest is filled in)
  // all at once under the lock, after checking every blob and snapshot still exists.
  Status Commit(std::vector<ImageRecord> records);
  void Rollback(const Txn& txn);

 private:
  explicit ImageStore(std::string root);
  class Lock;
  Result<std::vector<ImageRecord>> LoadIndex() const;
  Status SaveIndex(const std::vector<ImageRecord>& records);
  Result<ImageInfo> Describe(const ImageRecord& rec) const;
  Result<std::vector<ImageRecord>> Resolve(const std::vector<ImageRecord>& all,
                                           std::string_view ref_or_id) const;
  Status EnsureSnapshot(const std::string& chain_id, const std::string& diff_id,
                        const std::string& layer_digest, Txn* txn);

  std::string root_;
  std::unique_ptr<ContentStore> content_;
};

}  // namespace sampan::image
