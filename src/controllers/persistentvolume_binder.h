// Kubernetes' persistentvolume-binder controller (pkg/controller/volume/persistentvolume,
// events from "persistentvolume-controller") for static provisioning: it binds
// PersistentVolumeClaims to PersistentVolumes and moves both through their phases.
//
// Claims (one worker, as Kubernetes: binding is not reentrant):
//  - Without pv.kubernetes.io/bind-completed, the claim is unbound. With spec.volumeName empty
//    the volume is api::FindMatchingVolume's choice (a volume pre-bound to the claim, else the
//    smallest fitting Available one); for a class with volumeBindingMode WaitForFirstConsumer
//    only pre-bound volumes are taken, unless the claim carries
//    volume.kubernetes.io/selected-node, when volumes whose node affinity admits that Node (its
//    labels) count too (a departure: Kubernetes leaves those to the scheduler's binding).
//    Binding writes, in Kubernetes' order, the PV (spec.claimRef = a full reference to the
//    claim; pv.kubernetes.io/bound-by-controller: "yes" unless the claimRef already named the
//    claim), the PV status (Bound), the claim (spec.volumeName, bind-completed: "yes", and
//    bound-by-controller: "yes" when the controller chose the volume), and the claim status
//    (Bound, the PV's accessModes and capacity). A failed write (a conflict with a stale
//    cache) is retried through the work queue; each step is skipped when already done.
//  - No volume: the claim stays Pending with an event: WaitForFirstConsumer "waiting for first
//    consumer to be created before binding" (or WaitForPodScheduled "waiting for pod(s) X to be
//    scheduled" when unscheduled pods use it); for a claim with a class, the class's
//    provisioner is asked: an absent class gives Warning ProvisioningFailed
//    `storageclass.storage.k8s.io "X" not found`, an in-tree name ("kubernetes.io/...", none
//    exist here) `no volume plugin matched name: X`, any other provisioner is external: the
//    claim is annotated volume.kubernetes.io/storage-provisioner (and the beta key) and gets
//    ExternalProvisioning "Waiting for a volume to be created either by the external
//    provisioner 'X' or manually by the system administrator. If volume creation is delayed,
//    please verify that the provisioner is running and correctly registered."; without a class,
//    FailedBinding "no persistent volumes available for this claim and no storage class is
//    set". A claim naming a volume that is too small etc. gets Warning VolumeMismatch "Cannot
//    bind to requested volume "V": <reason>"; one naming a volume bound elsewhere, Warning
//    FailedBinding "volume "V" already bound to a different claim.".
//  - A bound claim whose volume is gone, or whose volumeName was cleared, turns Lost (Warning
//    ClaimLost "Bound claim has lost its PersistentVolume. Data on the volume is lost!" /
//    "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!"); one
//    whose volume names another claim uid, Lost with ClaimMisbound.
// Volumes (one worker):
//  - Without a claimRef, or pre-bound (claimRef without uid): Available. Bound to a claim that
//    names it: Bound. Bound to a claim bound elsewhere: unbound again (claimRef removed when the
//    controller set it, else only its uid).
//  - The claim gone (or a new claim of the same name, another uid; checked against the API
//    before acting): Released, then the reclaim policy: Retain keeps it Released; Delete asks
//    the volume's deleter: none here runs in-tree, so, as kube-controller-manager does for
//    hostPath (outside /tmp/) and for local and other plugin types without a deleter, the
//    volume turns Failed with Warning VolumeFailedDelete and status.message "host_path deleter
//    only supports /tmp/.+ but received provided PATH" / "error getting deleter volume plugin
//    for volume "V": no deletable volume plugin matched"; a hostPath under /tmp/ has its PV
//    deleted (departure: the directory is left on the node; Kubernetes removes it on the
//    controller's own host); a volume provisioned by an external provisioner
//    (pv.kubernetes.io/provisioned-by not "kubernetes.io/...") or a CSI volume is left to it.
//    Recycle (deprecated) turns Failed with Warning VolumeFailedRecycle "No recycler plugin
//    found for the volume!" (a Normal VolumeFailedRecycle "Volume is used by pods: ..." while
//    pods still use the claim). Failed volumes are retried on every resync without new events.
// Everything is resynced every `resync` (Kubernetes' --pvclaimbinder-sync-period, 15 s), so a
// pending claim is retried and its event counted again. Not done: dynamic provisioning by
// in-tree plugins, retroactive default StorageClass assignment, volume expansion, CSI
// migration annotations.
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

