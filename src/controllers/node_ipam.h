// Node IPAM (kube-controller-manager's range allocator): gives each Node a free block of
// the cluster CIDR in spec.podCIDR and spec.podCIDRs, which the node's agent then uses for
// its pods. A podCIDR a Node already has is never changed; it is only recorded as taken.
// On start the taken blocks are rebuilt from the Nodes before anything is allocated; a
// deleted Node's block is freed. When no block is free the Node gets a CIDRNotAvailable
// event and is retried with back-off.
//
// Threading as the other controllers: informer handlers only enqueue node names; workers
// sync one name at a time from the cache; the allocation map has its own lock.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/events.h"
#include "client/shared_informers.h"
#include "client/workqueue.h"
#include "net/cidr_set.h"

namespace sampan::controllers {

struct NodeIpamOptions {
  std::string cluster_cidr = "10.244.0.0/16";
  int node_cidr_mask_size = 24;
};

class NodeIpamController {
 public:
  // Invalid for a bad cluster CIDR or mask size.
  static Result<std::unique_ptr<NodeIpamController>> New(client::SharedInformers* informers,
                                                         client::EventRecorder* recorder,
                                                         const NodeIpamOptions& options);
  ~NodeIpamController();
  void Run(int workers);
  void Stop();
  Status Sync(const std::string& node_name);  // public for tests
  // Marks the blocks the current Nodes hold as taken (Run does this once the informer has
  // synced, before the first Sync).
  void Rebuild();

 private:
  NodeIpamController(client::SharedInformers* informers, client::EventRecorder* recorder,
                     net::CidrSet cidrs);
  // Records `cidr` as `node`'s block (freeing a different one it was recorded with).
  void RecordLocked(const std::string& node, const net::Ipv4Cidr& cidr);
  void ForgetLocked(const std::string& node);

  client::RestClient* client_;
  client::EventRecorder* recorder_;
  client::Informer* nodes_;
  client::WorkQueue queue_;
  std::mutex mu_;
  net::CidrSet cidrs_;                                         // guarded by mu_
  std::map<std::string, std::vector<net::Ipv4Cidr>> by_node_;  // guarded by mu_
  std::once_flag rebuilt_;
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

}  // namespace sampan::controllers
