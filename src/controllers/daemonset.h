// The DaemonSet controller: one pod per eligible node. A node is eligible when
// the pod's nodeSelector and required node affinity match it and every
// NoSchedule/NoExecute taint is tolerated (with the tolerations Kubernetes adds
// to daemon pods, so unschedulable, not-ready and pressured nodes still get
// one); a running pod stays on a node whose NoSchedule taints it does not
// tolerate, and leaves one with an untolerated NoExecute taint.
//
// Pods are created without nodeName, with required node affinity to their node
// (matchFields metadata.name In [node]) so the scheduler binds them; labels
// controller-revision-hash and pod-template-generation. Failed pods are deleted
// and replaced (per node, after a back-off of 1 s doubling to 15 min). Updates:
// RollingUpdate (maxUnavailable, maxSurge; % of the desired count, rounded up)
// or OnDelete. History in ControllerRevisions
// (daemonset_history.h) for `kubectl rollout history|undo daemonset`. Status:
// desired/current/misscheduled/ready/available/updated/unavailable counts,
// observedGeneration, collisionCount.
//
// Threading as ReplicaSetController.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/events.h"
#include "client/shared_informers.h"
#include "client/workqueue.h"
#include "controllers/util.h"
#include "util/clock.h"

namespace sampan::controllers {

class DaemonSetController {
 public:
  DaemonSetController(client::SharedInformers* informers, client::EventRecorder* recorder,
                      const Clock* clock = &Clock::Real());
  ~DaemonSetController();
  void Run(int workers);
  void Stop();
  Status Sync(const std::string& key);  // public for tests

 private:
  void EnqueueOwner(const boost::json::object& obj);
  void EnqueueAll();
  Status CreatePod(const boost::json::object& ds, const std::string& key, const std::string& node,
                   const std::string& hash);
  Status DeletePod(const boost::json::object& ds, const std::string& key,
                   const boost::json::object& pod);

  // The failed-pod back-off of "ds-key|node": with `record`, notes a failure now and returns 0;
  // without, returns the seconds still to wait (0 = go ahead).
  int64_t FailedPodBackoff(const std::string& key, int64_t now, bool record);

  client::RestClient* client_;
  client::EventRecorder* recorder_;
  const Clock* clock_;
  client::Informer* sets_;
  client::Informer* pods_;
  client::Informer* nodes_;
  client::Informer* revisions_;
  client::WorkQueue queue_;
  Expectations expectations_;
  struct Backoff {
    int64_t delay, last;  // seconds
  };
  std::mutex backoff_mu_;
  std::map<std::string, Backoff> backoff_;  // guarded
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

// Whether a daemon pod of `pod_template` should be placed on `node` (should_run) and,
// once there, may stay (should_continue). Adds the daemon tolerations first.
void DaemonNodeFit(const boost::json::object& pod_template, const boost::json::object& node,
                   bool* should_run, bool* should_continue);
// The pod a DaemonSet creates for `node` (template + labels, tolerations, node affinity).
boost::json::object NewDaemonPod(const boost::json::object& ds, const std::string& node,
                                 const std::string& hash);

}  // namespace sampan::controllers
