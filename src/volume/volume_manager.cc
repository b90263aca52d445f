// VolumeManager: pod volumes on the node (the kubelet's emptyDir, hostPath, configMap,
// secret, downwardAPI and projected plugins) and the container mounts made from them.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <mutex>
#include <set>

#include "api/quantity.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"
#include "volume/volume_internal.h"
#include "volume/volumes.h"

namespace sampan::volume {

namespace json = boost::json;
using internal::Arr;
using internal::Bool;
using internal::Int;
using internal::Obj;
using internal::Str;

namespace {

constexpr int kDefaultMode = 0644;
constexpr char kEmptyDirPlugin[] = "kubernetes.io~empty-dir";
constexpr char kConfigMapPlugin[] = "kubernetes.io~configmap";
constexpr char kSecretPlugin[] = "kubernetes.io~secret";
constexpr char kDownwardApiPlugin[] = "kubernetes.io~downward-api";
constexpr char kProjectedPlugin[] = "kubernetes.io~projected";

// The emptyDir plugin's setupDir: the directory with mode 0777 whatever the umask.
Status SetupDir(const std::string& dir) {
  size_t slash = dir.rfind('/');
  RETURN_IF_ERROR(fs::MakeDirs(dir.substr(0, slash), 0750));
  if (mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) return ErrnoStatus("mkdir " + dir, errno);
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) return ErrnoStatus("lstat " + dir, errno);
  if (!S_ISDIR(st.st_mode)) return Internal(dir + " is not a directory");
  if ((st.st_mode & 0777) != 0777 && chmod(dir.c_str(), 0777) != 0) {
    return ErrnoStatus("chmod " + dir, errno);
  }
  return Status::Ok();
}

bool IsTmpfsMount(const std::string& dir) {
  auto mounts = internal::ReadMounts();
  if (!mounts.ok()) return false;
  auto m = internal::MountAt(*mounts, internal::Canonical(dir));
  return m && m->fs_type == "tmpfs";
}

// A memory-backed directory: SetupDir, then tmpfs unless one is mounted there already.
Status SetupTmpfs(const std::string& dir, int64_t size) {
  if (IsTmpfsMount(dir)) return Status::Ok();
  RETURN_IF_ERROR(SetupDir(dir));
  return internal::MountTmpfs(dir, size);
}

// Quantity text (or number) at o[key] in bytes; 0 when absent or malformed.
int64_t Bytes(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_string()) {
    auto q = api::Quantity::Parse(v->as_string());
    return q.ok() ? q->Value() : 0;
  }
  return Int(o, key).value_or(0);
}

// The pod's memory limit as the kubelet's pod cgroup has it: set only when every app
// container has one (sum of app containers and sidecars, at least the largest init
// container's), plus the pod overhead. 0 when unlimited.
int64_t PodMemoryLimit(const json::object& pod) {
  const json::object* spec = Obj(pod, "spec");
  if (spec == nullptr) return 0;
  auto limit_of = [](const json::value& c) -> int64_t {
    if (!c.is_object()) return 0;
    const json::object* res = Obj(c.as_object(), "resources");
    const json::object* lim = res ? Obj(*res, "limits") : nullptr;
    return lim ? Bytes(*lim, "memory") : 0;
  };
  int64_t sum = 0;
  const json::array* cs = Arr(*spec, "containers");
  if (cs == nullptr || cs->empty()) return 0;
  for (const json::value& c : *cs) {
    int64_t l = limit_of(c);
    if (l <= 0) return 0;
    sum += l;
  }
  int64_t init_max = 0;
  if (const json::array* inits = Arr(*spec, "initContainers")) {
    for (const json::value& c : *inits) {
      bool sidecar = c.is_object() && Str(c.as_object(), "restartPolicy") == "Always";
      int64_t l = limit_of(c);
      if (sidecar) {
        if (l <= 0) return 0;
        sum += l;
      } else {
        init_max = std::max(init_max, l);
      }
    }
  }
  int64_t limit = std::max(sum, init_max);
  if (const json::object* overhead = Obj(*spec, "overhead")) limit += Bytes(*overhead, "memory");
  return limit;
}

