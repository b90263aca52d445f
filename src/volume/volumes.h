// Pod volumes and the values a pod spec refers to: emptyDir, hostPath, configMap, secret,
// downwardAPI and projected volumes made on the node, plus the container environment
// (env with valueFrom, envFrom) — the parts of a pod that come from other API objects or
// from the pod itself.
//
// Layout: <pods_dir>/<pod uid>/volumes/<plugin>/<volume name>, like the kubelet's
// (plugin: "kubernetes.io~empty-dir", "kubernetes.io~configmap", ...). configMap, secret,
// downwardAPI and projected volumes are written atomically (a timestamped data directory
// and a `..data` symlink swapped by rename), so a container sees either the old or the new
// contents, never a mix; SetUp called again refreshes them.
#pragma once

#include <boost/json/fwd.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace sampan::volume {

// Reads the API objects a pod refers to: kind is "ConfigMap", "Secret",
// "PersistentVolumeClaim" (in the pod's namespace) or "PersistentVolume" (ns ""). NotFound
// when absent.
using ObjectGetter = std::function<Result<boost::json::object>(
    const std::string& kind, const std::string& ns, const std::string& name)>;

// A service account token for a pod, asked of the API server (TokenRequest, bound to the pod).
struct TokenRequestArgs {
  std::string ns, service_account;
  std::string audience;  // "" = the API server's own
  int64_t expiration_seconds = 3600;
  std::string pod_name, pod_uid;
};
struct IssuedToken {
  std::string token;
  int64_t expires = 0;  // unix seconds
};
using TokenRequester = std::function<Result<IssuedToken>(const TokenRequestArgs& args)>;

// What to bind into containers for one volume.
struct HostVolume {
  std::string path;        // host path of the volume's root
  bool read_only = false;  // configMap/secret/downwardAPI/projected are always read-only
  bool is_file = false;    // hostPath of type File/CharDevice/...: bind a file, not a dir
  bool is_tmpfs = false;   // the directory is a tmpfs: emptyDir medium Memory, secret, projected
};

struct VolumeOptions {
  std::string pods_dir;  // e.g. DATA_DIR/agent/pods
  // Node allocatable memory in bytes: the size of a Memory emptyDir without a sizeLimit
  // (and the default for resourceFieldRef limits.memory when the container has no limit).
  int64_t node_allocatable_memory = 0;
  int64_t node_allocatable_cpu_milli = 0;
  // Node allocatable ephemeral storage in bytes: the default for resourceFieldRef
  // limits.ephemeral-storage when the container has no limit (0: no default).
  int64_t node_allocatable_ephemeral_storage = 0;
};

class VolumeManager {
 public:
  // `tokens` serves serviceAccountToken projections; without it they are Unavailable.
  VolumeManager(VolumeOptions opts, ObjectGetter getter, TokenRequester tokens = nullptr);
  ~VolumeManager();

  // Makes (or refreshes) every volume of `pod` (a Pod object, status included for
  // downward API fields such as status.podIP). Returns volume name → host volume.
  // A missing non-optional ConfigMap/Secret is NotFound naming it (the kubelet reports
  // that as the container's CreateContainerConfigError / FailedMount event).
  // Error messages are the kubelet's FailedMount event text, e.g.
  //   MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not found
  // Details: emptyDir is a 0777 directory (medium Memory: a tmpfs sized by sizeLimit, the
  // pod's memory limit or node allocatable memory, whichever is smallest); secret and
  // projected volumes are tmpfs too (as the kubelet makes them), configMap and downwardAPI
  // plain directories; hostPath is checked by its type (DirectoryOrCreate makes a 0755
  // directory, FileOrCreate a 0644 file; type "" makes a missing path a 0755 directory as
  // containerd does). spec.securityContext.fsGroup gives every volume but hostPath that
  // group (setgid directories, g+rw; g+r for the read-only kinds). A serviceAccountToken
  // projection holds a token of the pod's service account bound to the pod, asked for once
  // and asked for again when 80% of its lifetime has passed (as the kubelet).
  // persistentVolumeClaim: the claim must exist and be Bound (status.phase and spec.volumeName)
  // to a PersistentVolume whose claimRef has the claim's uid, else Unavailable/NotFound with the
  // kubelet's wording (`error processing PVC ns/x: PVC is not bound`, `... failed to fetch PVC
  // from API server: persistentvolumeclaims "x" not found`); the pod waits and SetUp is retried.
  // The volume's hostPath source (type checked as for a hostPath volume) or local source (the
  // path must exist: `path "/p" does not exist`) is bind-mounted like a hostPath, read-only when
  // the pod's volume says readOnly; other sources are Invalid ("unsupported volume type: ...").
  // No fsGroup ownership change is made on persistent volumes. Unknown volume kinds are Invalid.
  // Not thread-safe for one pod; distinct pods may be set up concurrently.
  Result<std::map<std::string, HostVolume>> SetUp(const boost::json::object& pod);
  // Unmounts tmpfs volumes and subPath bind mounts and deletes <pods_dir>/<uid> (never
  // crossing into a mount that would not go: Internal then). OK when absent.
  Status TearDown(const std::string& pod_uid);
  // Pod UIDs that have a directory under pods_dir (for cleanup of pods that are gone).
  std::vector<std::string> PodsOnDisk() const;

