// The last steps before a container process executes: limits, identity, capabilities,
// working directory, executable lookup, fd hygiene. Used by the init and by exec.
// Each runs in the single-threaded child that is about to call execve.
#pragma once

#include <string>
#include <vector>

#include "runtime/spec.h"
#include "util/status.h"

namespace sampan::runtime {

Status ApplyRlimits(const Process& p);
Status ApplyOomScoreAdj(const Process& p);
// Drops the bounding set, switches groups/gid/uid keeping capabilities, then sets the
// effective/permitted/inheritable and ambient sets. A process without a capabilities
// object keeps what the uid switch leaves.
Status ApplyUserAndCaps(const Process& p);
Status ApplyNoNewPrivileges(const Process& p);
// chdir(cwd) (created if missing) and a check that the result is inside the root
// (CVE-2024-21626: a leaked directory fd must never become the cwd).
Status EnterCwd(const std::string& cwd);
// The absolute path execve will run: args[0] itself if it has a '/', else the first
// executable match in the PATH of `env`. NotFound names the command.
Result<std::string> FindExecutable(const std::string& arg0, const std::vector<std::string>& env);
// Marks every fd >= first close-on-exec (the runtime's fds never reach the container).
void CloseExecFrom(int first);
// environ for execve; adds PATH/HOME defaults like runc when missing.
std::vector<std::string> ProcessEnv(const Process& p);

}  // namespace sampan::runtime
