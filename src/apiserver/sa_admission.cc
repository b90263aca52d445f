#include "apiserver/sa_admission.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <string>
#include <string_view>

#include "apiserver/rest.h"
#include "apiserver/rest_internal.h"
#include "util/clock.h"

namespace sampan::apiserver {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::string_view kMirrorAnnotation = "kubernetes.io/config.mirror";
constexpr std::string_view kEnforceMountableSecrets = "kubernetes.io/enforce-mountable-secrets";
constexpr std::string_view kDefaultAccount = "default";
constexpr std::string_view kVolumePrefix = "kube-api-access-";
// Kubernetes' serviceaccount.WarnOnlyBoundTokenExpirationSeconds: a little over an hour, so
// that the API server can tell these automounted tokens apart.
constexpr int64_t kTokenExpirationSeconds = 3607;
// How long a pod waits for its namespace's `default` account, and how often it looks.
constexpr std::chrono::milliseconds kDefaultAccountWait{3000};
constexpr std::chrono::milliseconds kDefaultAccountPoll{25};

const json::object* ObjField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

const json::array* ArrField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_array() ? &v->as_array() : nullptr;
}

std::string StrField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// The objects of the array `key` of `o` (other elements skipped).
template <typename F>
void ForEachObject(const json::object& o, std::string_view key, F&& f) {
  if (const json::array* a = ArrField(o, key)) {
    for (const json::value& v : *a) {
      if (v.is_object()) f(v.as_object());
    }
  }
}

const json::object* Annotations(const json::object& obj) {
  const json::object* meta = ObjField(obj, "metadata");
  return meta ? ObjField(*meta, "annotations") : nullptr;
}

bool HasAnnotation(const json::object& obj, std::string_view key) {
  const json::object* a = Annotations(obj);
  return a && a->contains(key);
}

// Go's strconv.ParseBool, true side.
bool ParseBoolTrue(std::string_view s) {
  return s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True";
}

Status PodForbidden(const json::object& pod, const std::string& why) {
  return Forbidden("pods \"" + std::string(internal::MetaString(pod, "name")) +
                   "\" is forbidden: " + why);
}

json::object& SpecOf(json::object& pod) {
  json::value& spec = pod["spec"];
  if (!spec.is_object()) spec.emplace_object();
  return spec.as_object();
}

// ---- mirror pods ---------------------------------------------------------------------------

// Kubernetes' podutil.VisitPodSecretNames over all containers, reduced to "is there any".
bool ReferencesSecrets(const json::object& spec) {
  if (const json::array* pull = ArrField(spec, "imagePullSecrets"); pull && !pull->empty()) {
    return true;
  }
  bool found = false;
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    ForEachObject(spec, list, [&](const json::object& c) {
      ForEachObject(c, "envFrom", [&](const json::object& from) {
        if (ObjField(from, "secretRef")) found = true;
      });
      ForEachObject(c, "env", [&](const json::object& e) {
        const json::object* from = ObjField(e, "valueFrom");
        if (from && ObjField(*from, "secretKeyRef")) found = true;
      });
    });
  }
  ForEachObject(spec, "volumes", [&](const json::object& v) {
    if (ObjField(v, "secret")) found = true;
    if (const json::object* af = ObjField(v, "azureFile"); af && af->contains("secretName")) {
      found = true;
    }
    for (const char* src :
         {"cephfs", "cinder", "flexVolume", "rbd", "scaleIO", "iscsi", "storageos"}) {
      if (const json::object* s = ObjField(v, src); s && ObjField(*s, "secretRef")) found = true;
    }
    if (const json::object* csi = ObjField(v, "csi");
        csi && ObjField(*csi, "nodePublishSecretRef")) {
      found = true;
    }
    if (const json::object* proj = ObjField(v, "projected")) {
      ForEachObject(*proj, "sources", [&](const json::object& s) {
        if (ObjField(s, "secret")) found = true;
      });
    }
  });
  return found;
}

