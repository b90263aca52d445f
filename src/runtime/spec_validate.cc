// Names (namespaces, capabilities, rlimits, mount options) and ValidateSpec.
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <array>
#include <set>

#include "runtime/spec.h"
#include "runtime/sys.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace sampan::runtime {

namespace {

struct NsInfo {
  NsType type;
  const char* name;
  const char* proc;
  int flag;
};
constexpr NsInfo kNamespaces[] = {
    {NsType::kPid, "pid", "pid", CLONE_NEWPID},
    {NsType::kNetwork, "network", "net", CLONE_NEWNET},
    {NsType::kMount, "mount", "mnt", CLONE_NEWNS},
    {NsType::kIpc, "ipc", "ipc", CLONE_NEWIPC},
    {NsType::kUts, "uts", "uts", CLONE_NEWUTS},
    {NsType::kUser, "user", "user", CLONE_NEWUSER},
    {NsType::kCgroup, "cgroup", "cgroup", CLONE_NEWCGROUP},
    {NsType::kTime, "time", "time", CLONE_NEWTIME},
};

constexpr std::array<const char*, 41> kCapNames = {"CHOWN",
                                                   "DAC_OVERRIDE",
                                                   "DAC_READ_SEARCH",
                                                   "FOWNER",
                                                   "FSETID",
                                                   "KILL",
                                                   "SETGID",
                                                   "SETUID",
                                                   "SETPCAP",
                                                   "LINUX_IMMUTABLE",
                                                   "NET_BIND_SERVICE",
                                                   "NET_BROADCAST",
                                                   "NET_ADMIN",
                                                   "NET_RAW",
                                                   "IPC_LOCK",
                                                   "IPC_OWNER",
                                                   "SYS_MODULE",
                                                   "SYS_RAWIO",
                                                   "SYS_CHROOT",
                                                   "SYS_PTRACE",
                                                   "SYS_PACCT",
                                                   "SYS_ADMIN",
                                                   "SYS_BOOT",
                                                   "SYS_NICE",
                                                   "SYS_RESOURCE",
                                                   "SYS_TIME",
                                                   "SYS_TTY_CONFIG",
                                                   "MKNOD",
                                                   "LEASE",
                                                   "AUDIT_WRITE",
                                                   "AUDIT_CONTROL",
                                                   "SETFCAP",
                                                   "MAC_OVERRIDE",
                                                   "MAC_ADMIN",
                                                   "SYSLOG",
                                                   "WAKE_ALARM",
                                                   "BLOCK_SUSPEND",
                                                   "AUDIT_READ",
                                                   "PERFMON",
                                                   "BPF",
                                                   "CHECKPOINT_RESTORE"};

struct RlimitInfo {
  const char* name;
  int resource;
};
constexpr RlimitInfo kRlimits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

struct MountFlag {
  const char* name;
  bool clear;
  unsigned long flag;
};
constexpr MountFlag kMountFlags[] = {
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"atime", true, MS_NOATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"diratime", true, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
    {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},
};
struct PropFlag {
  const char* name;
  unsigned long flag;
};
constexpr PropFlag kPropagation[] = {
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  return out;
}

constexpr const char* kSeccompActions[] = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY"};

bool KnownSeccompAction(const std::string& a) {
  for (const char* k : kSeccompActions)
    if (a == k) return true;
  return false;
}

}  // namespace

std::string_view NsTypeName(NsType t) { return kNamespaces[static_cast<int>(t)].name; }
int NsCloneFlag(NsType t) { return kNamespaces[static_cast<int>(t)].flag; }
std::string_view NsProcName(NsType t) { return kNamespaces[static_cast<int>(t)].proc; }
std::optional<NsType> NsTypeFromName(std::string_view name) {
  for (const auto& n : kNamespaces)
    if (name == n.name) return n.type;
  return std::nullopt;
}

const Namespace* Linux::FindNamespace(NsType t) const {
  for (const auto& n : namespaces)
    if (n.type == t) return &n;
  return nullptr;
}

bool Mount::IsBind() const { return (flags & MS_BIND) != 0 || type == "bind"; }

std::optional<int> CapabilityFromName(std::string_view name) {
  std::string u = Upper(name);
  if (u.rfind("CAP_", 0) == 0) u = u.substr(4);
  for (size_t i = 0; i < kCapNames.size(); ++i)
    if (u == kCapNames[i]) return static_cast<int>(i);
  return std::nullopt;
}

std::string CapabilityName(int cap) {
  if (cap < 0 || cap >= static_cast<int>(kCapNames.size())) return "CAP_" + std::to_string(cap);
  return std::string("CAP_") + kCapNames[cap];
}

std::optional<int> RlimitFromName(std::string_view name) {
  for (const auto& r : kRlimits)
    if (name == r.name) return r.resource;
  return std::nullopt;
}

Status ParseMountOptions(Mount& m) {
  m.flags = 0;
  m.propagation = 0;
  m.data.clear();
  if (m.type == "bind") m.flags |= MS_BIND;
  for (const std::string& opt : m.options) {
    bool done = false;
    for (const auto& f : kMountFlags) {
      if (opt == f.name) {
        if (f.clear)
          m.flags &= ~f.flag;
        else
          m.flags |= f.flag;
        done = true;
        break;
      }
    }
    if (done) continue;
    for (const auto& p : kPropagation) {
      if (opt == p.name) {
        m.propagation = p.flag;
        done = true;
        break;
      }
    }
    if (done || opt == "defaults" || opt == "tmpcopyup") continue;
    if (opt.empty()) continue;
    if (!m.data.empty()) m.data += ",";
    m.data += opt;
  }
  return Status();
}

