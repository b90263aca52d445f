// Parsing config.json into the structs of spec.h.
#include "runtime/spec.h"

#include <sys/mount.h>

#include <boost/json.hpp>
#include <limits>

#include "runtime/json_reader.h"
#include "runtime/sys.h"

namespace sampan::runtime {
namespace json = boost::json;

namespace {

Process ReadProcess(JsonReader& r, const json::value& v, const std::string& at) {
  Process p;
  const json::object* o = r.Object(v, at);
  if (!o) return p;
  p.terminal = r.Bool(*o, "terminal", at, false);
  if (const json::value* u = o->if_contains("user")) {
    std::string uat = at + ".user";
    if (const json::object* uo = r.Object(*u, uat)) {
      p.user.uid = r.U32(*uo, "uid", uat, 0);
      p.user.gid = r.U32(*uo, "gid", uat, 0);
      if (uo->contains("umask")) p.user.umask = r.U32(*uo, "umask", uat, 0);
      p.user.additional_gids = r.U32Array(*uo, "additionalGids", uat);
    }
  }
  p.args = r.StringArray(*o, "args", at);
  p.env = r.StringArray(*o, "env", at);
  p.cwd = r.String(*o, "cwd", at, "");
  p.no_new_privileges = r.Bool(*o, "noNewPrivileges", at, false);
  if (o->contains("oomScoreAdj"))
    p.oom_score_adj = static_cast<int>(r.I64(*o, "oomScoreAdj", at, 0));
  p.apparmor_profile = r.String(*o, "apparmorProfile", at, "");
  p.selinux_label = r.String(*o, "selinuxLabel", at, "");
  if (const json::value* c = o->if_contains("capabilities")) {
    std::string cat = at + ".capabilities";
    if (const json::object* co = r.Object(*c, cat)) {
      p.caps.present = true;
      auto caps = [&](const char* key, std::vector<int>& out) {
        std::vector<std::string> names = r.StringArray(*co, key, cat);
        for (size_t i = 0; i < names.size(); ++i) {
          auto n = CapabilityFromName(names[i]);
          if (!n) {
            r.Fail(cat + "." + key + "[" + std::to_string(i) + "]",
                   "unknown capability \"" + names[i] + "\"");
            return;
          }
          out.push_back(*n);
        }
      };
      caps("bounding", p.caps.bounding);
      caps("effective", p.caps.effective);
      caps("inheritable", p.caps.inheritable);
      caps("permitted", p.caps.permitted);
      caps("ambient", p.caps.ambient);
    }
  }
  if (const json::value* rl = o->if_contains("rlimits")) {
    std::string rat = at + ".rlimits";
    if (const json::array* a = r.Array(*rl, rat)) {
      for (size_t i = 0; i < a->size(); ++i) {
        std::string iat = rat + "[" + std::to_string(i) + "]";
        const json::object* ro = r.Object((*a)[i], iat);
        if (!ro) break;
        Rlimit lim;
        lim.name = r.String(*ro, "type", iat, "");
        auto res = RlimitFromName(lim.name);
        if (!res) {
          r.Fail(iat + ".type", "unknown rlimit \"" + lim.name + "\"");
          break;
        }
        lim.resource = *res;
        lim.hard = r.U64(*ro, "hard", iat, 0);
        lim.soft = r.U64(*ro, "soft", iat, 0);
        p.rlimits.push_back(lim);
      }
    }
  }
  return p;
}

std::optional<int64_t> OptI64(JsonReader& r, const json::object& o, const char* key,
                              const std::string& at) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  return r.I64(o, key, at, 0);
}
std::optional<uint64_t> OptU64(JsonReader& r, const json::object& o, const char* key,
                               const std::string& at) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  return r.U64(o, key, at, 0);
}

