// The container's filesystem view, built inside its new mount namespace by the init process:
// mounts of config.json, device nodes, pivot_root, masked and read-only paths, sysctls.
// Runs single-threaded in the cloned init; never call from a multithreaded process.
#pragma once

#include <functional>
#include <string>

#include "runtime/cgroups.h"
#include "runtime/spec.h"
#include "util/status.h"

namespace sampan::runtime {

struct RootfsContext {
  std::string rootfs;  // absolute host path
  std::string bundle;  // relative bind sources resolve here
  CgroupMode cgroup_mode = CgroupMode::kV1;
  std::string cgroup_rel_path;  // the container's cgroup (bound at /sys/fs/cgroup on v1)
  bool user_ns = false;         // mknod is not allowed: bind host devices instead
  // Called once before the first mount that belongs to the network namespace of whoever mounts
  // it (sysfs), or at the end: the init enters a network namespace made ahead (NetnsAhead) as
  // late as it can, so that making it overlaps with the mounts before.
  std::function<Status()> before_net_mounts;
};

// Everything up to (not including) pivot_root: root propagation, the rootfs bind,
// config.json mounts, /dev nodes and links.
Status PrepareRootfs(const Spec& spec, const RootfsContext& ctx);
// pivot_root into ctx.rootfs and detach the old root; chroot when `no_pivot`.
Status EnterRootfs(const Spec& spec, const RootfsContext& ctx, bool no_pivot);
// After entering the root: sysctls, masked paths, read-only paths, read-only root.
Status FinishRootfs(const Spec& spec);

}  // namespace sampan::runtime
