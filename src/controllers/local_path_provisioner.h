// The local-path provisioner: dynamic PersistentVolumes in a directory of the node a pod is
// scheduled to, as k3s ships it (rancher/local-path-provisioner) for its default `local-path`
// StorageClass, built in.
//
// A claim whose StorageClass names kLocalPathProvisioner and that the scheduler has given a
// node (annotation volume.kubernetes.io/selected-node, WaitForFirstConsumer binding) gets a
// volume `pvc-<claim uid>`: a hostPath (DirectoryOrCreate) at
// <dir>/pvc-<uid>_<namespace>_<name> on that node, where <dir> is the class's `path` parameter
// or the provisioner's default directory; node affinity to the node's kubernetes.io/hostname;
// the claim's size, access modes and volume mode; the class's reclaim policy (Delete when
// unset) and mount options; a claimRef to the claim, so the binder binds exactly these two.
// The node agent creates the directory when a pod mounts it and removes it (and the volume)
// once the volume is Released under the Delete policy (agent/local_volumes.h).
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/persistent_volumes.h"
#include "client/events.h"
#include "client/shared_informers.h"
#include "client/workqueue.h"

namespace sampan::controllers {

using api::kLocalPathProvisioner;  // api/persistent_volumes.h

// The volume the provisioner makes for `pvc` of class `storage_class` on the node `node_name`
// (whose kubernetes.io/hostname label is `hostname`), with its directory under `default_dir`
// unless the class sets a `path` parameter; the node's name is kept in the volume's
// volume.kubernetes.io/selected-node annotation. Pure; public for tests.
boost::json::object LocalPathVolume(const boost::json::object& pvc,
                                    const boost::json::object& storage_class,
                                    std::string_view node_name, std::string_view hostname,
                                    std::string_view default_dir);

class LocalPathProvisioner {
 public:
  // `default_dir`: where volumes go on each node when the class names no `path`.
  LocalPathProvisioner(client::SharedInformers* informers, client::EventRecorder* recorder,
                       std::string default_dir);
  ~LocalPathProvisioner();
  void Run(int workers);
  void Stop();
  Status Sync(const std::string& key);  // a claim's namespace/name; public for tests

 private:
  client::RestClient* client_;
  client::EventRecorder* recorder_;
  const std::string default_dir_;
  client::Informer* claims_;
  client::Informer* volumes_;
  client::Informer* classes_;
  client::Informer* nodes_;
  client::WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

}  // namespace sampan::controllers