bool ProjectsServiceAccountToken(const json::object& spec) {
  bool found = false;
  ForEachObject(spec, "volumes", [&](const json::object& v) {
    if (const json::object* proj = ObjField(v, "projected")) {
      ForEachObject(*proj, "sources", [&](const json::object& s) {
        if (ObjField(s, "serviceAccountToken")) found = true;
      });
    }
  });
  return found;
}

Status ValidateMirrorPod(const json::object& pod, const json::object& spec) {
  if (!StrField(spec, "serviceAccountName").empty()) {
    return PodForbidden(pod, "a mirror pod may not reference service accounts");
  }
  if (ReferencesSecrets(spec)) return PodForbidden(pod, "a mirror pod may not reference secrets");
  if (ProjectsServiceAccountToken(spec)) {
    return PodForbidden(pod, "a mirror pod may not use ServiceAccountToken volume projections");
  }
  return Status::Ok();
}

// ---- the account ---------------------------------------------------------------------------

// What the coroutine needs to look the account up, or the answer when there is nothing to look.
struct Lookup {
  bool needed = false;
  Status answer;  // when !needed
  const api::KindInfo* sa_kind = nullptr;
  const api::KindInfo* ns_kind = nullptr;
  std::string ns;
  std::string name;
};

// The namespace exists and is not terminating.
bool NamespaceActive(const ObjectCache& cache, const api::KindInfo& ns_kind,
                     const std::string& ns) {
  ObjectPtr n = cache.Get(ObjectKey(ns_kind, "", ns));
  return n && internal::MetaString(n->obj, "deletionTimestamp").empty();
}

ObjectPtr FindAccount(const ObjectCache& cache, const Lookup& l) {
  return cache.Get(ObjectKey(*l.sa_kind, l.ns, l.name));
}

// The synchronous first half: the deprecated field, mirror pods, the default name.
Lookup Prepare(const api::Registry& registry, const ObjectCache& cache, const api::KindInfo& kind,
               json::object& pod) {
  Lookup l;
  if (!kind.group.empty() || kind.kind != "Pod") return l;
  l.sa_kind = registry.FindKind("", "v1", "ServiceAccount");
  l.ns_kind = registry.FindKind("", "v1", "Namespace");
  if (l.sa_kind == nullptr || l.ns_kind == nullptr) return l;
  json::object& spec = SpecOf(pod);
  // v1's deprecated spec.serviceAccount stands in for an empty serviceAccountName (Kubernetes'
  // Convert_v1_PodSpec_To_core_PodSpec); it is written back from serviceAccountName below.
  std::string name = StrField(spec, "serviceAccountName");
  if (name.empty()) name = StrField(spec, "serviceAccount");
  if (!name.empty()) spec["serviceAccountName"] = name;
  if (HasAnnotation(pod, kMirrorAnnotation)) {
    if (!name.empty()) spec["serviceAccount"] = name;
    l.answer = ValidateMirrorPod(pod, spec);
    return l;
  }
  l.ns = std::string(internal::MetaString(pod, "namespace"));
  // Kubernetes' NamespaceLifecycle admission refuses such a pod before this step runs; here the
  // namespace check in Rest::Create follows, so leave the pod to it.
  if (!NamespaceActive(cache, *l.ns_kind, l.ns)) return l;
  if (name.empty()) name = std::string(kDefaultAccount);
  spec["serviceAccountName"] = name;
  spec["serviceAccount"] = name;
  l.name = std::move(name);
  l.needed = true;
  return l;
}

bool ShouldAutomount(const json::object& spec, const json::object& sa) {
  if (const json::value* v = spec.if_contains("automountServiceAccountToken"); v && v->is_bool()) {
    return v->as_bool();  // the pod's preference wins
  }
  if (const json::value* v = sa.if_contains("automountServiceAccountToken"); v && v->is_bool()) {
    return v->as_bool();
  }
  return true;
}

