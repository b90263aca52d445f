// The console socket protocol (runc's): with process.terminal the container gets a new pty
// as stdio and /dev/console; the master end travels to the caller over an AF_UNIX socket in one
// SCM_RIGHTS message whose payload is the pty name.
#pragma once

#include <string>

#include "util/status.h"

namespace sampan::runtime {

// Connects to the console socket at `path`; returns the connected fd.
Result<int> ConnectConsoleSocket(const std::string& path);
// In the container (after pivot_root): opens a pty, makes the slave stdio and controlling
// terminal, binds it on /dev/console when `bind_console`, and sends the master over `sock`.
Status SetupConsole(int sock, bool bind_console);
// Receives one fd sent with SendFd; `name` gets the payload.
Result<int> RecvFd(int sock, std::string* name);
Status SendFd(int sock, int fd, const std::string& name);

}  // namespace sampan::runtime
