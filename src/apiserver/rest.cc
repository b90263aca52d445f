// Create, get and list; the update/patch/delete half is in rest_update.cc.
#include "apiserver/rest.h"

#include <boost/json.hpp>
#include <optional>

#include "api/fields.h"
#include "api/labels.h"
#include "api/strategy.h"
#include "api/validate.h"
#include "apiserver/class_admission.h"
#include "apiserver/node_restriction.h"
#include "apiserver/pod_security.h"
#include "apiserver/priority_admission.h"
#include "apiserver/rest_internal.h"
#include "apiserver/sa_admission.h"
#include "apiserver/service_alloc.h"
#include "apiserver/store_await.h"

namespace sampan::apiserver {

std::string ResourcePrefix(const api::KindInfo& kind) {
  return "/registry/" + (kind.group.empty() ? std::string() : kind.group + "/") + kind.plural + "/";
}

bool IsService(const api::KindInfo& kind) {
  return kind.group.empty() && kind.kind == "Service";
}

std::string ObjectKey(const api::KindInfo& kind, std::string_view ns, std::string_view name) {
  std::string key = ResourcePrefix(kind);
  if (kind.namespaced) {
    key += ns;
    key += '/';
  }
  key += name;
  return key;
}

std::string ListPrefix(const api::KindInfo& kind, std::string_view ns) {
  std::string p = ResourcePrefix(kind);
  if (kind.namespaced && !ns.empty()) {
    p += ns;
    p += '/';
  }
  return p;
}

std::string QualifiedResource(const api::KindInfo& kind) {
  return kind.group.empty() ? kind.plural : kind.plural + "." + kind.group;
}

Rest::Rest(store::Backend& backend, ObjectCache& cache, const api::Registry& registry,
           const Clock& clock)
    : backend_(backend), cache_(cache), registry_(registry), clock_(clock) {}

Status Rest::NotFoundError(const api::KindInfo& kind, std::string_view name) const {
  return NotFound(QualifiedResource(kind) + " \"" + std::string(name) + "\" not found");
}

Status Rest::InvalidError(const api::KindInfo& kind, std::string_view name,
                          std::vector<Cause> causes) const {
  std::string msg = kind.kind + " \"" + std::string(name) + "\" is invalid: ";
  std::string list;
  for (size_t i = 0; i < causes.size(); ++i) {
    if (i) list += ", ";
    list +=
        causes[i].field.empty() ? causes[i].message : causes[i].field + ": " + causes[i].message;
  }
  msg += causes.size() > 1 ? "[" + list + "]" : list;
  return Invalid(std::move(msg), std::move(causes));
}

namespace internal {

json::object& Meta(json::object& obj) {
  json::value& m = obj["metadata"];
  if (!m.is_object()) m.emplace_object();
  return m.as_object();
}

std::string_view MetaString(const json::object& obj, std::string_view field) {
  auto* m = obj.if_contains("metadata");
  if (!m || !m->is_object()) return {};
  auto* v = m->as_object().if_contains(field);
  if (!v || !v->is_string()) return {};
  return v->as_string();
}

std::string Serialize(const json::object& obj) {
  // Stored without resourceVersion: the store revision is the truth.
  const json::value* m = obj.if_contains("metadata");
  if (!m || !m->is_object() ||
      (!m->as_object().contains("resourceVersion") && !m->as_object().contains("selfLink"))) {
    return json::serialize(obj);  // nothing to leave out: no copy
  }
  json::object copy = obj;
  if (auto* m = copy.if_contains("metadata"); m && m->is_object()) {
    m->as_object().erase("resourceVersion");
    m->as_object().erase("selfLink");
  }
  return json::serialize(copy);
}

std::string SerializeForStore(json::object& obj) {
  if (auto* m = obj.if_contains("metadata"); m && m->is_object()) {
    m->as_object().erase("resourceVersion");
    m->as_object().erase("selfLink");
  }
  return json::serialize(obj);
}

void ApplyDefaults(const api::KindInfo& kind, json::object& obj) {
  json::value holder(std::move(obj));
  api::ApplySchemaDefaults(holder, kind.schema);
  api::CanonicalizeBySchema(holder, kind.schema);
  obj = std::move(holder.as_object());
  api::DefaultObject(kind, obj);
}

}  // namespace internal

using internal::Meta;
using internal::MetaString;

namespace {

// Removes fields `schema` does not declare (objects not marked open), recursively.
void PruneUnknownFields(json::value& v, const api::Schema* schema) {
  if (!schema) return;
  switch (schema->kind) {
    case api::TypeKind::kObject: {
      if (!v.is_object() || schema->preserve_unknown) return;
      json::object& o = v.as_object();
      for (auto it = o.begin(); it != o.end();) {
        const api::Field* f = schema->FindField(it->key());
        if (!f) {
          it = o.erase(it);
        } else {
          PruneUnknownFields(it->value(), f->type);
          ++it;
        }
      }
      return;
    }
    case api::TypeKind::kArray:
      if (v.is_array())
        for (auto& e : v.as_array()) PruneUnknownFields(e, schema->element);
      return;
    case api::TypeKind::kMap:
      if (v.is_object())
        for (auto& kv : v.as_object()) PruneUnknownFields(kv.value(), schema->element);
      return;
    default:
      return;
  }
}

}  // namespace

Result<json::object> Rest::Decode(const api::KindInfo& kind, json::value body,
                                  const WriteOptions& opts) const {
  if (!body.is_object()) return BadRequest("the request body must be a JSON or YAML object");
  // Schema check first, on the body as it came (types, and unknown fields per fieldValidation).
  api::SchemaCheck check = api::CheckAgainstSchema(body, kind.schema);
  json::object obj = std::move(body.as_object());
  std::string api_version = kind.ApiVersion();
  if (auto* k = obj.if_contains("kind");
      k && k->is_string() && !k->as_string().empty() && k->as_string() != kind.kind) {
    return BadRequest("the object provided is unrecognized (must be of type " + kind.kind +
                      "): kind \"" + std::string(k->as_string()) + "\" sent to the " + kind.plural +
                      " endpoint");
  }
  if (auto* v = obj.if_contains("apiVersion");
      v && v->is_string() && !v->as_string().empty() && v->as_string() != api_version) {
    return BadRequest("the API version in the data (" + std::string(v->as_string()) +
                      ") does not match the expected API version (" + api_version + ")");
  }
  if (auto* m = obj.if_contains("metadata"); m && !m->is_object() && !m->is_null()) {
    return BadRequest("metadata must be an object");
  }
  check.duplicate_fields = opts.duplicate_fields;
  api::FieldValidation mode = api::FieldValidation::kStrict;
  if (opts.field_validation == "Warn") mode = api::FieldValidation::kWarn;
  if (opts.field_validation == "Ignore") mode = api::FieldValidation::kIgnore;
  Status st = api::ApplyFieldValidation(check, mode, opts.warnings);
  if (!st.ok()) {
    if (st.code() == Code::kInvalid) {
      return InvalidError(kind, MetaString(obj, "name"), st.causes());
    }
    return st;
  }
  if (!check.unknown_fields.empty()) {
    // Warn and Ignore keep the request but drop what the schema does not know, as Kubernetes does.
    json::value holder(std::move(obj));
    PruneUnknownFields(holder, kind.schema);
    obj = std::move(holder.as_object());
  }
  obj["kind"] = kind.kind;
  obj["apiVersion"] = api_version;
  return obj;
}

Status Rest::CheckNamespaceAcceptsWrites(const api::KindInfo& kind, std::string_view ns) const {
  if (!kind.namespaced) return Status::Ok();
  const api::KindInfo* nsk = registry_.FindKind("", "v1", "Namespace");
  ObjectPtr nsobj = cache_.Get(ObjectKey(*nsk, "", ns));
  if (!nsobj) return NotFound("namespaces \"" + std::string(ns) + "\" not found");
  if (!MetaString(nsobj->obj, "deletionTimestamp").empty()) {
    return Forbidden("unable to create new content in namespace " + std::string(ns) +
                     " because it is being terminated");
  }
  return Status::Ok();
}

Status Rest::RunWriteChecks(const api::KindInfo& kind, const json::object& obj,
                            const WriteOptions& opts) const {
  for (const WriteCheck& check : write_checks_) {
    if (Status st = check(kind, obj, opts.identity); !st.ok()) return st;
  }
  return Status::Ok();
}

asio::awaitable<Result<ObjectPtr>> Rest::Create(const api::KindInfo& kind, std::string ns,
                                                json::value body, WriteOptions opts) {
  auto decoded = Decode(kind, std::move(body), opts);
  if (!decoded.ok()) co_return decoded.status();
  json::object obj = std::move(*decoded);
  json::object& meta = Meta(obj);
  if (kind.namespaced) {
    std::string_view body_ns = MetaString(obj, "namespace");
    if (!body_ns.empty() && !ns.empty() && body_ns != ns) {
      co_return BadRequest(
          "the namespace of the provided object does not match the namespace sent on the request");
    }
    if (ns.empty()) ns = std::string(body_ns);
    if (ns.empty()) co_return BadRequest("a namespace is required to create a " + kind.kind);
    meta["namespace"] = ns;
  } else {
    meta.erase("namespace");
  }
  std::string name(MetaString(obj, "name"));
  if (name.empty()) {
    std::string_view gen = MetaString(obj, "generateName");
    if (gen.empty()) {
      Status bad = InvalidError(
          kind, "",
          std::vector<Cause>(
              1, Cause{"FieldValueRequired", "Required value: name or generateName is required",
                       "metadata.name"}));
      co_return bad;
    }
    name = std::string(gen) + RandomSuffix(5);
    meta["name"] = name;
  }
  // System-owned metadata is set here, never taken from the client.
  for (const char* f : {"uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "generation", "selfLink", "managedFields"}) {
    meta.erase(f);
  }
  if (opts.managed_fields) meta["managedFields"] = *opts.managed_fields;
  meta["uid"] = NewUuid();
  meta["creationTimestamp"] = FormatRfc3339(clock_.NowUnix());
  api::PrepareForCreate(kind, obj);
  if (Status st = AdmitPodPriority(registry_, cache_, kind, obj); !st.ok()) co_return st;
  if (Status st = AdmitDefaultStorageClass(registry_, cache_, kind, obj); !st.ok()) co_return st;
  if (Status st = AdmitDefaultIngressClass(registry_, cache_, kind, obj); !st.ok()) co_return st;
  Status sa_admitted = co_await AdmitServiceAccount(registry_, cache_, kind, obj);
  if (!sa_admitted.ok()) co_return sa_admitted;
  internal::ApplyDefaults(kind, obj);
  Status valid = api::ValidateCreate(kind, obj);
  if (!valid.ok()) {
    if (valid.code() == Code::kInvalid) co_return InvalidError(kind, name, valid.causes());
    co_return valid;
  }
  if (Status st = ValidatePriorityClassAdmission(cache_, kind, obj, nullptr); !st.ok()) {
    co_return st;
  }
  if (Status st = RunWriteChecks(kind, obj, opts); !st.ok()) co_return st;
  if (Status st =
          AdmitNodeWrite(opts.identity, kind, opts.subresource, nullptr, obj, registry_, cache_);
      !st.ok()) {
    co_return st;
  }
  if (Status st = CheckNamespaceAcceptsWrites(kind, ns); !st.ok()) co_return st;
  // Pod Security admission (pod_security.h): after the namespace lifecycle check, as Kubernetes.
  if (Status st = AdmitPodSecurityCreate(registry_, cache_, kind, ns, obj, opts.warnings);
      !st.ok()) {
    if (st.code() == Code::kInvalid) co_return InvalidError(kind, name, st.causes());
    co_return st;
  }
  std::string key = ObjectKey(kind, ns, name);
  // A Service's clusterIP and node ports, held until the write is in the cache (or failed).
  std::optional<ServiceAllocator::Hold> hold;
  if (services_ && IsService(kind)) {
    auto held = services_->Allocate(key, obj, nullptr, opts.dry_run);
    if (!held.ok()) {
      if (held.status().code() == Code::kInvalid) {
        co_return InvalidError(kind, name, held.status().causes());
      }
      co_return held.status();
    }
    hold.emplace(std::move(*held));
  }
  if (opts.dry_run) {
    if (cache_.Get(key)) {
      co_return AlreadyExists(QualifiedResource(kind) + " \"" + name + "\" already exists");
    }
    co_return MakeStored(key, std::move(obj), 0);
  }
  std::string value = internal::SerializeForStore(obj);
  const uint64_t offer = cache_.Offer(key, value, std::move(obj));
  auto rev = co_await AwaitCreateApplied(backend_, cache_.applied(), key, value);
  cache_.Withdraw(key, offer);
  if (!rev.ok()) {
    if (rev.status().code() == Code::kAlreadyExists) {
      co_return AlreadyExists(QualifiedResource(kind) + " \"" + name + "\" already exists");
    }
    co_return rev.status();
  }
  if (ObjectPtr got = cache_.Get(key); got && got->mod_revision == *rev) co_return got;
  // Written again since (or the cache stopped): answer with what this request wrote.
  if (ObjectPtr mine = ParseStored(key, value, *rev)) co_return mine;
  co_return Status(Code::kInternal, "the object written cannot be read back");
}

Result<ObjectPtr> Rest::Get(const api::KindInfo& kind, std::string_view ns, std::string_view name) {
  ObjectPtr obj = cache_.Get(ObjectKey(kind, ns, name));
  if (!obj) return NotFoundError(kind, name);
  return obj;
}

}  // namespace sampan::apiserver
