// One pod on this node, driven by one thread: every change of the pod (informer updates,
// container exits, probe results, timers) wakes the worker, which compares what should run
// with what runs and acts — sandbox, network, volumes, images, init then app containers,
// restarts with back-off, graceful termination — then writes the status if it changed.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/adoption.h"
#include "agent/backoff.h"
#include "agent/node_context.h"
#include "agent/pod_status.h"
#include "client/informer.h"
#include "podspec/container_spec.h"
#include "podspec/prober.h"

namespace sampan::agent {

// A snapshot of one container for the streaming endpoints.
struct ContainerInfo {
  std::string name, id;  // id: runtime id of the current instance ("" if none)
  bool running = false, tty = false, stdin = false, stdin_once = false;
  int restart_count = 0;
  std::string log_path, previous_log_path;
};

class PodWorker {
 public:
  // `adopted` holds the pod's containers found in the runtime (from an earlier agent).
  PodWorker(NodeContext* ctx, std::string uid, AdoptedPod adopted);
  ~PodWorker();  // Stop()

  // The newest API object (from the informer). Wakes the worker.
  void Update(client::ObjectPtr pod);
  // The pod is gone from the API: tear it down and finish.
  void MarkDeleted();
  void Wake();
  // Ends the thread without touching containers (agent shutdown).
  void Stop();
  // True once the pod is torn down and gone from the API (the worker can be dropped).
  bool Finished() const;

  const std::string& uid() const { return uid_; }
  std::string ns() const;
  std::string name() const;
  // For streaming: the container named (app or init container).
  std::optional<ContainerInfo> FindContainer(const std::string& name) const;
  std::vector<std::string> ContainerNames() const;
  pid_t SandboxPid() const;

 private:
  // Per container of the spec.
  struct Container {
    std::string name;
    bool init = false;
    bool ephemeral = false;  // spec.ephemeralContainers: started once, never restarted
    ContainerView view;      // status as reported
    std::string id;      // runtime id of the current instance
    bool running = false, exited = false;
    int64_t finished_at = 0;
    std::string stop_signal;
    bool tty = false, stdin = false, stdin_once = false, fallback_to_logs = false;
    bool started_probe_done = false;  // startup probe passed (or none)
    bool probers_started = false;
    std::string image_ref;   // resolved, for PrepareRootfs
    std::string spec_image;  // spec image of the running instance (a change restarts it)
    std::unique_ptr<podspec::Prober> liveness, readiness, startup;
  };

  struct ProbeState {
    podspec::ProbeResult liveness = podspec::ProbeResult::kUnknown;
    podspec::ProbeResult readiness = podspec::ProbeResult::kUnknown;
    podspec::ProbeResult startup = podspec::ProbeResult::kUnknown;
  };

  void Loop();
  void Sync();
  // Each returns true when it may go on to the next step.
  bool EnsureSandbox(const boost::json::object& pod);
  bool EnsureVolumes(const boost::json::object& pod);
  void RefreshContainers();
  void SyncContainers(const boost::json::object& pod);
  void StartContainer(const boost::json::object& pod, const boost::json::object& spec,
                      Container& c);
  // Adds the ephemeral containers new in the spec and starts those not started yet.
  void SyncEphemeralContainers(const boost::json::object& pod);
  bool EnsureImage(const boost::json::object& pod, const boost::json::object& spec, Container& c,
                   image::ImageInfo* info);
  void KillContainer(const boost::json::object& pod, Container& c, int64_t grace_s,
                     const std::string& reason_message, bool run_pre_stop);
  void RemoveInstance(const std::string& id);
  void StartProbers(const boost::json::object& pod, const boost::json::object& spec, Container& c);
  void StopProbers(Container& c);
  void OnProbe(const std::string& name, podspec::ProbeKind kind, podspec::ProbeResult r,
               const podspec::ProbeOutcome& last);
  Result<int> ExecIn(const std::string& id, const std::vector<std::string>& cmd,
                     std::chrono::milliseconds timeout);
  bool RunHandler(const boost::json::object& pod, Container& c, const boost::json::value& handler,
                  int timeout_s, std::string* message);
  void KillPod(const boost::json::object& pod, int64_t grace_s);
  void TearDownSandbox();
  void TearDownAll();
  void WriteStatus(const boost::json::object& pod);
  // A copy of `pod` whose status carries the pod and host addresses this node assigned.
  boost::json::object WithAddresses(const boost::json::object& pod) const;
  podspec::SandboxInfo SandboxInfoFor(const boost::json::object& pod) const;
  podspec::ProbeTarget ProbeTargetFor(const boost::json::object& pod, const Container& c);
  Status WritePodFiles(const boost::json::object& pod, const podspec::SandboxInfo& info);
  std::string TerminationPath(const std::string& name, const std::string& id) const;
  std::string TerminationMessage(const Container& c, int exit_code);
  void PublishInfo(const Container& c);
  // `field_path`: the part of the pod the event is about, e.g. FieldPath(c) for a container.
  void Event(const boost::json::object& pod, const std::string& type, const std::string& reason,
             const std::string& message, const std::string& field_path = "");
  static std::string FieldPath(const Container& c) {
    if (c.ephemeral) return "spec.ephemeralContainers{" + c.name + "}";
    return client::EventRecorder::ContainerFieldPath(c.name, c.init);
  }
  Container* Find(const std::string& name);
  std::string LogPath(const std::string& name, int restart) const;
  std::string PodDir() const;
  double Now() const;

  NodeContext* ctx_;
  const std::string uid_;

  mutable std::mutex mu_;  // guards the fields below up to the worker-only section
  std::condition_variable cv_;
  client::ObjectPtr pod_;
  bool deleted_ = false, stop_ = false, wake_ = false, finished_ = false;
  std::map<std::string, ContainerInfo> infos_;  // streaming snapshot
  pid_t sandbox_pid_ = 0;
  std::map<std::string, ProbeState> probe_states_;  // by container name

  // Worker-thread only.
  AdoptedPod adopted_;
  bool initialized_ = false;
  std::string sandbox_id_;
  bool sandbox_ready_ = false;
  std::string pod_ip_;
  bool volumes_ready_ = false;
  std::chrono::steady_clock::time_point volumes_refreshed_;
  std::map<std::string, volume::HostVolume> volume_map_;
  std::vector<std::unique_ptr<Container>> containers_;  // init first, then app, spec order
  Backoff backoff_;
  std::map<std::string, double> pull_failed_at_;    // by container name
  std::map<std::string, double> backoff_event_at_;  // last BackOff event, by container name
  int64_t start_time_ = 0;
  std::string failed_reason_, failed_message_;
  bool terminated_ = false;  // containers killed and sandbox gone (terminal or deleting)
  bool deleting_done_ = false;
  boost::json::object last_status_;
  std::string pod_error_;  // sandbox/volume failure shown as the waiting message
  std::thread thread_;
};

}  // namespace sampan::agent
