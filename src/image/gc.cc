// Mark and sweep of blobs and snapshots: roots are the index's names and the containers.
#include <set>

#include "image/fs_util.h"
#include "image/image_store.h"
#include "image/image_store_lock.h"
#include "util/fs.h"
#include "util/log.h"

namespace sampan::image {

Result<GcStats> ImageStore::GarbageCollect(int grace_s) {
  ASSIGN_OR_RETURN(Lock lock, Lock::Take(root_, true));
  ASSIGN_OR_RETURN(auto all, LoadIndex());
  std::set<std::string> blobs, snapshots;
  for (const auto& r : all) {
    blobs.insert(r.manifest_digest);
    if (!r.index_digest.empty()) blobs.insert(r.index_digest);
    auto info = Describe(r);
    if (!info.ok()) {
      // A damaged image keeps what can still be named; never guess more away.
      LOG(WARNING) << "gc: image " << r.name << ": " << info.status().ToString();
      blobs.insert(r.config_digest);
      continue;
    }
    blobs.insert(info->manifest.config.digest);
    for (const auto& l : info->manifest.layers) blobs.insert(l.digest);
    for (const auto& c : info->chain_ids) snapshots.insert(std::string(DigestHex(c)));
  }
  for (const auto& id : ListDir(root_ + "/containers")) {
    auto list = fs::ReadFile(root_ + "/containers/" + id + "/snapshots");
    if (!list.ok()) continue;
    size_t pos = 0;
    while (pos < list->size()) {
      size_t nl = list->find('\n', pos);
      if (nl == std::string::npos) nl = list->size();
      std::string c = list->substr(pos, nl - pos);
      if (!c.empty()) snapshots.insert(std::string(DigestHex(c)));
      pos = nl + 1;
    }
  }
  GcStats stats;
  ASSIGN_OR_RETURN(auto stored, content_->List());
  for (const auto& d : stored) {
    if (blobs.count(d) || AgeSeconds(content_->PathOf(d)) < grace_s) continue;
    auto size = content_->SizeOf(d);
    if (content_->Delete(d).ok()) {
      ++stats.blobs_removed;
      stats.bytes_removed += size.ok() ? *size : 0;
    }
  }
  for (const auto& name : ListDir(root_ + "/snapshots")) {
    std::string path = root_ + "/snapshots/" + name;
    if (snapshots.count(name) || AgeSeconds(path) < grace_s) continue;
    if (RemoveTree(path).ok()) ++stats.snapshots_removed;
  }
  for (const auto& name : ListDir(root_ + "/containers")) {
    if (name.rfind(".tmp-", 0) == 0 && AgeSeconds(root_ + "/containers/" + name) >= grace_s)
      (void)RemoveTree(root_ + "/containers/" + name);
  }
  content_->CleanIngest(std::max(grace_s, 3600));
  return stats;
}

}  // namespace sampan::image
