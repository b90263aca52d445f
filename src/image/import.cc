// `sampan image import`: OCI image layout archives and `docker save` archives.
//
// The archive is first staged file by file under ingest/ (one pass, any compression), then
// each image is resolved from its metadata, its blobs are hashed and moved into the content
// store, its layers unpacked and its names published; any failure takes all of it back.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <map>
#include <set>

#include "image/fs_util.h"
#include "image/image_store.h"
#include "image/layer.h"
#include "util/fs.h"

namespace sampan::image {
namespace {

namespace json = boost::json;

constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";
constexpr std::string_view kContainerdNameAnnotation = "io.containerd.image.name";

// The archive's regular files, written out under `dir`, by cleaned member path.
struct Staged {
  std::string dir;
  std::map<std::string, std::string> files;  // member path -> staged file
  ~Staged() {
    if (!dir.empty()) (void)RemoveTree(dir);
  }
  const std::string* Find(const std::string& member) const {
    auto it = files.find(member);
    return it == files.end() ? nullptr : &it->second;
  }
  Result<std::string> Read(const std::string& member) const {
    const std::string* p = Find(member);
    if (!p) return Invalid("archive has no \"" + member + "\"");
    return fs::ReadFile(*p);
  }
};

Status StageArchive(const std::string& path, Staged* staged) {
  struct Free {
    void operator()(archive* a) const { archive_read_free(a); }
  };
  std::unique_ptr<archive, Free> a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 20) != ARCHIVE_OK) {
    const char* e = archive_error_string(a.get());
    return Invalid(path + ": not a readable tar archive: " + (e ? e : "unknown error"));
  }
  std::string buf(1 << 20, '\0');
  int n = 0;
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      const char* m = archive_error_string(a.get());
      return Invalid(path + ": corrupt or truncated archive: " + (m ? m : "bad header"));
    }
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    ASSIGN_OR_RETURN(std::string member, CleanMemberPath(archive_entry_pathname(e)));
    std::string file = staged->dir + "/" + std::to_string(n++);
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoStatus("create " + file, errno);
    staged->files[member] = file;
    for (;;) {
      la_ssize_t got = archive_read_data(a.get(), buf.data(), buf.size());
      if (got == 0) break;
      if (got < 0) {
        ::close(fd);
        const char* m = archive_error_string(a.get());
        return Invalid(path + ": corrupt or truncated archive at \"" + member +
                       "\": " + (m ? m : "read error"));
      }
      const char* p = buf.data();
      size_t left = static_cast<size_t>(got);
      while (left > 0) {
        ssize_t w = ::write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          int err = errno;
          ::close(fd);
          return ErrnoStatus("write " + file, err);
        }
        p += w;
        left -= static_cast<size_t>(w);
      }
    }
    ::close(fd);
  }
  return Status::Ok();
}

// One image found in the archive, ready to commit.
struct Candidate {
  std::vector<std::string> names;
  std::string index_digest;                  // optional
  std::map<std::string, std::string> blobs;  // digest -> staged file (or "" if in the store)
  std::string manifest_digest;
};

std::string BlobMember(std::string_view digest) {
  return "blobs/sha256/" + std::string(DigestHex(digest));
}

Status CheckPlatform(const ImageConfig& c, const Platform& want, std::string_view what) {
  if (c.os != want.os || c.architecture != want.architecture) {
    return Invalid(std::string(what) + " is for platform " +
                   PlatformString(Platform{c.os, c.architecture, c.variant}) + ", not " +
                   PlatformString(want));
  }
  return Status::Ok();
}

// Resolves a name given in an OCI layout annotation.
Result<std::vector<std::string>> NamesFromAnnotations(const Descriptor& d,
                                                      const ImportOptions& opts) {
  auto it = d.annotations.find(std::string(kContainerdNameAnnotation));
  std::string full = it != d.annotations.end() ? it->second : "";
  if (full.empty()) {
    auto rn = d.annotations.find(std::string(kRefNameAnnotation));
    if (rn != d.annotations.end()) {
      const std::string& v = rn->second;
      if (v.find('/') != std::string::npos || v.find(':') != std::string::npos ||
          v.find('@') != std::string::npos) {
        full = v;
      } else if (!opts.base_name.empty()) {
        full = opts.base_name + ":" + v;
      } else {
        return Invalid("image " + d.digest + " is tagged only \"" + v +
                       "\" in the archive: give the repository with --name");
      }
    }
  }
  if (full.empty()) {
    if (opts.base_name.empty()) {
      return Invalid("image " + d.digest + " has no name in the archive: give one with --name");
    }
    full = opts.base_name;
  }
  ASSIGN_OR_RETURN(Reference ref, ParseReference(full));
  return std::vector<std::string>{ref.String()};
}

