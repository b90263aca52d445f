// Applying one layer tar (plain, gzip or zstd; detected from the data) to a directory in the
// form overlayfs reads as a lower layer: regular entries are extracted with owners, modes,
// times and xattrs; an OCI/Docker whiteout ".wh.NAME" becomes a 0/0 character device NAME and
// an opaque marker ".wh..wh..opq" becomes the xattr trusted.overlay.opaque=y on its directory.
// Entries that would escape `dest` (absolute paths are re-rooted, ".." is refused, symlinks
// are never followed while extracting) are errors.
#pragma once

#include <string>

#include "util/status.h"

namespace sampan::image {

struct ApplyStats {
  std::string diff_id;  // sha256 of the uncompressed tar stream
  int64_t entries = 0;
  int64_t whiteouts = 0;
  int64_t unpacked_bytes = 0;
};

// Applies the layer file `layer_path` onto the (existing, empty) directory `dest`.
// Invalid for a corrupt or truncated archive; Internal for file-system errors.
Result<ApplyStats> ApplyLayer(const std::string& layer_path, const std::string& dest);

// The whiteout prefix and opaque-directory marker of the OCI layer format.
inline constexpr std::string_view kWhiteoutPrefix = ".wh.";
inline constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

// Cleans an archive member name to a relative path ("./a//b/" -> "a/b"); Invalid if it
// contains a ".." component. An empty result means the root itself.
Result<std::string> CleanMemberPath(std::string_view name);

}  // namespace sampan::image
