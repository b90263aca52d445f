// The state directory: <root>/<id>/ holds state.json (what later commands need, with the
// config.json text the container was made from), exec.fifo until `start`, and exit.json once
// the monitor has reaped the init. Plain files, so a restarted kubelet finds its containers.
// A foreground `run` keeps its state in one file instead, <root>/<id> itself (MakeFile): it has
// no FIFO, exit record or attach socket to hold, and creating and removing a file costs less
// than a directory (whose block is allocated at once, and freed at removal; on a file system
// that discards freed blocks, that is a disk command the removal waits for). Both forms share
// one name space: an id is taken by either.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "runtime/cgroups.h"
#include "runtime/sys.h"
#include "util/status.h"

namespace sampan::runtime {

struct StoredState {
  std::string id, bundle, rootfs, created;
  pid_t pid = 0;
  uint64_t pid_start = 0;  // /proc/<pid>/stat start time: guards against pid reuse
  pid_t monitor_pid = 0;
  std::map<std::string, std::string> annotations;
  CgroupMode cgroup_mode = CgroupMode::kV1;
  std::string cgroup_path;
  int cgroup_depth = 0;
  std::vector<std::string> namespaces;  // types the container has ("pid", "mount", ...)
  std::string log_path;                 // CRI log written by the monitor, if any
  // The config.json text the container was made from, kept inside state.json (one file less
  // to create and delete per container); empty in state written by older versions, which kept
  // it in <root>/<id>/config.json (LoadConfig reads either).
  std::string config;
};

struct ExitInfo {
  bool present = false;
  int exit_code = 0;  // 128+signal when killed
  int signal = 0;
  std::string finished_at;
  bool oom_killed = false;
};

class StateDir {
 public:
  explicit StateDir(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }
  std::string Dir(const std::string& id) const { return root_ + "/" + id; }
  std::string FifoPath(const std::string& id) const { return Dir(id) + "/exec.fifo"; }

  // Creates <root>/<id>; AlreadyExists if taken, Invalid for a bad id.
  Status Make(const std::string& id) const;
  Status Save(const StoredState& s) const;
  // The one-file form: creates <root>/<id> (AlreadyExists if taken) and returns it open for
  // SaveFile, which writes the state once. Until then Load says "being created".
  Result<UniqueFd> MakeFile(const std::string& id) const;
  Status SaveFile(int fd, const StoredState& s) const;
  Result<StoredState> Load(const std::string& id) const;  // NotFound if absent
  Status SaveExit(const std::string& id, const ExitInfo& e) const;
  ExitInfo LoadExit(const std::string& id) const;
  // A separate <root>/<id>/config.json (Save keeps StoredState::config in state.json instead).
  Status SaveConfig(const std::string& id, const std::string& text) const;
  // StoredState::config, else <root>/<id>/config.json.
  Result<std::string> LoadConfig(const std::string& id) const;
  // rm -rf <root>/<id> (either form).
  Status Remove(const std::string& id) const;
  std::vector<std::string> Ids() const;

 private:
  std::string root_;
};

// "created", "running", "paused" or "stopped" from the stored state and live checks.
std::string ComputeStatus(const StateDir& dir, const StoredState& s, const ExitInfo& e);
// Valid container ids: [A-Za-z0-9][A-Za-z0-9_.+-]* up to 1024 bytes.
bool ValidContainerId(const std::string& id);

}  // namespace sampan::runtime