// calculateEmptyDirMemorySize: node allocatable, lowered to the pod's memory limit and
// then to the volume's sizeLimit when those are positive and smaller.
int64_t TmpfsSize(const json::object& pod, int64_t size_limit, int64_t node_memory) {
  int64_t size = node_memory;
  int64_t pod_limit = PodMemoryLimit(pod);
  auto lower = [&](int64_t v) {
    if (v > 0 && (size <= 0 || v <= size)) size = v;
  };
  lower(pod_limit);
  lower(size_limit);
  return size;
}

// hostPath type checks, as the kubelet's checkTypeInternal words them.
Result<bool> CheckHostPathType(const std::string& path, const std::string& type) {
  struct stat st;
  bool exists = stat(path.c_str(), &st) == 0;
  auto is = [&](mode_t kind) { return exists && (st.st_mode & S_IFMT) == kind; };
  if (type.empty()) {
    // No check. A missing path becomes a directory, as containerd makes it for a bind.
    if (!exists) {
      RETURN_IF_ERROR(fs::MakeDirs(path, 0755));
      return false;
    }
    return !S_ISDIR(st.st_mode);
  }
  if (type == "DirectoryOrCreate" || type == "Directory") {
    if (!exists && type == "DirectoryOrCreate") {
      RETURN_IF_ERROR(fs::MakeDirs(path, 0755));
      return false;
    }
    if (!is(S_IFDIR)) return Invalid("hostPath type check failed: " + path + " is not a directory");
    return false;
  }
  if (type == "FileOrCreate" || type == "File") {
    if (!exists && type == "FileOrCreate") {
      // Like os.OpenFile(path, O_CREATE, 0644): the parent must exist.
      int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) return ErrnoStatus("open " + path, errno);
      close(fd);
      return true;
    }
    if (!is(S_IFREG)) return Invalid("hostPath type check failed: " + path + " is not a file");
    return true;
  }
  if (type == "Socket") {
    if (!is(S_IFSOCK)) {
      return Invalid("hostPath type check failed: " + path + " is not a socket file");
    }
    return true;
  }
  if (type == "CharDevice") {
    if (!is(S_IFCHR)) {
      return Invalid("hostPath type check failed: " + path + " is not a character device");
    }
    return true;
  }
  if (type == "BlockDevice") {
    if (!is(S_IFBLK)) {
      return Invalid("hostPath type check failed: " + path + " is not a block device");
    }
    return true;
  }
  return Invalid(type + " is an invalid volume type");
}

bool HasBackstep(const std::string& p) {
  size_t start = 0;
  while (true) {
    size_t slash = p.find('/', start);
    if (p.substr(start, slash == std::string::npos ? slash : slash - start) == "..") return true;
    if (slash == std::string::npos) return false;
    start = slash + 1;
  }
}

int ModeOf(const json::object& src) {
  return static_cast<int>(Int(src, "defaultMode").value_or(kDefaultMode));
}

}  // namespace

// Tokens already issued, by pod and projection: a token is asked for again once 80% of its
// lifetime has passed (the kubelet's rule), not at every refresh of the volumes.
class VolumeManager::TokenCache {
 public:
  explicit TokenCache(TokenRequester requester) : requester_(std::move(requester)) {}

  Result<std::string> Get(const TokenRequestArgs& args) {
    if (!requester_) {
      return Unavailable("this node cannot ask the API server for service account tokens");
    }
    const std::string key = args.pod_uid + "|" + args.service_account + "|" + args.audience + "|" +
                            std::to_string(args.expiration_seconds);
    const int64_t now = Clock::Real().NowUnix();
    {
      std::lock_guard lk(mu_);
      auto it = tokens_.find(key);
      if (it != tokens_.end() &&
          now < it->second.issued + (it->second.token.expires - it->second.issued) * 8 / 10) {
        return it->second.token.token;
      }
    }
    ASSIGN_OR_RETURN(IssuedToken t, requester_(args));
    std::lock_guard lk(mu_);
    tokens_[key] = Entry{t, now};
    return t.token;
  }

  void Forget(const std::string& pod_uid) {
    std::lock_guard lk(mu_);
    std::erase_if(tokens_, [&](const auto& kv) { return kv.first.starts_with(pod_uid + "|"); });
  }

 private:
  struct Entry {
    IssuedToken token;
    int64_t issued = 0;
  };
  TokenRequester requester_;
  std::mutex mu_;
  std::map<std::string, Entry> tokens_;
};

