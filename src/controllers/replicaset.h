// The ReplicaSet controller, which also drives ReplicationControllers (same
// logic; an RC's selector is a plain label map). Keeps the active pods owned by
// each set equal to spec.replicas: adopts matching orphan pods, releases owned
// pods that stopped matching, creates pods in slow-start batches (1, 2, 4, …),
// deletes the least valuable pods first, and writes status.
//
// Threading: informer handlers only enqueue keys; Run() starts `workers`
// threads that Sync() keys from the work queue (a key is never synced by two
// workers at once).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/events.h"
#include "client/shared_informers.h"
#include "client/workqueue.h"
#include "controllers/util.h"

namespace sampan::controllers {

class ReplicaSetController {
 public:
  // `legacy_rc`: manage ReplicationControllers (core/v1) instead of ReplicaSets.
  // Registers its informers and handlers on `informers` (before they start).
  ReplicaSetController(client::SharedInformers* informers, client::EventRecorder* recorder,
                       bool legacy_rc = false);
  ~ReplicaSetController();

  void Run(int workers);
  void Stop();
  // Brings one set (key "ns/name") to its desired state. Public for tests.
  Status Sync(const std::string& key);

 private:
  void EnqueueOwner(const boost::json::object& pod);
  void EnqueueMatching(const boost::json::object& pod);
  Status ManageReplicas(const boost::json::object& rs, const std::string& key,
                        std::vector<client::ObjectPtr>& active, int64_t replicas);
  Status UpdateStatus(const boost::json::object& rs, const std::vector<client::ObjectPtr>& owned,
                      const Status& manage_error);
  std::string OwnerKey(const boost::json::object& pod) const;

  client::RestClient* client_;
  client::EventRecorder* recorder_;
  const client::Resource& resource_;
  const bool legacy_rc_;
  client::Informer* sets_;
  client::Informer* pods_;
  client::WorkQueue queue_;
  Expectations expectations_;
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

// The pods to delete first come first (Kubernetes' ranking: unassigned, then
// Pending < Unknown < Running, not ready, lower deletion cost, more pods of the
// set on the same node, ready more recently, more restarts, newer).
void SortPodsForDeletion(std::vector<client::ObjectPtr>& pods, int64_t now_unix);

}  // namespace sampan::controllers