Result<std::vector<Candidate>> FromOciLayout(const Staged& st, const ContentStore& content,
                                             const ImportOptions& opts) {
  ASSIGN_OR_RETURN(std::string index_text, st.Read("index.json"));
  ASSIGN_OR_RETURN(Index top, ParseIndex(index_text));
  auto blob = [&](const std::string& digest, Candidate& c) -> Result<std::string> {
    if (const std::string* f = st.Find(BlobMember(digest))) {
      c.blobs[digest] = *f;
      return fs::ReadFile(*f);
    }
    if (content.Has(digest)) {
      c.blobs[digest] = "";
      return content.Read(digest);
    }
    return Invalid("archive is missing blob " + digest);
  };
  std::vector<Candidate> out;
  bool any_platform_mismatch = false;
  for (const auto& d : top.manifests) {
    if (d.platform && (d.platform->os != opts.platform.os ||
                       d.platform->architecture != opts.platform.architecture)) {
      any_platform_mismatch = true;
      continue;
    }
    Candidate c;
    ASSIGN_OR_RETURN(c.names, NamesFromAnnotations(d, opts));
    ASSIGN_OR_RETURN(std::string text, blob(d.digest, c));
    Descriptor md = d;
    if (ClassifyDocument(text, d.media_type) == DocKind::kIndex) {
      ASSIGN_OR_RETURN(Index idx, ParseIndex(text, d.media_type));
      ASSIGN_OR_RETURN(md, SelectPlatform(idx, opts.platform));
      c.index_digest = d.digest;
      ASSIGN_OR_RETURN(text, blob(md.digest, c));
    } else if (ClassifyDocument(text, d.media_type) != DocKind::kManifest) {
      return Invalid("index.json entry " + d.digest + " is neither a manifest nor an index");
    }
    ASSIGN_OR_RETURN(Manifest m, ParseManifest(text, md.media_type));
    c.manifest_digest = md.digest;
    ASSIGN_OR_RETURN(std::string ctext, blob(m.config.digest, c));
    ASSIGN_OR_RETURN(ImageConfig config, ParseImageConfig(ctext));
    RETURN_IF_ERROR(CheckPlatform(config, opts.platform, "image " + c.names.front()));
    for (const auto& l : m.layers) {
      if (const std::string* f = st.Find(BlobMember(l.digest))) {
        c.blobs[l.digest] = *f;
      } else if (content.Has(l.digest)) {
        c.blobs[l.digest] = "";
      } else {
        return Invalid("archive is missing layer " + l.digest);
      }
    }
    out.push_back(std::move(c));
  }
  if (out.empty()) {
    return any_platform_mismatch
               ? Invalid("archive has no image for platform " + PlatformString(opts.platform))
               : Invalid("archive's index.json lists no images");
  }
  return out;
}

std::string_view LayerMediaType(const std::string& file) {
  unsigned char magic[4] = {0, 0, 0, 0};
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)!::read(fd, magic, sizeof magic);
    ::close(fd);
  }
  if (magic[0] == 0x1f && magic[1] == 0x8b) return media::kOciLayerGzip;
  if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
    return media::kOciLayerZstd;
  return media::kOciLayer;
}

