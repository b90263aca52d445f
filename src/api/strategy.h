// Per-kind rules beyond the schema: what Kubernetes' registry "strategies" and defaulting
// functions do for each built-in kind.
//
// The generic schema walk (validate.h) checks types, enums, required fields and unknown
// fields; the functions here add the semantics: defaults, names per kind, cross-field rules,
// and what an update may not change. An apiserver handles a write in this order:
//   create: decode → schema check → DefaultObject → PrepareForCreate → ValidateCreate
//   update: decode → schema check → DefaultObject → PrepareForUpdate → ValidateUpdate
// (as Kubernetes, which defaults while decoding; PrepareForCreate after metadata.uid is filled
// in, since a Job's generated selector uses it).
// Kinds without specific rules get only metadata validation. All functions are thread-safe
// (no shared state) and never throw for bad input: a value of the wrong JSON type is
// skipped here, since the schema check reports it.
#pragma once

#include <boost/json/fwd.hpp>

#include "api/schema.h"
#include "util/status.h"

namespace sampan::api {

// Fills the defaults Kubernetes applies, in place; fields already set are kept, so applying
// it twice changes nothing. Examples: Pod restartPolicy Always, dnsPolicy ClusterFirst,
// schedulerName default-scheduler, terminationGracePeriodSeconds 30, securityContext {};
// container terminationMessagePath/Policy, imagePullPolicy (Always for :latest or no tag,
// else IfNotPresent), port protocol TCP, probe timings; Service type ClusterIP,
// sessionAffinity None, targetPort = port; Deployment replicas 1, RollingUpdate 25%/25%,
// revisionHistoryLimit 10, progressDeadlineSeconds 600; Job completions/parallelism 1,
// backoffLimit 6, completionMode NonIndexed; CronJob concurrencyPolicy Allow, history 3/1;
// Secret type Opaque; Namespace finalizers ["kubernetes"], status.phase Active; Pod
// status.phase Pending and qosClass when it has none yet; pod template defaults inside every
// workload; and a Job's generated selector once metadata.uid is set (see PrepareForCreate).
void DefaultObject(const KindInfo& kind, boost::json::object& obj);

// What the server sets on create, whatever the client sent: status is cleared (kinds with a
// status subresource, except Node, which registers with its status), Pod status.phase Pending and
// qosClass, PV/PVC phase Pending, metadata.generation 1 where TracksGeneration, and a Job's
// generated selector and controller-uid/job-name template labels (unless spec.manualSelector) from
// metadata.uid.
void PrepareForCreate(const KindInfo& kind, boost::json::object& obj);

// What the server keeps on an update of the main resource: for kinds with a status
// subresource the old status is kept (status changes go through /status), and a Namespace
// keeps its spec.finalizers (changed through /finalize only); metadata.generation
// is old+1 when the spec changed and TracksGeneration (else the old value).
void PrepareForUpdate(const KindInfo& kind, boost::json::object& obj,
                      const boost::json::object& old);

// For a write to the status subresource: everything but status (and metadata) comes from
// `old`, so /status can change nothing else. Validate afterwards with ValidateUpdate.
void PrepareForStatusUpdate(const KindInfo& kind, boost::json::object& obj,
                            const boost::json::object& old);

// Validates an object about to be created. OK, or Invalid whose message is Kubernetes'
// `<Kind> "<name>" is invalid: <field>: <message>` (several causes: `[c1, c2]`) and whose
// causes carry field paths such as `spec.containers[0].image` and messages such as
// `Required value` or `Invalid value: "X": ...`. Includes the metadata checks (name rule
// per kind: DNS-1123 label for Namespace, DNS-1035 label for Service, subdomain otherwise).
Status ValidateCreate(const KindInfo& kind, const boost::json::object& obj);

// As ValidateCreate, plus what an update may not change (Pod spec other than images,
// activeDeadlineSeconds and added tolerations; workload selectors; Service clusterIP; Job
// template; Secret/ConfigMap data once immutable; Secret type; PVC spec except requests...).
Status ValidateUpdate(const KindInfo& kind, const boost::json::object& obj,
                      const boost::json::object& old);

// A write of pods/ephemeralcontainers: `pod` is `old` with a new spec.ephemeralContainers
// (defaults applied). The pod is valid as a whole (ephemeral containers' own rules, names
// unique among all containers), each targetContainerName names a container or init container,
// and existing ephemeral containers are neither changed nor removed (Invalid otherwise).
Status ValidateEphemeralContainersUpdate(const KindInfo& kind, const boost::json::object& pod,
                                         const boost::json::object& old);

// Whether metadata.generation counts changes of the desired state (spec) for this kind:
// workloads, Job, CronJob, HorizontalPodAutoscaler, PodDisruptionBudget.
bool TracksGeneration(const KindInfo& kind);

}  // namespace sampan::api
