// Flags of the node agent, shared by `sampan agent` and `sampan server` (which runs an
// in-process agent for its own machine).
#pragma once

#include <cstdio>
#include <functional>
#include <string>

#include "agent/agent.h"

namespace sampan::cmd {

// If `flag` is one of the agent's, reads its value through `need` into `o` and returns
// true (with *ok false when the value is bad, after printing why). False otherwise.
bool ParseAgentFlag(const std::string& flag, const std::function<bool(std::string*)>& need,
                    agent::AgentOptions* o, bool* ok);

// The help lines of those flags.
void PrintAgentFlags(FILE* out);

// The same for the flags of container log rotation, static pods and image GC
// (agent_manager_flags.cc); ParseAgentFlag and PrintAgentFlags include them.
bool ParseAgentManagerFlag(const std::string& flag, const std::function<bool(std::string*)>& need,
                           agent::AgentOptions* o, bool* ok);
void PrintAgentManagerFlags(FILE* out);

}  // namespace sampan::cmd
