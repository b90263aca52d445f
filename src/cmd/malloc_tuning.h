// glibc malloc settings for sampan's long-running processes (server, agent, scheduler,
// controller-manager, hollow nodes).
#pragma once

namespace sampan::cmd {

// The server's request handling allocates and frees many small JSON nodes on several threads.
// glibc keeps only 7 freed chunks per size in each thread's cache by default; past that every
// free and malloc goes to the shared arena (locks, bin searches, consolidation: about 15% of
// the API server's CPU under load). The per-thread cache size is a glibc tunable, read only from
// the GLIBC_TUNABLES environment variable when a process starts (there is no mallopt for it), so
// this re-executes the binary once with the setting added, unless GLIBC_TUNABLES already sets
// it. In the re-executed process the caller's GLIBC_TUNABLES (or its absence) is put back before
// anything else runs, so that nothing started from it (containers, hooks) inherits the setting,
// and the process name (comm) is set back from argv[0].
// Returns normally in the tuned process, or if re-executing was not possible.
void TuneMallocByReexec(char** argv);

}  // namespace sampan::cmd
