// The monitor: the parent of a detached container's init. It reaps the init (and, as a
// child subreaper, orphans of a container without a pid namespace), copies stdout/stderr
// into a CRI-format log when asked, and records the exit in the state directory.
#pragma once

#include <sys/types.h>

#include <string>

#include "runtime/cgroups.h"
#include "runtime/state.h"

namespace sampan::runtime {

// Formats one CRI log line: "<RFC3339Nano> <stream> <F|P> <content>\n".
std::string CriLogLine(const std::string& ts, const char* stream, bool partial,
                       std::string_view content);

class AttachServer;

// Runs until `pid` exits; out_fd/err_fd (may be -1) are the read ends of the output pipes,
// copied to the log (when log_path is set) and to attached clients (when `attach` is set).
// Writes exit.json into the state directory. Returns the wait status.
int MonitorContainer(pid_t pid, int out_fd, int err_fd, const std::string& log_path,
                     const Cgroup& cgroup, const StateDir& dir, const std::string& id,
                     AttachServer* attach = nullptr);

}  // namespace sampan::runtime
