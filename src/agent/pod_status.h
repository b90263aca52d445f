// Pod status as the kubelet computes it, from what the node knows about each container:
// phase, conditions, container statuses, IPs, QoS class. Pure functions of their inputs
// (no API calls), unit-tested in pod_status_test.cc.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sampan::agent {

// A finished container instance.
struct Terminated {
  int exit_code = 0;
  int signal = 0;
  std::string reason;        // Completed | Error | OOMKilled | ContainerCannotRun | StartError ...
  std::string message;       // termination message
  std::string container_id;  // "sampan://<id>"
  int64_t started_at = 0, finished_at = 0;  // unix seconds
};

// What the node knows about one container of the pod.
struct ContainerView {
  enum class State { kWaiting, kRunning, kTerminated };
  std::string name;
  std::string image;     // the image as the runtime names it (spec image until pulled)
  std::string image_id;  // "docker.io/library/busybox@sha256:..." once pulled
  State state = State::kWaiting;
  std::string waiting_reason = "ContainerCreating", waiting_message;
  std::string container_id;  // "sampan://<id>" of the current instance, if any
  int64_t started_at = 0;    // running
  Terminated terminated;     // terminated
  std::optional<Terminated> last;
  int restart_count = 0;
  bool ready = false;
  bool started = false;  // startup probe passed (or none) and running
};

struct PodStatusInputs {
  const boost::json::object* pod = nullptr;    // spec and the current (old) status are read
  std::vector<ContainerView> init_containers;  // in spec order
  std::vector<ContainerView> containers;       // in spec order
  // spec.ephemeralContainers (in spec order): reported, but no part of phase or conditions.
  std::vector<ContainerView> ephemeral_containers;
  bool sandbox_ready = false;                  // sandbox up with its network
  std::string host_ip, pod_ip;
  int64_t start_time = 0;  // when the agent first saw the pod (kept if status has one)
  // A pod-level failure decided by the agent (activeDeadlineSeconds: DeadlineExceeded).
  std::string failed_reason, failed_message;
  std::string qos_class;
  int64_t now = 0;
};

// Kubernetes' getPhase: Pending / Running / Succeeded / Failed from the containers and
// the restart policy. A pod whose old phase is terminal stays there.
std::string ComputePhase(const PodStatusInputs& in);

// The full status object (phase, conditions, hostIP(s), podIP(s), startTime, qosClass,
// initContainerStatuses, containerStatuses sorted by name, ephemeralContainerStatuses), keeping conditions of other
// types (PodScheduled, DisruptionTarget, readiness gates) and lastTransitionTimes of
// conditions whose status did not change.
boost::json::object ComputePodStatus(const PodStatusInputs& in);

// One container status entry.
boost::json::object ContainerStatusJson(const ContainerView& c);

// Whether `restart_policy` restarts a container that exited with `exit_code`.
bool ShouldRestart(const std::string& restart_policy, int exit_code);

// Equality ignoring nothing but key order (used to skip unchanged status writes).
bool SameStatus(const boost::json::object& a, const boost::json::object& b);

}  // namespace sampan::agent
