#include "image/image_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <set>

#include "image/fs_util.h"
#include "image/image_store_lock.h"
#include "image/layer.h"
#include "util/fs.h"

namespace sampan::image {

namespace json = boost::json;

ImageStore::ImageStore(std::string root) : root_(std::move(root)) {}
ImageStore::~ImageStore() = default;

Result<std::unique_ptr<ImageStore>> ImageStore::Open(const std::string& data_dir) {
  std::string root = data_dir + "/images";
  for (const char* sub : {"", "/snapshots", "/containers"}) {
    RETURN_IF_ERROR(fs::MakeDirs(root + sub, 0700));
  }
  std::unique_ptr<ImageStore> s(new ImageStore(root));
  ASSIGN_OR_RETURN(s->content_, ContentStore::Open(root));
  return s;
}

std::string ImageStore::SnapshotPath(std::string_view chain_id) const {
  return root_ + "/snapshots/" + std::string(DigestHex(chain_id));
}

Result<std::vector<ImageRecord>> ImageStore::LoadIndex() const {
  std::vector<ImageRecord> out;
  auto text = fs::ReadFile(root_ + "/index.json");
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) return out;
    return text.status();
  }
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_object() || !v.as_object().contains("images")) {
    return Internal(root_ + "/index.json is corrupt");
  }
  for (const auto& e : v.as_object().at("images").as_array()) {
    const auto& o = e.as_object();
    auto str = [&](const char* k) {
      auto* f = o.if_contains(k);
      return f && f->is_string() ? std::string(f->as_string()) : std::string();
    };
    ImageRecord r;
    r.name = str("name");
    r.manifest_digest = str("manifest");
    r.index_digest = str("index");
    r.config_digest = str("config");
    r.created = str("created");
    if (auto* s = o.if_contains("size"); s && s->is_int64()) r.size = s->as_int64();
    out.push_back(std::move(r));
  }
  return out;
}

Status ImageStore::SaveIndex(const std::vector<ImageRecord>& records) {
  json::array arr;
  for (const auto& r : records) {
    json::object o;
    o["name"] = r.name;
    o["manifest"] = r.manifest_digest;
    if (!r.index_digest.empty()) o["index"] = r.index_digest;
    o["config"] = r.config_digest;
    o["size"] = r.size;
    o["created"] = r.created;
    arr.push_back(std::move(o));
  }
  json::object doc;
  doc["images"] = std::move(arr);
  return fs::WriteFileAtomic(root_ + "/index.json", json::serialize(doc) + "\n", 0600);
}

Result<std::vector<ImageRecord>> ImageStore::List() const {
  ASSIGN_OR_RETURN(Lock lock, Lock::Take(root_, false));
  ASSIGN_OR_RETURN(auto all, LoadIndex());
  std::sort(all.begin(), all.end(),
            [](const ImageRecord& a, const ImageRecord& b) { return a.name < b.name; });
  return all;
}

Result<std::vector<ImageRecord>> ImageStore::Resolve(const std::vector<ImageRecord>& all,
                                                     std::string_view ref_or_id) const {
  std::vector<ImageRecord> out;
  auto by_name = ParseReference(ref_or_id);
  if (by_name.ok()) {
    std::string want = by_name->String();
    for (const auto& r : all) {
      if (r.name == want) return std::vector<ImageRecord>{r};
    }
    if (!by_name->digest.empty()) {
      // name@digest also matches a tagged record of that repository with that content.
      for (const auto& r : all) {
        auto rr = ParseReference(r.name);
        if (rr.ok() && rr->Name() == by_name->Name() &&
            (r.manifest_digest == by_name->digest || r.index_digest == by_name->digest)) {
          return std::vector<ImageRecord>{r};
        }
      }
    }
  }
  if (LooksLikeImageId(ref_or_id)) {
    std::string hex(DigestHex(ref_or_id));
    std::string id;
    for (const auto& r : all) {
      if (std::string(DigestHex(r.config_digest)).rfind(hex, 0) != 0) continue;
      if (!id.empty() && id != r.config_digest) {
        return Conflict("image ID prefix \"" + std::string(ref_or_id) + "\" is ambiguous");
      }
      id = r.config_digest;
      out.push_back(r);
    }
    if (!out.empty()) return out;
  }
  if (!by_name.ok() && !LooksLikeImageId(ref_or_id)) return by_name.status();
  return NotFound("image \"" + std::string(ref_or_id) + "\" not found");
}

Result<ImageInfo> ImageStore::Describe(const ImageRecord& rec) const {
  ImageInfo info;
  info.record = rec;
  ASSIGN_OR_RETURN(std::string mtext, content_->Read(rec.manifest_digest));
  ASSIGN_OR_RETURN(info.manifest, ParseManifest(mtext));
  ASSIGN_OR_RETURN(std::string ctext, content_->Read(info.manifest.config.digest));
  ASSIGN_OR_RETURN(info.config, ParseImageConfig(ctext));
  info.chain_ids = ChainIds(info.config.diff_ids);
  return info;
}

Result<ImageInfo> ImageStore::Inspect(std::string_view ref_or_id) const {
  ASSIGN_OR_RETURN(Lock lock, Lock::Take(root_, false));
  ASSIGN_OR_RETURN(auto all, LoadIndex());
  ASSIGN_OR_RETURN(auto matches, Resolve(all, ref_or_id));
  ASSIGN_OR_RETURN(ImageInfo info, Describe(matches.front()));
  for (const auto& r : all) {
    if (r.manifest_digest == info.record.manifest_digest) info.names.push_back(r.name);
  }
  std::sort(info.names.begin(), info.names.end());
  return info;
}

