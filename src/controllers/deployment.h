// The Deployment controller: one ReplicaSet per pod template (named
// "<deployment>-<pod-template-hash>"), rolled out with the RollingUpdate
// (maxSurge/maxUnavailable) or Recreate strategy; revision annotations on the
// ReplicaSets and the Deployment (so `kubectl rollout history|undo` work), old
// ReplicaSets kept up to revisionHistoryLimit, status and the Available and
// Progressing conditions. A paused Deployment is only scaled, never rolled.
//
// Not yet: proportional scaling of several active ReplicaSets during a resize
// mid-rollout (the newest takes the difference), progressDeadlineSeconds
// (ProgressDeadlineExceeded), adoption of orphan ReplicaSets.
//
// Threading as ReplicaSetController: handlers enqueue, workers Sync().
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "client/events.h"
#include "client/shared_informers.h"
#include "client/workqueue.h"

namespace sampan::controllers {

class DeploymentController {
 public:
  DeploymentController(client::SharedInformers* informers, client::EventRecorder* recorder);
  ~DeploymentController();
  void Run(int workers);
  void Stop();
  Status Sync(const std::string& key);  // public for tests

 private:
  void EnqueueOwnerOf(const boost::json::object& rs);
  Status ScaleReplicaSet(const boost::json::object& d, const boost::json::object& rs, int64_t to,
                         int64_t max_surge);

  client::RestClient* client_;
  client::EventRecorder* recorder_;
  client::Informer* deployments_;
  client::Informer* replicasets_;
  client::Informer* pods_;
  client::WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

// The pod-template-hash of a template: FNV-1a (32 bit) of its canonical JSON
// (plus the collision count), written in Kubernetes' safe alphabet.
std::string PodTemplateHash(const boost::json::object& pod_template, int64_t collision_count);

// Resolves an IntOrString ("25%" or 2) against `total`, rounding up or down.
int64_t ResolveIntOrPercent(const boost::json::value* v, int64_t total, bool round_up,
                            int64_t fallback);

}  // namespace sampan::controllers
