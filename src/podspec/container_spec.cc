// QoS class, pod cgroup, process arguments, environment, user and capabilities: the
// per-container decisions of the kubelet and containerd, before they become config.json.
#include "podspec/container_spec.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <set>

#include "api/quantity.h"
#include "podspec/spec_internal.h"
#include "runtime/spec.h"

namespace sampan::podspec {

namespace json = boost::json;

namespace internal {

namespace {

const json::object* ObjectAt(const json::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}

const json::array* ArrayAt(const json::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_array() ? &it->value().get_array() : nullptr;
}

std::optional<api::Quantity> QuantityAt(const json::object& c, const char* kind, const char* name) {
  const json::object* res = ObjectAt(c, "resources");
  if (!res) return std::nullopt;
  const json::object* list = ObjectAt(*res, kind);
  if (!list) return std::nullopt;
  auto it = list->find(name);
  if (it == list->end()) return std::nullopt;
  std::string text;
  const json::value& v = it->value();
  if (v.is_string()) {
    text = std::string(v.get_string());
  } else if (v.is_int64()) {
    text = std::to_string(v.get_int64());
  } else if (v.is_uint64()) {
    text = std::to_string(v.get_uint64());
  } else if (v.is_double()) {
    text = json::serialize(v);
  } else {
    return std::nullopt;
  }
  auto q = api::Quantity::Parse(text);
  if (!q.ok()) return std::nullopt;
  return *q;
}

std::vector<std::string> Strings(const json::array* a) {
  std::vector<std::string> out;
  if (!a) return out;
  for (const auto& v : *a)
    if (v.is_string()) out.emplace_back(v.get_string());
  return out;
}

std::vector<const json::object*> AllContainers(const json::object& pod) {
  std::vector<const json::object*> out;
  const json::object* spec = ObjectAt(pod, "spec");
  if (!spec) return out;
  for (const char* key : {"containers", "initContainers"}) {
    const json::array* a = ArrayAt(*spec, key);
    if (!a) continue;
    for (const auto& c : *a)
      if (c.is_object()) out.push_back(&c.get_object());
  }
  return out;
}

bool IsNumber(const std::string& s) {
  return !s.empty() && s.size() <= 10 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
         std::stoull(s) <= 0xffffffffull;
}

// One /etc/passwd or /etc/group line split at ':'.
std::vector<std::vector<std::string>> ColonFile(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    size_t start = 0;
    for (;;) {
      size_t c = line.find(':', start);
      fields.push_back(line.substr(start, c == std::string::npos ? std::string::npos : c - start));
      if (c == std::string::npos) break;
      start = c + 1;
    }
    rows.push_back(std::move(fields));
  }
  return rows;
}

std::optional<int64_t> IntField(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return std::nullopt;
}

std::string PodName(const json::object& pod) {
  const json::object* md = ObjectAt(pod, "metadata");
  std::string ns, name;
  if (md) {
    if (auto it = md->find("namespace"); it != md->end() && it->value().is_string())
      ns = std::string(it->value().get_string());
    if (auto it = md->find("name"); it != md->end() && it->value().is_string())
      name = std::string(it->value().get_string());
  }
  return ns + "/" + name;
}

std::string ContainerName(const json::object& c) {
  auto it = c.find("name");
  return it != c.end() && it->value().is_string() ? std::string(it->value().get_string()) : "";
}

}  // namespace

std::string ExpandRefs(const std::string& in, const std::map<std::string, std::string>& vars) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    if (in[i] != '$' || i + 1 >= in.size()) {
      out += in[i++];
      continue;
    }
    char next = in[i + 1];
    if (next == '$') {  // "$$" → "$"
      out += '$';
      i += 2;
    } else if (next == '(') {
      size_t close = in.find(')', i + 2);
      if (close == std::string::npos) {  // unterminated: "$(" copied, scanning goes on
        out += "$(";
        i += 2;
        continue;
      }
      std::string name = in.substr(i + 2, close - i - 2);
      auto it = vars.find(name);
      out += it != vars.end() ? it->second : "$(" + name + ")";
      i = close + 1;
    } else {  // "$x": both copied
      out += '$';
      out += next;
      i += 2;
    }
  }
  return out;
}

std::map<std::string, std::string> EnvMap(const std::vector<std::string>& env) {
  std::map<std::string, std::string> m;
  for (const auto& e : env) {
    size_t eq = e.find('=');
    if (eq == std::string::npos) {
      m[e] = "";
    } else {
      m[e.substr(0, eq)] = e.substr(eq + 1);
    }
  }
  return m;
}

