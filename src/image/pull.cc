// `sampan image pull`: resolve the reference at the registry (mirrors first), pick this
// platform's manifest, fetch missing blobs verified by digest, unpack, publish the name.
#include "image/image_store.h"
#include "image/registry_client.h"
#include "image/registry_config.h"

namespace sampan::image {

Result<ImageRecord> ImageStore::Pull(std::string_view ref_text, const RegistryConfig& registries,
                                     const PullOptions& opts) {
  ASSIGN_OR_RETURN(Reference ref, ParseReference(ref_text));
  ASSIGN_OR_RETURN(auto endpoints, EndpointsFor(registries, ref));
  RegistryClient client(std::move(endpoints));
  Txn txn;
  auto put = [&](const std::string& body, const std::string& digest) -> Status {
    bool created = false;
    auto got = content_->Put(body, digest, &created);
    if (!got.ok()) return got.status();
    if (created) txn.new_blobs.push_back(digest);
    return Status::Ok();
  };
  auto run = [&]() -> Result<ImageRecord> {
    ASSIGN_OR_RETURN(RegistryClient::Fetched top, client.GetManifest(ref.Locator()));
    ImageRecord rec;
    rec.name = ref.String();
    RegistryClient::Fetched man = top;
    switch (ClassifyDocument(top.body, top.media_type)) {
      case DocKind::kIndex: {
        ASSIGN_OR_RETURN(Index idx, ParseIndex(top.body, top.media_type));
        ASSIGN_OR_RETURN(Descriptor pick, SelectPlatform(idx, opts.platform));
        RETURN_IF_ERROR(put(top.body, top.digest));
        rec.index_digest = top.digest;
        ASSIGN_OR_RETURN(man, client.GetManifest(pick.digest));
        if (ClassifyDocument(man.body, man.media_type) != DocKind::kManifest) {
          return Invalid("index entry " + pick.digest + " is not an image manifest");
        }
        break;
      }
      case DocKind::kManifest:
        break;
      default:
        return Invalid("unsupported manifest type \"" + top.media_type +
                       "\" (schema 1 and artifacts are not images we can run)");
    }
    ASSIGN_OR_RETURN(Manifest m, ParseManifest(man.body, man.media_type));
    rec.manifest_digest = man.digest;
    if (!content_->HasAndTouch(m.config.digest)) {
      bool created = false;
      RETURN_IF_ERROR(client.FetchBlob(m.config, *content_, nullptr, &created));
      if (created) txn.new_blobs.push_back(m.config.digest);
    }
    ASSIGN_OR_RETURN(std::string ctext, content_->Read(m.config.digest));
    ASSIGN_OR_RETURN(ImageConfig config, ParseImageConfig(ctext));
    if (config.os != opts.platform.os || config.architecture != opts.platform.architecture) {
      return Invalid("image " + ref.String() + " is for platform " +
                     PlatformString(Platform{config.os, config.architecture, config.variant}) +
                     ", not " + PlatformString(opts.platform));
    }
    for (const auto& l : m.layers) {
      if (content_->HasAndTouch(l.digest)) {
        if (opts.progress) opts.progress(l.digest, l.size, l.size);
        continue;
      }
      bool created = false;
      RETURN_IF_ERROR(client.FetchBlob(l, *content_, opts.progress, &created));
      if (created) txn.new_blobs.push_back(l.digest);
    }
    RETURN_IF_ERROR(put(man.body, man.digest));
    RETURN_IF_ERROR(Unpack(m, config, &txn));
    RETURN_IF_ERROR(Commit({rec}));
    ASSIGN_OR_RETURN(ImageInfo info, Inspect(rec.name));
    return info.record;
  };
  auto result = run();
  if (!result.ok()) {
    Rollback(txn);
    return result.status().WithContext("pulling " + ref.String());
  }
  return result;
}

}  // namespace sampan::image