json::object TokenProjection() {
  json::object token{{"expirationSeconds", kTokenExpirationSeconds}, {"path", "token"}};
  json::object ca_item{{"key", "ca.crt"}, {"path", "ca.crt"}};
  json::object ca{{"name", "kube-root-ca.crt"}, {"items", json::array{ca_item}}};
  json::object field_ref{{"apiVersion", "v1"}, {"fieldPath", "metadata.namespace"}};
  json::object ns_item{{"path", "namespace"}, {"fieldRef", field_ref}};
  json::object downward{{"items", json::array{ns_item}}};
  json::array sources{json::object{{"serviceAccountToken", token}}, json::object{{"configMap", ca}},
                      json::object{{"downwardAPI", downward}}};
  return json::object{{"defaultMode", 420}, {"sources", std::move(sources)}};
}

json::object TokenVolume(const std::string& name) {
  // Built once: every pod of the cluster gets the same projection (only the name differs).
  static const json::object projected = TokenProjection();
  json::object volume;
  volume["name"] = name;
  volume["projected"] = projected;
  return volume;
}

json::object TokenMount(const std::string& name) {
  return json::object{{"name", name}, {"readOnly", true}, {"mountPath", kServiceAccountMountPath}};
}

// Kubernetes' mountServiceAccountToken.
void MountToken(json::object& spec) {
  std::string volume_name;
  bool has_volume = false;
  if (const json::array* vols = ArrField(spec, "volumes")) {
    for (const json::value& v : *vols) {
      if (!v.is_object()) continue;
      std::string n = StrField(v.as_object(), "name");
      if (n.starts_with(kVolumePrefix)) {
        volume_name = std::move(n);
        has_volume = true;
        break;
      }
    }
  }
  if (volume_name.empty()) volume_name = std::string(kVolumePrefix) + RandomSuffix(5);
  bool needs_volume = false;
  for (const char* list : {"initContainers", "containers"}) {
    json::value* cs = spec.if_contains(list);
    if (!cs || !cs->is_array()) continue;
    for (json::value& c : cs->as_array()) {
      if (!c.is_object()) continue;
      json::value& mounts = c.as_object()["volumeMounts"];
      if (!mounts.is_array()) mounts.emplace_array();
      bool mounted = false;
      for (const json::value& m : mounts.as_array()) {
        if (m.is_object() && StrField(m.as_object(), "mountPath") == kServiceAccountMountPath) {
          mounted = true;  // an existing mount at that path keeps the token out
          break;
        }
      }
      if (!mounted) {
        mounts.as_array().emplace_back(TokenMount(volume_name));
        needs_volume = true;
      }
    }
  }
  if (!has_volume && needs_volume) {
    json::value& vols = spec["volumes"];
    if (!vols.is_array()) vols.emplace_array();
    vols.as_array().emplace_back(TokenVolume(volume_name));
  }
}

std::string NotReferenced(const std::string& what, const std::string& secret,
                          const std::string& account) {
  return what + " referencing secret.secretName=\"" + secret +
         "\" is not allowed because service account " + account + " does not reference that secret";
}

