// cgroups for containers: v1, v2 and the hybrid layout (v1 controllers under /sys/fs/cgroup/*,
// a controller-less cgroup2 at /sys/fs/cgroup/unified), chosen at run time.
//
// The pure translations (spec resources -> cgroup files, shares -> weight, cgroupsPath ->
// relative path) are separate functions so they can be unit-tested without a cgroup mount.
// A Cgroup is a plain value (paths only); it can be rebuilt from the state directory.
// Not thread-safe; callers serialise work per container.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "runtime/spec.h"
#include "util/status.h"

namespace sampan::runtime {

enum class CgroupMode { kV1, kHybrid, kV2 };
std::string_view CgroupModeName(CgroupMode m);

// statfs(/sys/fs/cgroup): cgroup2 -> kV2; else kHybrid if /sys/fs/cgroup/unified is cgroup2,
// else kV1.
CgroupMode DetectCgroupMode(const std::string& root = "/sys/fs/cgroup");
// Mount points of the v1 hierarchies mounted right under /sys/fs/cgroup (named ones such as
// systemd included), for the container's own /sys/fs/cgroup. Found with readdir + statfs; the
// mount table (long on a busy node, and read once per container) only when /sys/fs/cgroup
// cannot be listed. Looked up once per process.
const std::vector<std::string>& V1HierarchyMountPoints();

// cpu.shares (v1) -> cpu.weight (v2), the formula runc and crun share (1024 -> 100).
uint64_t SharesToWeight(uint64_t shares);

// One file to write: `controller` picks the v1 hierarchy ("" on v2).
struct CgroupWrite {
  std::string controller;
  std::string file;
  std::string value;
  bool operator==(const CgroupWrite&) const = default;
};

// Translations of linux.resources; Invalid on inconsistent values (swap < memory, ...).
// Device rules are not included (see V1DeviceWrites).
Result<std::vector<CgroupWrite>> V1Writes(const Resources& r);
Result<std::vector<CgroupWrite>> V2Writes(const Resources& r);
// The devices.allow/devices.deny lines for v1: the spec's rules, then the runtime's
// always-allowed defaults, then one allow rule per linux.devices entry.
std::vector<CgroupWrite> V1DeviceWrites(const Resources& r, const std::vector<Device>& devices);

// The cgroup path relative to each hierarchy root. Empty cgroupsPath -> "/sampan-<id>".
// With `systemd`, "slice:prefix:name" becomes "/a.slice/a-b.slice/prefix-name.scope".
Result<std::string> CgroupRelativePath(std::string_view cgroups_path, std::string_view id,
                                       bool systemd);

struct CgroupStats {
  uint64_t cpu_usage_ns = 0, cpu_user_ns = 0, cpu_system_ns = 0;
  uint64_t cpu_throttled_periods = 0, cpu_periods = 0, cpu_throttled_ns = 0;
  uint64_t memory_usage = 0, memory_max_usage = 0, memory_limit = 0, memory_failcnt = 0;
  uint64_t memory_cache = 0, memory_rss = 0;
  uint64_t swap_usage = 0, swap_limit = 0;
  uint64_t pids_current = 0, pids_limit = 0;
  uint64_t oom_kills = 0;
};

class Cgroup {
 public:
  Cgroup() = default;
  // Rebuilds the handle of an existing cgroup (paths only; nothing is touched).
  static Cgroup Open(CgroupMode mode, std::string rel_path, int created_depth);
  // Creates the cgroup in every hierarchy and applies `spec_linux.resources` (+ device rules).
  // On failure nothing is left behind. Invalid/Internal name the file that failed.
  static Result<Cgroup> Create(CgroupMode mode, const std::string& rel_path,
                               const Linux& spec_linux);

  CgroupMode mode() const { return mode_; }
  const std::string& rel_path() const { return rel_path_; }
  int created_depth() const { return created_depth_; }
  // The directory of a controller ("memory") or, on v2, of the cgroup.
  std::string Dir(std::string_view controller) const;

  // Moves a process (pid 0 = the caller) into the cgroup in every hierarchy.
  Status AddProcess(pid_t pid) const;
  // Moves the calling single-threaded process in. On v1 this writes "0" to `tasks`, which the
  // kernel handles without its global threadgroup lock (no RCU grace period, unlike cgroup.procs).
  Status JoinSelf() const;
  Status Freeze() const;
  Status Thaw() const;
  bool Frozen() const;
  Result<std::vector<pid_t>> Pids() const;
  // Freezes, signals every process, thaws (SIGKILL cannot be caught, so this ends them all).
  Status SignalAll(int sig) const;
  // Waits up to `timeout_ms` for the cgroup to have no process.
  bool WaitEmpty(int timeout_ms) const;
  // Removes the directories this cgroup created (leaf first). ENOENT is success.
  Status Destroy() const;
  CgroupStats Stats() const;
  uint64_t OomKills() const;

 private:
  std::vector<std::string> Hierarchies() const;  // controller names (v1) or {""} (v2)
  CgroupMode mode_ = CgroupMode::kV1;
  std::string rel_path_;
  int created_depth_ = 0;
};

}  // namespace sampan::runtime
