// The node's half of the local-path provisioner (controllers/local_path_provisioner.h): a
// volume it provisioned on this node that is Released under the Delete reclaim policy has its
// directory removed here, then the PersistentVolume deleted, as rancher's provisioner does
// with a helper pod on the node. Only directories named as the provisioner names them
// (`pvc-<uid>_<namespace>_<name>`, the volume's own uid) are ever removed.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <thread>

#include "client/informer.h"
#include "client/workqueue.h"

namespace sampan::agent {

struct NodeContext;

// The directory to remove for `pv` on the node named `node_name`, or "" when the volume is
// not one the provisioner made there, is not Released under the Delete policy, or its path
// is not the provisioner's form. Pure; public for tests.
std::string LocalVolumeToDelete(const boost::json::object& pv, const std::string& node_name);

class LocalVolumeCleaner {
 public:
  explicit LocalVolumeCleaner(NodeContext* ctx);
  ~LocalVolumeCleaner();
  void Start();
  void Stop();
  Status Sync(const std::string& name);  // a PersistentVolume's name; public for tests

 private:
  NodeContext* ctx_;
  std::unique_ptr<client::Informer> volumes_;
  client::WorkQueue queue_;
  std::thread worker_;
  std::atomic<bool> running_{false};
};

}  // namespace sampan::agent
