// The VolumeBinding plugin (Kubernetes' pkg/scheduler/framework/plugins/volumebinding): pods
// with persistentVolumeClaim volumes go where their volumes can be used, and unbound claims of
// WaitForFirstConsumer classes are bound (or provisioned) for the chosen node.
//  - PreFilter: every claim must exist (`persistentvolumeclaim "x" not found`), not be being
//    deleted (`persistentvolumeclaim "x" is being deleted`) nor Lost; a claim that is not bound
//    and whose class binds Immediately (no class, a class that does not exist, or
//    volumeBindingMode Immediate), or that names a volume the binder has not bound yet, makes
//    the pod unschedulable: "pod has unbound immediate PersistentVolumeClaims".
//  - Filter: a bound claim's volume must exist ("node(s) unavailable due to one or more pvc(s)
//    bound to non-existent pv(s)") and its node affinity admit the node ("node(s) had volume
//    node affinity conflict"); each unbound WaitForFirstConsumer claim needs a free volume that
//    fits it and whose affinity admits the node, or a class that can provision there (a
//    provisioner other than "" and kubernetes.io/no-provisioner, allowedTopologies matching the
//    node's labels), else "node(s) didn't find available persistent volumes to bind". A claim
//    already annotated volume.kubernetes.io/selected-node only fits that node. Preemption cannot
//    help with any of these.
//  - Reserve/PreBind (the scheduler, scheduler.cc): the decisions for the chosen node are
//    assumed in VolumeAssumeCache (so the next pods see those volumes taken), then written
//    before the pod's binding: a static volume gets spec.claimRef to the claim (and the
//    pv.kubernetes.io/bound-by-controller annotation), a claim to provision gets the
//    selected-node annotation; the scheduler then waits until the binder controller has bound
//    every such claim before it binds the pod, as kube-scheduler does.
// A claim counts as bound when it has spec.volumeName and the pv.kubernetes.io/bind-completed
// annotation (Kubernetes' rule) or, also accepted here, status.phase Bound.
#pragma once

#include <boost/json.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/informer.h"
#include "scheduler/framework.h"
#include "util/status.h"