// `docker save`: manifest.json names the config and layer files; we write an OCI manifest.
Result<std::vector<Candidate>> FromDockerSave(const Staged& st, ContentStore& content,
                                              const ImportOptions& opts, ImageStore::Txn* txn) {
  ASSIGN_OR_RETURN(std::string text, st.Read("manifest.json"));
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return Invalid("manifest.json: not a JSON array");
  std::vector<Candidate> out;
  for (const auto& e : v.as_array()) {
    if (!e.is_object()) return Invalid("manifest.json: entry is not an object");
    const auto& o = e.as_object();
    auto* cfg = o.if_contains("Config");
    auto* layers = o.if_contains("Layers");
    if (!cfg || !cfg->is_string() || !layers || !layers->is_array()) {
      return Invalid("manifest.json: entry without Config or Layers");
    }
    Candidate c;
    Manifest m;
    m.media_type = media::kOciManifest;
    ASSIGN_OR_RETURN(std::string cmember, CleanMemberPath(std::string(cfg->as_string())));
    const std::string* cfile = st.Find(cmember);
    if (!cfile) return Invalid("archive is missing the config \"" + cmember + "\"");
    int64_t csize = 0;
    ASSIGN_OR_RETURN(std::string cdigest, DigestFile(*cfile, &csize));
    ASSIGN_OR_RETURN(std::string ctext, fs::ReadFile(*cfile));
    ASSIGN_OR_RETURN(ImageConfig config, ParseImageConfig(ctext));
    // Names of the form <hex>.json or blobs/sha256/<hex> say the digest: check it.
    std::string stem =
        cmember.substr(cmember.rfind('/') == std::string::npos ? 0 : cmember.rfind('/') + 1);
    if (stem.size() > 5 && stem.ends_with(".json")) stem.resize(stem.size() - 5);
    if (IsHex64(stem) && "sha256:" + stem != cdigest) {
      return Invalid("config \"" + cmember + "\" is corrupt: it hashes to " + cdigest);
    }
    m.config = Descriptor{std::string(media::kOciConfig), cdigest, csize, {}, {}};
    c.blobs[cdigest] = *cfile;
    for (const auto& l : layers->as_array()) {
      if (!l.is_string()) return Invalid("manifest.json: layer path is not a string");
      ASSIGN_OR_RETURN(std::string lmember, CleanMemberPath(std::string(l.as_string())));
      const std::string* lfile = st.Find(lmember);
      if (!lfile) return Invalid("archive is missing the layer \"" + lmember + "\"");
      int64_t lsize = 0;
      ASSIGN_OR_RETURN(std::string ldigest, DigestFile(*lfile, &lsize));
      if (lmember.rfind("blobs/sha256/", 0) == 0 && "sha256:" + lmember.substr(13) != ldigest) {
        return Invalid("layer \"" + lmember + "\" is corrupt: it hashes to " + ldigest);
      }
      m.layers.push_back(Descriptor{std::string(LayerMediaType(*lfile)), ldigest, lsize, {}, {}});
      c.blobs[ldigest] = *lfile;
    }
    RETURN_IF_ERROR(CheckPlatform(config, opts.platform, "image config " + cmember));
    if (auto* tags = o.if_contains("RepoTags"); tags && tags->is_array()) {
      for (const auto& t : tags->as_array()) {
        if (!t.is_string()) continue;
        ASSIGN_OR_RETURN(Reference ref, ParseReference(std::string(t.as_string())));
        c.names.push_back(ref.String());
      }
    }
    if (c.names.empty()) {
      if (opts.base_name.empty()) {
        return Invalid("image " + cdigest + " has no RepoTags in the archive: give --name");
      }
      ASSIGN_OR_RETURN(Reference ref, ParseReference(opts.base_name));
      c.names.push_back(ref.String());
    }
    bool created = false;
    ASSIGN_OR_RETURN(c.manifest_digest, content.Put(SerializeManifest(m), {}, &created));
    if (created) txn->new_blobs.push_back(c.manifest_digest);
    out.push_back(std::move(c));
  }
  if (out.empty()) return Invalid("manifest.json lists no images");
  return out;
}

}  // namespace

Result<std::vector<std::string>> ImageStore::Import(const std::string& archive_path,
                                                    const ImportOptions& opts) {
  Staged staged;
  staged.dir = root_ + "/ingest/import-" + RandomHex();
  RETURN_IF_ERROR(fs::MakeDirs(staged.dir, 0700));
  RETURN_IF_ERROR(StageArchive(archive_path, &staged));

  Txn txn;
  auto run = [&]() -> Result<std::vector<std::string>> {
    std::vector<Candidate> images;
    if (staged.Find("manifest.json")) {
      ASSIGN_OR_RETURN(images, FromDockerSave(staged, *content_, opts, &txn));
    } else if (staged.Find("index.json")) {
      ASSIGN_OR_RETURN(images, FromOciLayout(staged, *content_, opts));
    } else {
      return Invalid(archive_path +
                     ": neither an OCI image layout (index.json) nor a docker save archive "
                     "(manifest.json)");
    }
    // Every blob is hashed and moved in before anything is unpacked or named.
    std::set<std::string> adopted;
    for (const auto& c : images) {
      for (const auto& [digest, file] : c.blobs) {
        if (file.empty() || adopted.count(digest)) continue;
        bool created = false;
        auto got = content_->AdoptFile(file, digest, &created);
        if (!got.ok()) return got.status().WithContext("blob " + digest);
        if (created) txn.new_blobs.push_back(digest);
        adopted.insert(digest);
      }
    }
    std::vector<std::string> names;
    for (const auto& c : images) {
      ASSIGN_OR_RETURN(std::string mtext, content_->Read(c.manifest_digest));
      ASSIGN_OR_RETURN(Manifest m, ParseManifest(mtext));
      ASSIGN_OR_RETURN(std::string ctext, content_->Read(m.config.digest));
      ASSIGN_OR_RETURN(ImageConfig config, ParseImageConfig(ctext));
      RETURN_IF_ERROR(Unpack(m, config, &txn));
    }
    std::vector<ImageRecord> records;
    for (const auto& c : images) {
      for (const auto& n : c.names) {
        records.push_back(ImageRecord{n, c.manifest_digest, c.index_digest, "", 0, ""});
        names.push_back(n);
      }
    }
    RETURN_IF_ERROR(Commit(std::move(records)));
    return names;
  };
  auto result = run();
  if (!result.ok()) Rollback(txn);
  return result;
}

}  // namespace sampan::image