// Kubernetes' limitSecretReferences, for an account annotated enforce-mountable-secrets.
Status LimitSecretReferences(const json::object& pod, const json::object& spec,
                             const json::object& sa) {
  const std::string account(internal::MetaString(sa, "name"));
  std::set<std::string> mountable;
  ForEachObject(sa, "secrets",
                [&](const json::object& s) { mountable.insert(StrField(s, "name")); });
  std::string err;
  ForEachObject(spec, "volumes", [&](const json::object& v) {
    const json::object* secret = ObjField(v, "secret");
    if (!err.empty() || !secret) return;
    std::string name = StrField(*secret, "secretName");
    if (!mountable.contains(name)) {
      err = "volume with secret.secretName=\"" + name +
            "\" is not allowed because service account " + account +
            " does not reference that secret";
    }
  });
  for (auto [list, label] :
       {std::pair{"initContainers", "init container"}, std::pair{"containers", "container"}}) {
    ForEachObject(spec, list, [&](const json::object& c) {
      const std::string cname = StrField(c, "name");
      ForEachObject(c, "env", [&](const json::object& e) {
        const json::object* from = ObjField(e, "valueFrom");
        const json::object* ref = from ? ObjField(*from, "secretKeyRef") : nullptr;
        if (!err.empty() || !ref) return;
        std::string name = StrField(*ref, "name");
        if (!mountable.contains(name)) {
          err = NotReferenced(
              std::string(label) + " " + cname + " with envVar " + StrField(e, "name"), name,
              account);
        }
      });
      ForEachObject(c, "envFrom", [&](const json::object& f) {
        const json::object* ref = ObjField(f, "secretRef");
        if (!err.empty() || !ref) return;
        std::string name = StrField(*ref, "name");
        if (!mountable.contains(name)) {
          err = NotReferenced(std::string(label) + " " + cname + " with envFrom", name, account);
        }
      });
    });
  }
  if (!err.empty()) return PodForbidden(pod, err);
  std::set<std::string> pull;
  ForEachObject(sa, "imagePullSecrets",
                [&](const json::object& s) { pull.insert(StrField(s, "name")); });
  if (const json::array* refs = ArrField(spec, "imagePullSecrets")) {
    for (size_t i = 0; i < refs->size(); ++i) {
      std::string name = (*refs)[i].is_object() ? StrField((*refs)[i].as_object(), "name") : "";
      if (!pull.contains(name)) {
        return PodForbidden(pod, "imagePullSecrets[" + std::to_string(i) + "].name=\"" + name +
                                     "\" is not allowed because service account " + account +
                                     " does not reference that imagePullSecret");
      }
    }
  }
  return Status::Ok();
}

// The second half, once the account was looked for.
Status Finish(json::object& pod, const Lookup& l, const ObjectPtr& sa) {
  if (!sa) {
    return PodForbidden(pod, "error looking up service account " + l.ns + "/" + l.name +
                                 ": serviceaccount \"" + l.name + "\" not found");
  }
  json::object& spec = SpecOf(pod);
  if (ShouldAutomount(spec, sa->obj)) MountToken(spec);
  const json::array* pull = ArrField(spec, "imagePullSecrets");
  if (!pull || pull->empty()) {
    json::array copied;
    ForEachObject(sa->obj, "imagePullSecrets", [&](const json::object& s) {
      copied.emplace_back(json::object{{"name", StrField(s, "name")}});
    });
    if (!copied.empty()) spec["imagePullSecrets"] = std::move(copied);
  }
  if (const json::object* a = Annotations(sa->obj)) {
    const json::value* v = a->if_contains(kEnforceMountableSecrets);
    if (v && v->is_string() && ParseBoolTrue(v->as_string())) {
      return LimitSecretReferences(pod, spec, sa->obj);
    }
  }
  return Status::Ok();
}

}  // namespace

asio::awaitable<Status> AdmitServiceAccount(const api::Registry& registry, const ObjectCache& cache,
                                            const api::KindInfo& kind, json::object& pod) {
  Lookup lookup = Prepare(registry, cache, kind, pod);
  if (!lookup.needed) co_return lookup.answer;
  ObjectPtr sa = FindAccount(cache, lookup);
  // Departure from Kubernetes: there, a `default` account missing from the informer's cache is
  // asked of the API directly up to 10 times, 100-200 ms apart, since the serviceaccounts
  // controller creates it just after the namespace appears. Here the watch cache is the API's
  // own state, so the step waits on it instead: up to 3 s, polling every 25 ms, for as long as
  // the namespace stays there and is not terminating. Other names are refused at once, as on
  // Kubernetes.
  if (!sa && lookup.name == kDefaultAccount) {
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor);
    const auto deadline = std::chrono::steady_clock::now() + kDefaultAccountWait;
    boost::system::error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    while (!sa && std::chrono::steady_clock::now() < deadline &&
           NamespaceActive(cache, *lookup.ns_kind, lookup.ns)) {
      timer.expires_after(kDefaultAccountPoll);
      co_await timer.async_wait(token);
      sa = FindAccount(cache, lookup);
    }
  }
  co_return Finish(pod, lookup, sa);
}

}  // namespace sampan::apiserver