VolumeManager::VolumeManager(VolumeOptions opts, ObjectGetter getter, TokenRequester tokens)
    : opts_(std::move(opts)),
      getter_(std::move(getter)),
      tokens_(std::make_unique<TokenCache>(std::move(tokens))) {}

VolumeManager::~VolumeManager() = default;

namespace {

struct PodContext {
  const json::object* pod;
  std::string ns;
  std::string volumes_dir;  // <pods_dir>/<uid>/volumes
  std::optional<gid_t> fs_group;
  const VolumeOptions* opts;
  const ObjectGetter* getter;
  // Asks for (or reuses) a token of the pod's service account.
  std::function<Result<std::string>(const TokenRequestArgs&)> token;
};

// Writes an atomic-writer volume at `dir`, with fsGroup ownership before the switch.
Status WriteProjected(const PodContext& ctx, const std::string& dir,
                      const internal::Payload& payload) {
  std::function<Status()> set_perms;
  if (ctx.fs_group) {
    set_perms = [&] { return internal::SetVolumeOwnership(dir, *ctx.fs_group, true); };
  }
  return internal::AtomicWrite(dir, payload, set_perms);
}

Result<internal::Payload> KeyPayload(const PodContext& ctx, const std::string& kind,
                                     const std::string& name, const json::array* items,
                                     int default_mode, bool optional) {
  std::map<std::string, std::string> data;
  auto obj = internal::GetObject(*ctx.getter, kind, ctx.ns, name);
  if (obj.ok()) {
    ASSIGN_OR_RETURN(data, internal::ObjectData(*obj, kind, /*include_binary=*/true));
  } else if (!(obj.status().code() == Code::kNotFound && optional)) {
    return obj.status();
  }
  return internal::MakeKeyPayload(kind, items, data, default_mode, optional);
}

// A serviceAccountToken projection: the token of the pod's service account, bound to the pod.
Result<internal::Payload> TokenPayload(const PodContext& ctx, const json::object& src, int mode) {
  const json::object& pod = *ctx.pod;
  const json::object* spec = Obj(pod, "spec");
  const json::object* meta = Obj(pod, "metadata");
  TokenRequestArgs args;
  args.ns = ctx.ns;
  args.service_account = spec ? Str(*spec, "serviceAccountName") : "";
  if (args.service_account.empty()) args.service_account = "default";
  args.audience = Str(src, "audience");
  if (auto e = Int(src, "expirationSeconds")) args.expiration_seconds = *e;
  args.pod_name = meta ? Str(*meta, "name") : "";
  args.pod_uid = meta ? Str(*meta, "uid") : "";
  std::string path = Str(src, "path");
  if (path.empty()) return Invalid("serviceAccountToken projection without a path");
  ASSIGN_OR_RETURN(std::string token, ctx.token(args));
  internal::Payload out;
  out[path] = internal::FileProjection{std::move(token), mode, std::nullopt};
  return out;
}

// The PersistentVolume spec fields that are not its volume source.
bool IsPersistentVolumeSpecField(std::string_view key) {
  static constexpr std::string_view kFields[] = {
      "accessModes",      "capacity",     "claimRef",
      "mountOptions",     "nodeAffinity", "persistentVolumeReclaimPolicy",
      "storageClassName", "volumeMode",   "volumeAttributesClassName"};
  return std::find(std::begin(kFields), std::end(kFields), key) != std::end(kFields);
}

// A persistentVolumeClaim volume: the claim (in the pod's namespace) must be Bound, its volume
// claimed by it, and of a kind this node mounts (hostPath, local). The errors are the kubelet's
// (desired_state_of_world_populator): "error processing PVC ns/x: PVC is not bound", ...
Result<HostVolume> SetUpClaim(const PodContext& ctx, const json::object& src) {
  const std::string claim = Str(src, "claimName");
  const std::string prefix = "error processing PVC " + ctx.ns + "/" + claim + ": ";
  if (!*ctx.getter) return Internal(prefix + "no object getter to read the claim");
  Result<json::object> pvc = (*ctx.getter)("PersistentVolumeClaim", ctx.ns, claim);
  if (!pvc.ok()) {
    std::string why = pvc.status().code() == Code::kNotFound
                          ? "persistentvolumeclaims \"" + claim + "\" not found"
                          : pvc.status().message();
    return Status(pvc.status().code(), prefix + "failed to fetch PVC from API server: " + why);
  }
  const json::object empty;
  const json::object* meta = Obj(*pvc, "metadata");
  if (meta == nullptr) meta = &empty;
  const json::object* spec = Obj(*pvc, "spec");
  if (spec == nullptr) spec = &empty;
  const json::object* status = Obj(*pvc, "status");
  if (status == nullptr) status = &empty;
  // Not an error of the pod's: the claim is on its way (the pod waits in ContainerCreating).
  if (meta->contains("deletionTimestamp") && !meta->at("deletionTimestamp").is_null()) {
    return Unavailable(prefix + "PVC is being deleted");
  }
  if (Str(*status, "phase") != "Bound") return Unavailable(prefix + "PVC is not bound");
  const std::string pv_name = Str(*spec, "volumeName");
  if (pv_name.empty()) return Unavailable(prefix + "PVC has empty pvc.Spec.VolumeName");

  Result<json::object> pv = (*ctx.getter)("PersistentVolume", "", pv_name);
  if (!pv.ok()) {
    std::string why = pv.status().code() == Code::kNotFound
                          ? "persistentvolumes \"" + pv_name + "\" not found"
                          : pv.status().message();
    return Status(pv.status().code(),
                  prefix + "failed to fetch PV " + pv_name + " from API server: " + why);
  }
  const json::object* pv_spec = Obj(*pv, "spec");
  if (pv_spec == nullptr) pv_spec = &empty;
  const json::object* ref = Obj(*pv_spec, "claimRef");
  if (ref == nullptr) {
    return Unavailable(prefix + "found PV object " + pv_name +
                       " but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the "
                       "claim");
  }
  const std::string claim_uid = Str(*meta, "uid");
  if (Str(*ref, "uid") != claim_uid) {
    return Unavailable(prefix + "found PV object " + pv_name + " but its pv.Spec.ClaimRef.UID " +
                       Str(*ref, "uid") + " does not point to claim.UID " + claim_uid);
  }
  if (Str(*pv_spec, "volumeMode") == "Block") {
    return Invalid(prefix + "PV " + pv_name +
                   " has volumeMode Block: block volumes are not supported on this node");
  }

  if (const json::object* hp = Obj(*pv_spec, "hostPath")) {
    std::string path = Str(*hp, "path");
    if (HasBackstep(path)) return Invalid("invalid HostPath `" + path + "`: must not contain '..'");
    if (path.empty() || path[0] != '/') return Invalid("hostPath path must be absolute: " + path);
    ASSIGN_OR_RETURN(bool is_file, CheckHostPathType(path, Str(*hp, "type")));
    return HostVolume{path, false, is_file, false};
  }
  if (const json::object* local = Obj(*pv_spec, "local")) {
    // The local plugin's NewMounter: the path must exist (nothing is created).
    std::string path = Str(*local, "path");
    if (path.empty() || path[0] != '/') return Invalid("local path must be absolute: " + path);
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return NotFound("path \"" + path + "\" does not exist");
    return HostVolume{path, false, !S_ISDIR(st.st_mode), false};
  }
  std::string kind;
  for (const auto& kv : *pv_spec) {
    if (!IsPersistentVolumeSpecField(kv.key())) {
      kind = std::string(kv.key());
      break;
    }
  }
  return Invalid("unsupported volume type: PV " + pv_name + " has " +
                 (kind.empty() ? std::string("no volume source") : "a " + kind + " volume source") +
                 " (this node mounts hostPath and local persistent volumes only)");
}

Result<HostVolume> SetUpOne(const PodContext& ctx, const std::string& name,
                            const json::object& vol) {
  const json::object& pod = *ctx.pod;
  auto plugin_dir = [&](const char* plugin) { return ctx.volumes_dir + "/" + plugin + "/" + name; };

  std::string kind;
  for (const auto& kv : vol) {
    if (kv.key() != "name") kind = std::string(kv.key());
  }
  if (kind.empty()) kind = "emptyDir";  // a volume with no source is an emptyDir
  const json::object empty;
  const json::object* src = Obj(vol, kind);
  if (src == nullptr) src = &empty;

  if (kind == "emptyDir") {
    std::string dir = plugin_dir(kEmptyDirPlugin);
    std::string medium = Str(*src, "medium");
    HostVolume hv{dir, false, false, false};
    // Like the kubelet, an emptyDir already set up is left as it is (a refresh must not
    // walk, chown or chmod what the pod wrote since).
    bool fresh;
    if (medium.empty()) {
      fresh = !fs::Exists(dir);
      RETURN_IF_ERROR(SetupDir(dir));
    } else if (medium == "Memory") {
      fresh = !IsTmpfsMount(dir);
      int64_t size = TmpfsSize(pod, Bytes(*src, "sizeLimit"), ctx.opts->node_allocatable_memory);
      RETURN_IF_ERROR(SetupTmpfs(dir, size));
      hv.is_tmpfs = true;
    } else {
      return Invalid("unknown storage medium \"" + medium + "\"");
    }
    if (fresh && ctx.fs_group) {
      RETURN_IF_ERROR(internal::SetVolumeOwnership(dir, *ctx.fs_group, false));
    }
    return hv;
  }

  if (kind == "hostPath") {
    std::string path = Str(*src, "path");
    if (HasBackstep(path)) return Invalid("invalid HostPath `" + path + "`: must not contain '..'");
    if (path.empty() || path[0] != '/') return Invalid("hostPath path must be absolute: " + path);
    ASSIGN_OR_RETURN(bool is_file, CheckHostPathType(path, Str(*src, "type")));
    return HostVolume{path, false, is_file, false};
  }

  if (kind == "configMap" || kind == "secret") {
    bool secret = kind == "secret";
    std::string dir = plugin_dir(secret ? kSecretPlugin : kConfigMapPlugin);
    std::string obj_name = Str(*src, secret ? "secretName" : "name");
    ASSIGN_OR_RETURN(internal::Payload payload,
                     KeyPayload(ctx, secret ? "Secret" : "ConfigMap", obj_name, Arr(*src, "items"),
                                ModeOf(*src), Bool(*src, "optional")));
    // Secrets live in memory only, as the kubelet keeps them.
    if (secret) {
      RETURN_IF_ERROR(SetupTmpfs(dir, TmpfsSize(pod, 0, ctx.opts->node_allocatable_memory)));
    } else {
      RETURN_IF_ERROR(SetupDir(dir));
    }
    RETURN_IF_ERROR(WriteProjected(ctx, dir, payload));
    return HostVolume{dir, true, false, secret};
  }

  if (kind == "downwardAPI") {
    std::string dir = plugin_dir(kDownwardApiPlugin);
    ASSIGN_OR_RETURN(
        internal::Payload payload,
        internal::CollectDownwardApi(Arr(*src, "items"), pod, ModeOf(*src), *ctx.opts));
    RETURN_IF_ERROR(SetupDir(dir));
    RETURN_IF_ERROR(WriteProjected(ctx, dir, payload));
    return HostVolume{dir, true, false, false};
  }

  if (kind == "projected") {
    std::string dir = plugin_dir(kProjectedPlugin);
    int mode = ModeOf(*src);
    internal::Payload payload;
    std::vector<std::string> errors;
    Code first_code = Code::kOk;  // the aggregate keeps the first failure's kind
    if (const json::array* sources = Arr(*src, "sources")) {
      for (const json::value& sv : *sources) {
        if (!sv.is_object()) continue;
        const json::object& s = sv.as_object();
        Result<internal::Payload> part = internal::Payload();
        if (const json::object* sec = Obj(s, "secret")) {
          part = KeyPayload(ctx, "Secret", Str(*sec, "name"), Arr(*sec, "items"), mode,
                            Bool(*sec, "optional"));
        } else if (const json::object* cm = Obj(s, "configMap")) {
          part = KeyPayload(ctx, "ConfigMap", Str(*cm, "name"), Arr(*cm, "items"), mode,
                            Bool(*cm, "optional"));
        } else if (const json::object* dapi = Obj(s, "downwardAPI")) {
          part = internal::CollectDownwardApi(Arr(*dapi, "items"), pod, mode, *ctx.opts);
        } else if (const json::object* sat = Obj(s, "serviceAccountToken")) {
          part = TokenPayload(ctx, *sat, mode);
        } else {
          std::string what = s.empty() ? "empty" : std::string(s.begin()->key());
          part = Invalid("projected source " + what + " is not supported on this node");
        }
        if (!part.ok()) {
          if (errors.empty()) first_code = part.status().code();
          errors.push_back(part.status().message());
          continue;
        }
        for (auto& [k, v] : *part) payload[k] = std::move(v);
      }
    }
    if (!errors.empty()) return Status(first_code, internal::AggregateMessages(errors));
    RETURN_IF_ERROR(SetupTmpfs(dir, TmpfsSize(pod, 0, ctx.opts->node_allocatable_memory)));
    RETURN_IF_ERROR(WriteProjected(ctx, dir, payload));
    return HostVolume{dir, true, false, true};
  }

  if (kind == "persistentVolumeClaim") {
    // Read-only when the pod's volume says so (the kubelet's NewSpecFromPersistentVolume with
    // the claim source's readOnly); the claim's access modes do not make it read-only.
    ASSIGN_OR_RETURN(HostVolume hv, SetUpClaim(ctx, *src));
    hv.read_only = Bool(*src, "readOnly");
    return hv;
  }

  return Invalid("volume source " + kind + " is not supported on this node");
}

}  // namespace