void ReadResources(JsonReader& r, const json::object& o, const std::string& at, Resources& res) {
  if (const json::value* m = o.if_contains("memory")) {
    std::string mat = at + ".memory";
    if (const json::object* mo = r.Object(*m, mat)) {
      res.memory.limit = OptI64(r, *mo, "limit", mat);
      res.memory.reservation = OptI64(r, *mo, "reservation", mat);
      res.memory.swap = OptI64(r, *mo, "swap", mat);
      res.memory.kernel = OptI64(r, *mo, "kernel", mat);
      res.memory.kernel_tcp = OptI64(r, *mo, "kernelTCP", mat);
      res.memory.swappiness = OptU64(r, *mo, "swappiness", mat);
      if (mo->contains("disableOOMKiller"))
        res.memory.disable_oom_killer = r.Bool(*mo, "disableOOMKiller", mat, false);
    }
  }
  if (const json::value* c = o.if_contains("cpu")) {
    std::string cat = at + ".cpu";
    if (const json::object* co = r.Object(*c, cat)) {
      res.cpu.shares = OptU64(r, *co, "shares", cat);
      res.cpu.quota = OptI64(r, *co, "quota", cat);
      res.cpu.period = OptU64(r, *co, "period", cat);
      res.cpu.realtime_runtime = OptI64(r, *co, "realtimeRuntime", cat);
      res.cpu.realtime_period = OptU64(r, *co, "realtimePeriod", cat);
      res.cpu.cpus = r.String(*co, "cpus", cat, "");
      res.cpu.mems = r.String(*co, "mems", cat, "");
    }
  }
  if (const json::value* p = o.if_contains("pids")) {
    std::string pat = at + ".pids";
    if (const json::object* po = r.Object(*p, pat)) res.pids_limit = OptI64(r, *po, "limit", pat);
  }
  if (const json::value* b = o.if_contains("blockIO")) {
    std::string bat = at + ".blockIO";
    if (const json::object* bo = r.Object(*b, bat)) {
      if (auto w = OptU64(r, *bo, "weight", bat)) res.blkio_weight = static_cast<uint16_t>(*w);
    }
  }
  if (const json::value* d = o.if_contains("devices")) {
    std::string dat = at + ".devices";
    if (const json::array* a = r.Array(*d, dat)) {
      for (size_t i = 0; i < a->size(); ++i) {
        std::string iat = dat + "[" + std::to_string(i) + "]";
        const json::object* dobj = r.Object((*a)[i], iat);
        if (!dobj) break;
        DeviceRule rule;
        rule.allow = r.Bool(*dobj, "allow", iat, false);
        std::string type = r.String(*dobj, "type", iat, "a");
        if (type != "a" && type != "c" && type != "b") {
          r.Fail(iat + ".type", "invalid device rule type \"" + type + "\" (want a, c or b)");
          break;
        }
        rule.type = type[0];
        rule.major = OptI64(r, *dobj, "major", iat);
        rule.minor = OptI64(r, *dobj, "minor", iat);
        rule.access = r.String(*dobj, "access", iat, "rwm");
        if (rule.access.empty()) rule.access = "rwm";
        if (rule.access.find_first_not_of("rwm") != std::string::npos) {
          r.Fail(iat + ".access", "invalid access \"" + rule.access + "\" (want letters of rwm)");
          break;
        }
        res.devices.push_back(rule);
      }
    }
  }
  if (const json::value* u = o.if_contains("unified"))
    res.unified = r.StringMap(*u, at + ".unified");
  if (const json::value* n = o.if_contains("network"); n && !n->is_null()) {
    std::string nat = at + ".network";
    if (const json::object* no = r.Object(*n, nat)) {
      if (no->contains("classID")) res.net_class_id = r.U32(*no, "classID", nat, 0);
      if (const json::value* pv = no->if_contains("priorities"); pv && !pv->is_null()) {
        if (const json::array* pa = r.Array(*pv, nat + ".priorities")) {
          for (size_t i = 0; i < pa->size(); ++i) {
            std::string iat = nat + ".priorities[" + std::to_string(i) + "]";
            const json::object* po = r.Object((*pa)[i], iat);
            if (!po) break;
            res.net_priorities.emplace_back(r.String(*po, "name", iat, ""),
                                            r.U32(*po, "priority", iat, 0));
          }
        }
      }
    }
  }
  if (const json::value* h = o.if_contains("hugepageLimits"); h && !h->is_null()) {
    std::string hat = at + ".hugepageLimits";
    if (const json::array* ha = r.Array(*h, hat)) {
      for (size_t i = 0; i < ha->size(); ++i) {
        std::string iat = hat + "[" + std::to_string(i) + "]";
        const json::object* ho = r.Object((*ha)[i], iat);
        if (!ho) break;
        res.hugepage_limits.emplace_back(r.String(*ho, "pageSize", iat, ""),
                                         r.U64(*ho, "limit", iat, 0));
      }
    }
  }
}

