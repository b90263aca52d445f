// Where the agent keeps what need not survive a reboot: the runtime's state directory and
// the container bundles (config.json and the rootfs mount point). As containerd and runc keep
// theirs under /run, these live on a tmpfs: creating and removing them costs no disk inode
// allocation or discard, and after a reboot (when every container is gone) they are gone too.
//
//   <run dir>/runtime      runtime state (RuntimeOptions::root)
//   <run dir>/containers   bundles, one directory per container ID
//
// The default run dir is /run/sampan-agent/<hash of the data dir>, so several agents on one
// machine (tests run many) never share one. DATA_DIR/agent/run-dir names it, for people and
// cleanup scripts.
#pragma once

#include <string>
#include <vector>

#include "util/status.h"

namespace sampan::image {
class ImageStore;
}

namespace sampan::agent {

struct RunLayout {
  std::string run_dir;       // "" in the legacy layout
  std::string runtime_root;  // RuntimeOptions::root
  std::string bundles_dir;
};

// Decides and makes the directories: `run_dir` (default DefaultRunDir) on a tmpfs, unless an
// earlier agent left containers in the old on-disk layout (DATA_DIR/agent/{runtime,containers}):
// those are kept until they are gone, so running containers are still adopted after an
// upgrade (`run_dir` is not used until then). `runtime_root`, when not empty, overrides the
// runtime state directory alone.
Result<RunLayout> PrepareRunLayout(const std::string& data_dir, const std::string& run_dir,
                                   const std::string& runtime_root);

// When no container is left (the runtime state and bundle directories are empty), removes
// them and unmounts the tmpfs EnsureTmpfsDir mounted there (no other mount), so that an agent that
// stops with nothing running leaves nothing behind in /run. Otherwise does nothing (a restarted
// agent adopts them).
void ReleaseRunLayout(const RunLayout& layout);

// Removes the bundles and image-store rootfs dirs of agent containers (IsAgentContainerId)
// that the runtime no longer knows (`live`): what a reboot (the runtime state was on a tmpfs)
// or a crash between steps leaves. A bundle whose rootfs is still a mount point that cannot be
// unmounted is left alone. Call before any container is created.
void RemoveStaleContainerFiles(const std::vector<std::string>& live, const std::string& bundles_dir,
                               image::ImageStore* images);

// /run/sampan-agent/<16 hex digits of a hash of the absolute data dir>.
std::string DefaultRunDir(const std::string& data_dir);

// Whether `path` is on tmpfs or ramfs.
bool OnTmpfs(const std::string& path);

// Makes `dir` (0700) and, unless it is on tmpfs/ramfs already, mounts a tmpfs there (root
// only, 256 MiB at most). The mount outlives the agent on purpose (a restarted agent adopts
// the containers it describes); a reboot takes it away.
Status EnsureTmpfsDir(const std::string& dir);

// Whether `dir` exists and has any entry.
bool DirHasEntries(const std::string& dir);

// Container IDs the agent makes (32 lower-case hex digits); other names found in its
// directories are never touched by its cleanup.
bool IsAgentContainerId(const std::string& id);

}  // namespace sampan::agent
