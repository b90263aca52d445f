// Simulated ("hollow") nodes: one process registers N Node objects the way a
// kubelet does, keeps a Lease per node fresh in kube-node-lease, and plays the
// node agent for the pods bound to them without starting any container:
//  - a pod bound to one of its nodes turns Running with every container running
//    and Ready, a podIP from the node's podCIDR, startTime and containerStatuses;
//  - a pod with the annotation hollow.sampan.io/exit-code ends after
//    hollow.sampan.io/run-seconds (default 0): with code 0 Succeeded, otherwise
//    Failed, or restarted in place (restartCount+1) when restartPolicy asks for it
//    (Always; OnFailure with a non-zero code), as a kubelet would;
//  - a pod with hollow.sampan.io/ready: "false" runs but never turns Ready;
//  - a pod being deleted gracefully is finished at once (DELETE with
//    gracePeriodSeconds 0, uid precondition).
// A node whose Ready condition someone else changed (the node lifecycle controller
// after a stale lease) is set Ready again; a node deleted behind its back is
// registered again.
//
// Efficiency, for thousands of nodes in one process: one pod watch and one node
// watch for all nodes; lease renewals are spread evenly over the renew interval
// and done by a small pool of threads; pod and node updates go through one
// workqueue with `workers` threads.
//
//   hollow::HollowOptions o;
//   o.count = 100;
//   hollow::HollowNodes nodes(client, o);
//   RETURN_IF_ERROR(nodes.Start());   // returns once every node is registered
//   ...
//   nodes.Stop();                     // nodes stay (leases go stale) unless delete_on_exit
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/rest_client.h"
#include "util/status.h"

namespace sampan::hollow {

// Annotations a test puts on a pod to script what its hollow node does with it.
inline constexpr char kExitCodeAnnotation[] = "hollow.sampan.io/exit-code";
inline constexpr char kRunSecondsAnnotation[] = "hollow.sampan.io/run-seconds";
inline constexpr char kReadyAnnotation[] = "hollow.sampan.io/ready";
// Every hollow node carries this label (value "true").
inline constexpr char kHollowLabel[] = "node.sampan.io/hollow";
// nodeInfo.containerRuntimeVersion of a hollow node.
inline constexpr char kRuntimeVersion[] = "hollow://0.1.0";

struct HollowOptions {
  int count = 1;
  std::string name_prefix = "hollow-";  // nodes are <prefix>0 … <prefix>N-1
  int first_index = 0;                  // to run several processes under one prefix
  std::string cpu = "4";                // capacity = allocatable
  std::string memory = "16Gi";
  std::string ephemeral_storage = "100Gi";
  int pods = 110;
  std::map<std::string, std::string> labels;  // added to the standard node labels
  std::vector<boost::json::object> taints;    // core/v1 Taint objects
  std::chrono::milliseconds lease_duration{std::chrono::seconds(40)};
  std::chrono::milliseconds renew_interval{std::chrono::seconds(10)};
  int workers = 8;        // pod/node update threads
  int lease_workers = 4;  // lease renewal threads
  bool delete_on_exit = false;
};

struct HollowStats {
  int64_t nodes_registered = 0;
  int64_t lease_renewals = 0;
  int64_t lease_failures = 0;
  int64_t pods_started = 0;   // turned Running
  int64_t pods_finished = 0;  // turned Succeeded/Failed
  int64_t pods_deleted = 0;   // graceful deletions finished
};

// Parses "key=value:Effect" or "key:Effect" into a Taint object. Invalid otherwise.
Result<boost::json::object> ParseTaint(std::string_view text);

// The Node object a hollow kubelet registers for node number `index` (also used
// to re-post its status): labels, podCIDR, capacity, conditions, addresses, nodeInfo.
boost::json::object MakeNode(const HollowOptions& opts, int index, int64_t now_unix);

// The address number of node `index` under `prefix` (the index itself for the default
// prefix), then the node's InternalIP and the /24 its pods get their IPs from
// ("10.a.b.0/24") for that number.
int AddressIndex(const std::string& prefix, int index);
std::string NodeIp(int address_index);
std::string PodCidr(int address_index);

class HollowNodes {
 public:
  HollowNodes(client::RestClient* client, HollowOptions opts);
  ~HollowNodes();
  HollowNodes(const HollowNodes&) = delete;
  HollowNodes& operator=(const HollowNodes&) = delete;

  // Registers every node (creating it, or taking over an existing one of the same
  // name and posting a fresh status), creates their Leases, then starts the lease,
  // pod and node loops. An error if some node could not be registered.
  Status Start();
  // Stops every loop; with delete_on_exit deletes the nodes and their Leases.
  // Idempotent.
  void Stop();
  HollowStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sampan::hollow
