// Node lifecycle (Kubernetes' node-lifecycle controller with its taint-eviction
// part):
//  - A node is healthy while its kubelet renews its Lease in kube-node-lease (or
//    posts a new Ready heartbeat). Freshness is judged by this controller's own
//    clock from when it last saw the Lease change, so clock skew does not matter.
//    Not renewed for `grace_period` (a node that never posted a Ready condition:
//    `startup_grace_period`) → Ready, MemoryPressure, DiskPressure and PIDPressure
//    turn Unknown (NodeStatusUnknown "Kubelet stopped posting node status."), event
//    NodeNotReady, and the node's pods get Ready=False.
//  - Taints follow the Ready condition: False → node.kubernetes.io/not-ready,
//    Unknown → node.kubernetes.io/unreachable, each NoSchedule and NoExecute
//    (NoExecute with timeAdded); True → both removed.
//  - The NoExecute taints are rate-limited per zone (topology.kubernetes.io/region +
//    zone labels), as kube-controller-manager does: `eviction_rate` nodes/s while a
//    zone is healthy; `secondary_eviction_rate` when more than 2 of its nodes and at
//    least 55 % are not Ready (0 for zones of <= 50 nodes); none while every node of
//    every zone is not Ready (then the control plane is the likelier culprit: the
//    NoExecute taints are lifted and nothing is evicted).
//  - A pod on a node with NoExecute taints is evicted (DisruptionTarget condition,
//    TaintManagerEviction event, DELETE) at once when it does not tolerate one of
//    them, otherwise after the smallest tolerationSeconds of the tolerations used,
//    counted from when the taint was added; never when they have no seconds.
// Pods bound to nodes that are gone are force-deleted by the pod GC (podgc.h).
//
// Threading as the other controllers: informer handlers enqueue "node/<name>" or
// "pod/<ns>/<name>" keys; workers sync them; a monitor thread enqueues every node
// each `monitor_period`.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/events.h"
#include "client/shared_informers.h"
#include "client/workqueue.h"
#include "util/clock.h"

namespace sampan::controllers {

struct NodeLifecycleOptions {
  std::chrono::milliseconds monitor_period{std::chrono::seconds(5)};
  std::chrono::milliseconds grace_period{std::chrono::seconds(40)};
  std::chrono::milliseconds startup_grace_period{std::chrono::seconds(60)};
  double eviction_rate = 0.1;             // nodes/s given NoExecute taints in a healthy zone
  double secondary_eviction_rate = 0.01;  // in a partially disrupted zone
  int large_cluster_size_threshold = 50;
  double unhealthy_zone_threshold = 0.55;
  const Clock* clock = &Clock::Real();
};

inline constexpr char kTaintNotReady[] = "node.kubernetes.io/not-ready";
inline constexpr char kTaintUnreachable[] = "node.kubernetes.io/unreachable";

class NodeLifecycleController {
 public:
  NodeLifecycleController(client::SharedInformers* informers, client::EventRecorder* recorder,
                          NodeLifecycleOptions opts = {});
  ~NodeLifecycleController();
  void Run(int workers);
  void Stop();

  // Public for tests.
  Status SyncNode(const std::string& name);
  Status SyncPod(const std::string& key);
  // When a pod on a node with these NoExecute taints must go: 0 = now, -1 = never,
  // otherwise the Unix time. `first_seen` stands in for a taint without timeAdded.
  static int64_t EvictionTime(const boost::json::object& pod,
                              const std::vector<boost::json::object>& no_execute_taints,
                              int64_t first_seen);

 private:
  Status Sync(const std::string& key);
  void MonitorLoop();
  void OnLease(const client::ObjectPtr& lease);
  // When the node last showed life (Unix nanoseconds of `clock`).
  int64_t ProbeTime(const std::string& node, const boost::json::object& obj);
  Status MarkUnknown(const boost::json::object& node);
  Status MarkPodsNotReady(const std::string& node);
  Status ReconcileTaints(const boost::json::object& node);
  void EnqueuePodsOf(const std::string& node);
  // Zone states from every node, each monitor period.
  void UpdateZones();
  // Whether a NoExecute taint may be added to a node of `zone` now; if not, how long to wait
  // (-1 = not while the zone or cluster stays like this).
  bool TakeEvictionToken(const std::string& zone, std::chrono::milliseconds* wait);

  client::RestClient* client_;
  client::EventRecorder* recorder_;
  const NodeLifecycleOptions opts_;
  client::Informer* nodes_;
  client::Informer* leases_;
  client::Informer* pods_;
  client::WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::thread monitor_;
  std::atomic<bool> running_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded
  struct Health {
    int64_t probe_nanos = 0;  // when we last saw the node alive (clock nanos)
    std::string lease_renew;  // the lease renewTime we last saw
    std::string heartbeat;    // the Ready condition's lastHeartbeatTime we last saw
  };
  std::map<std::string, Health> health_;             // guarded
  std::map<std::string, int64_t> taint_first_seen_;  // pod key → unix s; guarded
  enum class ZoneState { kNormal, kPartial, kFull };
  struct Zone {
    ZoneState state = ZoneState::kNormal;
    int nodes = 0;
    std::chrono::steady_clock::time_point next_token{};
  };
  std::map<std::string, Zone> zones_;  // guarded
  bool all_down_ = false;              // every zone fully disrupted; guarded
  bool zones_dirty_ = true;  // a node's readiness or zone changed since UpdateZones; guarded
};

}  // namespace sampan::controllers
