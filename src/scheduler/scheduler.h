// The scheduler: watches pods without a node and binds each to the best node
// (framework.h) through pods/binding, with Kubernetes' events and conditions.
//
// Threading: three informers (pods, nodes, namespaces) keep the incremental
// Cache (cache.h) current and feed the SchedulingQueue (scheduling_queue.h: activeQ by
// priority, backoffQ, unschedulable pods) with pending pod keys; one
// scheduling thread pops keys and runs one scheduling cycle at a time against the
// cache; the chosen node is assumed in the cache at once (so the next pod sees
// it) and the binding (POST pods/binding, then the Scheduled event) is handed to
// a pool of binder threads, as kube-scheduler binds asynchronously. A failed
// binding (or an API error in a cycle) forgets the assumption and sends the pod to backoffQ.
// A pod that fits nowhere gets a FailedScheduling event and a PodScheduled=False
// condition, and waits among the unschedulable pods until a node is added or changes
// or an assigned pod goes away (or it has waited unschedulable_flush).
// A pod that fits nowhere may preempt lower-priority pods (preemption.h): it is
// nominated (status.nominatedNodeName), the victims are evicted, and it is retried
// when they are gone. Until it is bound, the room it waits for is held: the filters count
// nominated pods of equal or higher priority on their node (framework.h NominatedPods), and
// it goes to its nominated node first when it fits there. Nominations of lower-priority pods
// on that node are cleared; a nomination is cleared too when preemption later finds nothing.
// Approximation: the held pods count in the resource, port and per-node filters; pod
// (anti-)affinity and topology-spread pre-computations do not see them.
// Pods with persistentVolumeClaim volumes go through VolumeBinding (volume_binding.h; informers
// for claims, volumes and storage classes): the volume decisions for the chosen node are assumed
// with the pod, and a binder thread writes them (PV claimRef, or the claim's selected-node
// annotation) and waits up to volume_bind_timeout for the binder controller to bind the claims
// before it posts the pod's binding (kube-scheduler's PreBind). A failure there forgets both
// and sends the pod to backoffQ with a FailedScheduling event. A claim, volume or class added
// or changed retries the waiting pods.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/events.h"
#include "client/informer.h"
#include "client/rest_client.h"
#include "scheduler/cache.h"
#include "scheduler/framework.h"
#include "scheduler/scheduling_queue.h"
#include "scheduler/volume_binding.h"

namespace sampan::scheduler {

struct SchedulerOptions {
  std::string scheduler_name = "default-scheduler";
  // podMaxInUnschedulablePodsDuration: the longest a pod waits for a cluster event.
  std::chrono::milliseconds unschedulable_flush{std::chrono::minutes(5)};
  std::chrono::milliseconds initial_backoff{std::chrono::seconds(1)};  // podInitialBackoffSeconds
  std::chrono::milliseconds max_backoff{std::chrono::seconds(10)};     // podMaxBackoffSeconds
  // Bindings in flight at once. kube-scheduler binds each pod in its own goroutine; 16 threads
  // (each posting the Binding and then the Scheduled event) fell behind a 3,000 pods/s stream,
  // its queue growing to thousands and create→bound latency to ~0.5 s (bench/scheduler.sh).
  int bind_workers = 48;
  int percentage_of_nodes_to_score = 0;  // 0 = adaptive, as kube-scheduler
  // How long a binding waits for the pod's volumes to be bound (bindTimeoutSeconds).
  std::chrono::milliseconds volume_bind_timeout{std::chrono::minutes(10)};
};

struct SchedulerStats {
  int64_t scheduled = 0;      // binding succeeded
  int64_t unschedulable = 0;  // cycles that found no node
  int64_t bind_errors = 0;
  int64_t preemptions = 0;  // victims evicted
  int64_t cycle_nanos = 0;  // time spent in scheduling cycles (filter + score)
};

class Scheduler {
 public:
  Scheduler(client::RestClient* client, SchedulerOptions opts = {});
  ~Scheduler();

  void Start();  // starts informers, the scheduling thread and the binders
  void Stop();   // idempotent
  // Schedules the pod with this key once, now, binding synchronously (public for
  // tests; not while Start()ed). OK when bound or recorded as unschedulable; an error for API
  // failures.
  Status ScheduleOne(const std::string& key);
  SchedulerStats stats() const;

 private:
  struct BindTask {
    client::ObjectPtr pod;
    std::string node;
    PodVolumes volumes;  // what PreBind writes (assumed in volume_cache_)
  };
  bool Responsible(const boost::json::object& pod) const;
  void OnPodEvent(const client::ObjectPtr& old_pod, const client::ObjectPtr& pod, bool deleted);
  void Loop();
  void BindLoop();
  // Schedules; when a node is chosen and `task` is given, fills it instead of binding.
  // `*unschedulable` tells whether the cycle found no node (the pod waits for an event).
  Status ScheduleOneImpl(const std::string& key, BindTask* task, bool* unschedulable);
  Status Bind(const BindTask& task);
  // VolumeBinding's PreBind: writes task.volumes and waits for the claims to be bound.
  Status BindVolumes(const BindTask& task);
  // Whether the claims PreBind wrote are bound; an error when binding can no longer finish.
  Result<bool> VolumesBound(const BindTask& task, const std::vector<ObjectPtr>& written);
  Status RecordFailure(const boost::json::object& pod, const std::string& reason,
                       const std::string& message);
  // Nominates the node for the pod and evicts the victims.
  Status Nominate(const boost::json::object& pod, const PreemptionResult& preemption);
  // Writes status.nominatedNodeName ("" clears it) and records it in the cache.
  Status SetNominatedNode(const boost::json::object& pod, const std::string& node);

  client::RestClient* client_;
  const SchedulerOptions opts_;
  client::EventRecorder recorder_;
  std::unique_ptr<Framework> framework_;  // used by the scheduling thread only
  Cache cache_;
  client::Informer pods_, nodes_, namespaces_;
  client::Informer claims_, volumes_, storage_classes_;
  std::shared_ptr<VolumeAssumeCache> volume_cache_;
  SchedulingQueue queue_;

  std::thread thread_;
  std::atomic<bool> started_{false};

  std::mutex bind_mu_;
  std::condition_variable bind_cv_;
  std::deque<BindTask> bind_queue_;    // guarded by bind_mu_
  bool bind_stop_ = false;             // guarded by bind_mu_
  std::atomic<bool> stopping_{false};  // ends PreBind's waits
  std::vector<std::thread> binders_;

  std::atomic<int64_t> scheduled_{0}, unschedulable_count_{0}, bind_errors_{0}, cycle_nanos_{0},
      preempted_{0};
};

}  // namespace sampan::scheduler
