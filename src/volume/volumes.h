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
#include <string>
#include <vector>

#include "util/status.h"

namespace sampan::volume {

// Reads the ConfigMaps, Secrets (and later ServiceAccount tokens) a pod refers to.
// kind is "ConfigMap" or "Secret". NotFound when absent.
using ObjectGetter = std::function<Result<boost::json::object>(
    const std::string& kind, const std::string& ns, const std::string& name)>;

// What to bind into containers for one volume.
struct HostVolume {
  std::string path;        // host path of the volume's root
  bool read_only = false;  // configMap/secret/downwardAPI/projected are always read-only
  bool is_file = false;    // hostPath of type File/CharDevice/...: bind a file, not a dir
  bool is_tmpfs = false;   // emptyDir medium: Memory
};

struct VolumeOptions {
  std::string pods_dir;  // e.g. DATA_DIR/agent/pods
  // Node allocatable memory in bytes: the size of a Memory emptyDir without a sizeLimit
  // (and the default for resourceFieldRef limits.memory when the container has no limit).
  int64_t node_allocatable_memory = 0;
  int64_t node_allocatable_cpu_milli = 0;
};

class VolumeManager {
 public:
  VolumeManager(VolumeOptions opts, ObjectGetter getter);

  // Makes (or refreshes) every volume of `pod` (a Pod object, status included for
  // downward API fields such as status.podIP). Returns volume name → host volume.
  // A missing non-optional ConfigMap/Secret is NotFound naming it (the kubelet reports
  // that as the container's CreateContainerConfigError / FailedMount event).
  Result<std::map<std::string, HostVolume>> SetUp(const boost::json::object& pod);
  // Unmounts tmpfs volumes and deletes <pods_dir>/<uid>. OK when absent.
  Status TearDown(const std::string& pod_uid);
  // Pod UIDs that have a directory under pods_dir (for cleanup of pods that are gone).
  std::vector<std::string> PodsOnDisk() const;

  // For a container's volumeMounts: host source path of each mount, with subPath and
  // subPathExpr applied (a subPath that escapes the volume is Invalid). Creates a missing
  // subPath directory like the kubelet does.
  struct ContainerMount {
    std::string host_path, container_path;
    bool read_only = false;
    std::string propagation;  // "", "HostToContainer", "Bidirectional"
  };
  Result<std::vector<ContainerMount>> MountsFor(const boost::json::object& pod,
                                                const boost::json::object& container,
                                                const std::map<std::string, HostVolume>& vols);

 private:
  VolumeOptions opts_;
  ObjectGetter getter_;
};

// The container's environment as "NAME=value" strings, in Kubernetes order: envFrom
// sources first (in order, with prefix; invalid keys skipped), then env entries (value
// with $(VAR) expansion against earlier entries and `service_env`, valueFrom
// configMapKeyRef/secretKeyRef/fieldRef/resourceFieldRef), then `service_env`
// ({SVC}_SERVICE_HOST ... ) for names not already set. Missing non-optional sources are
// NotFound naming the object and key.
Result<std::vector<std::string>> ContainerEnv(const boost::json::object& pod,
                                             const boost::json::object& container,
                                             const std::vector<std::string>& service_env,
                                             const ObjectGetter& getter,
                                             const VolumeOptions& node);

// Value of a downward API fieldRef path ("metadata.name", "metadata.labels['app']",
// "status.podIP", "spec.nodeName", ...). Invalid for an unsupported path.
Result<std::string> PodFieldValue(const boost::json::object& pod, const std::string& field_path);
// Value of a resourceFieldRef ("limits.cpu", "requests.memory", ...) with its divisor,
// rounded up as the kubelet does; limits default to node allocatable when unset.
Result<std::string> ResourceFieldValue(const boost::json::object& pod,
                                       const std::string& container_name,
                                       const std::string& resource, const std::string& divisor,
                                       const VolumeOptions& node);

}  // namespace sampan::volume
