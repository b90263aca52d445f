// Pieces of the pod spec → OCI translation shared by container_spec.cc and
// container_config.cc, exposed for their unit tests.
#pragma once

#include <sys/types.h>

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "image/manifest.h"
#include "util/status.h"

namespace sampan::podspec::internal {

// Kubernetes' $(VAR) expansion: a defined name is replaced by its value, an undefined one
// stays literal ("$(NAME)"); "$$" is one "$"; any other "$" (and an unterminated "$(") is
// copied as written.
std::string ExpandRefs(const std::string& in, const std::map<std::string, std::string>& vars);
// "NAME=value" strings → map (a later entry wins).
std::map<std::string, std::string> EnvMap(const std::vector<std::string>& env);
// Image env, then the container's env replacing same-named entries in place or appended.
std::vector<std::string> MergeEnv(const std::vector<std::string>& image_env,
                                  const std::vector<std::string>& container_env);

// A resources.requests/limits value in milli-units (cpu) or units (memory); 0 when absent.
int64_t ResourceMilli(const boost::json::object& container, const char* kind, const char* name);
int64_t ResourceValue(const boost::json::object& container, const char* kind, const char* name);

// The kubelet's conversions.
uint64_t MilliCpuToShares(int64_t milli);                // min 2, max 262144
int64_t MilliCpuToQuota(int64_t milli, int64_t period);  // 0 = no limit; min 1000
// oom_score_adj of a container: Guaranteed (and node-critical pods) -997, BestEffort 1000,
// Burstable 1000 - 1000*memRequest/capacity clamped to [3, 999].
int OomScoreAdj(const boost::json::object& pod, const boost::json::object& container,
                int64_t node_memory_capacity);

// The effective security context field: the container's, else the pod's.
const boost::json::value* SecurityField(const boost::json::object& pod,
                                        const boost::json::object& container, const char* name);

struct ResolvedUser {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;  // sorted, unique, includes gid
};
// The process user: runAsUser/runAsGroup (container over pod), else the image's USER
// ("uid", "uid:gid", "name", "name:group", names looked up in the rootfs's /etc/passwd
// and /etc/group), plus the user's groups from /etc/group, supplementalGroups and fsGroup.
// Applies runAsNonRoot. Invalid for an unknown user/group name or a policy violation.
Result<ResolvedUser> ResolveUser(const boost::json::object& pod,
                                 const boost::json::object& container,
                                 const image::ImageConfig& image, const std::string& rootfs);

// Reads <rootfs>/<rel> without following symlinks out of the rootfs. NotFound if absent.
Result<std::string> ReadInRoot(const std::string& rootfs, const std::string& rel);

// The capability names ("CAP_CHOWN") after containerd's rules: the runtime default set,
// add "ALL" → every capability, drop "ALL" → none, then single adds, then single drops.
// Invalid for an unknown name.
Result<std::vector<std::string>> Capabilities(const boost::json::value* caps, bool privileged);
// containerd's default set for containers.
const std::vector<std::string>& DefaultCapabilities();

}  // namespace sampan::podspec::internal
