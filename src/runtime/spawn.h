// Starting a program from a large multithreaded process without fork().
//
// fork() copies the caller's page tables (tens of MB for the server with its caches), and the
// kubelet starts a runtime helper for every container create and every exec probe. SpawnExe
// clones a child that shares the caller's memory (CLONE_VM|CLONE_VFORK, as posix_spawn does)
// and only rearranges descriptors and signal dispositions before it executes, so the cost is
// independent of the caller's size. The calling thread is suspended until the child has
// executed the program (or failed to).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "util/status.h"

namespace sampan::runtime {

struct SpawnRequest {
  // The program: `exe_fd` when >= 0 (executed with fexecve; close-on-exec is fine for an ELF
  // binary), else `exe_path`.
  int exe_fd = -1;
  std::string exe_path;
  std::vector<std::string> argv;
  // nullptr: the caller's environment.
  const std::vector<std::string>* env = nullptr;
  // Descriptor i of the child is fds[i] of the caller (-1: closed). Every other descriptor of
  // the caller is closed in the child. An entry may name its own index (kept as is).
  std::vector<int> fds;
};

// Starts the program and returns its pid (a child of the caller: reap it with waitpid).
// The error of a failed execve is returned as such (the child is reaped).
Result<pid_t> SpawnExe(const SpawnRequest& req);

}  // namespace sampan::runtime
