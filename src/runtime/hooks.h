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

}  // namespace sampan::runtime
