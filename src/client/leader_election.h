// Lease-based leader election (coordination.k8s.io/v1 Lease), as client-go does:
// a candidate takes the Lease when it is absent, released, or not renewed for
// lease_duration (judged by the candidate's own clock from when it last saw the
// record change, so clock skew between machines does not matter); the leader
// renews every retry_period and gives up when it could not renew for
// renew_deadline. Optimistic concurrency (resourceVersion) decides races.
//
// Threading: Start() runs one thread. on_started/on_stopped run on it; they must
// not block for long (start/stop components on other threads).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "client/rest_client.h"

namespace sampan::client {

struct LeaderElectionConfig {
  std::string lease_namespace = "kube-system";
  std::string lease_name;  // e.g. "kube-scheduler", "kube-controller-manager"
  std::string identity;    // unique per candidate (host + random)
  std::chrono::milliseconds lease_duration{std::chrono::seconds(15)};
  std::chrono::milliseconds renew_deadline{std::chrono::seconds(10)};
  std::chrono::milliseconds retry_period{std::chrono::seconds(2)};
  bool release_on_stop = true;  // hand the Lease back on Stop()
};

class LeaderElector {
 public:
  LeaderElector(RestClient* client, LeaderElectionConfig config, std::function<void()> on_started,
                std::function<void()> on_stopped);
  ~LeaderElector();

  void Start();
  // Stops campaigning; if leading, calls on_stopped and (optionally) releases the Lease.
  void Stop();
  bool IsLeader() const;

  // One acquire-or-renew attempt (public for tests): true if we hold the Lease after it.
  bool TryAcquireOrRenew();

 private:
  void Loop();
  bool Sleep(std::chrono::milliseconds d);  // false when stopping
  void Release();

  RestClient* client_;
  const LeaderElectionConfig cfg_;
  std::function<void()> on_started_, on_stopped_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded
  bool leader_ = false;    // guarded
  // What we last saw of someone else's record, and when (steady clock).
  std::string observed_record_;
  std::chrono::steady_clock::time_point observed_at_{};
  std::thread thread_;
};

}  // namespace sampan::client
