// Re-executing the sampan binary as a helper, for callers that have threads (the kubelet):
// namespaces must never be cloned from a multithreaded process.
#pragma once

#include <string>
#include <vector>

#include "runtime/runtime.h"
#include "util/status.h"

namespace sampan::runtime {

// Whether the calling process has more than one thread (/proc/self/status).
bool ProcessIsMultithreaded();
// Runs `<self_exe> runtime --root <root> [--systemd-cgroup] <args...>` and waits for it.
// Returns its stdout; its first stderr line becomes the error message on failure.
Result<std::string> RunHelper(const RuntimeOptions& opts, const std::vector<std::string>& args);

}  // namespace sampan::runtime
