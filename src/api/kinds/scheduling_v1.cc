// Built-in schema text for scheduling.k8s.io/v1, in the form src/api/kinds/generate.py writes.
// Written by hand (the generator's inputs, kinds_config.py and descriptions.py, have the matching
// entries, but the generator needs Kubernetes' API type sources, which were not at hand); field
// names and protobuf numbers are Kubernetes' published ones, the descriptions our own. The next
// run of the generator replaces this file.
#include "api/kinds/kinds.h"

namespace sampan::api::kinds {

const char* SchedulingV1() {
  return R"schema(
package io.k8s.api.scheduling.v1

type PriorityClass "A named priority value that pods refer to by spec.priorityClassName."
  apiVersion string - "Versioned schema of this representation of the object."
  kind string - "Kind of the object, in CamelCase."
  metadata ObjectMeta 1 "Standard object metadata."
  value int32 2 required "The priority of pods of this class; higher runs first and may preempt lower."
  globalDefault bool 3 omitempty "Whether pods that name no class get this one; at most one class may say so."
  description string 4 omitempty "Free text on when to use this class."
  preemptionPolicy string 5 omitempty enum=Never|PreemptLowerPriority "Whether pods of this class may preempt lower priority pods: PreemptLowerPriority or Never."

kind PriorityClass group=scheduling.k8s.io version=v1 plural=priorityclasses singular=priorityclass scope=Cluster type=PriorityClass short=pc
)schema";
}

}  // namespace sampan::api::kinds
