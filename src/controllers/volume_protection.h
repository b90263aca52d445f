// Kubernetes' storage-object-in-use protection (pkg/controller/volume/pvcprotection and
// pvprotection): finalizers that keep a claim while pods use it and a volume while it is
// bound.
//  - pvc-protection: every claim not being deleted gets the finalizer kubernetes.io/pvc-protection
//    (Kubernetes' admission plugin adds it at creation; the controller adds it to claims
//    without). A claim being deleted loses it once no pod uses it: a pod uses a claim when it is
//    scheduled (spec.nodeName set: an unscheduled pod never starts, and the scheduler refuses a
//    claim being deleted) and names it in a persistentVolumeClaim volume, or in a generic
//    ephemeral volume ("<pod>-<volume>", the claim controlled by the pod) unless the pod is shut
//    down (deletionTimestamp with a zero grace period). Kubernetes counts such a pod whatever
//    its phase. The informer's pods are asked first, then a live list of the namespace's pods
//    before the finalizer goes.
//  - pv-protection: every volume not being deleted gets kubernetes.io/pv-protection; a volume
//    being deleted loses it once its status.phase is not Bound.
// Threading as the other controllers: handlers enqueue keys, workers Sync() them.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "client/shared_informers.h"
#include "client/workqueue.h"

namespace sampan::controllers {

inline constexpr const char* kPvcProtectionFinalizer = "kubernetes.io/pvc-protection";
inline constexpr const char* kPvProtectionFinalizer = "kubernetes.io/pv-protection";

class PvcProtectionController {
 public:
  explicit PvcProtectionController(client::SharedInformers* informers);
  ~PvcProtectionController();
  void Run(int workers);
  void Stop();
  Status Sync(const std::string& key);  // "ns/name" of a claim; public for tests

 private:
  bool UsedByPods(const boost::json::object& pvc, Status* error);
  void EnqueueClaimsOf(const boost::json::object& pod, bool deleted);

  client::RestClient* client_;
  client::Informer* claims_;
  client::Informer* pods_;
  client::WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

class PvProtectionController {
 public:
  explicit PvProtectionController(client::SharedInformers* informers);
  ~PvProtectionController();
  void Run(int workers);
  void Stop();
  Status Sync(const std::string& name);  // a volume's name; public for tests

 private:
  client::RestClient* client_;
  client::Informer* volumes_;
  client::WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

// Whether `pod` uses the claim `pvc` in the pvc-protection sense (above).
bool PodUsesClaim(const boost::json::object& pod, const boost::json::object& pvc);

}  // namespace sampan::controllers
