// Pod garbage collector (kube-controller-manager's podgc). Every `period` it looks at
// the pods and nodes in its informers and force-deletes (grace period 0):
//  - terminated pods (phase neither Pending, Running nor Unknown) beyond
//    `terminated_pod_threshold`, evicted ones (Failed with reason Evicted) first, then the
//    oldest by creationTimestamp (name breaks ties); a threshold <= 0 turns this off;
//  - terminating pods (deletionTimestamp set) on a node that is not Ready and carries the
//    node.kubernetes.io/out-of-service taint;
//  - orphans: pods bound to a node that does not exist. A missing node is quarantined
//    first (`quarantine`, 40 s: informers lag), then asked for by GET; still NotFound →
//    each of its pods gets the DisruptionTarget condition (DeletionByPodGC, "PodGC: node
//    no longer exists");
//  - terminating pods that were never scheduled (no spec.nodeName).
// A pod that is not yet Succeeded/Failed is first set to phase Failed (through the status
// subresource), so that its controllers see it finished, as Kubernetes does.
//
// Threading: Run() starts one loop thread; RunOnce() is one pass (public for tests, not to
// be called while the loop runs).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "client/shared_informers.h"
#include "util/clock.h"

namespace sampan::controllers {

struct PodGcOptions {
  // kube-controller-manager's --terminated-pod-gc-threshold.
  int terminated_pod_threshold = 12500;
  std::chrono::milliseconds period{std::chrono::seconds(20)};
  std::chrono::milliseconds quarantine{std::chrono::seconds(40)};
  const Clock* clock = &Clock::Real();
};

inline constexpr char kTaintOutOfService[] = "node.kubernetes.io/out-of-service";

class PodGcController {
 public:
  PodGcController(client::SharedInformers* informers, PodGcOptions opts = {});
  ~PodGcController();
  void Run();
  void Stop();

  // What one pass deleted.
  struct Counts {
    int terminated = 0, terminating = 0, orphaned = 0, unscheduled = 0;
  };
  // One pass over the informers' contents (nothing while they have not synced).
  Counts RunOnce();

 private:
  void Loop();
  // Sets phase Failed (plus `condition`, if any) unless the pod finished, then deletes
  // it with grace period 0. True if the pod is gone or going.
  bool FailAndDelete(const boost::json::object& pod, const boost::json::object* condition);

  client::RestClient* client_;
  const PodGcOptions opts_;
  client::Informer* pods_;
  client::Informer* nodes_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded
  // Nodes pods are bound to that the informer does not know: when first seen missing
  // (clock nanoseconds). Loop thread only.
  std::map<std::string, int64_t> missing_since_;
};

}  // namespace sampan::controllers
