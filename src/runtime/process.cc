#include "runtime/process.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "runtime/sys.h"

namespace sampan::runtime {

namespace {

int LastCap() {
  static int last = [] {
    auto t = ReadWholeFile("/proc/sys/kernel/cap_last_cap");
    return t.ok() ? std::atoi(t->c_str()) : CAP_LAST_CAP;
  }();
  return last;
}

void SetBits(const std::vector<int>& caps, __u32 out[2]) {
  for (int c : caps) {
    if (c < 0 || c > LastCap()) continue;
    out[c / 32] |= 1u << (c % 32);
  }
}

}  // namespace

Status ApplyRlimits(const Process& p) {
  for (const Rlimit& r : p.rlimits) {
    struct rlimit lim;
    lim.rlim_cur = r.soft == UINT64_MAX ? RLIM_INFINITY : r.soft;
    lim.rlim_max = r.hard == UINT64_MAX ? RLIM_INFINITY : r.hard;
    if (::setrlimit(r.resource, &lim) != 0) return ErrnoStatus("process.rlimits: " + r.name, errno);
  }
  return Status();
}

namespace {
bool HasCapSysResource() {
  auto status = ReadWholeFile("/proc/self/status");
  if (!status.ok()) return true;
  size_t p = status->find("\nCapEff:");
  if (p == std::string::npos) return true;
  unsigned long long eff = std::strtoull(status->c_str() + p + 8, nullptr, 16);
  return (eff >> CAP_SYS_RESOURCE) & 1;
}
}  // namespace

Status ApplyOomScoreAdj(const Process& p) {
  if (!p.oom_score_adj) return Status();
  Status st = WriteKnob("/proc/self/oom_score_adj", std::to_string(*p.oom_score_adj));
  if (st.ok()) return Status();
  // Lowering the score needs CAP_SYS_RESOURCE; a runtime that runs without it (inside a
  // restricted container) keeps the lowest score it may set, the one it has, as rootless
  // runtimes do. Raising it never fails this way.
  auto cur = ReadWholeFile("/proc/self/oom_score_adj");
  if (cur.ok() && *p.oom_score_adj < std::atoi(cur->c_str()) && !HasCapSysResource())
    return Status();
  return Status(st.code(), "process.oomScoreAdj: " + st.message());
}

Status ApplyUserAndCaps(const Process& p) {
  const Capabilities& c = p.caps;
  if (c.present) {
    std::vector<bool> keep(LastCap() + 1, false);
    for (int b : c.bounding)
      if (b >= 0 && b <= LastCap()) keep[b] = true;
    for (int i = 0; i <= LastCap(); ++i) {
      if (keep[i]) continue;
      if (::prctl(PR_CAPBSET_DROP, i, 0, 0, 0) != 0 && errno != EINVAL)
        return ErrnoStatus("drop " + CapabilityName(i) + " from the bounding set", errno);
    }
  }
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
    return ErrnoStatus("prctl(PR_SET_KEEPCAPS)", errno);
  std::vector<gid_t> groups(p.user.additional_gids.begin(), p.user.additional_gids.end());
  if (::setgroups(groups.size(), groups.data()) != 0) {
    // setgroups is denied in a user namespace whose setgroups file says "deny".
    if (!(errno == EPERM && groups.empty())) return ErrnoStatus("setgroups", errno);
  }
  if (::syscall(SYS_setresgid, p.user.gid, p.user.gid, p.user.gid) != 0)
    return ErrnoStatus("setgid " + std::to_string(p.user.gid), errno);
  if (::syscall(SYS_setresuid, p.user.uid, p.user.uid, p.user.uid) != 0)
    return ErrnoStatus("setuid " + std::to_string(p.user.uid), errno);
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0)
    return ErrnoStatus("prctl(PR_SET_KEEPCAPS)", errno);
  if (p.user.umask) ::umask(*p.user.umask);
  if (!c.present) return Status();
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  std::memset(data, 0, sizeof data);
  __u32 eff[2] = {0, 0}, perm[2] = {0, 0}, inh[2] = {0, 0};
  SetBits(c.effective, eff);
  SetBits(c.permitted, perm);
  SetBits(c.inheritable, inh);
  for (int i = 0; i < 2; ++i) {
    data[i].effective = eff[i];
    data[i].permitted = perm[i];
    data[i].inheritable = inh[i];
  }
  if (::syscall(SYS_capset, &hdr, data) != 0) {
    int err = errno;
    // Name the capabilities this process does not hold itself (they cannot be granted).
    struct __user_cap_data_struct have[2];
    std::memset(have, 0, sizeof have);
    std::string missing;
    if (::syscall(SYS_capget, &hdr, have) == 0) {
      for (int i = 0; i <= LastCap(); ++i) {
        bool want = (perm[i / 32] | inh[i / 32]) & (1u << (i % 32));
        bool held = have[i / 32].permitted & (1u << (i % 32));
        if (want && !held) missing += (missing.empty() ? "" : ", ") + CapabilityName(i);
      }
    }
    if (!missing.empty())
      return ErrnoStatus("process.capabilities: the runtime itself lacks " + missing, err);
    return ErrnoStatus("process.capabilities: capset", err);
  }
  for (int a : c.ambient) {
    if (a < 0 || a > LastCap()) continue;
    // The kernel only allows ambient capabilities that are permitted and inheritable; like runc
    // and crun, skip the others instead of failing (runc's own default spec asks for them).
    bool p_ok = perm[a / 32] & (1u << (a % 32)), i_ok = inh[a / 32] & (1u << (a % 32));
    if (!p_ok || !i_ok) continue;
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, a, 0, 0) != 0)
      return ErrnoStatus("raise ambient " + CapabilityName(a), errno);
  }
  return Status();
}