std::vector<std::string> MergeEnv(const std::vector<std::string>& image_env,
                                  const std::vector<std::string>& container_env) {
  std::vector<std::string> out;
  std::map<std::string, size_t> index;
  auto add = [&](const std::string& e) {
    std::string key = e.substr(0, e.find('='));
    auto it = index.find(key);
    if (it != index.end()) {
      out[it->second] = e;
    } else {
      index[key] = out.size();
      out.push_back(e);
    }
  };
  for (const auto& e : image_env) add(e);
  for (const auto& e : container_env) add(e);
  return out;
}

int64_t ResourceMilli(const json::object& container, const char* kind, const char* name) {
  auto q = QuantityAt(container, kind, name);
  return q ? q->MilliValue() : 0;
}

int64_t ResourceValue(const json::object& container, const char* kind, const char* name) {
  auto q = QuantityAt(container, kind, name);
  return q ? q->Value() : 0;
}

uint64_t MilliCpuToShares(int64_t milli) {
  constexpr int64_t kMin = 2, kMax = 262144;
  if (milli <= 0) return kMin;
  int64_t shares = milli * 1024 / 1000;
  return static_cast<uint64_t>(std::clamp(shares, kMin, kMax));
}

int64_t MilliCpuToQuota(int64_t milli, int64_t period) {
  if (milli <= 0) return 0;
  int64_t quota = milli * period / 1000;
  return std::max<int64_t>(quota, 1000);
}

int OomScoreAdj(const json::object& pod, const json::object& container,
                int64_t node_memory_capacity) {
  constexpr int kGuaranteed = -997, kBestEffort = 1000;
  const json::object* spec = ObjectAt(pod, "spec");
  if (spec) {
    // Node-critical pods (system-node-critical priority and above) are protected like
    // Guaranteed ones.
    auto p = spec->find("priority");
    if (p != spec->end() && IntField(&p->value()).value_or(0) >= 2000000000) return kGuaranteed;
  }
  std::string qos = QosClass(pod);
  if (qos == "Guaranteed") return kGuaranteed;
  if (qos == "BestEffort") return kBestEffort;
  int64_t request = ResourceValue(container, "requests", "memory");
  if (node_memory_capacity <= 0) return kBestEffort - 1;
  int64_t adj = 1000 - (1000 * static_cast<__int128>(request)) / node_memory_capacity;
  if (adj < 1000 + kGuaranteed) return 1000 + kGuaranteed;
  if (adj == kBestEffort) return kBestEffort - 1;
  return static_cast<int>(adj);
}

const json::value* SecurityField(const json::object& pod, const json::object& container,
                                 const char* name) {
  if (const json::object* sc = ObjectAt(container, "securityContext")) {
    auto it = sc->find(name);
    if (it != sc->end() && !it->value().is_null()) return &it->value();
  }
  const json::object* spec = ObjectAt(pod, "spec");
  const json::object* psc = spec ? ObjectAt(*spec, "securityContext") : nullptr;
  if (psc) {
    auto it = psc->find(name);
    if (it != psc->end() && !it->value().is_null()) return &it->value();
  }
  return nullptr;
}

Result<std::string> ReadInRoot(const std::string& rootfs, const std::string& rel) {
  int root = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return ErrnoStatus("open " + rootfs, errno);
  struct open_how how = {};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how));
  int err = errno;
  ::close(root);
  if (fd < 0) {
    if (err == ENOENT) return NotFound(rel + " not found in the image");
    return ErrnoStatus("open " + rel, err);
  }
  std::string text;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return text;
}

