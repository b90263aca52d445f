// config.json of the pod sandbox (pause) and of app/init containers, shaped like the
// configurations containerd's CRI plugin writes for the kubelet.
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <mutex>

#include "podspec/container_spec.h"
#include "podspec/spec_internal.h"
#include "runtime/spec.h"

namespace sampan::podspec {

namespace json = boost::json;
using namespace internal;

namespace {

constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr int kSandboxOomScoreAdj = -998;
constexpr int64_t kQuotaPeriod = 100000;

const json::object* ObjectAt(const json::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}

std::string StringAt(const json::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : "";
}

bool BoolField(const json::value* v) { return v && v->is_bool() && v->get_bool(); }

json::array Strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

json::object MountObj(const std::string& dst, const std::string& type, const std::string& src,
                      const std::vector<std::string>& opts) {
  json::object m;
  m["destination"] = dst;
  m["type"] = type;
  m["source"] = src;
  m["options"] = Strings(opts);
  return m;
}

// /proc, /dev, /dev/pts, /dev/mqueue, /sys and its cgroups, as containerd's default spec
// (without /run, which the CRI plugin leaves out). /dev/shm is added by the caller.
std::vector<json::object> DefaultMounts(bool privileged) {
  std::string sys_mode = privileged ? "rw" : "ro";
  return {
      MountObj("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      MountObj("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      MountObj("/dev/pts", "devpts", "devpts",
               {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      MountObj("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      MountObj("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", sys_mode}),
      MountObj("/sys/fs/cgroup", "cgroup", "cgroup",
               {"nosuid", "noexec", "nodev", "relatime", sys_mode}),
  };
}

json::object ShmTmpfs() {
  return MountObj("/dev/shm", "tmpfs", "shm",
                  {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"});
}

const std::vector<std::string>& MaskedPaths() {
  static const std::vector<std::string> k = {"/proc/acpi",          "/proc/asound",
                                             "/proc/kcore",         "/proc/keys",
                                             "/proc/latency_stats", "/proc/timer_list",
                                             "/proc/timer_stats",   "/proc/sched_debug",
                                             "/sys/firmware",       "/sys/devices/virtual/powercap",
                                             "/proc/scsi"};
  return k;
}

const std::vector<std::string>& ReadonlyPaths() {
  static const std::vector<std::string> k = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                             "/proc/sysrq-trigger"};
  return k;
}

// The runtime's default seccomp profile (what `sampan runtime spec` writes).
const json::value& RuntimeDefaultSeccomp() {
  static const json::value profile = [] {
    json::value spec = json::parse(runtime::DefaultSpecJson());
    const json::value* s = nullptr;
    if (auto* l = spec.as_object().if_contains("linux"))
      if (l->is_object()) s = l->get_object().if_contains("seccomp");
    return s ? *s : json::value(nullptr);
  }();
  return profile;
}

// The seccomp profile the pod or container asks for: null when unconfined.
Result<json::value> SeccompFor(const json::object& pod, const json::object* container) {
  const json::value* prof = nullptr;
  if (container) {
    prof = SecurityField(pod, *container, "seccompProfile");
  } else if (const json::object* spec = ObjectAt(pod, "spec")) {
    if (const json::object* sc = ObjectAt(*spec, "securityContext"))
      prof = sc->if_contains("seccompProfile");
  }
  if (!prof || !prof->is_object()) return json::value(nullptr);
  std::string type = StringAt(prof->get_object(), "type");
  if (type == "RuntimeDefault") return RuntimeDefaultSeccomp();
  if (type == "Localhost")
    return Invalid("securityContext.seccompProfile: Localhost profiles are not supported");
  return json::value(nullptr);
}

json::object Annotations(const json::object& pod, const char* type, const std::string& name) {
  json::object a;
  a["io.kubernetes.cri.container-type"] = type;
  if (!name.empty()) a["io.kubernetes.cri.container-name"] = name;
  if (const json::object* md = ObjectAt(pod, "metadata")) {
    a["io.kubernetes.pod.name"] = StringAt(*md, "name");
    a["io.kubernetes.pod.namespace"] = StringAt(*md, "namespace");
    a["io.kubernetes.pod.uid"] = StringAt(*md, "uid");
  }
  return a;
}

json::object Caps(const std::vector<std::string>& names) {
  json::object c;
  c["bounding"] = Strings(names);
  c["effective"] = Strings(names);
  c["permitted"] = Strings(names);
  return c;
}

json::object User(uint32_t uid, uint32_t gid, const std::vector<uint32_t>& gids) {
  json::object u;
  u["uid"] = uid;
  u["gid"] = gid;
  if (!gids.empty()) {
    json::array a;
    for (uint32_t g : gids) a.emplace_back(g);
    u["additionalGids"] = std::move(a);
  }
  return u;
}

json::object Namespace(const char* type, const std::string& path = "") {
  json::object n;
  n["type"] = type;
  if (!path.empty()) n["path"] = path;
  return n;
}

std::string NsPath(pid_t pid, const char* name) {
  return "/proc/" + std::to_string(pid) + "/ns/" + name;
}

// Every char/block device below /dev (what a privileged container gets), as containerd's
// HostDevices lists them.
json::array HostDevices() {
  json::array out;
  std::vector<std::string> dirs = {"/dev"};
  while (!dirs.empty()) {
    std::string dir = dirs.back();
    dirs.pop_back();
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string path = dir + "/" + name;
      struct stat st;
      if (::lstat(path.c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        static const char* kSkip[] = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"};
        if (std::none_of(std::begin(kSkip), std::end(kSkip),
                         [&](const char* s) { return name == s; }))
          dirs.push_back(path);
        continue;
      }
      if (name == "console" || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) continue;
      json::object dev;
      dev["type"] = S_ISCHR(st.st_mode) ? "c" : "b";
      dev["path"] = path;
      dev["major"] = static_cast<int64_t>(major(st.st_rdev));
      dev["minor"] = static_cast<int64_t>(minor(st.st_rdev));
      dev["fileMode"] = st.st_mode & 07777;
      dev["uid"] = st.st_uid;
      dev["gid"] = st.st_gid;
      out.push_back(std::move(dev));
    }
    ::closedir(d);
  }
  return out;
}

json::array DeviceRules(bool allow_all) {
  json::object r;
  r["allow"] = allow_all;
  r["access"] = "rwm";
  return json::array{r};
}

int64_t MemTotal() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  while (f >> key) {
    if (key == "MemTotal:") {
      f >> kb;
      return kb * 1024;
    }
    f.ignore(1 << 20, '\n');
  }
  return 0;
}

// Whether a sysctl lives in a namespace that the sandbox owns.
bool SysctlAllowed(const std::string& key, const SandboxInfo& sb) {
  bool ipc = key.rfind("fs.mqueue.", 0) == 0 ||
             (key.rfind("kernel.", 0) == 0 &&
              (key.find("msg") != std::string::npos || key.find("sem") != std::string::npos ||
               key.find("shm") != std::string::npos));
  if (ipc) return !sb.host_ipc;
  if (key.rfind("net.", 0) == 0) return !sb.host_network;
  return false;  // not namespaced: never per pod
}

}  // namespace

std::string SandboxConfigJson(const json::object& pod, const SandboxInfo& sandbox,
                              const std::string& pause_rootfs) {
  const json::object* spec = ObjectAt(pod, "spec");
  const json::object* psc = spec ? ObjectAt(*spec, "securityContext") : nullptr;
  json::object cfg;
  cfg["ociVersion"] = "1.0.2";
  json::object proc;
  proc["terminal"] = false;
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> gids;
  if (psc) {
    if (auto* v = psc->if_contains("runAsUser"); v && v->is_number())
      uid = v->to_number<uint32_t>();
    if (auto* v = psc->if_contains("runAsGroup"); v && v->is_number())
      gid = v->to_number<uint32_t>();
    if (auto* v = psc->if_contains("supplementalGroups"); v && v->is_array())
      for (const auto& g : v->get_array())
        if (g.is_number()) gids.push_back(g.to_number<uint32_t>());
  }
  proc["user"] = User(uid, gid, gids);
  proc["args"] = json::array{"/pause"};
  proc["env"] = json::array{kDefaultPath};
  proc["cwd"] = "/";
  proc["capabilities"] = Caps(DefaultCapabilities());
  proc["noNewPrivileges"] = true;
  proc["oomScoreAdj"] = kSandboxOomScoreAdj;
  cfg["process"] = std::move(proc);
  json::object root;
  root["path"] = pause_rootfs;
  root["readonly"] = true;
  cfg["root"] = std::move(root);
  if (!sandbox.host_network && !sandbox.hostname.empty()) cfg["hostname"] = sandbox.hostname;
  json::array mounts;
  for (auto& m : DefaultMounts(false)) mounts.push_back(std::move(m));
  if (sandbox.host_ipc) {
    mounts.push_back(MountObj("/dev/shm", "bind", "/dev/shm", {"rbind", "rprivate", "rw"}));
  } else if (!sandbox.shm_path.empty()) {
    mounts.push_back(MountObj("/dev/shm", "bind", sandbox.shm_path, {"rbind", "rprivate", "rw"}));
  } else {
    mounts.push_back(ShmTmpfs());
  }
  cfg["mounts"] = std::move(mounts);
  cfg["annotations"] = Annotations(pod, "sandbox", "");
  json::object linux;
  json::array ns;
  if (!sandbox.host_pid) ns.push_back(Namespace("pid"));
  if (!sandbox.host_ipc) ns.push_back(Namespace("ipc"));
  if (!sandbox.host_network) {
    ns.push_back(Namespace("uts"));
    ns.push_back(Namespace("network"));
  }
  ns.push_back(Namespace("mount"));
  linux["namespaces"] = std::move(ns);
  linux["cgroupsPath"] = sandbox.cgroup_parent + "/pause";
  json::object res;
  res["devices"] = DeviceRules(false);
  json::object cpu;
  cpu["shares"] = 2;
  res["cpu"] = std::move(cpu);
  linux["resources"] = std::move(res);
  if (psc) {
    json::object sysctl;
    if (auto* v = psc->if_contains("sysctls"); v && v->is_array()) {
      for (const auto& s : v->get_array()) {
        if (!s.is_object()) continue;
        std::string key = StringAt(s.get_object(), "name");
        std::replace(key.begin(), key.end(), '/', '.');
        if (!key.empty() && SysctlAllowed(key, sandbox))
          sysctl[key] = StringAt(s.get_object(), "value");
      }
    }
    if (!sysctl.empty()) linux["sysctl"] = std::move(sysctl);
  }
  linux["maskedPaths"] = Strings(MaskedPaths());
  linux["readonlyPaths"] = Strings(ReadonlyPaths());
  auto seccomp = SeccompFor(pod, nullptr);
  if (seccomp.ok() && !seccomp->is_null()) linux["seccomp"] = *seccomp;
  cfg["linux"] = std::move(linux);
  return json::serialize(cfg);
}

Result<std::string> ContainerConfigJson(const ContainerInputs& in) {
  if (!in.pod || !in.container || !in.image)
    return Invalid("pod, container and image are required");
  const json::object& pod = *in.pod;
  const json::object& c = *in.container;
  const SandboxInfo& sb = in.sandbox;
  std::string name = StringAt(c, "name");
  bool privileged = BoolField(SecurityField(pod, c, "privileged"));
  // privileged is a container-only field; SecurityField also looks at the pod, where the
  // API has no such field, so this reads the container's value in practice.

  json::object cfg;
  cfg["ociVersion"] = "1.0.2";
  json::object proc;
  auto tty = c.if_contains("tty");
  proc["terminal"] = tty && tty->is_bool() && tty->get_bool();
  ASSIGN_OR_RETURN(ResolvedUser user, ResolveUser(pod, c, *in.image, in.rootfs));
  proc["user"] = User(user.uid, user.gid, user.additional_gids);
  ASSIGN_OR_RETURN(std::vector<std::string> args, ContainerArgs(c, *in.image, in.env));
  proc["args"] = Strings(args);
  std::vector<std::string> env = MergeEnv({kDefaultPath}, in.image->env);
  if (!sb.hostname.empty()) env = MergeEnv(env, {"HOSTNAME=" + sb.hostname});
  env = MergeEnv(env, in.env);
  proc["env"] = Strings(env);
  std::string cwd = StringAt(c, "workingDir");
  if (cwd.empty()) cwd = in.image->working_dir;
  if (cwd.empty()) cwd = "/";
  if (cwd[0] != '/') return Invalid("workingDir: must be an absolute path, got \"" + cwd + "\"");
  proc["cwd"] = cwd;
  ASSIGN_OR_RETURN(std::vector<std::string> caps,
                   Capabilities(SecurityField(pod, c, "capabilities"), privileged));
  proc["capabilities"] = Caps(caps);
  const json::value* ape = SecurityField(pod, c, "allowPrivilegeEscalation");
  proc["noNewPrivileges"] = !privileged && ape && ape->is_bool() && !ape->get_bool();
  int64_t capacity = in.node_memory_capacity > 0 ? in.node_memory_capacity : MemTotal();
  proc["oomScoreAdj"] = OomScoreAdj(pod, c, capacity);
  cfg["process"] = std::move(proc);

  json::object root;
  root["path"] = in.rootfs;
  bool ro_root = BoolField(SecurityField(pod, c, "readOnlyRootFilesystem"));
  root["readonly"] = ro_root;
  cfg["root"] = std::move(root);

  // Mounts: the defaults, then the pod's files and volumes (shallow destinations first, so a
  // volume never hides a deeper one); a volume at a default's destination replaces it.
  std::vector<json::object> extra;
  auto dest_taken = [&](const std::string& d) {
    return std::any_of(in.mounts.begin(), in.mounts.end(),
                       [&](const auto& m) { return m.container_path == d; });
  };
  std::string file_mode = ro_root ? "ro" : "rw";
  auto add_file = [&](const std::string& dst, const std::string& src) {
    if (!src.empty() && !dest_taken(dst))
      extra.push_back(MountObj(dst, "bind", src, {"rbind", "rprivate", file_mode}));
  };
  add_file("/etc/hosts", sb.etc_hosts);
  add_file("/etc/resolv.conf", sb.resolv_conf);
  if (!sb.host_network) add_file("/etc/hostname", sb.hostname_file);
  if (!in.termination_message_path.empty()) {
    std::string dst = StringAt(c, "terminationMessagePath");
    if (dst.empty()) dst = "/dev/termination-log";
    if (!dest_taken(dst))
      extra.push_back(
          MountObj(dst, "bind", in.termination_message_path, {"rbind", "rprivate", "rw"}));
  }
  if (!dest_taken("/dev/shm")) {
    if (sb.host_ipc) {
      extra.push_back(MountObj("/dev/shm", "bind", "/dev/shm", {"rbind", "rprivate", "rw"}));
    } else if (!sb.shm_path.empty()) {
      extra.push_back(MountObj("/dev/shm", "bind", sb.shm_path, {"rbind", "rprivate", "rw"}));
    }
  }
  std::string rootfs_propagation;
  for (const auto& m : in.mounts) {
    if (m.container_path.empty() || m.container_path[0] != '/')
      return Invalid("volumeMounts: mountPath \"" + m.container_path + "\" must be absolute");
    struct stat st;
    bool dir = ::stat(m.host_path.c_str(), &st) != 0 || S_ISDIR(st.st_mode);
    std::vector<std::string> opts = {dir ? "rbind" : "bind"};
    if (m.propagation == "Bidirectional") {
      opts.push_back("rshared");
      rootfs_propagation = "rshared";
    } else if (m.propagation == "HostToContainer") {
      opts.push_back("rslave");
      if (rootfs_propagation.empty()) rootfs_propagation = "rslave";
    } else {
      opts.push_back("rprivate");
    }
    opts.push_back(m.read_only ? "ro" : "rw");
    extra.push_back(MountObj(m.container_path, "bind", m.host_path, opts));
  }
  auto depth = [](const json::object& m) {
    std::string d = std::string(m.at("destination").get_string());
    return std::count(d.begin(), d.end(), '/') - (d.size() > 1 && d.back() == '/' ? 1 : 0);
  };
  std::stable_sort(extra.begin(), extra.end(), [&](const json::object& a, const json::object& b) {
    return depth(a) < depth(b);
  });
  json::array mounts;
  std::vector<json::object> defaults = DefaultMounts(privileged);
  if (!sb.host_ipc && sb.shm_path.empty()) defaults.push_back(ShmTmpfs());
  for (auto& m : defaults)
    if (!dest_taken(std::string(m.at("destination").get_string()))) mounts.push_back(std::move(m));
  for (auto& m : extra) mounts.push_back(std::move(m));
  cfg["mounts"] = std::move(mounts);
  cfg["annotations"] = Annotations(pod, "container", name);

  json::object linux;
  json::array ns;
  if (sb.share_pid && !sb.host_pid) {
    ns.push_back(Namespace("pid", NsPath(sb.pause_pid, "pid")));
  } else if (!sb.host_pid) {
    ns.push_back(Namespace("pid"));
  }
  if (!sb.host_ipc) ns.push_back(Namespace("ipc", NsPath(sb.pause_pid, "ipc")));
  if (!sb.host_network) {
    ns.push_back(Namespace("uts", NsPath(sb.pause_pid, "uts")));
    ns.push_back(Namespace("network", NsPath(sb.pause_pid, "net")));
  }
  ns.push_back(Namespace("mount"));
  linux["namespaces"] = std::move(ns);
  linux["cgroupsPath"] = sb.cgroup_parent + "/" + in.container_id;
  json::object res;
  res["devices"] = DeviceRules(privileged);
  json::object cpu;
  int64_t cpu_request = ResourceMilli(c, "requests", "cpu");
  int64_t cpu_limit = ResourceMilli(c, "limits", "cpu");
  cpu["shares"] = MilliCpuToShares(cpu_request == 0 && cpu_limit > 0 ? cpu_limit : cpu_request);
  if (int64_t quota = MilliCpuToQuota(cpu_limit, kQuotaPeriod); quota > 0) {
    cpu["quota"] = quota;
    cpu["period"] = kQuotaPeriod;
  }
  res["cpu"] = std::move(cpu);
  if (int64_t mem = ResourceValue(c, "limits", "memory"); mem > 0) {
    json::object memory;
    memory["limit"] = mem;
    res["memory"] = std::move(memory);
  }
  linux["resources"] = std::move(res);
  if (!rootfs_propagation.empty()) linux["rootfsPropagation"] = rootfs_propagation;
  const json::value* proc_mount = SecurityField(pod, c, "procMount");
  bool unmasked = proc_mount && proc_mount->is_string() && proc_mount->get_string() == "Unmasked";
  if (privileged) {
    linux["devices"] = HostDevices();
  } else {
    if (!unmasked) {
      linux["maskedPaths"] = Strings(MaskedPaths());
      linux["readonlyPaths"] = Strings(ReadonlyPaths());
    }
    ASSIGN_OR_RETURN(json::value seccomp, SeccompFor(pod, &c));
    if (!seccomp.is_null()) linux["seccomp"] = std::move(seccomp);
  }
  cfg["linux"] = std::move(linux);
  return std::string(json::serialize(cfg));
}

}  // namespace sampan::podspec