Status ApplyNoNewPrivileges(const Process& p) {
  if (p.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return ErrnoStatus("prctl(PR_SET_NO_NEW_PRIVS)", errno);
  return Status();
}

Status EnterCwd(const std::string& cwd) {
  if (::chdir(cwd.c_str()) != 0) {
    if (errno != ENOENT) return ErrnoStatus("process.cwd: chdir " + cwd, errno);
    RETURN_IF_ERROR(MkdirAll(cwd, 0755));
    if (::chdir(cwd.c_str()) != 0) return ErrnoStatus("process.cwd: chdir " + cwd, errno);
  }
  char buf[PATH_MAX];
  if (::getcwd(buf, sizeof buf) == nullptr || buf[0] != '/')
    return Forbidden("process.cwd: current directory is outside the container root");
  return Status();
}

std::vector<std::string> ProcessEnv(const Process& p) {
  std::vector<std::string> env = p.env;
  bool has_path = false, has_home = false;
  for (const auto& e : env) {
    has_path |= e.rfind("PATH=", 0) == 0;
    has_home |= e.rfind("HOME=", 0) == 0;
  }
  if (!has_path) env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  if (!has_home) env.push_back(p.user.uid == 0 ? "HOME=/root" : "HOME=/");
  return env;
}

Result<std::string> FindExecutable(const std::string& arg0, const std::vector<std::string>& env) {
  auto usable = [](const std::string& path) -> int {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return errno;
    if (S_ISDIR(st.st_mode)) return EISDIR;
    if (::access(path.c_str(), X_OK) != 0) return errno;
    return 0;
  };
  if (arg0.find('/') != std::string::npos) {
    int err = usable(arg0);
    if (err != 0)
      return Status(err == ENOENT ? Code::kNotFound : Code::kForbidden,
                    "exec: \"" + arg0 + "\": " + std::strerror(err));
    return arg0;
  }
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find(':', i);
    if (j == std::string::npos) j = path.size();
    std::string dir = path.substr(i, j - i);
    if (dir.empty()) dir = ".";
    std::string cand = dir + "/" + arg0;
    if (usable(cand) == 0) return cand;
    i = j + 1;
  }
  return NotFound("exec: \"" + arg0 + "\": executable file not found in $PATH");
}

void CloseExecFrom(int first) {
  if (::syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  for (int fd = first; fd < 65536; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

}  // namespace sampan::runtime