void ReadSeccomp(JsonReader& r, const json::object& o, const std::string& at, Seccomp& s) {
  s.default_action = r.String(o, "defaultAction", at, "");
  if (o.contains("defaultErrnoRet")) s.default_errno_ret = r.U32(o, "defaultErrnoRet", at, 0);
  s.architectures = r.StringArray(o, "architectures", at);
  s.flags = r.StringArray(o, "flags", at);
  const json::value* sv = o.if_contains("syscalls");
  if (!sv || sv->is_null()) return;
  std::string sat = at + ".syscalls";
  const json::array* a = r.Array(*sv, sat);
  if (!a) return;
  for (size_t i = 0; i < a->size(); ++i) {
    std::string iat = sat + "[" + std::to_string(i) + "]";
    const json::object* so = r.Object((*a)[i], iat);
    if (!so) return;
    SeccompSyscall sc;
    sc.names = r.StringArray(*so, "names", iat);
    sc.action = r.String(*so, "action", iat, "");
    if (so->contains("errnoRet")) sc.errno_ret = r.U32(*so, "errnoRet", iat, 0);
    if (const json::value* av = so->if_contains("args"); av && !av->is_null()) {
      const json::array* aa = r.Array(*av, iat + ".args");
      if (!aa) return;
      for (size_t j = 0; j < aa->size(); ++j) {
        std::string jat = iat + ".args[" + std::to_string(j) + "]";
        const json::object* ao = r.Object((*aa)[j], jat);
        if (!ao) return;
        SeccompArg arg;
        arg.index = r.U32(*ao, "index", jat, 0);
        arg.value = r.U64(*ao, "value", jat, 0);
        arg.value_two = r.U64(*ao, "valueTwo", jat, 0);
        arg.op = r.String(*ao, "op", jat, "");
        sc.args.push_back(arg);
      }
    }
    s.syscalls.push_back(std::move(sc));
  }
}

std::vector<Hook> ReadHooks(JsonReader& r, const json::object& o, const char* key,
                            const std::string& at) {
  std::vector<Hook> out;
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return out;
  std::string kat = at + "." + key;
  const json::array* a = r.Array(*v, kat);
  if (!a) return out;
  for (size_t i = 0; i < a->size(); ++i) {
    std::string iat = kat + "[" + std::to_string(i) + "]";
    const json::object* ho = r.Object((*a)[i], iat);
    if (!ho) break;
    Hook h;
    h.path = r.String(*ho, "path", iat, "");
    h.args = r.StringArray(*ho, "args", iat);
    h.env = r.StringArray(*ho, "env", iat);
    if (ho->contains("timeout")) h.timeout = static_cast<int>(r.I64(*ho, "timeout", iat, 0));
    out.push_back(std::move(h));
  }
  return out;
}

std::vector<IdMapping> ReadMappings(JsonReader& r, const json::object& o, const char* key,
                                    const std::string& at) {
  std::vector<IdMapping> out;
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return out;
  std::string kat = at + "." + key;
  const json::array* a = r.Array(*v, kat);
  if (!a) return out;
  for (size_t i = 0; i < a->size(); ++i) {
    std::string iat = kat + "[" + std::to_string(i) + "]";
    const json::object* mo = r.Object((*a)[i], iat);
    if (!mo) break;
    IdMapping m;
    m.container_id = r.U32(*mo, "containerID", iat, 0);
    m.host_id = r.U32(*mo, "hostID", iat, 0);
    m.size = r.U32(*mo, "size", iat, 0);
    out.push_back(m);
  }
  return out;
}

void ReadLinux(JsonReader& r, const json::object& o, const std::string& at, Linux& l) {
  if (const json::value* nv = o.if_contains("namespaces"); nv && !nv->is_null()) {
    std::string nat = at + ".namespaces";
    if (const json::array* a = r.Array(*nv, nat)) {
      for (size_t i = 0; i < a->size(); ++i) {
        std::string iat = nat + "[" + std::to_string(i) + "]";
        const json::object* no = r.Object((*a)[i], iat);
        if (!no) break;
        std::string type = r.String(*no, "type", iat, "");
        auto t = NsTypeFromName(type);
        if (!t) {
          r.Fail(iat + ".type", "unknown namespace type \"" + type + "\"");
          break;
        }
        l.namespaces.push_back({*t, r.String(*no, "path", iat, "")});
      }
    }
  }
  l.uid_mappings = ReadMappings(r, o, "uidMappings", at);
  l.gid_mappings = ReadMappings(r, o, "gidMappings", at);
  if (const json::value* dv = o.if_contains("devices"); dv && !dv->is_null()) {
    std::string dat = at + ".devices";
    if (const json::array* a = r.Array(*dv, dat)) {
      for (size_t i = 0; i < a->size(); ++i) {
        std::string iat = dat + "[" + std::to_string(i) + "]";
        const json::object* d = r.Object((*a)[i], iat);
        if (!d) break;
        Device dev;
        std::string type = r.String(*d, "type", iat, "");
        if (type.size() != 1 || std::string_view("cbup").find(type[0]) == std::string_view::npos) {
          r.Fail(iat + ".type", "invalid device type \"" + type + "\" (want c, b, u or p)");
          break;
        }
        dev.type = type[0];
        dev.path = r.String(*d, "path", iat, "");
        dev.major = r.I64(*d, "major", iat, 0);
        dev.minor = r.I64(*d, "minor", iat, 0);
        if (d->contains("fileMode")) dev.file_mode = r.U32(*d, "fileMode", iat, 0);
        if (d->contains("uid")) dev.uid = r.U32(*d, "uid", iat, 0);
        if (d->contains("gid")) dev.gid = r.U32(*d, "gid", iat, 0);
        l.devices.push_back(std::move(dev));
      }
    }
  }
  l.cgroups_path = r.String(o, "cgroupsPath", at, "");
  if (const json::value* rv = o.if_contains("resources"); rv && !rv->is_null()) {
    if (const json::object* ro = r.Object(*rv, at + ".resources"))
      ReadResources(r, *ro, at + ".resources", l.resources);
  }
  if (const json::value* sv = o.if_contains("sysctl")) l.sysctl = r.StringMap(*sv, at + ".sysctl");
  l.masked_paths = r.StringArray(o, "maskedPaths", at);
  l.readonly_paths = r.StringArray(o, "readonlyPaths", at);
  l.rootfs_propagation = r.String(o, "rootfsPropagation", at, "");
  l.mount_label = r.String(o, "mountLabel", at, "");
  if (const json::value* sv = o.if_contains("seccomp"); sv && !sv->is_null()) {
    if (const json::object* so = r.Object(*sv, at + ".seccomp")) {
      l.seccomp.emplace();
      ReadSeccomp(r, *so, at + ".seccomp", *l.seccomp);
    }
  }
}

}  // namespace