Result<std::vector<std::string>> ImageStore::Remove(std::string_view ref_or_id) {
  ASSIGN_OR_RETURN(Lock lock, Lock::Take(root_, true));
  ASSIGN_OR_RETURN(auto all, LoadIndex());
  ASSIGN_OR_RETURN(auto matches, Resolve(all, ref_or_id));
  std::vector<std::string> removed;
  for (const auto& m : matches) removed.push_back(m.name);
  std::erase_if(all, [&](const ImageRecord& r) {
    return std::find(removed.begin(), removed.end(), r.name) != removed.end();
  });
  RETURN_IF_ERROR(SaveIndex(all));
  return removed;
}

Status ImageStore::EnsureSnapshot(const std::string& chain_id, const std::string& diff_id,
                                  const std::string& layer_digest, Txn* txn) {
  std::string final_dir = SnapshotPath(chain_id);
  if (fs::Exists(final_dir + "/fs")) return Status::Ok();
  std::string tmp = root_ + "/snapshots/.tmp-" + RandomHex();
  RETURN_IF_ERROR(fs::MakeDirs(tmp + "/fs", 0755));
  auto applied = ApplyLayer(content_->PathOf(layer_digest), tmp + "/fs");
  if (applied.ok() && applied->diff_id != diff_id) {
    applied = Invalid("layer " + layer_digest + ": uncompressed content hashes to " +
                      applied->diff_id + " but the image config says " + diff_id);
  }
  if (!applied.ok()) {
    (void)RemoveTree(tmp);
    return applied.status();
  }
  RETURN_IF_ERROR(fs::WriteFileAtomic(tmp + "/diffid", diff_id + "\n"));
  if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
    int e = errno;
    (void)RemoveTree(tmp);
    if (e == EEXIST || e == ENOTEMPTY) return Status::Ok();  // unpacked concurrently
    return ErrnoStatus("rename snapshot " + final_dir, e);
  }
  if (txn) txn->new_snapshots.push_back(chain_id);
  return Status::Ok();
}

Status ImageStore::Unpack(const Manifest& m, const ImageConfig& config, Txn* txn) {
  if (m.layers.size() != config.diff_ids.size()) {
    return Invalid("manifest has " + std::to_string(m.layers.size()) +
                   " layers but the image config lists " + std::to_string(config.diff_ids.size()) +
                   " diff_ids");
  }
  auto chains = ChainIds(config.diff_ids);
  for (size_t i = 0; i < m.layers.size(); ++i) {
    RETURN_IF_ERROR(EnsureSnapshot(chains[i], config.diff_ids[i], m.layers[i].digest, txn));
  }
  return Status::Ok();
}

Status ImageStore::Commit(std::vector<ImageRecord> records) {
  ASSIGN_OR_RETURN(Lock lock, Lock::Take(root_, true));
  std::string now = NowRfc3339();
  for (auto& rec : records) {
    ASSIGN_OR_RETURN(std::string mtext, content_->Read(rec.manifest_digest));
    ASSIGN_OR_RETURN(Manifest m, ParseManifest(mtext));
    ASSIGN_OR_RETURN(std::string ctext, content_->Read(m.config.digest));
    ASSIGN_OR_RETURN(ImageConfig config, ParseImageConfig(ctext));
    int64_t size = static_cast<int64_t>(mtext.size()) + m.config.size;
    for (const auto& l : m.layers) {
      if (!content_->Has(l.digest)) {
        return Unavailable("layer " + l.digest + " vanished before the image was saved");
      }
      size += l.size;
    }
    for (const auto& c : ChainIds(config.diff_ids)) {
      if (!fs::Exists(SnapshotPath(c) + "/fs")) {
        return Unavailable("snapshot " + c + " vanished before the image was saved");
      }
    }
    if (!rec.index_digest.empty() && !content_->Has(rec.index_digest)) {
      return Unavailable("index " + rec.index_digest + " vanished before the image was saved");
    }
    rec.config_digest = m.config.digest;
    rec.size = size;
    rec.created = now;
  }
  ASSIGN_OR_RETURN(auto all, LoadIndex());
  for (const auto& rec : records) {
    std::erase_if(all, [&](const ImageRecord& r) { return r.name == rec.name; });
    all.push_back(rec);
  }
  return SaveIndex(all);
}

void ImageStore::Rollback(const Txn& txn) {
  if (txn.new_blobs.empty() && txn.new_snapshots.empty()) return;
  // Under the lock, and sparing anything a published name uses: a concurrent import of the
  // same content may have committed in the meantime.
  auto lock = Lock::Take(root_, true);
  std::set<std::string> used_blobs, used_snapshots;
  if (auto all = LoadIndex(); all.ok()) {
    for (const auto& r : *all) {
      used_blobs.insert(r.manifest_digest);
      used_blobs.insert(r.index_digest);
      auto info = Describe(r);
      if (!info.ok()) continue;
      used_blobs.insert(info->manifest.config.digest);
      for (const auto& l : info->manifest.layers) used_blobs.insert(l.digest);
      used_snapshots.insert(info->chain_ids.begin(), info->chain_ids.end());
    }
  }
  for (const auto& c : txn.new_snapshots) {
    if (!used_snapshots.count(c)) (void)RemoveTree(SnapshotPath(c));
  }
  for (const auto& b : txn.new_blobs) {
    if (!used_blobs.count(b)) (void)content_->Delete(b);
  }
}

}  // namespace sampan::image
