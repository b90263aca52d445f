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

struct HelperResult {
  int exit_code = 0;  // 128+signal when the helper was killed
  std::string out, err;
};
// Like RunHelper, but returns the exit status instead of judging it (exec passes the
// container process's status through).
Result<HelperResult> RunHelperStatus(const RuntimeOptions& opts,
                                     const std::vector<std::string>& args);

// Runtime::StartExec for a multithreaded caller: a `sampan runtime exec --report-fd N`
// child with the requested stdio (/dev/null where none is given); the child reports
// "P<pid>" once the process runs, and exits with the process's status.
Result<ExecProcess> StartExecViaHelper(const RuntimeOptions& ro, const ExecOptions& opts);

// In a child process: makes `in`/`out`/`err` (those >= 0) its descriptors 0/1/2, whatever
// numbers they have. Async-signal-safe.
void InstallStdio(int in, int out, int err);

}  // namespace sampan::runtime
