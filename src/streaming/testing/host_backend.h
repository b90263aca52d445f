// A streaming Backend whose "containers" are plain host processes: test
// infrastructure standing in for the node agent's container backend, so that the
// kubelet API (src/streaming) and the API server's proxy can be driven end to end
// with the real kubectl on any machine. It is not isolation: a pod is a directory
// (root/<ns>/<pod>/<container>/, the processes' working directory), "the pod's
// localhost" is the host's 127.0.0.1, and logs are CRI-format files written from the
// main processes' output. Exec runs the command as a child process (pipes, or a
// pseudo-terminal with tty); attach taps the main process's output from now on and
// (when the container keeps stdin open) writes to its stdin. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "streaming/backend.h"

namespace sampan::streaming::testing {

class HostBackend final : public Backend {
 public:
  explicit HostBackend(std::string root);
  ~HostBackend() override;

  // Starts a container's main process. `keep_stdin`: its stdin is a pipe that attach can
  // write to (`stdin: true`); `restart`: when it exits it is started again (restartPolicy
  // Always), its previous log kept for `previous`.
  Status Run(const std::string& ns, const std::string& pod, const std::string& container,
             const std::vector<std::string>& argv, bool keep_stdin, bool restart);
  // Restart count of a container (-1 if unknown).
  int Restarts(const std::string& ns, const std::string& pod, const std::string& container);

  Result<ProcessHandle> Exec(const ExecRequest& req) override;
  Result<ProcessHandle> Attach(const ExecRequest& req) override;
  Result<int> PortForward(const std::string& ns, const std::string& pod, int port) override;
  Result<std::string> LogPath(const LogRequest& req) override;
  bool StillRunning(const LogRequest& req) override;

  struct Container;

 private:
  Result<std::shared_ptr<Container>> Find(const ContainerRef& ref);

  std::string root_;
  std::mutex mu_;
  // "ns/pod" → containers in the order they were started (the first is the default).
  std::map<std::string, std::vector<std::shared_ptr<Container>>> pods_;
};

}  // namespace sampan::streaming::testing