  // For a container's volumeMounts: host source path of each mount, with subPath and
  // subPathExpr applied (a subPath that escapes the volume is Invalid). Creates a missing
  // subPath directory like the kubelet does.
  // A subPath is resolved without following symlinks out of the volume and bind-mounted
  // at <pods_dir>/<uid>/volume-subpaths/<volume>/<container>/<mount index> (the kubelet's
  // layout); host_path is that bind mount, so a container that later swaps a path
  // component for a symlink cannot redirect it. TearDown removes those mounts.
  // Errors use the kubelet's wording: `cannot find volume "v" to mount into container
  // "c"` (NotFound), "error SubPath `/x` must not be an absolute path", "unable to
  // provision SubPath `a/../b`: must not contain '..'", `failed to prepare subPath for
  // volumeMount "m" of container "c"`, `missing value for VAR` (subPathExpr), `invalid
  // MountPropagation mode: "X"` (Invalid).
  // This form expands subPathExpr against ContainerEnv(pod, container, {}, getter, opts).
  struct ContainerMount {
    std::string host_path, container_path;
    bool read_only = false;
    std::string propagation;  // "", "HostToContainer", "Bidirectional"
  };
  Result<std::vector<ContainerMount>> MountsFor(const boost::json::object& pod,
                                                const boost::json::object& container,
                                                const std::map<std::string, HostVolume>& vols);
  // The same with the container's environment ("NAME=value", as ContainerEnv returns it)
  // given, for subPathExpr.
  Result<std::vector<ContainerMount>> MountsFor(const boost::json::object& pod,
                                                const boost::json::object& container,
                                                const std::map<std::string, HostVolume>& vols,
                                                const std::vector<std::string>& env);

 private:
  VolumeOptions opts_;
  ObjectGetter getter_;
  class TokenCache;
  std::unique_ptr<TokenCache> tokens_;
};

// The container's environment as "NAME=value" strings, in Kubernetes order: envFrom
// sources first (in order, with prefix; invalid keys skipped), then env entries (value
// with $(VAR) expansion against earlier entries and `service_env`, valueFrom
// configMapKeyRef/secretKeyRef/fieldRef/resourceFieldRef), then `service_env`
// ({SVC}_SERVICE_HOST ... ) for names not already set. Missing non-optional sources are
// NotFound naming the object and key.
// Wording as the kubelet's: `configmap "x" not found`, `secret "x" not found`, `couldn't
// find key k in ConfigMap ns/x`, `couldn't find key k in Secret ns/x`. A name set twice
// keeps its first position with the last value. envFrom keys are checked with the relaxed
// rule this API server applies (printable ASCII but '='); for each source with skipped
// keys, `warnings` (when given) receives the kubelet's InvalidEnvironmentVariableNames
// event message ("Keys [1a, b=c] from the EnvFrom configMap ns/x were skipped since they
// are considered invalid environment variable names.").
Result<std::vector<std::string>> ContainerEnv(const boost::json::object& pod,
                                              const boost::json::object& container,
                                              const std::vector<std::string>& service_env,
                                              const ObjectGetter& getter, const VolumeOptions& node,
                                              std::vector<std::string>* warnings = nullptr);

// The Docker-link-style variables the kubelet gives a pod for Services ("{SVC}_SERVICE_HOST",
// "{SVC}_SERVICE_PORT", "{SVC}_PORT_80_TCP_ADDR", ...; see ContainerEnv's service_env), sorted:
// for every Service of the pod's namespace that has a clusterIP when the pod's
// enableServiceLinks is not false, and always for default/kubernetes (a Service of the pod's
// own namespace with the same name wins).
std::vector<std::string> ServiceLinkEnv(
    const boost::json::object& pod,
    const std::vector<std::shared_ptr<const boost::json::object>>& services);

// Kubernetes' $(VAR) expansion: "$(NAME)" → lookup(NAME), or left as written when lookup
// has no value; "$$" → "$"; any other '$' and an unterminated "$(" are copied as written.
std::string ExpandVars(std::string_view input,
                       const std::function<std::optional<std::string>(std::string_view)>& lookup);
// ExpandVars against an environment of "NAME=value" strings (e.g. command and args against
// ContainerEnv's result, as the kubelet expands them).
std::string ExpandVarRefs(std::string_view input, const std::vector<std::string>& env);

// Value of a downward API fieldRef path ("metadata.name", "metadata.labels['app']",
// "status.podIP", "spec.nodeName", ...). Invalid for an unsupported path
// ("field label not supported: X", "unsupported fieldPath: X", "invalid key subscript in
// X: ..."). metadata.labels / metadata.annotations without a subscript give sorted
// `key="value"` lines (Go %q quoting). status.podIPs / status.hostIPs are comma-joined;
// status.hostIP(s) come from the pod's status (the agent fills them).
Result<std::string> PodFieldValue(const boost::json::object& pod, const std::string& field_path);
// Value of a resourceFieldRef ("limits.cpu", "requests.memory", ...) with its divisor,
// rounded up as the kubelet does; limits default to node allocatable when unset.
// Resources: limits/requests .cpu, .memory, .ephemeral-storage, .hugepages-<size>.
// divisor "" (or zero) means 1. Invalid "container c not found" / "unsupported container
// resource : X".
Result<std::string> ResourceFieldValue(const boost::json::object& pod,
                                       const std::string& container_name,
                                       const std::string& resource, const std::string& divisor,
                                       const VolumeOptions& node);

}  // namespace sampan::volume
