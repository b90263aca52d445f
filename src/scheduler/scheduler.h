// The scheduler: watches pods without a node and binds each to the best node
// (framework.h) through pods/binding, with Kubernetes' events and conditions.
//
// Threading: two informers (pods, nodes) feed a WorkQueue of pod keys; one
// scheduling thread pops keys and schedules one pod at a time against a snapshot
// built from the informer caches plus pods it has bound but not yet seen back
// ("assumed"). A pod that fits nowhere gets a FailedScheduling event and a
// PodScheduled=False condition, and waits in the unschedulable set until a node
// is added or changes or an assigned pod goes away (or 60 s pass).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "client/events.h"
#include "client/informer.h"
#include "client/rest_client.h"
#include "client/workqueue.h"
#include "scheduler/framework.h"

namespace sampan::scheduler {

struct SchedulerOptions {
  std::string scheduler_name = "default-scheduler";
  std::chrono::milliseconds unschedulable_flush{std::chrono::seconds(60)};
};

class Scheduler {
 public:
  Scheduler(client::RestClient* client, SchedulerOptions opts = {});
  ~Scheduler();

  void Start();  // starts informers and the scheduling thread
  void Stop();   // idempotent
  // Schedules the pod with this key once, now (public for tests). OK when bound or
  // recorded as unschedulable; an error for API failures.
  Status ScheduleOne(const std::string& key);

 private:
  bool Responsible(const boost::json::object& pod) const;
  void OnPodEvent(const client::ObjectPtr& old_pod, const client::ObjectPtr& pod, bool deleted);
  void MoveAllToActive();
  void Loop();
  Status RecordFailure(const boost::json::object& pod, const std::string& reason,
                       const std::string& message);

  client::RestClient* client_;
  const SchedulerOptions opts_;
  client::EventRecorder recorder_;
  std::unique_ptr<Framework> framework_;
  client::Informer pods_, nodes_;
  client::WorkQueue queue_;

  std::mutex mu_;
  std::set<std::string> unschedulable_;               // guarded by mu_
  std::map<std::string, client::ObjectPtr> assumed_;  // pod key → bound pod; guarded by mu_
  std::thread thread_;
  std::atomic<bool> started_{false};
};

}  // namespace sampan::scheduler