Result<ResolvedUser> ResolveUser(const json::object& pod, const json::object& container,
                                 const image::ImageConfig& image, const std::string& rootfs) {
  auto run_as_user = IntField(SecurityField(pod, container, "runAsUser"));
  auto run_as_group = IntField(SecurityField(pod, container, "runAsGroup"));
  const json::value* non_root = SecurityField(pod, container, "runAsNonRoot");
  std::string image_user = image.user, image_group;
  if (size_t c = image_user.find(':'); c != std::string::npos) {
    image_group = image_user.substr(c + 1);
    image_user = image_user.substr(0, c);
  }
  // The kubelet's runAsNonRoot check, made before any name is resolved.
  if (non_root && non_root->is_bool() && non_root->get_bool()) {
    std::string where =
        " (pod: \"" + PodName(pod) + "\", container: " + ContainerName(container) + ")";
    if (run_as_user) {
      if (*run_as_user == 0) return Invalid("container's runAsUser breaks non-root policy" + where);
    } else if (image_user.empty() || (IsNumber(image_user) && std::stoul(image_user) == 0)) {
      return Invalid("container has runAsNonRoot and image will run as root" + where);
    } else if (!IsNumber(image_user)) {
      return Invalid("container has runAsNonRoot and image has non-numeric user (" + image_user +
                     "), cannot verify user is non-root" + where);
    }
  }
  std::optional<std::vector<std::vector<std::string>>> passwd, group;
  auto load = [&](std::optional<std::vector<std::vector<std::string>>>& into, const char* rel) {
    if (into) return;
    auto text = ReadInRoot(rootfs, rel);
    into = ColonFile(text.ok() ? *text : "");
  };
  ResolvedUser u;
  std::string user_name;  // for /etc/group membership
  bool gid_set = false;
  if (run_as_user) {
    u.uid = static_cast<uint32_t>(*run_as_user);
  } else if (image_user.empty()) {
    u.uid = 0;
  } else if (IsNumber(image_user)) {
    u.uid = static_cast<uint32_t>(std::stoul(image_user));
  } else {
    load(passwd, "etc/passwd");
    bool found = false;
    for (const auto& row : *passwd) {
      if (row.size() >= 4 && row[0] == image_user && IsNumber(row[2]) && IsNumber(row[3])) {
        u.uid = static_cast<uint32_t>(std::stoul(row[2]));
        u.gid = static_cast<uint32_t>(std::stoul(row[3]));
        user_name = row[0];
        found = gid_set = true;
        break;
      }
    }
    if (!found)
      return Invalid("unable to find user " + image_user + ": no matching entries in passwd file");
  }
  if (!gid_set) {
    // A numeric uid takes its primary group (and name) from passwd when it is listed there.
    load(passwd, "etc/passwd");
    for (const auto& row : *passwd) {
      if (row.size() >= 4 && IsNumber(row[2]) && std::stoul(row[2]) == u.uid) {
        user_name = row[0];
        if (IsNumber(row[3])) u.gid = static_cast<uint32_t>(std::stoul(row[3]));
        break;
      }
    }
  }
  if (run_as_group) {
    u.gid = static_cast<uint32_t>(*run_as_group);
  } else if (!run_as_user && !image_group.empty()) {
    if (IsNumber(image_group)) {
      u.gid = static_cast<uint32_t>(std::stoul(image_group));
    } else {
      load(group, "etc/group");
      bool found = false;
      for (const auto& row : *group) {
        if (row.size() >= 3 && row[0] == image_group && IsNumber(row[2])) {
          u.gid = static_cast<uint32_t>(std::stoul(row[2]));
          found = true;
          break;
        }
      }
      if (!found)
        return Invalid("unable to find group " + image_group +
                       ": no matching entries in group file");
    }
  }
  std::set<uint32_t> gids = {u.gid};
  if (!user_name.empty()) {
    load(group, "etc/group");
    for (const auto& row : *group) {
      if (row.size() < 4 || !IsNumber(row[2]) || row[0] == user_name) continue;
      std::string members = row[3];
      size_t start = 0;
      for (;;) {
        size_t c = members.find(',', start);
        if (members.substr(start, c == std::string::npos ? std::string::npos : c - start) ==
            user_name)
          gids.insert(static_cast<uint32_t>(std::stoul(row[2])));
        if (c == std::string::npos) break;
        start = c + 1;
      }
    }
  }
  const json::object* spec = ObjectAt(pod, "spec");
  const json::object* psc = spec ? ObjectAt(*spec, "securityContext") : nullptr;
  if (psc) {
    if (const json::array* sg = ArrayAt(*psc, "supplementalGroups"))
      for (const auto& g : *sg)
        if (auto v = IntField(&g)) gids.insert(static_cast<uint32_t>(*v));
    if (auto it = psc->find("fsGroup"); it != psc->end())
      if (auto v = IntField(&it->value())) gids.insert(static_cast<uint32_t>(*v));
  }
  u.additional_gids.assign(gids.begin(), gids.end());
  return u;
}

const std::vector<std::string>& DefaultCapabilities() {
  static const std::vector<std::string> kCaps = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",    "CAP_AUDIT_WRITE"};
  return kCaps;
}

namespace {

// Every capability the calling process (the runtime's parent) may grant: its bounding set,
// as containerd gives privileged containers all of its own current capabilities.
std::vector<std::string> AllCapabilities() {
  int last = 40;
  if (auto t = ReadInRoot("/", "proc/sys/kernel/cap_last_cap"); t.ok() && !t->empty())
    last = std::atoi(t->c_str());
  uint64_t bounding = ~uint64_t{0};
  if (auto st = ReadInRoot("/", "proc/self/status"); st.ok()) {
    size_t p = st->find("\nCapBnd:");
    if (p != std::string::npos) bounding = std::strtoull(st->c_str() + p + 8, nullptr, 16);
  }
  std::vector<std::string> out;
  for (int i = 0; i <= last && i < 64; ++i)
    if ((bounding >> i) & 1) out.push_back(runtime::CapabilityName(i));
  return out;
}

}  // namespace

