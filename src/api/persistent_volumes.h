// PersistentVolume ↔ PersistentVolumeClaim matching, as Kubernetes' PV controller and the
// scheduler's VolumeBinding plugin decide it (pkg/controller/volume/persistentvolume and
// pkg/scheduler/framework/plugins/volumebinding): shared by the binder controller
// (controllers/persistentvolume_binder.*) and the scheduler. Pure functions over the objects'
// JSON; no I/O.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sampan::api {

// The provisioner of sampan's built-in local-path StorageClass: the server creates the class,
// the controller manager provisions (controllers/local_path_provisioner.h), each node's agent
// deletes (agent/local_volumes.h).
inline constexpr std::string_view kLocalPathProvisioner = "sampan.io/local-path";

// The claim's storage class: the beta annotation volume.beta.kubernetes.io/storage-class when
// present (it wins, as in Kubernetes' GetPersistentVolumeClaimClass), else spec.storageClassName
// ("" = explicitly none); nullopt when neither is set.
std::optional<std::string> ClaimStorageClass(const boost::json::object& pvc);
// The volume's class: the same beta annotation, else spec.storageClassName; "" when none.
std::string VolumeStorageClass(const boost::json::object& pv);

// Whether `pv`'s spec.nodeAffinity.required admits a node with `node_labels` (metadata.labels of
// the Node; matchExpressions In/NotIn/Exists/DoesNotExist/Gt/Lt, matchFields on metadata.name
// against `node_name`). A volume without node affinity admits every node.
bool VolumeNodeAffinityMatches(const boost::json::object& pv,
                               const boost::json::object& node_labels, std::string_view node_name);

// Whether `pv` can satisfy `pvc` apart from who else claims it: the same storage class (a
// claim with no class only takes volumes with none), the claim's access modes all offered,
// capacity >= the requested storage, the same volumeMode (Filesystem by default), the claim's
// selector (matchLabels/matchExpressions) matching the volume's labels, and the volume not
// being deleted. The reason it cannot, for events, in `why` when not null (Kubernetes'
// checkVolumeSatisfyClaim wordings: "requested PV is too small", "storageClassName does not
// match", "incompatible volumeMode", "incompatible accessMode", "the volume is marked for
// deletion \"NAME\""; the selector: "the claim's selector does not match the volume's labels").
bool VolumeFitsClaim(const boost::json::object& pv, const boost::json::object& pvc,
                     std::string* why = nullptr);

// Whether `pv`'s claimRef names `pvc`: namespace and name, and the uid when the ref has one
// (Kubernetes' IsVolumeBoundToClaim).
bool VolumeBoundToClaim(const boost::json::object& pv, const boost::json::object& pvc);

// Whether `pv` is free for `pvc`: no claimRef, or a claimRef naming this claim (namespace,
// name, and uid when the ref has one). A PV pre-bound to another claim is not free.
bool VolumeAvailableFor(const boost::json::object& pv, const boost::json::object& pvc);

// The volume Kubernetes' binder would pick for `pvc` among `pvs` (FindMatchingVolume):
//  - a claim with spec.volumeName gets that volume or none: taken as it is when its claimRef
//    already names the claim, else it must be unclaimed and satisfy the claim (class, size,
//    volumeMode, access modes, not deleting; the selector is not checked);
//  - else a volume pre-bound to the claim (its claimRef names it) that is large enough, of the
//    claim's volumeMode and not being deleted, whatever its class, modes or labels;
//  - else the smallest unclaimed volume in phase Available (a volume the binder has not marked
//    Available yet is skipped, as in Kubernetes) that VolumeFitsClaim; without a node, volumes
//    offering fewer access modes are preferred first (the binder searches its access-mode
//    index from the smallest set), then the smallest; ties go to the first name.
// When `node_labels` is given (binding on a chosen node), only volumes whose node affinity
// admits that node; a pre-bound volume that does not means no volume at all. Index into `pvs`,
// or -1.
int FindBestVolume(const std::vector<const boost::json::object*>& pvs,
                   const boost::json::object& pvc, const boost::json::object* node_labels = nullptr,
                   std::string_view node_name = {});

// FindBestVolume with Kubernetes' delayBinding flag: for a claim whose class binds
// WaitForFirstConsumer, the binder (no node) only completes pre-bound volumes and leaves
// unclaimed ones to the scheduler.
struct VolumeMatchOptions {
  const boost::json::object* node_labels = nullptr;
  std::string_view node_name;
  bool delay_binding = false;
};
int FindMatchingVolume(const std::vector<const boost::json::object*>& pvs,
                       const boost::json::object& pvc, const VolumeMatchOptions& opts);

}  // namespace sampan::api
