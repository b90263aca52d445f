#include "api/kinds/kinds.h"

namespace sampan::api::kinds {

std::vector<std::pair<const char*, const char*>> BuiltinSchemaTexts() {
  return {
      {"meta_v1", MetaV1()},
      {"core_v1", CoreV1()},
      {"apps_v1", AppsV1()},
      {"batch_v1", BatchV1()},
      {"autoscaling_v2", AutoscalingV2()},
      {"autoscaling_v1", AutoscalingV1()},
      {"policy_v1", PolicyV1()},
      {"coordination_v1", CoordinationV1()},
      {"events_v1", EventsV1()},
      {"scheduling_v1", SchedulingV1()},
      {"authentication_v1", AuthenticationV1()},
      {"authorization_v1", AuthorizationV1()},
      {"rbac_v1", RbacV1()},
      {"networking_v1", NetworkingV1()},
      {"discovery_v1", DiscoveryV1()},
      {"storage_v1", StorageV1()},
  };
}

}  // namespace sampan::api::kinds
