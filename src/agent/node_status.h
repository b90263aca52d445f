// The Node object the agent registers and the status it reports: capacity/allocatable,
// addresses, nodeInfo, conditions with the kubelet's reasons and messages, labels.
// MachineInfo is read from the host once; the builders are pure and unit-tested.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace sampan::agent {

struct MachineInfo {
  int64_t cpus = 1;
  int64_t memory_bytes = 0;                    // MemTotal
  int64_t memory_available = 0;                // MemAvailable
  int64_t disk_bytes = 0, disk_available = 0;  // filesystem of the data directory
  int64_t pid_max = 0, pids_in_use = 0;
  std::string machine_id, system_uuid, boot_id, kernel_version, os_image;
  std::string architecture = "amd64";  // Go's name
  std::string hostname;                // lower case
};

// Reads /proc, /etc and the filesystem holding `data_dir`.
MachineInfo ReadMachineInfo(const std::string& data_dir);

struct NodeConfig {
  std::string node_name, node_ip;
  int kubelet_port = 10250;
  int max_pods = 110;
  bool network_ready = false;   // the node has a podCIDR and the pod network is set up
  std::string network_message;  // why not, when !network_ready
};

// The image list of the node status (names and sizes), most recent first.
struct NodeImage {
  std::vector<std::string> names;
  int64_t size = 0;
};

// Labels the kubelet sets: kubernetes.io/hostname, kubernetes.io/os, kubernetes.io/arch and
// their beta.kubernetes.io forms.
boost::json::object DefaultNodeLabels(const NodeConfig& cfg, const MachineInfo& m);

// Node.status: capacity, allocatable (capacity less the 100Mi memory and 10% disk hard
// eviction thresholds), conditions (lastTransitionTime kept from `old_status` when the
// status did not change), addresses, daemonEndpoints, nodeInfo, images.
boost::json::object BuildNodeStatus(const NodeConfig& cfg, const MachineInfo& m,
                                    const std::vector<NodeImage>& images,
                                    const boost::json::object& old_status, int64_t now);

// Whether two node statuses differ in anything but heartbeat times.
bool NodeStatusChanged(const boost::json::object& a, const boost::json::object& b);

// The node-lease object (kube-node-lease/<node>), owned by the Node.
boost::json::object BuildLease(const std::string& node_name, const std::string& node_uid,
                               int64_t now_nanos);

}  // namespace sampan::agent
