// File-system helpers private to the image module.
#pragma once

#include <string>
#include <vector>

#include "util/status.h"

namespace sampan::image {

// rm -rf without following symlinks; OK if `path` does not exist.
Status RemoveTree(const std::string& path);
// 16 random hex characters for temporary names.
std::string RandomHex();
// Names in `dir` (without "." and ".."); empty if it does not exist.
std::vector<std::string> ListDir(const std::string& dir);
// Seconds since the last modification of `path` (a large number if it cannot be read).
long AgeSeconds(const std::string& path);
// An RFC 3339 UTC timestamp for now: "2026-01-02T03:04:05Z".
std::string NowRfc3339();

}  // namespace sampan::image
