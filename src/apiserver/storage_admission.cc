#include "apiserver/storage_admission.h"

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "api/persistent_volumes.h"
#include "apiserver/rest.h"

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

bool IsDefault(const json::object& sc) {
  return Annotation(sc, "storageclass.kubernetes.io/is-default-class") == "true" ||
         Annotation(sc, "storageclass.beta.kubernetes.io/is-default-class") == "true";
}

}  // namespace

ObjectPtr DefaultStorageClass(const api::Registry& registry, const ObjectCache& cache) {
  const api::KindInfo* sck = registry.FindKind("storage.k8s.io", "v1", "StorageClass");
  if (!sck) return nullptr;
  int64_t rev = 0;
  ObjectPtr best;
  for (const ObjectPtr& sc : cache.List(ResourcePrefix(*sck), &rev)) {
    if (!IsDefault(sc->obj)) continue;
    if (!best) {
      best = sc;
      continue;
    }
    // RFC 3339 UTC timestamps order as strings; the list is in name order, so on a tie the
    // first name stays.
    if (MetaField(sc->obj, "creationTimestamp") > MetaField(best->obj, "creationTimestamp")) {
      best = sc;
    }
  }
  return best;
}

Status AdmitDefaultStorageClass(const api::Registry& registry, const ObjectCache& cache,
                                const api::KindInfo& kind, json::object& pvc) {
  if (!kind.group.empty() || kind.kind != "PersistentVolumeClaim") return Status::Ok();
  json::value& spec = pvc["spec"];
  if (!spec.is_object()) spec.emplace_object();
  if (const json::value* c = spec.as_object().if_contains("storageClassName"); c && !c->is_null()) {
    return Status::Ok();
  }
  if (!Annotation(pvc, "volume.beta.kubernetes.io/storage-class").empty()) return Status::Ok();
  if (ObjectPtr def = DefaultStorageClass(registry, cache)) {
    spec.as_object()["storageClassName"] = MetaField(def->obj, "name");
  }
  return Status::Ok();
}

namespace {

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

}  // namespace

boost::asio::awaitable<Status> EnsureLocalPathStorageClass(Rest& rest) {
  const api::KindInfo* sck = rest.registry().FindKind("storage.k8s.io", "v1", "StorageClass");
  if (!sck || rest.cache().Get(ObjectKey(*sck, "", "local-path"))) co_return Status::Ok();
  json::value body(LocalPathClass());
  WriteOptions wo;
  auto r = co_await rest.Create(*sck, "", std::move(body), wo);
  if (!r.ok() && r.status().code() != Code::kAlreadyExists) co_return r.status();
  co_return Status::Ok();
}

}  // namespace sampan::apiserver
