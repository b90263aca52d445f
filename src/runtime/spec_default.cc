// The config.json that `sampan runtime spec` writes: runc's defaults (capabilities, mounts,
// masked and read-only paths, no_new_privileges) plus a seccomp profile that refuses the
// syscalls container escapes and host changes use.
#include <boost/json.hpp>

#include "runtime/spec.h"

namespace sampan::runtime {

namespace {

namespace json = boost::json;

json::array Strings(std::initializer_list<const char*> items) {
  json::array a;
  for (const char* s : items) a.emplace_back(s);
  return a;
}

json::object MountObj(const char* dst, const char* type, const char* src,
                      std::initializer_list<const char*> opts) {
  json::object m;
  m["destination"] = dst;
  m["type"] = type;
  m["source"] = src;
  m["options"] = Strings(opts);
  return m;
}

// Denied with EPERM: mounting, namespaces, kernel modules/keys/bpf/perf, reboot, clock, swap.
constexpr const char* kDenied[] = {"acct",
                                   "add_key",
                                   "bpf",
                                   "chroot",
                                   "clock_adjtime",
                                   "clock_settime",
                                   "create_module",
                                   "delete_module",
                                   "finit_module",
                                   "fsconfig",
                                   "fsmount",
                                   "fsopen",
                                   "fspick",
                                   "get_kernel_syms",
                                   "init_module",
                                   "ioperm",
                                   "iopl",
                                   "kexec_file_load",
                                   "kexec_load",
                                   "keyctl",
                                   "lookup_dcookie",
                                   "mount",
                                   "mount_setattr",
                                   "move_mount",
                                   "name_to_handle_at",
                                   "nfsservctl",
                                   "open_by_handle_at",
                                   "open_tree",
                                   "perf_event_open",
                                   "pivot_root",
                                   "query_module",
                                   "quotactl",
                                   "reboot",
                                   "request_key",
                                   "setns",
                                   "settimeofday",
                                   "stime",
                                   "swapoff",
                                   "swapon",
                                   "syslog",
                                   "umount",
                                   "umount2",
                                   "unshare",
                                   "uselib",
                                   "userfaultfd",
                                   "vhangup",
                                   "io_uring_setup",
                                   "io_uring_enter",
                                   "io_uring_register"};

json::object DefaultSeccomp() {
  json::object s;
  s["defaultAction"] = "SCMP_ACT_ALLOW";
  s["architectures"] = Strings({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"});
  json::array rules;
  json::object deny;
  json::array names;
  for (const char* n : kDenied) names.emplace_back(n);
  deny["names"] = std::move(names);
  deny["action"] = "SCMP_ACT_ERRNO";
  deny["errnoRet"] = 1;
  rules.push_back(std::move(deny));
  // clone with any namespace flag: EPERM (CLONE_NEW* bits = 0x7E020000).
  for (uint64_t bit : {0x00020000ull, 0x02000000ull, 0x04000000ull, 0x08000000ull, 0x10000000ull,
                       0x20000000ull, 0x40000000ull}) {
    json::object r;
    r["names"] = Strings({"clone"});
    r["action"] = "SCMP_ACT_ERRNO";
    r["errnoRet"] = 1;
    json::object a;
    a["index"] = 0;
    a["value"] = bit;
    a["valueTwo"] = bit;
    a["op"] = "SCMP_CMP_MASKED_EQ";
    r["args"] = json::array{a};
    rules.push_back(std::move(r));
  }
  // clone3 hides its flags in memory: ENOSYS makes libc fall back to clone.
  json::object c3;
  c3["names"] = Strings({"clone3"});
  c3["action"] = "SCMP_ACT_ERRNO";
  c3["errnoRet"] = 38;
  rules.push_back(std::move(c3));
  s["syscalls"] = std::move(rules);
  return s;
}

void Pretty(std::string& out, const json::value& v, int indent) {
  std::string pad(indent, '\t');
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      if (o.empty()) {
        out += "{}";
        return;
      }
      out += "{\n";
      size_t i = 0;
      for (const auto& kv : o) {
        out += pad + "\t" + json::serialize(json::value(kv.key())) + ": ";
        Pretty(out, kv.value(), indent + 1);
        out += ++i < o.size() ? ",\n" : "\n";
      }
      out += pad + "}";
      return;
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      if (a.empty()) {
        out += "[]";
        return;
      }
      out += "[\n";
      for (size_t i = 0; i < a.size(); ++i) {
        out += pad + "\t";
        Pretty(out, a[i], indent + 1);
        out += i + 1 < a.size() ? ",\n" : "\n";
      }
      out += pad + "]";
      return;
    }
    default:
      out += json::serialize(v);
  }
}

}  // namespace

std::string DefaultSpecJson() {
  json::object spec;
  spec["ociVersion"] = "1.0.2";
  json::object proc;
  proc["terminal"] = true;
  proc["user"] = json::object{{"uid", 0}, {"gid", 0}};
  proc["args"] = Strings({"sh"});
  proc["env"] =
      Strings({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"});
  proc["cwd"] = "/";
  auto caps = [] { return Strings({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}); };
  proc["capabilities"] =
      json::object{{"bounding", caps()}, {"effective", caps()}, {"permitted", caps()}};
  proc["rlimits"] =
      json::array{json::object{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}};
  proc["noNewPrivileges"] = true;
  spec["process"] = std::move(proc);
  spec["root"] = json::object{{"path", "rootfs"}, {"readonly", true}};
  spec["hostname"] = "sampan";
  spec["mounts"] = json::array{
      MountObj("/proc", "proc", "proc", {}),
      MountObj("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      MountObj("/dev/pts", "devpts", "devpts",
               {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      MountObj("/dev/shm", "tmpfs", "shm",
               {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      MountObj("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      MountObj("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      MountObj("/sys/fs/cgroup", "cgroup", "cgroup",
               {"nosuid", "noexec", "nodev", "relatime", "ro"})};
  json::object lin;
  lin["resources"] =
      json::object{{"devices", json::array{json::object{{"allow", false}, {"access", "rwm"}}}}};
  lin["namespaces"] =
      json::array{json::object{{"type", "pid"}},   json::object{{"type", "network"}},
                  json::object{{"type", "ipc"}},   json::object{{"type", "uts"}},
                  json::object{{"type", "mount"}}, json::object{{"type", "cgroup"}}};
  lin["maskedPaths"] =
      Strings({"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
               "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
               "/proc/scsi", "/sys/devices/virtual/tpm"});
  lin["readonlyPaths"] =
      Strings({"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"});
  lin["seccomp"] = DefaultSeccomp();
  spec["linux"] = std::move(lin);
  std::string out;
  Pretty(out, spec, 0);
  return out + "\n";
}

}  // namespace sampan::runtime
