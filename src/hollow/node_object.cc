// The Node objects and taints of hollow nodes.
#include <boost/json.hpp>

#include "hollow/hollow_nodes.h"
#include "util/clock.h"

namespace sampan::hollow {
namespace json = boost::json;

Result<json::object> ParseTaint(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return Invalid("taint \"" + std::string(text) + "\": expected key[=value]:Effect");
  std::string_view kv = text.substr(0, colon);
  std::string effect(text.substr(colon + 1));
  if (effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute")
    return Invalid("taint \"" + std::string(text) +
                   "\": effect must be NoSchedule, PreferNoSchedule or NoExecute");
  json::object t;
  auto eq = kv.find('=');
  std::string key(kv.substr(0, eq));
  if (key.empty()) return Invalid("taint \"" + std::string(text) + "\": empty key");
  t["key"] = key;
  if (eq != std::string_view::npos) t["value"] = std::string(kv.substr(eq + 1));
  t["effect"] = effect;
  return t;
}

// Node n gets 100.64.0.0/10 address n+1 and pod range 10.a.b.0/24 with a.b = n (65,536 nodes
// before the ranges repeat). Another prefix than the default shifts n by a multiple of 2,048
// picked from the prefix, so that two processes rarely hand out the same addresses.
int AddressIndex(const std::string& prefix, int index) {
  if (prefix == "hollow-") return index;
  uint32_t h = 2166136261u;
  for (char c : prefix) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return index + static_cast<int>(1 + h % 31) * 2048;
}

std::string NodeIp(int index) {
  uint32_t n = static_cast<uint32_t>(index) + 1;
  return "100." + std::to_string(64 + ((n >> 16) & 63)) + "." + std::to_string((n >> 8) & 255) +
         "." + std::to_string(n & 255);
}

std::string PodCidr(int index) {
  uint32_t n = static_cast<uint32_t>(index);
  return "10." + std::to_string((n >> 8) & 255) + "." + std::to_string(n & 255) + ".0/24";
}

namespace {

json::object NodeCondition(const char* type, const char* status, const char* reason,
                           const char* message, const std::string& now) {
  return json::object{{"type", type},
                      {"status", status},
                      {"lastHeartbeatTime", now},
                      {"lastTransitionTime", now},
                      {"reason", reason},
                      {"message", message}};
}

// A stable pseudo-random hex id per node (machineID, systemUUID, bootID look real).
std::string HexId(const std::string& seed, int len) {
  uint64_t h = 1469598103934665603ull;
  std::string out;
  for (int round = 0; static_cast<int>(out.size()) < len; ++round) {
    for (char c : seed + std::to_string(round))
      h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    static const char* kHex = "0123456789abcdef";
    for (int i = 0; i < 16 && static_cast<int>(out.size()) < len; ++i)
      out.push_back(kHex[(h >> (i * 4)) & 15]);
  }
  return out;
}

}  // namespace

json::object MakeNode(const HollowOptions& opts, int index, int64_t now_unix) {
  const std::string name = opts.name_prefix + std::to_string(index);
  const std::string now = FormatRfc3339(now_unix);
  json::object labels{{"kubernetes.io/hostname", name},     {"kubernetes.io/os", "linux"},
                      {"kubernetes.io/arch", "amd64"},      {"beta.kubernetes.io/os", "linux"},
                      {"beta.kubernetes.io/arch", "amd64"}, {kHollowLabel, "true"}};
  for (const auto& [k, v] : opts.labels) labels[k] = v;
  const int addr = AddressIndex(opts.name_prefix, index);
  json::object spec{{"podCIDR", PodCidr(addr)}, {"podCIDRs", json::array{PodCidr(addr)}}};
  if (!opts.taints.empty()) {
    json::array taints;
    for (const auto& t : opts.taints) taints.push_back(t);
    spec["taints"] = std::move(taints);
  }
  json::object resources{{"cpu", opts.cpu},
                         {"memory", opts.memory},
                         {"ephemeral-storage", opts.ephemeral_storage},
                         {"hugepages-1Gi", "0"},
                         {"hugepages-2Mi", "0"},
                         {"pods", std::to_string(opts.pods)}};
  std::string uuid = HexId(name + "/uuid", 32);
  uuid.insert(20, "-").insert(16, "-").insert(12, "-").insert(8, "-");
  json::object node_info{{"machineID", HexId(name + "/machine", 32)},
                         {"systemUUID", uuid},
                         {"bootID", HexId(name + "/boot", 32)},
                         {"kernelVersion", "6.1.0-hollow"},
                         {"osImage", "sampan hollow node"},
                         {"containerRuntimeVersion", kRuntimeVersion},
                         {"kubeletVersion", "v1.32.0-sampan"},
                         {"kubeProxyVersion", "v1.32.0-sampan"},
                         {"operatingSystem", "linux"},
                         {"architecture", "amd64"}};
  json::object status{
      {"capacity", resources},
      {"allocatable", resources},
      {"conditions",
       json::array{
           NodeCondition("MemoryPressure", "False", "KubeletHasSufficientMemory",
                         "kubelet has sufficient memory available", now),
           NodeCondition("DiskPressure", "False", "KubeletHasNoDiskPressure",
                         "kubelet has no disk pressure", now),
           NodeCondition("PIDPressure", "False", "KubeletHasSufficientPID",
                         "kubelet has sufficient PID available", now),
           NodeCondition("Ready", "True", "KubeletReady", "kubelet is posting ready status", now)}},
      {"addresses", json::array{json::object{{"type", "InternalIP"}, {"address", NodeIp(addr)}},
                                json::object{{"type", "Hostname"}, {"address", name}}}},
      {"daemonEndpoints", json::object{{"kubeletEndpoint", json::object{{"Port", 10250}}}}},
      {"nodeInfo", std::move(node_info)},
      {"images", json::array()}};
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata",
       json::object{
           {"name", name},
           {"labels", std::move(labels)},
           {"annotations",
            json::object{{"node.alpha.kubernetes.io/ttl", "0"},
                         {"volumes.kubernetes.io/controller-managed-attach-detach", "true"}}}}},
      {"spec", std::move(spec)},
      {"status", std::move(status)}};
}

}  // namespace sampan::hollow
