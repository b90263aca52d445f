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

// True when /proc/self/exe is a sealed memfd, an immutable root-owned file, or on a read-only
// mount (an installation that is protected already needs no copy at all).
bool RunningFromProtectedCopy();
// A close-on-exec fd of a protected copy of the running binary (the binary itself if it is
// protected), for fexecve of helpers.
Result<int> ProtectedExeFd(const std::string& cache_dir = "/run/sampan-exe");
Status RexecProtected(char** argv, const std::string& cache_dir = "/run/sampan-exe");

}  // namespace sampan::runtime
