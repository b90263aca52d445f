#include "agent/node_status.h"

#include <gtest/gtest.h>

#include "api/json_util.h"

namespace sampan::agent {
namespace {

namespace json = boost::json;

MachineInfo Machine() {
  MachineInfo m;
  m.cpus = 4;
  m.memory_bytes = 8LL << 30;
  m.memory_available = 4LL << 30;
  m.disk_bytes = 100LL << 30;
  m.disk_available = 50LL << 30;
  m.pid_max = 4194304;
  m.pids_in_use = 300;
  m.hostname = "node1";
  m.architecture = "amd64";
  m.kernel_version = "6.1.0";
  m.os_image = "Debian GNU/Linux 12 (bookworm)";
  return m;
}

const json::object* Condition(const json::object& st, const std::string& type) {
  for (const auto& c : st.at("conditions").as_array())
    if (c.as_object().at("type").as_string() == type) return &c.as_object();
  return nullptr;
}

TEST(NodeStatusTest, CapacityAllocatableAndInfo) {
  NodeConfig cfg;
  cfg.node_name = "node1";
  cfg.node_ip = "10.0.0.2";
  cfg.kubelet_port = 10250;
  cfg.network_ready = true;
  json::object st = BuildNodeStatus(cfg, Machine(), {{{"busybox:latest"}, 1000}}, {}, 100);
  EXPECT_EQ(st.at("capacity").as_object().at("cpu").as_string(), "4");
  EXPECT_EQ(st.at("capacity").as_object().at("memory").as_string(), "8388608Ki");
  EXPECT_EQ(st.at("capacity").as_object().at("pods").as_string(), "110");
  // 100Mi hard eviction threshold.
  EXPECT_EQ(st.at("allocatable").as_object().at("memory").as_string(), "8286208Ki");
  EXPECT_EQ(st.at("addresses").as_array()[0].as_object().at("type").as_string(), "InternalIP");
  EXPECT_EQ(st.at("addresses").as_array()[0].as_object().at("address").as_string(), "10.0.0.2");
  EXPECT_EQ(api::GetInt(json::value(st), "daemonEndpoints.kubeletEndpoint.Port"), 10250);
  EXPECT_EQ(api::GetString(json::value(st), "nodeInfo.kubeletVersion"), "v1.32.0");
  EXPECT_EQ(api::GetString(json::value(st), "nodeInfo.osImage"), "Debian GNU/Linux 12 (bookworm)");
  const json::object* ready = Condition(st, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->at("status").as_string(), "True");
  EXPECT_EQ(ready->at("reason").as_string(), "KubeletReady");
  EXPECT_EQ(Condition(st, "MemoryPressure")->at("reason").as_string(),
            "KubeletHasSufficientMemory");
  EXPECT_EQ(Condition(st, "DiskPressure")->at("status").as_string(), "False");
  EXPECT_EQ(Condition(st, "PIDPressure")->at("reason").as_string(), "KubeletHasSufficientPID");
  EXPECT_EQ(st.at("images").as_array().size(), 1u);
}

TEST(NodeStatusTest, NotReadyUntilNetworkAndPressure) {
  NodeConfig cfg;
  cfg.node_name = "node1";
  cfg.network_message = "waiting for the node's podCIDR";
  MachineInfo m = Machine();
  m.memory_available = 50LL << 20;
  m.disk_available = 1LL << 30;
  json::object st = BuildNodeStatus(cfg, m, {}, {}, 100);
  EXPECT_EQ(Condition(st, "Ready")->at("status").as_string(), "False");
  EXPECT_EQ(Condition(st, "Ready")->at("reason").as_string(), "KubeletNotReady");
  EXPECT_NE(Condition(st, "Ready")->at("message").as_string().find("podCIDR"), std::string::npos);
  EXPECT_EQ(Condition(st, "MemoryPressure")->at("status").as_string(), "True");
  EXPECT_EQ(Condition(st, "DiskPressure")->at("reason").as_string(), "KubeletHasDiskPressure");
}

TEST(NodeStatusTest, TransitionTimesAndChangeDetection) {
  NodeConfig cfg;
  cfg.node_name = "node1";
  cfg.network_ready = true;
  json::object first = BuildNodeStatus(cfg, Machine(), {}, {}, 100);
  json::object second = BuildNodeStatus(cfg, Machine(), {}, first, 200);
  EXPECT_EQ(Condition(second, "Ready")->at("lastTransitionTime").as_string(),
            api::FormatRfc3339(100));
  EXPECT_EQ(Condition(second, "Ready")->at("lastHeartbeatTime").as_string(),
            api::FormatRfc3339(200));
  EXPECT_FALSE(NodeStatusChanged(first, second));  // heartbeats only
  cfg.network_ready = false;
  json::object third = BuildNodeStatus(cfg, Machine(), {}, second, 300);
  EXPECT_TRUE(NodeStatusChanged(second, third));
  EXPECT_EQ(Condition(third, "Ready")->at("lastTransitionTime").as_string(),
            api::FormatRfc3339(300));
}

TEST(NodeStatusTest, LabelsAndLease) {
  NodeConfig cfg;
  cfg.node_name = "node1";
  json::object labels = DefaultNodeLabels(cfg, Machine());
  EXPECT_EQ(labels.at("kubernetes.io/hostname").as_string(), "node1");
  EXPECT_EQ(labels.at("kubernetes.io/os").as_string(), "linux");
  EXPECT_EQ(labels.at("kubernetes.io/arch").as_string(), "amd64");
  json::object lease = BuildLease("node1", "uid-9", 1700000000123456789LL);
  json::value v(lease);
  EXPECT_EQ(api::GetString(v, "metadata.namespace"), "kube-node-lease");
  EXPECT_EQ(api::GetString(v, "spec.holderIdentity"), "node1");
  EXPECT_EQ(api::GetInt(v, "spec.leaseDurationSeconds"), 40);
  EXPECT_EQ(api::GetString(v, "spec.renewTime"), "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(v.at("metadata").at("ownerReferences").as_array()[0].at("kind").as_string(), "Node");
}

TEST(NodeStatusTest, ReadMachineInfoReadsThisHost) {
  MachineInfo m = ReadMachineInfo("/tmp");
  EXPECT_GE(m.cpus, 1);
  EXPECT_GT(m.memory_bytes, 0);
  EXPECT_GT(m.disk_bytes, 0);
  EXPECT_FALSE(m.kernel_version.empty());
}

}  // namespace
}  // namespace sampan::agent
