#include "runtime/seccomp.h"

#include <seccomp.h>

#include <cerrno>
#include <cstring>

namespace sampan::runtime {

namespace {

Result<uint32_t> Action(const std::string& name, std::optional<uint32_t> errno_ret,
                        const std::string& field) {
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(errno_ret.value_or(EPERM));
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(errno_ret.value_or(EPERM));
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  return Invalid(field + ": unsupported seccomp action \"" + name + "\"");
}

Result<uint32_t> Arch(const std::string& name) {
  static const std::pair<const char*, uint32_t> kArches[] = {
      {"SCMP_ARCH_X86", SCMP_ARCH_X86},
      {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
      {"SCMP_ARCH_X32", SCMP_ARCH_X32},
      {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
      {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
      {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
      {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
      {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
      {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
      {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
      {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
      {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
      {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
      {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
      {"SCMP_ARCH_S390", SCMP_ARCH_S390},
      {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
      {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
      {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
      {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
  };
  for (auto [n, v] : kArches)
    if (name == n) return v;
  return Invalid("linux.seccomp.architectures: unknown architecture \"" + name + "\"");
}

Result<scmp_compare> Op(const std::string& op, const std::string& field) {
  if (op == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (op == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (op == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (op == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (op == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (op == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (op == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
  return Invalid(field + ": unknown operator \"" + op + "\"");
}

struct Ctx {
  scmp_filter_ctx ctx = nullptr;
  ~Ctx() {
    if (ctx) seccomp_release(ctx);
  }
};

Status Build(const Seccomp& s, Ctx& c) {
  ASSIGN_OR_RETURN(uint32_t def,
                   Action(s.default_action, s.default_errno_ret, "linux.seccomp.defaultAction"));
  c.ctx = seccomp_init(def);
  if (!c.ctx) return Internal("seccomp_init failed");
  // no_new_privs is process.noNewPrivileges' business, not libseccomp's (it sets it by default).
  seccomp_attr_set(c.ctx, SCMP_FLTATR_CTL_NNP, 0);
  for (const std::string& a : s.architectures) {
    ASSIGN_OR_RETURN(uint32_t arch, Arch(a));
    int rc = seccomp_arch_add(c.ctx, arch);
    if (rc != 0 && rc != -EEXIST)
      return Internal("seccomp_arch_add " + a + ": " + std::strerror(-rc));
  }
  for (const std::string& f : s.flags) {
    if (f == "SECCOMP_FILTER_FLAG_LOG") {
      seccomp_attr_set(c.ctx, SCMP_FLTATR_CTL_LOG, 1);
    } else if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") {
      seccomp_attr_set(c.ctx, SCMP_FLTATR_CTL_SSB, 1);
    } else if (f != "SECCOMP_FILTER_FLAG_TSYNC") {
      return Invalid("linux.seccomp.flags: unknown flag \"" + f + "\"");
    }
  }
  // The default action must not be repeated as a rule (libseccomp refuses).
  for (size_t i = 0; i < s.syscalls.size(); ++i) {
    const SeccompSyscall& sc = s.syscalls[i];
    std::string field = "linux.seccomp.syscalls[" + std::to_string(i) + "]";
    ASSIGN_OR_RETURN(uint32_t act, Action(sc.action, sc.errno_ret, field + ".action"));
    if (act == def) continue;
    std::vector<scmp_arg_cmp> cmps;
    for (size_t j = 0; j < sc.args.size(); ++j) {
      const SeccompArg& a = sc.args[j];
      ASSIGN_OR_RETURN(scmp_compare op, Op(a.op, field + ".args[" + std::to_string(j) + "].op"));
      if (a.index > 5) return Invalid(field + ".args: index must be 0..5");
      cmps.push_back({a.index, op, a.value, a.value_two});
    }
    for (const std::string& name : sc.names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // unknown here: skip, as runc and crun do
      int rc;
      // Several comparisons of one argument must be ANDed in separate rules (libseccomp refuses
      // a rule testing one argument twice); distinct arguments go in one rule.
      bool same_arg = false;
      for (size_t x = 0; x < cmps.size(); ++x)
        for (size_t y = x + 1; y < cmps.size(); ++y) same_arg |= cmps[x].arg == cmps[y].arg;
      if (same_arg) {
        rc = 0;
        for (const auto& cmp : cmps) {
          rc = seccomp_rule_add_array(c.ctx, act, nr, 1, &cmp);
          if (rc != 0) break;
        }
      } else {
        rc =
            seccomp_rule_add_array(c.ctx, act, nr, static_cast<unsigned>(cmps.size()), cmps.data());
      }
      if (rc != 0)
        return Invalid(field + ": cannot add rule for \"" + name + "\": " + std::strerror(-rc));
    }
  }
  return Status();
}

}  // namespace

Status CheckSeccomp(const Seccomp& s) {
  Ctx c;
  return Build(s, c);
}

Status LoadSeccomp(const Seccomp& s) {
  Ctx c;
  RETURN_IF_ERROR(Build(s, c));
  int rc = seccomp_load(c.ctx);
  if (rc != 0) return Internal(std::string("seccomp_load: ") + std::strerror(-rc));
  return Status();
}

}  // namespace sampan::runtime