Result<Spec> ParseSpec(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec) return Invalid("config.json: malformed JSON: " + ec.message());
  JsonReader r;
  Spec s;
  const json::object* o = r.Object(doc, "config.json");
  if (!o) return Invalid(r.error());
  s.oci_version = r.String(*o, "ociVersion", "", "");
  if (const json::value* pv = o->if_contains("process"); pv && !pv->is_null()) {
    s.has_process = true;
    s.process = ReadProcess(r, *pv, "process");
  }
  if (const json::value* rv = o->if_contains("root"); rv && !rv->is_null()) {
    if (const json::object* ro = r.Object(*rv, "root")) {
      s.root_path = r.String(*ro, "path", "root", "");
      s.root_readonly = r.Bool(*ro, "readonly", "root", false);
    }
  }
  s.hostname = r.String(*o, "hostname", "", "");
  s.domainname = r.String(*o, "domainname", "", "");
  if (const json::value* mv = o->if_contains("mounts"); mv && !mv->is_null()) {
    if (const json::array* a = r.Array(*mv, "mounts")) {
      for (size_t i = 0; i < a->size() && r.ok(); ++i) {
        std::string iat = "mounts[" + std::to_string(i) + "]";
        const json::object* mo = r.Object((*a)[i], iat);
        if (!mo) break;
        Mount m;
        m.destination = r.String(*mo, "destination", iat, "");
        m.type = r.String(*mo, "type", iat, "");
        m.source = r.String(*mo, "source", iat, "");
        m.options = r.StringArray(*mo, "options", iat);
        if (!r.ok()) break;
        if (Status st = ParseMountOptions(m); !st.ok()) r.Fail(iat + ".options", st.message());
        s.mounts.push_back(std::move(m));
      }
    }
  }
  if (const json::value* hv = o->if_contains("hooks"); hv && !hv->is_null()) {
    if (const json::object* ho = r.Object(*hv, "hooks")) {
      s.hooks.prestart = ReadHooks(r, *ho, "prestart", "hooks");
      s.hooks.create_runtime = ReadHooks(r, *ho, "createRuntime", "hooks");
      s.hooks.create_container = ReadHooks(r, *ho, "createContainer", "hooks");
      s.hooks.start_container = ReadHooks(r, *ho, "startContainer", "hooks");
      s.hooks.poststart = ReadHooks(r, *ho, "poststart", "hooks");
      s.hooks.poststop = ReadHooks(r, *ho, "poststop", "hooks");
    }
  }
  if (const json::value* av = o->if_contains("annotations"))
    s.annotations = r.StringMap(*av, "annotations");
  if (const json::value* lv = o->if_contains("linux"); lv && !lv->is_null()) {
    if (const json::object* lo = r.Object(*lv, "linux")) ReadLinux(r, *lo, "linux", s.linux);
  }
  if (!r.ok()) return Invalid(r.error());
  return s;
}

Result<Process> ParseProcess(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec) return Invalid("process.json: malformed JSON: " + ec.message());
  JsonReader r;
  Process p = ReadProcess(r, doc, "process");
  if (!r.ok()) return Invalid(r.error());
  return p;
}

Result<Spec> LoadSpec(const std::string& bundle) {
  std::string path = bundle + "/config.json";
  ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  return ParseSpec(text);
}

}  // namespace sampan::runtime
