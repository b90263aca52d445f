// streaming::Backend over the agent's containers: exec (a `sampan runtime exec` helper with
// the client's stdio as pipes or a pty), attach (framed through the container monitor's attach
// socket; a tty container's terminal stays with its monitor), port-forward (a socket connected
// inside the pod's network namespace) and the CRI log files.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "agent/node_context.h"
#include "agent/pod_worker.h"
#include "streaming/backend.h"

namespace sampan::agent {

class ContainerBackend final : public streaming::Backend {
 public:
  // `lookup` finds the worker of a pod by namespace and name (nullptr if not on this node).
  using Lookup =
      std::function<std::shared_ptr<PodWorker>(const std::string& ns, const std::string& name)>;
  ContainerBackend(NodeContext* ctx, Lookup lookup) : ctx_(ctx), lookup_(std::move(lookup)) {}

  Result<streaming::ProcessHandle> Exec(const streaming::ExecRequest& req) override;
  Result<streaming::ProcessHandle> Attach(const streaming::ExecRequest& req) override;
  Result<int> PortForward(const std::string& ns, const std::string& pod, int port) override;
  Result<std::string> LogPath(const streaming::LogRequest& req) override;
  bool StillRunning(const streaming::LogRequest& req) override;

 private:
  struct AttachSession;
  Result<ContainerInfo> Resolve(const streaming::ContainerRef& ref,
                                std::shared_ptr<PodWorker>* worker = nullptr);
  static void StartOutputPump(std::shared_ptr<AttachSession> session, int out_w, int err_w);
  static Result<streaming::ProcessHandle> AttachTerminal(std::shared_ptr<AttachSession> session,
                                                         bool want_stdin, bool stdin_once);
  NodeContext* ctx_;
  Lookup lookup_;
};

}  // namespace sampan::agent
