// linux.seccomp -> a libseccomp filter loaded into the calling process.
#pragma once

#include "runtime/spec.h"
#include "util/status.h"

namespace sampan::runtime {

// Builds the filter and loads it (needs no_new_privs or CAP_SYS_ADMIN). Invalid names the
// field for unknown actions, architectures, operators or syscall names that no architecture knows.
Status LoadSeccomp(const Seccomp& s);
// Checks a profile without loading it (used by create to fail before anything is made).
Status CheckSeccomp(const Seccomp& s);

}  // namespace sampan::runtime
