// OCI hooks: each runs as a child process with the container's state JSON on stdin,
// its own args/env, and an optional timeout. Blocking; call from single-threaded processes
// or accept that fork is followed only by execve.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/spec.h"
#include "util/status.h"

namespace sampan::runtime {

// Runs the hooks in order; stops at the first failure ("hooks.prestart[0]: exit status 1").
Status RunHooks(const std::vector<Hook>& hooks, std::string_view state_json, std::string_view kind);
// Runs every hook even when some fail (poststart, poststop): each failure is a warning on
// stderr. Returns the first failure.
Status RunHooksWarn(const std::vector<Hook>& hooks, std::string_view state_json,
                    std::string_view kind);

}  // namespace sampan::runtime
