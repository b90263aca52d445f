// Liveness, readiness and startup probes of one container: exec, httpGet, tcpSocket (and
// grpc later), with initialDelaySeconds, periodSeconds, timeoutSeconds, successThreshold
// and failureThreshold as the kubelet applies them. One Prober per (container, probe kind)
// runs on its own thread until Stop().
#pragma once

#include <atomic>
#include <boost/json/fwd.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "util/status.h"

namespace sampan::podspec {

enum class ProbeKind { kLiveness, kReadiness, kStartup };
enum class ProbeResult { kUnknown, kSuccess, kFailure };

struct ProbeTarget {
  std::string pod_ip;  // httpGet host default and tcpSocket host
  // Named container ports ("http" → 8080) for httpGet/tcpSocket port names.
  std::vector<std::pair<std::string, int>> named_ports;
  // Runs an exec probe's command in the container with a timeout; returns the exit code
  // (DeadlineExceeded on timeout).
  std::function<Result<int>(const std::vector<std::string>& cmd, std::chrono::milliseconds)> exec;
  // Connects inside the pod's network namespace (for hostNetwork=false pods the pod IP is
  // reachable from the node, so plain connect() works; this exists for tests).
};

// Runs one check, no thresholds: what a single probe attempt says, plus a message for the
// Unhealthy event ("Liveness probe failed: HTTP probe failed with statuscode: 500").
struct ProbeOutcome {
  ProbeResult result = ProbeResult::kUnknown;
  std::string message;
};
ProbeOutcome RunProbeOnce(const boost::json::object& probe, const ProbeTarget& target);

// Thresholds as the kubelet's probe worker applies them: the reported result starts as
// Success (liveness), Failure (readiness) or Unknown (startup) and changes only after
// successThreshold / failureThreshold equal results in a row. Nothing is probed during
// initialDelaySeconds (counted from Start()). After a liveness or startup probe reports
// Failure the prober holds (probes no more): the container is to be restarted, and the
// restarted container gets a new Prober. Running liveness/readiness only once the startup
// probe succeeded is the caller's job.
class Prober {
 public:
  // Called when the thresholded result changes (first report after initialDelaySeconds),
  // and on every failed attempt (for Unhealthy events) with `attempt_failed` = true.
  using Callback =
      std::function<void(ProbeKind, ProbeResult thresholded, const ProbeOutcome& last)>;
  // `probe` is the container's livenessProbe/readinessProbe/startupProbe object.
  Prober(ProbeKind kind, boost::json::object probe, ProbeTarget target, Callback cb);
  ~Prober();  // stops
  void Start();
  void Stop();
  ProbeResult current() const { return current_.load(); }
  // Tests: how long one second of the probe's timings lasts (default 1 s). Before Start().
  void set_second_for_test(std::chrono::milliseconds s) { second_ = s; }

 private:
  void Loop();
  ProbeKind kind_;
  std::unique_ptr<boost::json::object> probe_;
  ProbeTarget target_;
  Callback cb_;
  std::atomic<ProbeResult> current_{ProbeResult::kUnknown};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::chrono::milliseconds second_{1000};
  std::thread thread_;
};

}  // namespace sampan::podspec
