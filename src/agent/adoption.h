// How the agent finds its containers again: every runtime container it creates carries
// annotations naming the pod (uid, name, namespace), the container, its restart count and
// whether it is the sandbox. A restarted agent lists the runtime's containers, groups them
// by pod, and adopts the newest instance of each container instead of starting it again.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/runtime.h"

namespace sampan::agent {

inline constexpr char kAnnoPodUid[] = "io.kubernetes.pod.uid";
inline constexpr char kAnnoPodName[] = "io.kubernetes.pod.name";
inline constexpr char kAnnoPodNamespace[] = "io.kubernetes.pod.namespace";
inline constexpr char kAnnoContainerName[] = "io.kubernetes.container.name";
inline constexpr char kAnnoRestartCount[] = "io.kubernetes.container.restartCount";
inline constexpr char kAnnoContainerType[] =
    "io.kubernetes.cri.container-type";                          // sandbox|container
inline constexpr char kAnnoInit[] = "io.sampan.container.init";  // "true" for init
inline constexpr char kAnnoImage[] = "io.sampan.image";          // name as pulled
inline constexpr char kAnnoImageId[] = "io.sampan.image-id";     // repo@digest
inline constexpr char kAnnoStopSignal[] = "io.sampan.stop-signal";
inline constexpr char kAnnoStartedAt[] = "io.sampan.created-at";  // unix seconds

// One runtime container as the agent sees it.
struct RuntimeContainer {
  std::string id;
  std::string pod_uid, pod_name, pod_namespace;
  std::string container_name;  // empty for the sandbox
  bool sandbox = false, init = false;
  int restart_count = 0;
  std::string status;  // created | running | stopped | paused
  pid_t pid = 0;
  bool exited = false, oom_killed = false;
  int exit_code = 0;
  int64_t created_at = 0, finished_at = 0;  // unix seconds
  std::string image, image_id, stop_signal;
};

// Reads the annotations of a runtime state; false if it is not one of the agent's.
bool FromRuntimeState(const runtime::ContainerState& s, RuntimeContainer* out);

struct AdoptedPod {
  std::string uid, name, ns;
  // The running sandbox (the newest one if several, which should not happen).
  bool has_sandbox = false;
  RuntimeContainer sandbox;
  // Newest instance of each container, by name.
  std::map<std::string, RuntimeContainer> containers;
  // Everything else of the pod: dead sandboxes, older instances (to delete).
  std::vector<RuntimeContainer> stale;
};

// Groups the agent's containers by pod uid.
std::map<std::string, AdoptedPod> GroupByPod(const std::vector<RuntimeContainer>& all);

}  // namespace sampan::agent