namespace sampan::scheduler {

inline constexpr char kAnnSelectedNode[] = "volume.kubernetes.io/selected-node";
inline constexpr char kAnnBindCompleted[] = "pv.kubernetes.io/bind-completed";
inline constexpr char kAnnBoundByController[] = "pv.kubernetes.io/bound-by-controller";
inline constexpr char kNoProvisioner[] = "kubernetes.io/no-provisioner";

// Failure reasons of the Filter (Kubernetes' ConflictReasons).
inline constexpr char kReasonBindConflict[] =
    "node(s) didn't find available persistent volumes to bind";
inline constexpr char kReasonNodeConflict[] = "node(s) had volume node affinity conflict";
inline constexpr char kReasonPVNotExist[] =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
inline constexpr char kReasonUnboundImmediate[] =
    "pod has unbound immediate PersistentVolumeClaims";

// What the plugin reads: claims, volumes and storage classes (the scheduler's informers, with
// its assumed bindings on top).
class VolumeObjects {
 public:
  virtual ~VolumeObjects() = default;
  virtual ObjectPtr Claim(const std::string& ns, const std::string& name) const = 0;
  virtual ObjectPtr Volume(const std::string& name) const = 0;
  virtual std::vector<ObjectPtr> Volumes() const = 0;
  virtual ObjectPtr StorageClass(const std::string& name) const = 0;
};

// Whether the pod has a persistentVolumeClaim volume.
bool PodHasClaims(const boost::json::object& pod);
// Kubernetes' isPVCFullyBound (see the file comment for the phase Bound extension).
bool ClaimFullyBound(const boost::json::object& pvc);

// The pod's claims, sorted as PreFilter sees them (Kubernetes' PodVolumeClaims).
struct PodVolumeClaims {
  bool has_claims = false;
  std::vector<ObjectPtr> bound;          // fully bound claims
  std::vector<ObjectPtr> bound_volumes;  // their volumes, null where missing
  struct Delayed {
    ObjectPtr pvc;
    std::string class_name;
    ObjectPtr storage_class;  // null when the class does not exist
  };
  std::vector<Delayed> delayed;  // unbound claims of WaitForFirstConsumer classes
  // The volumes of the delayed claims' classes, by class name.
  std::map<std::string, std::vector<ObjectPtr>> volumes_by_class;
};
// Fills `out` for `pod`; "" or the reason the pod cannot be scheduled anywhere.
std::string GetPodVolumeClaims(const boost::json::object& pod, const VolumeObjects& objects,
                               PodVolumeClaims* out);

// What binding the pod's volumes on one node takes (Kubernetes' PodVolumes).
struct PodVolumes {
  struct StaticBinding {
    ObjectPtr pvc;
    ObjectPtr pv;        // the volume found; after VolumeAssumeCache::Assume, the copy to write
    bool write = false;  // set by Assume: pv must be written (else it is pre-bound already)
  };
  std::vector<StaticBinding> static_bindings;
  std::vector<ObjectPtr> provisions;  // claims; after Assume, the annotated copies to write
  bool empty() const { return static_bindings.empty() && provisions.empty(); }
};
// The Filter for one node: its reasons (empty = the node fits), and the decisions in `out`
// when given. `node` is the Node object.
std::vector<std::string> FindPodVolumes(const PodVolumeClaims& claims,
                                        const boost::json::object& node, PodVolumes* out);

std::unique_ptr<FilterPlugin> NewVolumeBinding(std::shared_ptr<const VolumeObjects> objects);

// The scheduler's VolumeObjects: its claim, volume and class informers, with the bindings it
// assumed on top until the informers show objects at least as new (Kubernetes' assume cache).
// Thread-safe.
class VolumeAssumeCache : public VolumeObjects {
 public:
  VolumeAssumeCache(const client::Informer* claims, const client::Informer* volumes,
                    const client::Informer* classes);
  ObjectPtr Claim(const std::string& ns, const std::string& name) const override;
  ObjectPtr Volume(const std::string& name) const override;
  std::vector<ObjectPtr> Volumes() const override;
  ObjectPtr StorageClass(const std::string& name) const override;

  // Reserve: every static binding's volume gets the claimRef (and bound-by-controller
  // annotation) it will be written with, every claim to provision the selected-node
  // annotation; those copies replace the decisions' objects and are assumed. A volume already
  // pre-bound that way stays as it is (PreBind has nothing to write for it, only to wait).
  void Assume(PodVolumes* volumes, const std::string& node);
  // Unreserve: forget what Assume assumed for these decisions.
  void Revert(const PodVolumes& volumes);
  // After a successful write: the server's copy stands until the informer has it.
  void Written(const ObjectPtr& obj, bool is_volume);

 private:
  struct Entry {
    ObjectPtr obj;
    int64_t rv = -1;  // resourceVersion the assumption was made on (or written at)
    bool written = false;
  };
  ObjectPtr Overlay(std::map<std::string, Entry>& assumed, const std::string& key,
                    ObjectPtr current) const;

  const client::Informer* claims_;
  const client::Informer* volumes_;
  const client::Informer* classes_;
  mutable std::mutex mu_;
  mutable std::map<std::string, Entry> assumed_claims_;   // guarded; by ns/name
  mutable std::map<std::string, Entry> assumed_volumes_;  // guarded; by name
};

// The PV with spec.claimRef set to `pvc` (and the bound-by-controller annotation when it was not
// bound to it), as Kubernetes' GetBindVolumeToClaim; `dirty` tells whether anything changed.
boost::json::object BindVolumeToClaim(const boost::json::object& pv, const boost::json::object& pvc,
                                      bool* dirty);

}  // namespace sampan::scheduler
