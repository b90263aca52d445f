// Pure translations: spec resources -> cgroup v1/v2 files, cgroupsPath -> relative path.
#include <cmath>

#include "runtime/cgroups.h"

namespace sampan::runtime {

std::string_view CgroupModeName(CgroupMode m) {
  switch (m) {
    case CgroupMode::kV1:
      return "v1";
    case CgroupMode::kHybrid:
      return "hybrid";
    case CgroupMode::kV2:
      return "v2";
  }
  return "?";
}

uint64_t SharesToWeight(uint64_t shares) {
  if (shares == 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  double l = std::log2(static_cast<double>(shares));
  double exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
  return static_cast<uint64_t>(std::ceil(std::pow(10.0, exponent)));
}

namespace {

std::string LimitString(int64_t v) { return v < 0 ? "-1" : std::to_string(v); }
std::string MaxString(int64_t v) { return v < 0 ? "max" : std::to_string(v); }

std::string DeviceRuleLine(char type, std::optional<int64_t> major, std::optional<int64_t> minor,
                           const std::string& access) {
  if (type == 'a') return "a *:* " + access;
  std::string s(1, type);
  s += " ";
  s += (major && *major >= 0) ? std::to_string(*major) : "*";
  s += ":";
  s += (minor && *minor >= 0) ? std::to_string(*minor) : "*";
  return s + " " + access;
}

}  // namespace

Result<std::vector<CgroupWrite>> V1Writes(const Resources& r) {
  std::vector<CgroupWrite> w;
  const MemoryResources& m = r.memory;
  if (m.limit && *m.limit != 0)
    w.push_back({"memory", "memory.limit_in_bytes", LimitString(*m.limit)});
  if (m.swap && *m.swap != 0) {
    if (m.limit && *m.limit > 0 && *m.swap > 0 && *m.swap < *m.limit)
      return Invalid("linux.resources.memory.swap: must be at least the memory limit");
    w.push_back({"memory", "memory.memsw.limit_in_bytes", LimitString(*m.swap)});
  }
  if (m.reservation && *m.reservation != 0)
    w.push_back({"memory", "memory.soft_limit_in_bytes", LimitString(*m.reservation)});
  if (m.kernel_tcp && *m.kernel_tcp != 0)
    w.push_back({"memory", "memory.kmem.tcp.limit_in_bytes", LimitString(*m.kernel_tcp)});
  if (m.swappiness) {
    if (*m.swappiness > 100) return Invalid("linux.resources.memory.swappiness: must be 0..100");
    w.push_back({"memory", "memory.swappiness", std::to_string(*m.swappiness)});
  }
  if (m.disable_oom_killer && *m.disable_oom_killer)
    w.push_back({"memory", "memory.oom_control", "1"});
  const CpuResources& c = r.cpu;
  if (c.shares && *c.shares != 0) w.push_back({"cpu", "cpu.shares", std::to_string(*c.shares)});
  if (c.period && *c.period != 0)
    w.push_back({"cpu", "cpu.cfs_period_us", std::to_string(*c.period)});
  if (c.quota && *c.quota != 0) w.push_back({"cpu", "cpu.cfs_quota_us", LimitString(*c.quota)});
  if (c.realtime_period && *c.realtime_period != 0)
    w.push_back({"cpu", "cpu.rt_period_us", std::to_string(*c.realtime_period)});
  if (c.realtime_runtime && *c.realtime_runtime != 0)
    w.push_back({"cpu", "cpu.rt_runtime_us", std::to_string(*c.realtime_runtime)});
  if (!c.cpus.empty()) w.push_back({"cpuset", "cpuset.cpus", c.cpus});
  if (!c.mems.empty()) w.push_back({"cpuset", "cpuset.mems", c.mems});
  if (r.pids_limit && *r.pids_limit != 0)
    w.push_back({"pids", "pids.max", MaxString(*r.pids_limit)});
  if (r.blkio_weight && *r.blkio_weight != 0)
    w.push_back({"blkio", "blkio.weight", std::to_string(*r.blkio_weight)});
  if (r.net_class_id) w.push_back({"net_cls", "net_cls.classid", std::to_string(*r.net_class_id)});
  for (const auto& [iface, prio] : r.net_priorities)
    w.push_back({"net_prio", "net_prio.ifpriomap", iface + " " + std::to_string(prio)});
  for (const auto& [size, limit] : r.hugepage_limits)
    w.push_back({"hugetlb", "hugetlb." + size + ".limit_in_bytes", std::to_string(limit)});
  return w;
}

std::vector<CgroupWrite> V1DeviceWrites(const Resources& r, const std::vector<Device>& devices) {
  std::vector<CgroupWrite> w;
  auto add = [&](bool allow, char type, std::optional<int64_t> maj, std::optional<int64_t> min,
                 const std::string& access) {
    w.push_back({"devices", allow ? "devices.allow" : "devices.deny",
                 DeviceRuleLine(type, maj, min, access)});
  };
  if (r.devices.empty() && devices.empty()) return w;  // keep the parent's rules
  for (const DeviceRule& d : r.devices) add(d.allow, d.type, d.major, d.minor, d.access);
  // Always allowed, as runc does: mknod of anything, the standard nodes, ptys, tun.
  add(true, 'c', std::nullopt, std::nullopt, "m");
  add(true, 'b', std::nullopt, std::nullopt, "m");
  const std::pair<int, int> kStd[] = {{1, 3}, {1, 5}, {1, 7}, {1, 8},   {1, 9},
                                      {5, 0}, {5, 1}, {5, 2}, {10, 200}};
  for (auto [maj, min] : kStd) add(true, 'c', maj, min, "rwm");
  add(true, 'c', 136, std::nullopt, "rwm");
  for (const Device& d : devices) {
    if (d.type == 'p') continue;
    add(true, d.type == 'u' ? 'c' : d.type, d.major, d.minor, "rwm");
  }
  return w;
}

Result<std::vector<CgroupWrite>> V2Writes(const Resources& r) {
  std::vector<CgroupWrite> w;
  const MemoryResources& m = r.memory;
  if (m.limit && *m.limit != 0) w.push_back({"", "memory.max", MaxString(*m.limit)});
  if (m.reservation && *m.reservation != 0)
    w.push_back({"", "memory.low", MaxString(*m.reservation)});
  if (m.swap && *m.swap != 0) {
    // v1's swap is memory+swap; v2's memory.swap.max is swap alone.
    std::string v;
    if (*m.swap < 0) {
      v = "max";
    } else if (!m.limit || *m.limit == 0) {
      return Invalid("linux.resources.memory.swap: needs a memory limit on cgroup v2");
    } else if (*m.limit < 0) {
      return Invalid("linux.resources.memory.swap: memory limit is unlimited but swap is set");
    } else if (*m.swap < *m.limit) {
      return Invalid("linux.resources.memory.swap: must be at least the memory limit");
    } else {
      v = std::to_string(*m.swap - *m.limit);
    }
    w.push_back({"", "memory.swap.max", v});
  } else if (m.limit && *m.limit < 0) {
    w.push_back({"", "memory.swap.max", "max"});
  }
  if (m.disable_oom_killer && *m.disable_oom_killer)
    return Invalid("linux.resources.memory.disableOOMKiller: not supported on cgroup v2");
  const CpuResources& c = r.cpu;
  if (c.shares && *c.shares != 0)
    w.push_back({"", "cpu.weight", std::to_string(SharesToWeight(*c.shares))});
  if ((c.quota && *c.quota != 0) || (c.period && *c.period != 0)) {
    std::string quota = (c.quota && *c.quota > 0) ? std::to_string(*c.quota) : "max";
    uint64_t period = (c.period && *c.period != 0) ? *c.period : 100000;
    w.push_back({"", "cpu.max", quota + " " + std::to_string(period)});
  }
  if (c.realtime_period || c.realtime_runtime)
    return Invalid("linux.resources.cpu.realtimeRuntime: not supported on cgroup v2");
  if (!c.cpus.empty()) w.push_back({"", "cpuset.cpus", c.cpus});
  if (!c.mems.empty()) w.push_back({"", "cpuset.mems", c.mems});
  if (r.pids_limit && *r.pids_limit != 0) w.push_back({"", "pids.max", MaxString(*r.pids_limit)});
  if (r.blkio_weight && *r.blkio_weight != 0) {
    uint64_t weight = 1 + (static_cast<uint64_t>(*r.blkio_weight) - 10) * 9999 / 990;
    w.push_back({"", "io.weight", "default " + std::to_string(weight)});
  }
  if (r.net_class_id || !r.net_priorities.empty())
    return Invalid("linux.resources.network: net_cls/net_prio do not exist on cgroup v2");
  for (const auto& [size, limit] : r.hugepage_limits)
    w.push_back({"", "hugetlb." + size + ".max", std::to_string(limit)});
  for (const auto& [file, value] : r.unified) {
    if (file.find('/') != std::string::npos || file.find("..") != std::string::npos)
      return Invalid("linux.resources.unified: invalid file name \"" + file + "\"");
    w.push_back({"", file, value});
  }
  return w;
}

Result<std::string> CgroupRelativePath(std::string_view cgroups_path, std::string_view id,
                                       bool systemd) {
  if (!systemd) {
    // One level by default: a shared parent could not be removed safely by the last container.
    std::string p = cgroups_path.empty() ? "/sampan-" + std::string(id) : std::string(cgroups_path);
    if (p[0] != '/') p = "/" + p;
    // No ".." escapes.
    std::string out;
    size_t i = 0;
    while (i < p.size()) {
      size_t j = p.find('/', i);
      if (j == std::string::npos) j = p.size();
      std::string part = p.substr(i, j - i);
      if (part == "..") return Invalid("linux.cgroupsPath: must not contain \"..\"");
      if (!part.empty() && part != ".") out += "/" + part;
      i = j + 1;
    }
    if (out.empty()) return Invalid("linux.cgroupsPath: must not be the root cgroup");
    return out;
  }
  // systemd: "slice:prefix:name".
  std::string p =
      cgroups_path.empty() ? "system.slice:sampan:" + std::string(id) : std::string(cgroups_path);
  size_t a = p.find(':');
  size_t b = a == std::string::npos ? a : p.find(':', a + 1);
  if (b == std::string::npos || p.find(':', b + 1) != std::string::npos)
    return Invalid("linux.cgroupsPath: with --systemd-cgroup it must be \"slice:prefix:name\"");
  std::string slice = p.substr(0, a), prefix = p.substr(a + 1, b - a - 1), name = p.substr(b + 1);
  if (slice.empty()) slice = "system.slice";
  if (slice.size() < 7 || slice.substr(slice.size() - 6) != ".slice")
    return Invalid("linux.cgroupsPath: \"" + slice + "\" is not a .slice");
  std::string out;
  if (slice != "-.slice") {
    std::string base = slice.substr(0, slice.size() - 6);
    // "a-b-c.slice" lives at /a.slice/a-b.slice/a-b-c.slice.
    std::string acc;
    size_t i = 0;
    while (true) {
      size_t j = base.find('-', i);
      std::string part = base.substr(0, j);
      if (part.empty() || (j != std::string::npos && j + 1 == base.size()))
        return Invalid("linux.cgroupsPath: invalid slice name \"" + slice + "\"");
      out += "/" + part + ".slice";
      if (j == std::string::npos) break;
      i = j + 1;
    }
  }
  if (name.empty()) return Invalid("linux.cgroupsPath: empty unit name");
  std::string unit = name.size() > 6 && name.substr(name.size() - 6) == ".slice"
                         ? name
                         : (prefix.empty() ? name : prefix + "-" + name) + ".scope";
  return out + "/" + unit;
}

}  // namespace sampan::runtime
