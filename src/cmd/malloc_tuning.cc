#include "cmd/malloc_tuning.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace sampan::cmd {

namespace {
constexpr char kTunable[] = "glibc.malloc.tcache_count";
constexpr char kSetting[] = "glibc.malloc.tcache_count=1000";
// Set across the re-exec: the caller's GLIBC_TUNABLES, prefixed so that "unset" is distinct
// from "set to the empty string".
constexpr char kSavedVar[] = "SAMPAN_SAVED_GLIBC_TUNABLES";
}  // namespace

void TuneMallocByReexec(char** argv) {
  if (const char* saved = std::getenv(kSavedVar)) {
    // The tuned process: restore what the caller had. Its name too: exec'ing /proc/self/exe
    // names the process "exe" (ps, pgrep and top show that name); argv[0]'s base name is what
    // the first exec gave it.
    if (argv[0] && *argv[0]) {
      const char* base = std::strrchr(argv[0], '/');
      prctl(PR_SET_NAME, base ? base + 1 : argv[0], 0, 0, 0);
    }
    std::string was = saved;
    unsetenv(kSavedVar);
    if (was.empty() || was[0] != '=') {
      unsetenv("GLIBC_TUNABLES");
    } else {
      setenv("GLIBC_TUNABLES", was.c_str() + 1, 1);
    }
    return;
  }
  const char* current = std::getenv("GLIBC_TUNABLES");
  if (current && std::strstr(current, kTunable)) return;  // the caller chose a value
  std::string tunables = current && *current ? std::string(current) + ":" + kSetting : kSetting;
  setenv(kSavedVar, current ? (std::string("=") + current).c_str() : "", 1);
  setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
  execv("/proc/self/exe", argv);
  // Not possible (no /proc, say): carry on untuned, with the environment as it was.
  unsetenv(kSavedVar);
  if (current) {
    std::string keep = current;
    setenv("GLIBC_TUNABLES", keep.c_str(), 1);
  } else {
    unsetenv("GLIBC_TUNABLES");
  }
}

}  // namespace sampan::cmd
