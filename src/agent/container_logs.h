// Rotation of container logs, as the kubelet's containerLogMaxSize / containerLogMaxFiles.
//
// A container's log is DATA_DIR/agent/pods/<uid>/logs/<container>/<restart>.log, written by
// the runtime's monitor process. Every `interval` the agent looks at the current log of each
// running container; one that has reached `max_size` is rotated:
//
//   0.log                      the current file (a new, empty one after a rotation)
//   0.log.20261125-191502      the newest rotated file, left uncompressed
//   0.log.20261125-190914.gz   older rotated files, gzip-compressed
//
// At most `max_files` files exist per container log (current included): the oldest rotated
// ones are removed. Rotation renames the current file away and creates an empty one in its
// place; the monitor notices on its next write that the path names another file and goes on
// there (runtime/monitor.cc), and a `kubectl logs -f` reader follows the path to the new file
// (streaming/cri_log.cc). As with the kubelet, `kubectl logs` reads the current file only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "util/status.h"

namespace sampan::agent {

struct ContainerLogOptions {
  int64_t max_size = 10 * 1024 * 1024;        // bytes (--container-log-max-size, default 10Mi)
  int max_files = 5;                          // >= 2 (--container-log-max-files)
  std::chrono::milliseconds interval{10000};  // --container-log-monitor-interval
};

// Invalid unless max_size > 0, max_files >= 2 and interval > 0.
Status ValidateContainerLogOptions(const ContainerLogOptions& o);

// The rotated files of `log` (full paths), oldest first: "<log>.<YYYYMMDD-HHMMSS>" and the
// same with ".gz".
std::vector<std::string> RotatedLogs(const std::string& log);

// One rotation pass over the log at `log`: removes leftovers of an interrupted compression,
// the oldest rotated files beyond max_files - 2, compresses every rotated file but the newest,
// and, if `log` has reached max_size, renames it to "<log>.<now as YYYYMMDD-HHMMSS UTC>" and
// creates an empty file at `log`. A log rotated less than a second ago (same name) waits for
// the next pass. OK if `log` does not exist.
Status RotateLog(const std::string& log, const ContainerLogOptions& o,
                 std::chrono::system_clock::time_point now);

// Runs RotateLog over the current logs of the running containers every interval, on its own
// thread. `current_logs` lists them (called on that thread).
class ContainerLogManager {
 public:
  ContainerLogManager(ContainerLogOptions o,
                      std::function<std::vector<std::string>()> current_logs);
  ~ContainerLogManager();  // Stop()
  void Start();
  void Stop();  // idempotent
  // One pass now (tests).
  void RotateAll();

 private:
  void Run();

  ContainerLogOptions opts_;
  std::function<std::vector<std::string>()> current_logs_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace sampan::agent
