// Pod Security admission: Kubernetes' built-in PodSecurity plugin (k8s.io/pod-security-admission,
// the Pod Security Standards "baseline" and "restricted" as of Kubernetes 1.32), run as the
// API server's kube-apiserver runs it with no AdmissionConfiguration: defaults privileged:latest
// for enforce, audit and warn, and no exempt users, namespaces or runtime classes.
//
// Namespace labels pod-security.kubernetes.io/{enforce,audit,warn} (privileged | baseline |
// restricted) and .../{enforce,audit,warn}-version (latest | v1.N) choose the policy of the pods
// in that namespace. Without a warn label, warn follows an explicit enforce level stricter than
// it (with enforce's version unless warn-version is set). A label that does not parse refuses
// the Namespace create (and an update that changes the errors) with 422 Invalid; on an existing
// namespace it evaluates as Kubernetes does: enforce falls back to restricted, audit and warn
// to privileged, a version to latest.
//
//  - Pods (create; updates that change a container's image or add containers or ephemeral
//    containers; status and other subresource writes are not checked): a violation of the enforce
//    level is 403 `pods "NAME" is forbidden: violates PodSecurity "LEVEL:VERSION": REASONS`; an
//    allowed pod that violates the warn level gets the warning
//    `would violate PodSecurity "LEVEL:VERSION": REASONS`.
//  - Workloads with a pod template (ReplicationController, PodTemplate, ReplicaSet, Deployment,
//    StatefulSet, DaemonSet, Job, CronJob; create and update of the object itself, not status or
//    scale): the template is evaluated against the warn level only, never enforced.
//  - Namespaces: an update that makes the enforce level stricter answers warnings naming the
//    existing pods that violate it (`existing pods in namespace "NS" violate the new PodSecurity
//    enforce level "LEVEL:VERSION"`, then `POD (and N other pods): REASONS` lines; at most 3000
//    pods are checked, Kubernetes' limit; Kubernetes' 1 s time limit is not applied).
// The audit level only annotates audit events in Kubernetes; this server keeps no audit log, so
// audit labels are parsed (and validated) but have no effect.
// Mirror (static) pods are checked like any other pod, as in Kubernetes.
//
// Versions: every check keeps the versions Kubernetes 1.32 registers (the sysctl allow list of
// 1.0/1.27/1.29/1.32, SELinux types of 1.0/1.31, seccomp annotations before 1.19, capabilities
// drop ALL from 1.22, runAsUser from 1.23, the Windows exceptions from 1.25, ...); "latest" and
// any version past 1.32 evaluate as 1.32.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/schema.h"
#include "apiserver/object_cache.h"
#include "util/status.h"

namespace sampan::apiserver {
namespace podsecurity {

enum class Level { kPrivileged, kBaseline, kRestricted };

struct LevelVersion {
  Level level = Level::kPrivileged;
  bool latest = true;
  int minor = 0;  // v1.<minor> when !latest
  // "restricted:latest", "baseline:v1.25".
  std::string String() const;
  bool operator==(const LevelVersion& o) const {
    return level == o.level && latest == o.latest && (latest || minor == o.minor);
  }
};

struct Policy {
  LevelVersion enforce, audit, warn;
};

// The policy of a namespace with these labels (null: none). Label errors are appended to
// `errors` (when non-null) as Kubernetes' field errors on metadata.labels[KEY].
Policy PolicyFromLabels(const boost::json::object* labels, std::vector<Cause>* errors);

// One failed check: Kubernetes' forbidden reason and detail ("" when none).
struct Violation {
  std::string reason;
  std::string detail;
};

// Evaluates a pod's metadata and spec (either may be null) at `lv`, in Kubernetes' check order
// (baseline checks, then restricted ones, each group by check ID). Privileged: nothing.
std::vector<Violation> CheckPod(const boost::json::object* metadata,
                                const boost::json::object* spec, const LevelVersion& lv);

// "reason (detail), reason, ..." as in Kubernetes' messages.
std::string ForbiddenDetail(const std::vector<Violation>& v);

}  // namespace podsecurity

// Admission of an object about to be created (after validation; the namespace exists). Pods:
// Forbidden on an enforce violation, else a warning on a warn violation. Workloads: a warning on a
// warn violation of the template. Namespaces: Invalid (causes on metadata.labels[...]) when the
// labels do not parse; the caller turns it into the kind's Invalid status. Warnings are appended
// to `warnings` when non-null. Other kinds: OK.
Status AdmitPodSecurityCreate(const api::Registry& registry, const ObjectCache& cache,
                              const api::KindInfo& kind, std::string_view ns,
                              const boost::json::object& obj, std::vector<std::string>* warnings);

// Admission of an update of a Pod (checked only when significant: see above) or a Namespace
// (labels, and warnings on existing pods). Workloads are not handled here: see
// PodSecurityTemplateWarning. Other kinds: OK.
Status AdmitPodSecurityUpdate(const api::Registry& registry, const ObjectCache& cache,
                              const api::KindInfo& kind, const boost::json::object& old,
                              const boost::json::object& next, std::vector<std::string>* warnings);

// For an update of a workload object itself (not a subresource): the warning its pod template
// draws, or "" (none, not a workload, or a namespace whose warn level is privileged). `obj` is
// the object as the client sent it; defaults are applied to a copy when the template must be
// evaluated.
std::string PodSecurityTemplateWarning(const api::Registry& registry, const ObjectCache& cache,
                                       const api::KindInfo& kind, std::string_view ns,
                                       const boost::json::object& obj);

}  // namespace sampan::apiserver