Result<std::vector<std::string>> Capabilities(const json::value* caps, bool privileged) {
  if (privileged) return AllCapabilities();
  std::vector<std::string> set = DefaultCapabilities();
  std::vector<std::string> add, drop;
  if (caps && caps->is_object()) {
    add = Strings(ArrayAt(caps->get_object(), "add"));
    drop = Strings(ArrayAt(caps->get_object(), "drop"));
  }
  auto is_all = [](const std::string& s) {
    std::string u = s;
    for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return u == "ALL";
  };
  auto canonical = [](const std::string& s, const char* field) -> Result<std::string> {
    auto n = runtime::CapabilityFromName(s);
    if (!n)
      return Invalid(std::string("securityContext.capabilities.") + field +
                     ": unknown capability \"" + s + "\"");
    return runtime::CapabilityName(*n);
  };
  if (std::any_of(add.begin(), add.end(), is_all)) set = AllCapabilities();
  if (std::any_of(drop.begin(), drop.end(), is_all)) set.clear();
  for (const auto& a : add) {
    if (is_all(a)) continue;
    ASSIGN_OR_RETURN(std::string name, canonical(a, "add"));
    if (std::find(set.begin(), set.end(), name) == set.end()) set.push_back(name);
  }
  for (const auto& d : drop) {
    if (is_all(d)) continue;
    ASSIGN_OR_RETURN(std::string name, canonical(d, "drop"));
    set.erase(std::remove(set.begin(), set.end(), name), set.end());
  }
  return set;
}

}  // namespace internal

using internal::AllContainers;
using internal::QuantityAt;

std::string QosClass(const json::object& pod) {
  // Sums of positive cpu/memory requests and limits over every container; Guaranteed when
  // each container limits both and the summed requests equal the summed limits.
  std::map<std::string, __int128> requests, limits;
  bool guaranteed = true;
  for (const json::object* c : AllContainers(pod)) {
    for (const char* name : {"cpu", "memory"}) {
      // A request left out defaults to the limit (the API server's defaulting).
      auto r = QuantityAt(*c, "requests", name);
      if (!r) r = QuantityAt(*c, "limits", name);
      if (r && r->MilliValue() > 0) requests[name] += r->MilliValue();
    }
    int found = 0;
    for (const char* name : {"cpu", "memory"}) {
      auto l = QuantityAt(*c, "limits", name);
      if (l && l->MilliValue() > 0) {
        limits[name] += l->MilliValue();
        ++found;
      }
    }
    if (found != 2) guaranteed = false;
  }
  if (requests.empty() && limits.empty()) return "BestEffort";
  if (guaranteed) {
    for (const auto& [name, req] : requests) {
      auto it = limits.find(name);
      if (it == limits.end() || it->second != req) {
        guaranteed = false;
        break;
      }
    }
  }
  if (guaranteed && requests.size() == limits.size()) return "Guaranteed";
  return "Burstable";
}

std::string PodCgroupParent(const json::object& pod) {
  std::string uid;
  if (auto it = pod.find("metadata"); it != pod.end() && it->value().is_object()) {
    const auto& md = it->value().get_object();
    if (auto u = md.find("uid"); u != md.end() && u->value().is_string())
      uid = std::string(u->value().get_string());
  }
  std::string qos = QosClass(pod);
  if (qos == "Guaranteed") return "/kubepods/pod" + uid;
  if (qos == "Burstable") return "/kubepods/burstable/pod" + uid;
  return "/kubepods/besteffort/pod" + uid;
}

Result<std::vector<std::string>> ContainerArgs(const json::object& container,
                                               const image::ImageConfig& image,
                                               const std::vector<std::string>& env) {
  std::map<std::string, std::string> vars = internal::EnvMap(env);
  std::vector<std::string> command, args;
  for (const char* key : {"command", "args"}) {
    auto it = container.find(key);
    if (it == container.end() || !it->value().is_array()) continue;
    for (const auto& v : it->value().get_array()) {
      if (!v.is_string()) return Invalid(std::string(key) + ": expected strings");
      (key[0] == 'c' ? command : args)
          .push_back(internal::ExpandRefs(std::string(v.get_string()), vars));
    }
  }
  if (command.empty()) {
    if (args.empty()) args = image.cmd;
    command = image.entrypoint;
    if (command.size() == 1 && command[0].empty()) command.clear();  // Entrypoint [""]
  }
  std::vector<std::string> argv = std::move(command);
  argv.insert(argv.end(), args.begin(), args.end());
  if (argv.empty()) return Invalid("no command specified");
  return argv;
}

}  // namespace sampan::podspec