Result<std::map<std::string, HostVolume>> VolumeManager::SetUp(const json::object& pod) {
  const json::object empty;
  const json::object* meta = Obj(pod, "metadata");
  if (meta == nullptr) meta = &empty;
  std::string uid = Str(*meta, "uid");
  if (uid.empty() || uid.find('/') != std::string::npos || uid == "." || uid == "..") {
    return Invalid("pod has no usable metadata.uid");
  }
  std::string pod_dir = opts_.pods_dir + "/" + uid;
  PodContext ctx{&pod,    Str(*meta, "namespace"), pod_dir + "/volumes", std::nullopt, &opts_,
                 &getter_};
  ctx.token = [this](const TokenRequestArgs& args) { return tokens_->Get(args); };
  RETURN_IF_ERROR(fs::MakeDirs(ctx.volumes_dir, 0750));
  const json::object* spec = Obj(pod, "spec");
  if (spec == nullptr) spec = &empty;
  if (const json::object* sc = Obj(*spec, "securityContext")) {
    if (auto g = Int(*sc, "fsGroup")) ctx.fs_group = static_cast<gid_t>(*g);
  }

  std::map<std::string, HostVolume> out;
  if (const json::array* vols = Arr(*spec, "volumes")) {
    for (const json::value& vv : *vols) {
      if (!vv.is_object()) continue;
      std::string name = Str(vv.as_object(), "name");
      if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
        return Invalid("MountVolume.SetUp failed for volume \"" + name + "\" : invalid name");
      }
      Result<HostVolume> hv = SetUpOne(ctx, name, vv.as_object());
      if (!hv.ok()) {
        return Status(hv.status().code(), "MountVolume.SetUp failed for volume \"" + name +
                                              "\" : " + hv.status().message());
      }
      out[name] = std::move(*hv);
    }
  }
  return out;
}

