// Protection against CVE-2019-5736: a process that enters a container must not be running a
// binary that the container could open for writing through /proc/<pid>/exe.
//
// RexecProtected re-executes the current program from a protected copy of itself, in order of
// preference:
//   1. a cached copy in `cache_dir` (default /run/sampan-exe) marked immutable (FS_IMMUTABLE_FL,
//      owned by root, mode 0555): made once per binary, then reused (no copy per container);
//   2. a sealed memfd copy (F_SEAL_SEAL|SHRINK|GROW|WRITE), when the cache cannot be used.
// It returns only if the program already runs from such a copy, or if both ways failed
// (then the caller carries on unprotected, and the reason is in the returned Status).
#pragma once

#include <string>

#include "util/status.h"

namespace sampan::runtime {

// True when /proc/self/exe is a sealed memfd or an immutable root-owned file.
bool RunningFromProtectedCopy();
Status RexecProtected(char** argv, const std::string& cache_dir = "/run/sampan-exe");

}  // namespace sampan::runtime
