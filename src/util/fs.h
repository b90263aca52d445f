// Small file-system helpers.
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"

namespace sampan::fs {

Result<std::string> ReadFile(const std::string& path);
// Writes via a temporary file + fsync + rename, so readers never see a partial file.
Status WriteFileAtomic(const std::string& path, std::string_view data, int mode = 0644);
// mkdir -p with `mode` for directories it creates.
Status MakeDirs(const std::string& path, int mode = 0755);
bool Exists(const std::string& path);

}  // namespace sampan::fs
