// The OCI runtime-spec config.json, parsed into typed structs, and its validation.
//
// ParseSpec reads the JSON document (Boost.JSON) and reports the first malformed field by its
// JSON path ("process.args[0]: expected a string"). ValidateSpec checks what a well-typed
// config can still get wrong (a missing rootfs, an unknown namespace type, a hostname without
// a UTS namespace, ...). Both return Invalid with a one-line message. Unknown fields are
// ignored, as the spec requires.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace sampan::runtime {

enum class NsType { kPid, kNetwork, kMount, kIpc, kUts, kUser, kCgroup, kTime };

// "pid", "network", ... ; the CLONE_NEW* flag; the /proc/<pid>/ns/<name> entry name.
std::string_view NsTypeName(NsType t);
int NsCloneFlag(NsType t);
std::string_view NsProcName(NsType t);
std::optional<NsType> NsTypeFromName(std::string_view name);

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additional_gids;
};

struct Rlimit {
  int resource = 0;  // RLIMIT_*
  std::string name;  // "RLIMIT_NOFILE"
  uint64_t hard = 0;
  uint64_t soft = 0;
};

// Capability numbers (CAP_*) per set. `present` is false when process.capabilities is absent.
struct Capabilities {
  bool present = false;
  std::vector<int> bounding, effective, inheritable, permitted, ambient;
};

struct Process {
  bool terminal = false;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  Capabilities caps;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
  std::string apparmor_profile;
  std::string selinux_label;
};

// A mount with its options already split into mount(2) flags and data.
struct Mount {
  std::string destination, type, source;
  std::vector<std::string> options;
  unsigned long flags = 0;        // MS_* set by the options (MS_BIND, MS_RDONLY, ...)
  unsigned long propagation = 0;  // MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC)
  std::string data;               // options that are not flags ("mode=755,size=65536k")
  bool IsBind() const;
};

struct Namespace {
  NsType type;
  std::string path;  // empty: create a new one
};

struct IdMapping {
  uint32_t container_id = 0, host_id = 0, size = 0;
};

struct Device {
  char type = 'c';  // c, b, u, p
  std::string path;
  int64_t major = 0, minor = 0;
  std::optional<uint32_t> file_mode, uid, gid;
};

struct DeviceRule {
  bool allow = false;
  char type = 'a';                      // a, c, b
  std::optional<int64_t> major, minor;  // nullopt = wildcard
  std::string access = "rwm";
};

struct MemoryResources {
  std::optional<int64_t> limit, reservation, swap, kernel, kernel_tcp;
  std::optional<uint64_t> swappiness;
  std::optional<bool> disable_oom_killer;
};

struct CpuResources {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;
  std::optional<uint64_t> period;
  std::optional<int64_t> realtime_runtime;
  std::optional<uint64_t> realtime_period;
  std::string cpus, mems;
};

struct Resources {
  MemoryResources memory;
  CpuResources cpu;
  std::optional<int64_t> pids_limit;
  std::optional<uint16_t> blkio_weight;
  std::vector<DeviceRule> devices;
  std::map<std::string, std::string> unified;  // cgroup v2 file -> value
  std::optional<uint32_t> net_class_id;
  std::vector<std::pair<std::string, uint32_t>> net_priorities;   // interface, priority
  std::vector<std::pair<std::string, uint64_t>> hugepage_limits;  // "2MB", bytes
};

struct SeccompArg {
  unsigned index = 0;
  uint64_t value = 0, value_two = 0;
  std::string op;  // SCMP_CMP_EQ, ...
};

struct SeccompSyscall {
  std::vector<std::string> names;
  std::string action;
  std::optional<uint32_t> errno_ret;
  std::vector<SeccompArg> args;
};

struct Seccomp {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;
  std::vector<std::string> flags;
  std::vector<SeccompSyscall> syscalls;
};

struct Hook {
  std::string path;
  std::vector<std::string> args, env;
  std::optional<int> timeout;  // seconds
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart,
      poststop;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings, gid_mappings;
  std::vector<Device> devices;
  std::string cgroups_path;
  Resources resources;
  std::map<std::string, std::string> sysctl;
  std::vector<std::string> masked_paths, readonly_paths;
  std::string rootfs_propagation;
  std::optional<Seccomp> seccomp;
  std::string mount_label;

  const Namespace* FindNamespace(NsType t) const;
  bool HasNewOrJoined(NsType t) const { return FindNamespace(t) != nullptr; }
};

struct Spec {
  std::string oci_version;
  bool has_process = false;
  Process process;
  std::string root_path;  // as written (may be relative to the bundle)
  bool root_readonly = false;
  std::string hostname, domainname;
  std::vector<Mount> mounts;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  Linux linux;
};

// Parses a config.json document. Invalid names the offending field.
Result<Spec> ParseSpec(std::string_view json);
// Parses a process.json document (runc exec --process).
Result<Process> ParseProcess(std::string_view json);
// Serializes a process as process.json (ParseProcess reads it back).
std::string ProcessToJson(const Process& p);
// Reads and parses <bundle>/config.json.
Result<Spec> LoadSpec(const std::string& bundle);

// Checks the consistency of a parsed spec against the bundle directory (rootfs exists, ...).
Status ValidateSpec(const Spec& spec, const std::string& bundle);
// Checks a process alone (args, cwd absolute).
Status ValidateProcess(const Process& p, std::string_view field);

// Capability name ("CAP_CHOWN" or "chown") -> number; nullopt if unknown.
std::optional<int> CapabilityFromName(std::string_view name);
std::string CapabilityName(int cap);
// RLIMIT_* name -> resource number.
std::optional<int> RlimitFromName(std::string_view name);

// Splits mount options into flags/propagation/data (also used for exec-time remounts).
Status ParseMountOptions(Mount& m);

// The default config.json `sampan runtime spec` writes (runc's defaults plus a seccomp
// profile), pretty-printed.
std::string DefaultSpecJson();

}  // namespace sampan::runtime