Status VolumeManager::TearDown(const std::string& pod_uid) {
  if (pod_uid.empty() || pod_uid.find('/') != std::string::npos || pod_uid == "." ||
      pod_uid == "..") {
    return Invalid("bad pod uid \"" + pod_uid + "\"");
  }
  tokens_->Forget(pod_uid);
  std::string pod_dir = opts_.pods_dir + "/" + pod_uid;
  if (!fs::Exists(pod_dir)) return Status::Ok();
  RETURN_IF_ERROR(internal::UnmountAllUnder(pod_dir));
  return internal::RemoveTree(pod_dir);
}

std::vector<std::string> VolumeManager::PodsOnDisk() const {
  std::vector<std::string> out;
  DIR* d = opendir(opts_.pods_dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    struct stat st;
    if (lstat((opts_.pods_dir + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      out.push_back(n);
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<VolumeManager::ContainerMount>> VolumeManager::MountsFor(
    const json::object& pod, const json::object& container,
    const std::map<std::string, HostVolume>& vols) {
  // Only subPathExpr needs the environment (and its API reads).
  bool needs_env = false;
  if (const json::array* ms = Arr(container, "volumeMounts")) {
    for (const json::value& m : *ms) {
      needs_env = needs_env || (m.is_object() && !Str(m.as_object(), "subPathExpr").empty());
    }
  }
  std::vector<std::string> env;
  if (needs_env) {
    ASSIGN_OR_RETURN(env, ContainerEnv(pod, container, {}, getter_, opts_));
  }
  return MountsFor(pod, container, vols, env);
}

Result<std::vector<VolumeManager::ContainerMount>> VolumeManager::MountsFor(
    const json::object& pod, const json::object& container,
    const std::map<std::string, HostVolume>& vols, const std::vector<std::string>& env) {
  const json::object empty;
  const json::object* meta = Obj(pod, "metadata");
  if (meta == nullptr) meta = &empty;
  std::string uid = Str(*meta, "uid");
  std::string cname = Str(container, "name");
  bool privileged = false;
  if (const json::object* sc = Obj(container, "securityContext"))
    privileged = Bool(*sc, "privileged");

  std::vector<ContainerMount> out;
  const json::array* ms = Arr(container, "volumeMounts");
  if (ms == nullptr) return out;
  std::map<std::string, std::string> env_map;
  for (const std::string& e : env) {
    size_t eq = e.find('=');
    if (eq != std::string::npos) env_map[e.substr(0, eq)] = e.substr(eq + 1);
  }
  for (size_t i = 0; i < ms->size(); ++i) {
    if (!(*ms)[i].is_object()) continue;
    const json::object& m = (*ms)[i].as_object();
    std::string name = Str(m, "name");
    auto vol = vols.find(name);
    if (vol == vols.end()) {
      return NotFound("cannot find volume \"" + name + "\" to mount into container \"" + cname +
                      "\"");
    }
    std::string sub_path = Str(m, "subPath");
    if (std::string expr = Str(m, "subPathExpr"); !expr.empty()) {
      std::set<std::string> missing;
      sub_path = ExpandVars(expr, [&](std::string_view var) -> std::optional<std::string> {
        auto it = env_map.find(std::string(var));
        if (it == env_map.end() || it->second.empty()) {
          missing.insert(std::string(var));
          return std::string();
        }
        return it->second;
      });
      if (!missing.empty()) {
        std::string list;
        for (const std::string& k : missing) list += (list.empty() ? "" : ", ") + k;
        return Invalid("missing value for " + list);
      }
    }
    std::string host_path = vol->second.path;
    if (!sub_path.empty()) {
      if (sub_path[0] == '/') {
        return Invalid("error SubPath `" + sub_path + "` must not be an absolute path");
      }
      if (HasBackstep(sub_path)) {
        return Invalid("unable to provision SubPath `" + sub_path + "`: must not contain '..'");
      }
      std::string full = host_path + "/" + sub_path;
      struct stat st;
      if (stat(full.c_str(), &st) != 0) {
        if (Status s = internal::SafeMakeDir(host_path, sub_path); !s.ok()) {
          // The details stay in the log: they describe the host's file system.
          LOG(WARNING) << "subPath " << full << " for container " << cname << ": " << s.ToString();
          return Invalid("failed to create subPath directory for volumeMount \"" + name +
                         "\" of container \"" + cname + "\"");
        }
      }
      std::string target = opts_.pods_dir + "/" + uid + "/volume-subpaths/" + name + "/" + cname +
                           "/" + std::to_string(i);
      if (Status s = internal::BindSubPath(host_path, sub_path, target); !s.ok()) {
        LOG(WARNING) << "subPath " << full << " for container " << cname << ": " << s.ToString();
        return Invalid("failed to prepare subPath for volumeMount \"" + name +
                       "\" of container \"" + cname + "\"");
      }
      host_path = target;
    }
    std::string container_path = Str(m, "mountPath");
    if (container_path.empty() || container_path[0] != '/') container_path = "/" + container_path;
    std::string prop = Str(m, "mountPropagation");
    if (prop == "None") prop.clear();
    if (!prop.empty() && prop != "HostToContainer" && prop != "Bidirectional") {
      return Invalid("invalid MountPropagation mode: \"" + prop + "\"");
    }
    if (prop == "Bidirectional" && !privileged) {
      return Invalid("Bidirectional mount propagation is available only to privileged containers");
    }
    out.push_back(ContainerMount{host_path, container_path,
                                 Bool(m, "readOnly") || vol->second.read_only, prop});
  }
  return out;
}

}  // namespace sampan::volume
