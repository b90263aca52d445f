#include "image/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <memory>
#include <vector>

#include "image/digest.h"
#include "image/fs_util.h"

namespace sampan::image {
namespace {

// Decompresses the layer file (any filter libarchive knows) and hashes the plain stream as
// the tar reader consumes it, so the diff ID costs no second pass.
struct PlainStream {
  archive* raw = nullptr;  // format "raw" + all filters over the file
  Sha256 hash;
  int64_t bytes = 0;
  std::string error;
};

la_ssize_t ReadPlain(archive*, void* client, const void** buf) {
  auto* s = static_cast<PlainStream*>(client);
  const void* block = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  int r = archive_read_data_block(s->raw, &block, &size, &offset);
  if (r == ARCHIVE_EOF) return 0;
  if (r != ARCHIVE_OK) {
    const char* e = archive_error_string(s->raw);
    s->error = e ? e : "decompression failed";
    return -1;
  }
  s->hash.Update(block, size);
  s->bytes += static_cast<int64_t>(size);
  *buf = block;
  return static_cast<la_ssize_t>(size);
}

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriterDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};

std::string ArchiveError(archive* a, std::string_view fallback) {
  const char* e = archive_error_string(a);
  return e ? e : std::string(fallback);
}

Status MakeParents(const std::string& dest, const std::string& rel) {
  size_t pos = 0;
  while ((pos = rel.find('/', pos)) != std::string::npos) {
    std::string p = dest + "/" + rel.substr(0, pos);
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) {
      if (::mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoStatus("mkdir " + p, errno);
    } else if (!S_ISDIR(st.st_mode)) {
      return Invalid("layer entry \"" + rel + "\": parent \"" + rel.substr(0, pos) +
                     "\" is not a directory");
    }
    ++pos;
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> CleanMemberPath(std::string_view name) {
  std::string out;
  size_t i = 0;
  while (i <= name.size()) {
    size_t j = name.find('/', i);
    if (j == std::string_view::npos) j = name.size();
    std::string_view comp = name.substr(i, j - i);
    if (comp == "..") return Invalid("layer entry \"" + std::string(name) + "\" contains \"..\"");
    if (!comp.empty() && comp != ".") {
      if (!out.empty()) out += '/';
      out += comp;
    }
    i = j + 1;
  }
  return out;
}

Result<ApplyStats> ApplyLayer(const std::string& layer_path, const std::string& dest_in) {
  char real[PATH_MAX];
  if (!::realpath(dest_in.c_str(), real)) return ErrnoStatus("realpath " + dest_in, errno);
  const std::string dest = real;

  PlainStream plain;
  std::unique_ptr<archive, ArchiveDeleter> raw(archive_read_new());
  archive_read_support_filter_all(raw.get());
  archive_read_support_format_raw(raw.get());
  plain.raw = raw.get();
  if (archive_read_open_filename(raw.get(), layer_path.c_str(), 1 << 20) != ARCHIVE_OK) {
    return Invalid("layer " + layer_path + ": " + ArchiveError(raw.get(), "cannot open"));
  }
  archive_entry* raw_entry = nullptr;
  if (archive_read_next_header(raw.get(), &raw_entry) != ARCHIVE_OK) {
    return Invalid("layer " + layer_path + ": " + ArchiveError(raw.get(), "empty"));
  }

  std::unique_ptr<archive, ArchiveDeleter> tar(archive_read_new());
  archive_read_support_format_tar(tar.get());
  archive_read_support_format_gnutar(tar.get());
  if (archive_read_open(tar.get(), &plain, nullptr, ReadPlain, nullptr) != ARCHIVE_OK) {
    return Invalid("layer " + layer_path + ": not a tar archive: " +
                   (plain.error.empty() ? ArchiveError(tar.get(), "unreadable") : plain.error));
  }

  int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
              ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
              ARCHIVE_EXTRACT_UNLINK;
  if (::geteuid() == 0) flags |= ARCHIVE_EXTRACT_OWNER;
  std::unique_ptr<archive, WriterDeleter> disk(archive_write_disk_new());
  archive_write_disk_set_options(disk.get(), flags);
  archive_write_disk_set_standard_lookup(disk.get());

  ApplyStats stats;
  std::vector<std::string> opaque_dirs;
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(tar.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      return Invalid("layer " + layer_path + ": corrupt or truncated: " +
                     (plain.error.empty() ? ArchiveError(tar.get(), "bad header") : plain.error));
    }
    ++stats.entries;
    ASSIGN_OR_RETURN(std::string rel, CleanMemberPath(archive_entry_pathname(e)));
    if (rel.empty()) continue;  // the layer root: keep the snapshot directory's own metadata
    std::string base = rel.substr(rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1);
    std::string parent =
        rel.size() > base.size() ? rel.substr(0, rel.size() - base.size() - 1) : "";
    if (base.rfind(kWhiteoutPrefix, 0) == 0) {
      ++stats.whiteouts;
      RETURN_IF_ERROR(MakeParents(dest, rel));
      if (base == kOpaqueMarker) {
        opaque_dirs.push_back(parent.empty() ? dest : dest + "/" + parent);
      } else {
        std::string hidden = base.substr(kWhiteoutPrefix.size());
        if (hidden.empty() || hidden == "." || hidden == "..") {
          return Invalid("layer " + layer_path + ": bad whiteout \"" + rel + "\"");
        }
        std::string target = (parent.empty() ? dest : dest + "/" + parent) + "/" + hidden;
        RETURN_IF_ERROR(RemoveTree(target));
        if (::mknod(target.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0) {
          return ErrnoStatus("whiteout " + target, errno);
        }
      }
      continue;
    }
    std::string abs = dest + "/" + rel;
    archive_entry_set_pathname(e, abs.c_str());
    if (const char* hl = archive_entry_hardlink(e)) {
      ASSIGN_OR_RETURN(std::string hrel, CleanMemberPath(hl));
      std::string habs = dest + "/" + hrel;
      archive_entry_set_hardlink(e, habs.c_str());
    }
    RETURN_IF_ERROR(MakeParents(dest, rel));
    r = archive_write_header(disk.get(), e);
    if (r < ARCHIVE_WARN) {
      return Internal("layer " + layer_path + ": extracting \"" + rel +
                      "\": " + ArchiveError(disk.get(), "write failed"));
    }
    if (archive_entry_size(e) > 0 && archive_entry_hardlink(e) == nullptr) {
      const void* block;
      size_t size;
      la_int64_t offset;
      for (;;) {
        r = archive_read_data_block(tar.get(), &block, &size, &offset);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) {
          return Invalid(
              "layer " + layer_path + ": corrupt or truncated data in \"" + rel + "\": " +
              (plain.error.empty() ? ArchiveError(tar.get(), "read failed") : plain.error));
        }
        if (archive_write_data_block(disk.get(), block, size, offset) < ARCHIVE_WARN) {
          return Internal("layer " + layer_path + ": writing \"" + rel +
                          "\": " + ArchiveError(disk.get(), "write failed"));
        }
        stats.unpacked_bytes += static_cast<int64_t>(size);
      }
    }
    if (archive_write_finish_entry(disk.get()) < ARCHIVE_WARN) {
      return Internal("layer " + layer_path + ": finishing \"" + rel +
                      "\": " + ArchiveError(disk.get(), "write failed"));
    }
  }
  if (archive_write_close(disk.get()) < ARCHIVE_WARN) {
    return Internal("layer " + layer_path + ": " + ArchiveError(disk.get(), "close failed"));
  }
  // The tar end-of-archive blocks may be followed by padding: the diff ID covers it all.
  const void* buf;
  for (;;) {
    la_ssize_t n = ReadPlain(nullptr, &plain, &buf);
    if (n == 0) break;
    if (n < 0) return Invalid("layer " + layer_path + ": corrupt or truncated: " + plain.error);
  }
  for (const auto& dir : opaque_dirs) {
    if (::setxattr(dir.c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
      return ErrnoStatus("mark opaque " + dir, errno);
    }
  }
  stats.diff_id = plain.hash.Finish();
  return stats;
}

}  // namespace sampan::image
