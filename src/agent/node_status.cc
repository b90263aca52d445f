#include "agent/node_status.h"

#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/json_util.h"

namespace sampan::agent {

namespace json = boost::json;

namespace {

std::string ReadLine(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  return line;
}

int64_t MemInfoBytes(const std::string& key) {
  std::ifstream f("/proc/meminfo");
  std::string name;
  int64_t kb = 0;
  std::string unit;
  while (f >> name >> kb) {
    std::getline(f, unit);
    if (name == key + ":") return kb * 1024;
  }
  return 0;
}

std::string OsImage() {
  std::ifstream f("/etc/os-release");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("PRETTY_NAME=", 0) != 0) continue;
    std::string v = line.substr(12);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  return "Linux";
}

std::string GoArch(const std::string& machine) {
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  if (machine == "i686" || machine == "i386") return "386";
  if (machine.rfind("arm", 0) == 0) return "arm";
  return machine;
}

std::string Ki(int64_t bytes) { return std::to_string(bytes / 1024) + "Ki"; }

struct Cond {
  const char* type;
  bool status;
  const char* reason_true;
  const char* message_true;
  const char* reason_false;
  const char* message_false;
};

}  // namespace

MachineInfo ReadMachineInfo(const std::string& data_dir) {
  MachineInfo m;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    m.cpus = CPU_COUNT(&set);
  else
    m.cpus = sysconf(_SC_NPROCESSORS_ONLN);
  m.memory_bytes = MemInfoBytes("MemTotal");
  m.memory_available = MemInfoBytes("MemAvailable");
  struct statvfs vfs;
  std::string dir = data_dir;
  while (!dir.empty() && !std::filesystem::exists(dir))
    dir = std::filesystem::path(dir).parent_path().string();
  if (::statvfs(dir.empty() ? "/" : dir.c_str(), &vfs) == 0) {
    m.disk_bytes = static_cast<int64_t>(vfs.f_blocks) * vfs.f_frsize;
    m.disk_available = static_cast<int64_t>(vfs.f_bavail) * vfs.f_frsize;
  }
  m.pid_max = std::atoll(ReadLine("/proc/sys/kernel/pid_max").c_str());
  {
    std::ifstream f("/proc/loadavg");
    std::string a, b, c, running;
    f >> a >> b >> c >> running;  // "1/234"
    if (auto slash = running.find('/'); slash != std::string::npos)
      m.pids_in_use = std::atoll(running.c_str() + slash + 1);
  }
  m.machine_id = ReadLine("/etc/machine-id");
  m.system_uuid = ReadLine("/sys/class/dmi/id/product_uuid");
  if (m.system_uuid.empty()) m.system_uuid = m.machine_id;
  m.boot_id = ReadLine("/proc/sys/kernel/random/boot_id");
  struct utsname u;
  if (::uname(&u) == 0) {
    m.kernel_version = u.release;
    m.architecture = GoArch(u.machine);
    m.hostname = u.nodename;
  }
  std::transform(m.hostname.begin(), m.hostname.end(), m.hostname.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  m.os_image = OsImage();
  return m;
}

json::object DefaultNodeLabels(const NodeConfig& cfg, const MachineInfo& m) {
  return json::object{
      {"beta.kubernetes.io/arch", m.architecture},
      {"beta.kubernetes.io/os", "linux"},
      {"kubernetes.io/arch", m.architecture},
      {"kubernetes.io/hostname", cfg.node_name},
      {"kubernetes.io/os", "linux"},
  };
}

json::object BuildNodeStatus(const NodeConfig& cfg, const MachineInfo& m,
                             const std::vector<NodeImage>& images, const json::object& old_status,
                             int64_t now) {
  json::object st;
  const int64_t kEvictionMemory = 100 * 1024 * 1024;
  json::object capacity{
      {"cpu", std::to_string(m.cpus)}, {"ephemeral-storage", Ki(m.disk_bytes)},
      {"hugepages-1Gi", "0"},          {"hugepages-2Mi", "0"},
      {"memory", Ki(m.memory_bytes)},  {"pods", std::to_string(cfg.max_pods)},
  };
  int64_t alloc_mem = std::max<int64_t>(0, m.memory_bytes - kEvictionMemory);
  // The allocatable disk is the capacity less the 10% nodefs eviction threshold, in bytes
  // as the kubelet prints it.
  int64_t alloc_disk = m.disk_bytes - m.disk_bytes / 10;
  json::object allocatable = capacity;
  allocatable["memory"] = Ki(alloc_mem);
  allocatable["ephemeral-storage"] = std::to_string(alloc_disk);
  st["capacity"] = std::move(capacity);
  st["allocatable"] = std::move(allocatable);

  bool memory_pressure = m.memory_available > 0 && m.memory_available < kEvictionMemory;
  bool disk_pressure = m.disk_bytes > 0 && m.disk_available < m.disk_bytes / 10;
  bool pid_pressure = m.pid_max > 0 && m.pids_in_use > m.pid_max * 9 / 10;
  const Cond conds[] = {
      {"MemoryPressure", memory_pressure, "KubeletHasInsufficientMemory",
       "kubelet has insufficient memory available", "KubeletHasSufficientMemory",
       "kubelet has sufficient memory available"},
      {"DiskPressure", disk_pressure, "KubeletHasDiskPressure", "kubelet has disk pressure",
       "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
      {"PIDPressure", pid_pressure, "KubeletHasInsufficientPID",
       "kubelet has insufficient PID available", "KubeletHasSufficientPID",
       "kubelet has sufficient PID available"},
  };
  json::array old_conds;
  if (auto it = old_status.find("conditions"); it != old_status.end() && it->value().is_array())
    old_conds = it->value().as_array();
  auto transition = [&](const std::string& type, const std::string& status) {
    for (const auto& c : old_conds)
      if (api::GetString(c, "type") == type && api::GetString(c, "status") == status)
        return api::GetString(c, "lastTransitionTime", api::FormatRfc3339(now));
    return api::FormatRfc3339(now);
  };
  json::array conditions;
  auto add = [&](const std::string& type, bool status, const std::string& reason,
                 const std::string& message) {
    std::string s = status ? "True" : "False";
    conditions.push_back(json::object{{"type", type},
                                      {"status", s},
                                      {"lastHeartbeatTime", api::FormatRfc3339(now)},
                                      {"lastTransitionTime", transition(type, s)},
                                      {"reason", reason},
                                      {"message", message}});
  };
  for (const Cond& c : conds)
    add(c.type, c.status, c.status ? c.reason_true : c.reason_false,
        c.status ? c.message_true : c.message_false);
  if (cfg.network_ready) {
    add("Ready", true, "KubeletReady", "kubelet is posting ready status");
  } else {
    add("Ready", false, "KubeletNotReady",
        "container runtime network not ready: NetworkReady=false "
        "reason:NetworkPluginNotReady message:" +
            (cfg.network_message.empty() ? std::string("pod network not initialized")
                                         : cfg.network_message));
  }
  st["conditions"] = std::move(conditions);

  json::array addresses;
  if (!cfg.node_ip.empty())
    addresses.push_back(json::object{{"type", "InternalIP"}, {"address", cfg.node_ip}});
  // As with the kubelet's --hostname-override, the node name is the Hostname address.
  addresses.push_back(json::object{{"type", "Hostname"}, {"address", cfg.node_name}});
  st["addresses"] = std::move(addresses);
  st["daemonEndpoints"] =
      json::object{{"kubeletEndpoint", json::object{{"Port", cfg.kubelet_port}}}};
  st["nodeInfo"] = json::object{
      {"machineID", m.machine_id},   {"systemUUID", m.system_uuid},
      {"bootID", m.boot_id},         {"kernelVersion", m.kernel_version},
      {"osImage", m.os_image},       {"containerRuntimeVersion", "sampan://0.1.0"},
      {"kubeletVersion", "v1.32.0"}, {"kubeProxyVersion", "v1.32.0"},
      {"operatingSystem", "linux"},  {"architecture", m.architecture},
  };
  json::array imgs;
  for (size_t i = 0; i < images.size() && i < 50; ++i) {
    json::array names;
    for (const auto& n : images[i].names) names.push_back(json::value(n));
    imgs.push_back(json::object{{"names", std::move(names)}, {"sizeBytes", images[i].size}});
  }
  if (!imgs.empty()) st["images"] = std::move(imgs);
  return st;
}

bool NodeStatusChanged(const json::object& a, const json::object& b) {
  auto strip = [](json::object s) {
    if (auto it = s.find("conditions"); it != s.end() && it->value().is_array())
      for (auto& c : it->value().as_array())
        if (c.is_object()) c.as_object().erase("lastHeartbeatTime");
    return api::SerializeSorted(json::value(s));
  };
  return strip(a) != strip(b);
}

json::object BuildLease(const std::string& node_name, const std::string& node_uid,
                        int64_t now_nanos) {
  json::object meta{{"name", node_name}, {"namespace", "kube-node-lease"}};
  if (!node_uid.empty()) {
    meta["ownerReferences"] = json::array{json::object{
        {"apiVersion", "v1"}, {"kind", "Node"}, {"name", node_name}, {"uid", node_uid}}};
  }
  return json::object{
      {"apiVersion", "coordination.k8s.io/v1"},
      {"kind", "Lease"},
      {"metadata", std::move(meta)},
      {"spec", json::object{{"holderIdentity", node_name},
                            {"leaseDurationSeconds", 40},
                            {"renewTime", api::FormatRfc3339Micro(
                                              now_nanos / 1000000000,
                                              static_cast<int32_t>(now_nanos % 1000000000))}}},
  };
}

}  // namespace sampan::agent
