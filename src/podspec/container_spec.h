// Pod spec → OCI bundle configuration: the pause (sandbox) container and each app/init
// container, the way the kubelet + a CRI runtime would build them. Functions of their
// inputs (no API calls, nothing written), so they are unit-tested without root; they only
// read the image rootfs's /etc/passwd and /etc/group (image USER names), whether volume
// sources are directories, /dev (privileged containers) and /proc/meminfo (when no node
// memory capacity is given).
#pragma once

#include <sys/types.h>

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "image/manifest.h"
#include "util/status.h"
#include "volume/volumes.h"

namespace sampan::podspec {

// "Guaranteed" | "Burstable" | "BestEffort", by Kubernetes' rules (init containers count).
std::string QosClass(const boost::json::object& pod);

// cgroupsPath (cgroupfs driver) of the pod: "/kubepods/pod<uid>" (Guaranteed),
// "/kubepods/burstable/pod<uid>", "/kubepods/besteffort/pod<uid>". Containers go below it.
std::string PodCgroupParent(const boost::json::object& pod);

// The process to run: container command/args combined with the image's Entrypoint/Cmd as
// Kubernetes does (command replaces Entrypoint and drops Cmd; args replace Cmd), with
// $(VAR) references expanded from `env` ("NAME=value"). Invalid when nothing is left to run.
Result<std::vector<std::string>> ContainerArgs(const boost::json::object& container,
                                               const image::ImageConfig& image,
                                               const std::vector<std::string>& env);

// The pod's sandbox: namespaces that app containers join, files they share.
struct SandboxInfo {
  pid_t pause_pid = 0;        // the infra process (host pid); its /proc/PID/ns/* are joined
  bool host_network = false;  // hostNetwork: no net namespace of its own
  bool host_pid = false, host_ipc = false;
  bool share_pid = false;     // shareProcessNamespace
  std::string hostname;       // pod hostname (spec.hostname / subdomain rules applied)
  std::string etc_hosts;      // host path of the pod's /etc/hosts file
  std::string resolv_conf;    // host path of the pod's /etc/resolv.conf file
  std::string cgroup_parent;  // PodCgroupParent(pod)
  // Host path of the pod's /etc/hostname file (bound into app containers when set).
  std::string hostname_file;
  // Host directory (a tmpfs) shared as /dev/shm by the pod's containers; empty: each
  // container gets a tmpfs of its own (host_ipc: the host's /dev/shm).
  std::string shm_path;
};

// config.json of the pause container: rootfs `pause_rootfs` (read-only, holds /pause),
// new net/uts/ipc (and pid when share_pid) namespaces unless host*, cgroup
// <cgroup_parent>/pause, args ["/pause"].
std::string SandboxConfigJson(const boost::json::object& pod, const SandboxInfo& sandbox,
                              const std::string& pause_rootfs);

struct ContainerInputs {
  const boost::json::object* pod = nullptr;
  const boost::json::object* container = nullptr;  // from spec.containers or initContainers
  const image::ImageConfig* image = nullptr;
  std::string rootfs;            // mounted image rootfs (host path)
  std::vector<std::string> env;  // from ContainerEnv (image env is merged under it)
  std::vector<volume::VolumeManager::ContainerMount> mounts;
  SandboxInfo sandbox;
  std::string termination_message_path;  // host file bound at terminationMessagePath
                                         // (make it mode 0666, as the kubelet does)
  std::string container_id;              // runtime id, also the cgroup leaf name
  // Node memory capacity in bytes, for the Burstable oom_score_adj formula; 0: MemTotal
  // of /proc/meminfo.
  int64_t node_memory_capacity = 0;
};

// config.json of an app or init container: joins the sandbox's namespaces (own mount
// namespace, and own pid namespace unless the pod shares one), the image's and
// container's process (args, env, workingDir, user from securityContext.runAsUser/
// runAsGroup/supplementalGroups/fsGroup or the image's USER), capabilities (runtime
// default set + add − drop; privileged = all, devices, no masks/seccomp filter),
// readOnlyRootFilesystem, allowPrivilegeEscalation → noNewPrivileges, resources →
// cgroup (cpu shares from requests, quota/period from limits, memory limit,
// hugepages skipped), oom_score_adj by QoS class, the default mounts (/proc, /dev, /sys,
// /dev/shm, ...), /etc/hosts, /etc/resolv.conf, /etc/hostname, terminationMessagePath
// and the volume mounts. Invalid for specs that cannot be honoured (e.g. a non-numeric
// image USER with runAsNonRoot).
Result<std::string> ContainerConfigJson(const ContainerInputs& in);

}  // namespace sampan::podspec
