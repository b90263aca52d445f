#include "apiserver/class_admission.h"

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "api/persistent_volumes.h"
#include "apiserver/rest.h"
#include "ingress/class.h"

namespace sampan::apiserver {

namespace json = boost::json;

namespace {

std::string_view MetaField(const json::object& obj, std::string_view field) {
  const json::value* m = obj.if_contains("metadata");
  if (!m || !m->is_object()) return {};
  const json::value* v = m->as_object().if_contains(field);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

std::string_view Annotation(const json::object& obj, std::string_view key) {
  const json::value* m = obj.if_contains("metadata");
  if (!m || !m->is_object()) return {};
  const json::value* a = m->as_object().if_contains("annotations");
  if (!a || !a->is_object()) return {};
  const json::value* v = a->as_object().if_contains(key);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

bool IsDefaultStorageClass(const json::object& sc) {
  return Annotation(sc, "storageclass.kubernetes.io/is-default-class") == "true" ||
         Annotation(sc, "storageclass.beta.kubernetes.io/is-default-class") == "true";
}

bool IsDefaultIngressClass(const json::object& ic) {
  return Annotation(ic, ingress::kDefaultClassAnnotation) == "true";
}

// The newest object of the cluster-scoped `kind` that `is_default` accepts (on a tie, the
// first by name).
ObjectPtr NewestDefault(const api::Registry& registry, const ObjectCache& cache,
                        std::string_view group, std::string_view kind,
                        bool (*is_default)(const json::object&)) {
  const api::KindInfo* k = registry.FindKind(group, "v1", kind);
  if (!k) return nullptr;
  int64_t rev = 0;
  ObjectPtr best;
  for (const ObjectPtr& c : cache.List(ResourcePrefix(*k), &rev)) {
    if (!is_default(c->obj)) continue;
    // RFC 3339 UTC timestamps order as strings; the list is in name order.
    if (!best ||
        MetaField(c->obj, "creationTimestamp") > MetaField(best->obj, "creationTimestamp")) {
      best = c;
    }
  }
  return best;
}

// Sets spec.<field> of a new object to the default class's name when neither the field nor the
// legacy `annotation` names a class.
void SetDefaultClass(json::object& obj, std::string_view field, std::string_view annotation,
                     const ObjectPtr& def) {
  json::value& spec = obj["spec"];
  if (!spec.is_object()) spec.emplace_object();
  if (const json::value* c = spec.as_object().if_contains(field); c && !c->is_null()) return;
  if (!Annotation(obj, annotation).empty() || !def) return;
  spec.as_object()[field] = MetaField(def->obj, "name");
}

json::object LocalPathClass() {
  json::object annotations{{"storageclass.kubernetes.io/is-default-class", "true"}};
  json::object meta{{"name", "local-path"}, {"annotations", std::move(annotations)}};
  return json::object{{"apiVersion", "storage.k8s.io/v1"},
                      {"kind", "StorageClass"},
                      {"metadata", std::move(meta)},
                      {"provisioner", api::kLocalPathProvisioner},
                      {"volumeBindingMode", "WaitForFirstConsumer"},
                      {"reclaimPolicy", "Delete"}};
}

json::object SampanIngressClass(bool make_default) {
  json::object meta{{"name", ingress::kClassName}};
  if (make_default) {
    json::object annotations;
    annotations[ingress::kDefaultClassAnnotation] = "true";
    meta["annotations"] = std::move(annotations);
  }
  json::object spec{{"controller", ingress::kControllerName}};
  return json::object{{"apiVersion", "networking.k8s.io/v1"},
                      {"kind", "IngressClass"},
                      {"metadata", std::move(meta)},
                      {"spec", std::move(spec)}};
}

// Creates `obj` (cluster-scoped) unless an object of its name exists, whatever it became.
boost::asio::awaitable<Status> CreateIfMissing(Rest& rest, const api::KindInfo* kind,
                                               json::object obj) {
  const std::string name(MetaField(obj, "name"));
  if (!kind || rest.cache().Get(ObjectKey(*kind, "", name))) co_return Status::Ok();
  json::value body(std::move(obj));
  WriteOptions wo;
  auto r = co_await rest.Create(*kind, "", std::move(body), wo);
  if (!r.ok() && r.status().code() != Code::kAlreadyExists) co_return r.status();
  co_return Status::Ok();
}

}  // namespace

ObjectPtr DefaultStorageClass(const api::Registry& registry, const ObjectCache& cache) {
  return NewestDefault(registry, cache, "storage.k8s.io", "StorageClass", IsDefaultStorageClass);
}

ObjectPtr DefaultIngressClass(const api::Registry& registry, const ObjectCache& cache) {
  return NewestDefault(registry, cache, "networking.k8s.io", "IngressClass", IsDefaultIngressClass);
}

Status AdmitDefaultStorageClass(const api::Registry& registry, const ObjectCache& cache,
                                const api::KindInfo& kind, json::object& pvc) {
  if (!kind.group.empty() || kind.kind != "PersistentVolumeClaim") return Status::Ok();
  SetDefaultClass(pvc, "storageClassName", "volume.beta.kubernetes.io/storage-class",
                  DefaultStorageClass(registry, cache));
  return Status::Ok();
}

Status AdmitDefaultIngressClass(const api::Registry& registry, const ObjectCache& cache,
                                const api::KindInfo& kind, json::object& ingress) {
  if (kind.group != "networking.k8s.io" || kind.kind != "Ingress") return Status::Ok();
  SetDefaultClass(ingress, "ingressClassName", "kubernetes.io/ingress.class",
                  DefaultIngressClass(registry, cache));
  return Status::Ok();
}

boost::asio::awaitable<Status> EnsureLocalPathStorageClass(Rest& rest) {
  const api::KindInfo* sck = rest.registry().FindKind("storage.k8s.io", "v1", "StorageClass");
  json::object obj = LocalPathClass();
  co_return co_await CreateIfMissing(rest, sck, std::move(obj));
}

boost::asio::awaitable<Status> EnsureSampanIngressClass(Rest& rest) {
  const api::KindInfo* ick = rest.registry().FindKind("networking.k8s.io", "v1", "IngressClass");
  // A default class installed before (another controller) stays the only default.
  const bool make_default = DefaultIngressClass(rest.registry(), rest.cache()) == nullptr;
  json::object obj = SampanIngressClass(make_default);
  co_return co_await CreateIfMissing(rest, ick, std::move(obj));
}

}  // namespace sampan::apiserver
