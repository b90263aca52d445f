// What the kubelet's streaming endpoints (exec, attach, port-forward, logs) need from the
// node agent. src/streaming implements the wire protocols (WebSocket channel protocols
// v1..v5, SPDY/3.1, port-forward over both) and the HTTPS server of the kubelet API; the
// agent implements this interface over its containers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "util/status.h"

namespace sampan::streaming {

struct ContainerRef {
  std::string ns, pod, container;  // container empty: the pod's default (first) container
};

// A process started for exec or attach. Each fd is owned by the handle's user and is -1
// when that stream was not asked for. With a tty there is one fd (`tty`) for both
// directions and stderr is merged.
struct ProcessHandle {
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1, tty = -1;
  // Blocks until the process ends; returns its exit status (128+signal when killed).
  std::function<Result<int>()> wait;
  // Terminal size changes (only with a tty).
  std::function<void(uint16_t width, uint16_t height)> resize;
  // Called if the client goes away before the process ends (exec: kill it; attach: detach).
  std::function<void()> cancel;
};

struct ExecRequest {
  ContainerRef ref;
  std::vector<std::string> command;
  bool stdin = false, stdout = true, stderr = true, tty = false;
};

struct LogRequest {
  ContainerRef ref;
  bool follow = false, previous = false, timestamps = false;
  std::optional<int64_t> tail_lines, limit_bytes, since_seconds;
  std::string since_time;  // RFC 3339
};

class Backend {
 public:
  virtual ~Backend() = default;
  // NotFound for an unknown pod/container, Conflict ("container not running") otherwise
  // unable; Invalid for a bad request (e.g. several containers and none named).
  virtual Result<ProcessHandle> Exec(const ExecRequest& req) = 0;
  // Connects to the container's main process stdio (stdin only if the container has
  // `stdin: true`). Output already written is not replayed.
  virtual Result<ProcessHandle> Attach(const ExecRequest& req) = 0;
  // A connected TCP socket to `port` on the pod's localhost (inside its network namespace).
  virtual Result<int> PortForward(const std::string& ns, const std::string& pod, int port) = 0;
  // The CRI-format log file of the container (current or previous instance). The streaming
  // side reads, filters and (with follow) tails it until `still_running` returns false.
  virtual Result<std::string> LogPath(const LogRequest& req) = 0;
  virtual bool StillRunning(const LogRequest& req) = 0;
};

}  // namespace sampan::streaming