Status ValidateProcess(const Process& p, std::string_view field) {
  std::string f(field);
  if (p.args.empty()) return Invalid(f + ".args: must not be empty");
  if (p.cwd.empty() || p.cwd[0] != '/')
    return Invalid(f + ".cwd: must be an absolute path, got \"" + p.cwd + "\"");
  if (p.oom_score_adj && (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000))
    return Invalid(f + ".oomScoreAdj: must be between -1000 and 1000");
  for (const auto& r : p.rlimits)
    if (r.soft > r.hard)
      return Invalid(f + ".rlimits: " + r.name + " soft limit exceeds hard limit");
  return Status();
}

Status ValidateSpec(const Spec& s, const std::string& bundle) {
  if (s.oci_version.empty()) return Invalid("ociVersion: required");
  if (s.root_path.empty()) return Invalid("root.path: required");
  std::string rootfs = s.root_path[0] == '/' ? s.root_path : bundle + "/" + s.root_path;
  struct stat st;
  if (::stat(rootfs.c_str(), &st) != 0)
    return Invalid("root.path: rootfs \"" + rootfs + "\" does not exist");
  if (!S_ISDIR(st.st_mode))
    return Invalid("root.path: rootfs \"" + rootfs + "\" is not a directory");
  if (s.has_process) RETURN_IF_ERROR(ValidateProcess(s.process, "process"));
  for (size_t i = 0; i < s.mounts.size(); ++i) {
    if (s.mounts[i].destination.empty())
      return Invalid("mounts[" + std::to_string(i) + "].destination: required");
  }
  const Linux& l = s.linux;
  std::set<NsType> seen;
  for (size_t i = 0; i < l.namespaces.size(); ++i) {
    const Namespace& n = l.namespaces[i];
    std::string at = "linux.namespaces[" + std::to_string(i) + "]";
    if (!seen.insert(n.type).second)
      return Invalid(at + ": duplicate namespace \"" + std::string(NsTypeName(n.type)) + "\"");
    if (!n.path.empty() && !PathExists(n.path))
      return Invalid(at + ".path: namespace \"" + n.path + "\" does not exist");
  }
  const Namespace* user = l.FindNamespace(NsType::kUser);
  if ((!l.uid_mappings.empty() || !l.gid_mappings.empty()) && (!user || !user->path.empty()))
    return Invalid("linux.uidMappings: id mappings need a new user namespace");
  if (user && user->path.empty() && (l.uid_mappings.empty() || l.gid_mappings.empty()))
    return Invalid("linux.uidMappings: a new user namespace needs uid and gid mappings");
  if (!s.hostname.empty() && !l.FindNamespace(NsType::kUts))
    return Invalid("hostname: setting the hostname needs a UTS namespace");
  if (!s.domainname.empty() && !l.FindNamespace(NsType::kUts))
    return Invalid("domainname: setting the domainname needs a UTS namespace");
  for (const auto& [key, value] : l.sysctl) {
    auto has = [&](NsType t) { return l.FindNamespace(t) != nullptr; };
    bool ipc = key.rfind("fs.mqueue.", 0) == 0 || key == "kernel.msgmax" ||
               key == "kernel.msgmnb" || key == "kernel.msgmni" || key == "kernel.sem" ||
               key == "kernel.shmall" || key == "kernel.shmmax" || key == "kernel.shmmni" ||
               key == "kernel.shm_rmid_forced";
    if (ipc && !has(NsType::kIpc))
      return Invalid("linux.sysctl: \"" + key + "\" needs an IPC namespace");
    if (key.rfind("net.", 0) == 0 && !has(NsType::kNetwork))
      return Invalid("linux.sysctl: \"" + key + "\" needs a network namespace");
    if ((key == "kernel.hostname" || key == "kernel.domainname") && !has(NsType::kUts))
      return Invalid("linux.sysctl: \"" + key + "\" needs a UTS namespace");
    if (!ipc && key.rfind("net.", 0) != 0 && key != "kernel.hostname" && key != "kernel.domainname")
      return Invalid("linux.sysctl: \"" + key + "\" is not namespaced and may not be set");
  }
  static const std::set<std::string> kProps = {"",        "shared",     "rshared",
                                               "private", "rprivate",   "slave",
                                               "rslave",  "unbindable", "runbindable"};
  if (!kProps.count(l.rootfs_propagation))
    return Invalid("linux.rootfsPropagation: invalid value \"" + l.rootfs_propagation + "\"");
  for (size_t i = 0; i < l.devices.size(); ++i) {
    if (l.devices[i].path.empty() || l.devices[i].path[0] != '/')
      return Invalid("linux.devices[" + std::to_string(i) + "].path: must be absolute");
  }
  const MemoryResources& mem = l.resources.memory;
  if (mem.swap && mem.limit && *mem.swap > 0 && *mem.limit > 0 && *mem.swap < *mem.limit)
    return Invalid("linux.resources.memory.swap: must be at least the memory limit");
  if (mem.swappiness && *mem.swappiness > 100)
    return Invalid("linux.resources.memory.swappiness: must be between 0 and 100");
  if (l.seccomp) {
    const Seccomp& sc = *l.seccomp;
    if (!KnownSeccompAction(sc.default_action))
      return Invalid("linux.seccomp.defaultAction: unknown action \"" + sc.default_action + "\"");
    for (size_t i = 0; i < sc.syscalls.size(); ++i) {
      if (!KnownSeccompAction(sc.syscalls[i].action))
        return Invalid("linux.seccomp.syscalls[" + std::to_string(i) +
                       "].action: unknown action \"" + sc.syscalls[i].action + "\"");
    }
  }
  return Status();
}

}  // namespace sampan::runtime