namespace sampan::controllers {

// Pods by the claims their volumes name ("ns/claim"; generic ephemeral volumes name
// "<pod>-<volume>"), the index both volume controllers add to the shared pod informer.
inline constexpr const char* kPodPvcIndex = "persistentvolumeclaims";
std::vector<std::string> PodPvcIndexFunc(const boost::json::object& pod);

struct PersistentVolumeBinderOptions {
  std::chrono::milliseconds resync{std::chrono::seconds(15)};
};

class PersistentVolumeBinderController {
 public:
  PersistentVolumeBinderController(client::SharedInformers* informers,
                                   client::EventRecorder* recorder,
                                   PersistentVolumeBinderOptions opts = {});
  ~PersistentVolumeBinderController();
  // One claim worker and one volume worker (`workers` is ignored: binding is not reentrant),
  // and the resync timer.
  void Run(int workers = 1);
  void Stop();
  // "ns/name" syncs that claim, "name" that volume. Public for tests.
  Status Sync(const std::string& key);
  Status SyncClaim(const std::string& key);
  Status SyncVolume(const std::string& name);

 private:
  using ObjectPtr = client::ObjectPtr;
  using Object = boost::json::object;

  // The newest copy of a claim / volume: the informer's, or the one this controller last
  // wrote when the informer has not caught up with it yet (Kubernetes' storeObjectUpdate).
  ObjectPtr Claim(const std::string& key);
  ObjectPtr Volume(const std::string& name);
  std::vector<ObjectPtr> Volumes();
  void Remember(std::map<std::string, ObjectPtr>& written, const std::string& key, Object obj);

  Status SyncUnboundClaim(ObjectPtr claim);
  Status SyncBoundClaim(ObjectPtr claim);
  Status Bind(ObjectPtr volume, ObjectPtr claim);
  Result<ObjectPtr> UpdateClaimStatus(ObjectPtr claim, const std::string& phase,
                                      const Object* volume);
  Status UpdateClaimStatusWithEvent(ObjectPtr claim, const std::string& phase,
                                    const std::string& reason, const std::string& message);
  Result<ObjectPtr> UpdateVolumePhase(ObjectPtr volume, const std::string& phase,
                                      const std::string& message);
  Status UpdateVolumePhaseWithEvent(ObjectPtr volume, const std::string& phase,
                                    const std::string& type, const std::string& reason,
                                    const std::string& message);
  Status UnbindVolume(ObjectPtr volume);
  Status ProvisionClaim(ObjectPtr claim, const std::string& class_name);
  void EmitDelayBindingEvent(const Object& claim);
  Status ReclaimVolume(ObjectPtr volume);
  Status DeleteVolume(ObjectPtr volume);
  Status RecycleVolume(ObjectPtr volume);
  // Kubernetes' isVolumeReleased: bound to a claim that is gone or bound elsewhere.
  bool IsVolumeReleased(const Object& volume);
  void ResyncLoop();

  client::RestClient* client_;
  client::EventRecorder* recorder_;
  const PersistentVolumeBinderOptions opts_;
  client::Informer* volumes_;
  client::Informer* claims_;
  client::Informer* classes_;
  client::Informer* nodes_;
  client::Informer* pods_;
  client::WorkQueue claim_queue_, volume_queue_;
  std::mutex mu_;
  std::map<std::string, ObjectPtr> written_claims_;   // guarded
  std::map<std::string, ObjectPtr> written_volumes_;  // guarded
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

}  // namespace sampan::controllers
