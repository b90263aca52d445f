// Update, patch and delete (with finalizers and graceful deletion).
#include <boost/json.hpp>
#include <map>
#include <optional>

#include "api/managed_fields.h"
#include "api/patch.h"
#include "api/strategy.h"
#include "apiserver/node_restriction.h"
#include "apiserver/pod_security.h"
#include "apiserver/priority_admission.h"
#include "apiserver/rest.h"
#include "apiserver/rest_internal.h"
#include "apiserver/service_alloc.h"
#include "apiserver/store_await.h"

namespace sampan::apiserver {

using internal::Meta;
using internal::MetaString;

namespace {

constexpr int kMaxRetries = 8;

Status ConflictError(const api::KindInfo& kind, std::string_view name) {
  return Conflict("Operation cannot be fulfilled on " + QualifiedResource(kind) + " \"" +
                  std::string(name) +
                  "\": the object has been modified; please apply your changes to the latest "
                  "version and try again");
}

// Everything but metadata and status: a change here bumps metadata.generation.
bool SpecChanged(const json::object& a, const json::object& b) {
  for (const auto& [k, v] : a) {
    if (k == "metadata" || k == "status") continue;
    auto* o = b.if_contains(k);
    if (!o || *o != v) return true;
  }
  for (const auto& [k, v] : b) {
    if (k == "metadata" || k == "status") continue;
    if (!a.contains(k)) return true;
  }
  return false;
}

// Whether `next` equals `cur` once next's metadata.resourceVersion is taken as cur's: an
// update that changes nothing else is a no-op. Compared in place, without copying `next`.
bool SameButResourceVersion(const json::object& next, const json::object& cur) {
  if (next.size() != cur.size()) return false;
  for (const auto& [k, v] : next) {
    const json::value* o = cur.if_contains(k);
    if (!o) return false;
    if (k != "metadata" || !v.is_object() || !o->is_object()) {
      if (*o != v) return false;
      continue;
    }
    const json::object& nm = v.as_object();
    const json::object& cm = o->as_object();
    size_t n = nm.size() + (nm.contains("resourceVersion") ? 0 : 1);
    size_t c = cm.size() + (cm.contains("resourceVersion") ? 0 : 1);
    if (n != c) return false;
    for (const auto& [mk, mv] : nm) {
      if (mk == "resourceVersion") continue;
      const json::value* co = cm.if_contains(mk);
      if (!co || *co != mv) return false;
    }
  }
  return true;
}

bool HasFinalizers(const json::object& obj) {
  auto* m = obj.if_contains("metadata");
  if (!m || !m->is_object()) return false;
  auto* f = m->as_object().if_contains("finalizers");
  return f && f->is_array() && !f->as_array().empty();
}

// Copies what the client may not change through an update from `cur` into `next`.
void KeepSystemMetadata(const json::object& cur, json::object& next) {
  json::object& nm = Meta(next);
  const json::value* cm = cur.if_contains("metadata");
  for (const char* f : {"uid", "creationTimestamp", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "generation", "namespace", "name"}) {
    nm.erase(f);
    if (cm && cm->is_object()) {
      if (auto* v = cm->as_object().if_contains(f)) nm[f] = *v;
    }
  }
  // Field ownership is the server's record: kept from the stored object, changed only by
  // TrackUpdate and server-side apply.
  nm.erase("managedFields");
  if (cm && cm->is_object()) {
    if (auto* mf = cm->as_object().if_contains("managedFields")) nm["managedFields"] = *mf;
  }
  nm.erase("selfLink");
}

// The managedFields entries of an object (a copy); empty when it has none.
json::array ManagedEntries(const json::object& obj) {
  auto* m = obj.if_contains("metadata");
  if (!m || !m->is_object()) return {};
  auto* mf = m->as_object().if_contains("managedFields");
  if (!mf || !mf->is_array()) return {};
  return mf->as_array();
}

std::string_view EntryString(const json::value& e, std::string_view field) {
  if (!e.is_object()) return {};
  auto* v = e.as_object().if_contains(field);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

// The fieldsV1 trie of an entry, made an object if it is not one.
json::object& EntryFields(json::value& e) {
  json::value& f = e.as_object()["fieldsV1"];
  if (!f.is_object()) f.emplace_object();
  return f.as_object();
}

json::object NewEntry(std::string_view manager, std::string_view operation,
                      std::string_view api_version, const std::string& time) {
  json::object e;
  e["manager"] = manager;
  e["operation"] = operation;
  e["apiVersion"] = api_version;
  e["time"] = time;
  e["fieldsType"] = "FieldsV1";
  e["fieldsV1"] = json::object();
  return e;
}

void DropEmptyEntries(json::array& entries) {
  for (auto it = entries.begin(); it != entries.end();) {
    if (!it->is_object() || EntryFields(*it).empty()) {
      it = entries.erase(it);
    } else {
      ++it;
    }
  }
}

void SetManagedFields(json::object& obj, json::array entries) {
  if (entries.empty()) {
    Meta(obj).erase("managedFields");
  } else {
    Meta(obj)["managedFields"] = std::move(entries);
  }
}

// An update (PUT or PATCH other than apply) of an object that has field owners: the fields
// it changed or added pass to `manager` (an "Update" entry), fields it removed leave every
// owner. Objects never applied server-side carry no managedFields and stay without (unlike
// Kubernetes, which records every writer).
void TrackUpdate(const api::KindInfo& kind, const json::object& cur, json::object& next,
                 const std::string& manager, int64_t now_unix) {
  json::array entries = ManagedEntries(cur);
  if (entries.empty()) return;
  const std::string now = FormatRfc3339(now_unix);
  std::vector<api::FieldPath> changed;
  for (auto& p : api::LeafPaths(api::AppliedFields(next, kind.schema))) {
    const json::value* now_v = api::ValueAtPath(next, p);
    const json::value* was = api::ValueAtPath(cur, p);
    bool item = p.back() == ".";
    if (!was || (!item && now_v && *was != *now_v)) changed.push_back(std::move(p));
  }
  const std::string name = manager.empty() ? "unknown" : manager;
  json::value* mine = nullptr;
  for (auto& e : entries) {
    if (!e.is_object()) continue;
    const bool own = EntryString(e, "manager") == name && EntryString(e, "operation") == "Update";
    if (own) mine = &e;
    json::object& trie = EntryFields(e);
    for (const auto& p : api::LeafPaths(trie)) {
      bool gone = api::ValueAtPath(next, p) == nullptr;
      bool taken = !own && std::find(changed.begin(), changed.end(), p) != changed.end();
      if (gone || taken) api::TrieRemove(trie, p);
    }
  }
  if (!changed.empty()) {
    if (!mine) {
      entries.push_back(NewEntry(name, "Update", kind.ApiVersion(), now));
      mine = &entries.back();
    }
    mine->as_object()["time"] = now;
    for (const auto& p : changed) api::TrieAdd(EntryFields(*mine), p);
  }
  DropEmptyEntries(entries);
  SetManagedFields(next, std::move(entries));
}

const std::string& ManagerOf(const WriteOptions& opts) {
  return opts.field_manager.empty() ? opts.default_manager : opts.field_manager;
}

void AddFinalizer(json::object& obj, std::string_view f) {
  json::value& fv = Meta(obj)["finalizers"];
  if (!fv.is_array()) fv.emplace_array();
  for (auto& e : fv.as_array())
    if (e.is_string() && e.as_string() == f) return;
  fv.as_array().emplace_back(f);
}

}  // namespace

asio::awaitable<Result<ObjectPtr>> Rest::WriteUpdate(const api::KindInfo& kind,
                                                     const ObjectPtr& cur, json::object next,
                                                     const WriteOptions& opts) {
  const std::string name(MetaString(cur->obj, "name"));
  const bool service = services_ && IsService(kind);
  if (service) ServiceAllocator::PrepareUpdate(next, cur->obj);
  internal::ApplyDefaults(kind, next);
  if (api::TracksGeneration(kind) && SpecChanged(cur->obj, next)) {
    int64_t gen = 1;
    if (auto* g = cur->obj.at("metadata").as_object().if_contains("generation"); g && g->is_int64())
      gen = g->as_int64();
    Meta(next)["generation"] = gen + 1;
  }
  Status valid =
      opts.skip_update_validation ? Status::Ok() : api::ValidateUpdate(kind, next, cur->obj);
  if (!valid.ok()) {
    if (valid.code() == Code::kInvalid) co_return InvalidError(kind, name, valid.causes());
    co_return valid;
  }
  if (Status st = ValidatePriorityClassAdmission(cache_, kind, next, &cur->obj); !st.ok()) {
    co_return st;
  }
  if (Status st = RunWriteChecks(kind, next, opts); !st.ok()) co_return st;
  if (Status st =
          AdmitNodeWrite(opts.identity, kind, opts.subresource, &cur->obj, next, registry_, cache_);
      !st.ok()) {
    co_return st;
  }
  // Pod Security admission of pods and namespaces (pod_security.h); workloads: see the callers.
  if (Status st = AdmitPodSecurityUpdate(registry_, cache_, kind, cur->obj, next, opts.warnings);
      !st.ok()) {
    if (st.code() == Code::kInvalid) co_return InvalidError(kind, name, st.causes());
    co_return st;
  }
  std::optional<ServiceAllocator::Hold> hold;  // held until the write is in the cache
  if (service) {
    auto held = services_->Allocate(cur->key, next, &cur->obj, opts.dry_run);
    if (!held.ok()) {
      if (held.status().code() == Code::kInvalid) {
        co_return InvalidError(kind, name, held.status().causes());
      }
      co_return held.status();
    }
    hold.emplace(std::move(*held));
  }
  // The last finalizer removed from an object being deleted: it goes now.
  bool deleting = !MetaString(next, "deletionTimestamp").empty();
  if (deleting && !HasFinalizers(next) && kind.kind == "Namespace") {
    // A terminating namespace goes once its spec.finalizers are empty too.
    const json::value* sf = nullptr;
    if (auto* spec = next.if_contains("spec"); spec && spec->is_object())
      sf = spec->as_object().if_contains("finalizers");
    if (!sf || !sf->is_array() || sf->as_array().empty())
      co_return co_await FinishDelete(kind, cur, opts.dry_run);
  }
  if (deleting && !HasFinalizers(next) && kind.kind != "Namespace") {
    auto gp = Meta(next).if_contains("deletionGracePeriodSeconds");
    bool graceful_pending = kind.kind == "Pod" && gp && gp->is_int64() && gp->as_int64() > 0;
    if (!graceful_pending) co_return co_await FinishDelete(kind, cur, opts.dry_run);
  }
  // A no-op update writes nothing and keeps the resourceVersion.
  if (SameButResourceVersion(next, cur->obj)) co_return cur;
  if (opts.dry_run) {
    co_return MakeStored(cur->key, std::move(next), cur->mod_revision);
  }
  std::string value = internal::SerializeForStore(next);
  const uint64_t offer = cache_.Offer(cur->key, value, std::move(next));
  auto rev =
      co_await AwaitUpdateApplied(backend_, cache_.applied(), cur->key, value, cur->mod_revision);
  cache_.Withdraw(cur->key, offer);
  if (!rev.ok()) {
    if (rev.status().code() == Code::kConflict) co_return ConflictError(kind, name);
    if (rev.status().code() == Code::kNotFound) co_return NotFoundError(kind, name);
    co_return rev.status();
  }
  if (ObjectPtr got = cache_.Get(cur->key); got && got->mod_revision == *rev) co_return got;
  // Written again since (or the cache stopped): answer with what this request wrote.
  if (ObjectPtr mine = ParseStored(cur->key, value, *rev)) co_return mine;
  co_return Status(Code::kInternal, "the object written cannot be read back");
}

asio::awaitable<void> Rest::CatchUp() {
  // A conflict means the store holds a newer write than the cache has shown us: wait for the
  // cache to apply it, or a retry would read the same stale object again.
  co_await cache_.WaitFor(backend_.CurrentRevision());
}

asio::awaitable<Result<ObjectPtr>> Rest::FinishDelete(const api::KindInfo& kind,
                                                      const ObjectPtr& cur, bool dry_run) {
  if (dry_run) co_return cur;
  auto rev = co_await AwaitDeleteApplied(backend_, cache_.applied(), cur->key, cur->mod_revision);
  const std::string name(MetaString(cur->obj, "name"));
  if (!rev.ok()) {
    if (rev.status().code() == Code::kConflict) co_return ConflictError(kind, name);
    if (rev.status().code() == Code::kNotFound) co_return NotFoundError(kind, name);
    co_return rev.status();
  }
  co_return cur;
}

asio::awaitable<Result<ObjectPtr>> Rest::Update(const api::KindInfo& kind, std::string ns,
                                                std::string name, std::string subresource,
                                                json::value body, WriteOptions opts) {
  auto decoded = Decode(kind, std::move(body), opts);
  if (!decoded.ok()) co_return decoded.status();
  json::object obj = std::move(*decoded);
  std::string_view body_name = MetaString(obj, "name");
  if (!body_name.empty() && body_name != name) {
    co_return BadRequest("the name of the object (" + std::string(body_name) +
                         ") does not match the name on the URL (" + name + ")");
  }
  if (kind.namespaced) {
    std::string_view body_ns = MetaString(obj, "namespace");
    if (!body_ns.empty() && body_ns != ns) {
      co_return BadRequest(
          "the namespace of the provided object does not match the namespace sent on the request");
    }
  }
  ObjectPtr cur = cache_.Get(ObjectKey(kind, ns, name));
  if (!cur) co_return NotFoundError(kind, name);
  std::string_view want_rv = MetaString(obj, "resourceVersion");
  if (!want_rv.empty() && want_rv != std::to_string(cur->mod_revision)) {
    co_return ConflictError(kind, name);
  }
  json::object next = std::move(obj);
  KeepSystemMetadata(cur->obj, next);
  if (subresource != "status") TrackUpdate(kind, cur->obj, next, ManagerOf(opts), clock_.NowUnix());
  if (subresource == "status") {
    api::PrepareForStatusUpdate(kind, next, cur->obj);
  } else {
    api::PrepareForUpdate(kind, next, cur->obj);
  }
  // A workload's pod template draws the Pod Security warn level's warning (not on subresources).
  std::string psa_warning;
  if (subresource.empty())
    psa_warning = PodSecurityTemplateWarning(registry_, cache_, kind, ns, next);
  auto res = co_await WriteUpdate(kind, cur, std::move(next), opts);
  if (res.ok() && opts.warnings && !psa_warning.empty()) opts.warnings->push_back(psa_warning);
  co_return res;
}

Result<json::object> Rest::ScaleOf(const api::KindInfo& kind, const json::object& obj) const {
  json::object scale;
  scale["kind"] = "Scale";
  scale["apiVersion"] = "autoscaling/v1";
  json::object meta;
  for (const char* f : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
    if (auto* v = obj.at("metadata").as_object().if_contains(f)) meta[f] = *v;
  }
  scale["metadata"] = std::move(meta);
  int64_t replicas = 0;
  if (auto* s = obj.if_contains("spec"); s && s->is_object()) {
    if (auto* r = s->as_object().if_contains("replicas"); r && r->is_int64())
      replicas = r->as_int64();
  }
  scale["spec"] = json::object{{"replicas", replicas}};
  json::object status;
  int64_t have = 0;
  std::string selector;
  if (auto* s = obj.if_contains("status"); s && s->is_object()) {
    if (auto* r = s->as_object().if_contains("replicas"); r && r->is_int64()) have = r->as_int64();
  }
  status["replicas"] = have;
  if (auto* s = obj.if_contains("spec"); s && s->is_object()) {
    if (auto* sel = s->as_object().if_contains("selector"); sel && sel->is_object()) {
      auto ls = api::LabelSelector::FromJson(*sel);
      if (ls.ok()) selector = ls->ToString();
      // ReplicationController selectors are plain maps.
      if (kind.kind == "ReplicationController") {
        std::string out;
        for (auto& [k, v] : sel->as_object()) {
          if (!out.empty()) out += ",";
          out += std::string(k) + "=" + (v.is_string() ? std::string(v.as_string()) : "");
        }
        selector = out;
      }
    }
  }
  if (!selector.empty()) status["selector"] = selector;
  scale["status"] = std::move(status);
  return scale;
}

asio::awaitable<Result<ObjectPtr>> Rest::Patch(const api::KindInfo& kind, std::string ns,
                                               std::string name, std::string subresource,
                                               PatchType type, json::value patch,
                                               WriteOptions opts) {
  if (type == PatchType::kApply) {
    if (!subresource.empty()) {
      co_return Status(Code::kUnsupportedMedia,
                       "server-side apply of the " + subresource +
                           " subresource is not supported; apply the object itself");
    }
    co_return co_await Apply(kind, std::move(ns), std::move(name), std::move(patch),
                             std::move(opts));
  }
  for (int attempt = 0;; ++attempt) {
    ObjectPtr cur = cache_.Get(ObjectKey(kind, ns, name));
    if (!cur) co_return NotFoundError(kind, name);
    json::value base;
    if (subresource == "scale") {
      auto s = ScaleOf(kind, cur->obj);
      if (!s.ok()) co_return s.status();
      base = std::move(*s);
    } else {
      base = cur->obj;
    }
    Result<json::value> patched = Status(Code::kInternal, "unreachable");
    switch (type) {
      case PatchType::kJson:
        patched = api::ApplyJsonPatch(base, patch);
        break;
      case PatchType::kMerge:
        patched = api::ApplyMergePatch(base, patch);
        break;
      case PatchType::kStrategic:
        patched = api::ApplyStrategicMergePatch(
            base, patch, subresource == "scale" ? registry_.FindType("Scale") : kind.schema);
        break;
      case PatchType::kApply:
        break;
    }
    if (!patched.ok()) co_return patched.status();
    if (!patched->is_object()) co_return BadRequest("the patch produced a non-object");
    json::object& pobj = patched->as_object();
    std::string_view patched_rv = MetaString(pobj, "resourceVersion");
    bool client_rv = !patched_rv.empty() && patched_rv != std::to_string(cur->mod_revision);
    if (client_rv) co_return ConflictError(kind, name);
    json::object next;
    if (subresource == "scale") {
      next = cur->obj;
      json::value& spec = next["spec"];
      if (!spec.is_object()) spec.emplace_object();
      auto* r = pobj.contains("spec") && pobj["spec"].is_object()
                    ? pobj["spec"].as_object().if_contains("replicas")
                    : nullptr;
      if (!r || !(r->is_int64() || r->is_uint64())) {
        Status bad = InvalidError(
            kind, name,
            std::vector<Cause>(1, Cause{"FieldValueRequired", "Required value", "spec.replicas"}));
        co_return bad;
      }
      spec.as_object()["replicas"] = r->to_number<int64_t>();
      TrackUpdate(kind, cur->obj, next, ManagerOf(opts), clock_.NowUnix());
    } else {
      auto decoded = Decode(kind, std::move(*patched), opts);
      if (!decoded.ok()) co_return decoded.status();
      next = std::move(*decoded);
      KeepSystemMetadata(cur->obj, next);
      if (subresource != "status")
        TrackUpdate(kind, cur->obj, next, ManagerOf(opts), clock_.NowUnix());
      if (subresource == "status") {
        api::PrepareForStatusUpdate(kind, next, cur->obj);
      } else {
        api::PrepareForUpdate(kind, next, cur->obj);
      }
    }
    std::string psa_warning;  // a workload's pod template (Pod Security), not on subresources
    if (subresource.empty())
      psa_warning = PodSecurityTemplateWarning(registry_, cache_, kind, ns, next);
    auto res = co_await WriteUpdate(kind, cur, std::move(next), opts);
    if (!res.ok() && res.status().code() == Code::kConflict && attempt < kMaxRetries) {
      co_await CatchUp();
      continue;
    }
    if (res.ok() && opts.warnings && !psa_warning.empty()) opts.warnings->push_back(psa_warning);
    co_return res;
  }
}

asio::awaitable<Result<ObjectPtr>> Rest::Apply(const api::KindInfo& kind, std::string ns,
                                               std::string name, json::value body,
                                               WriteOptions opts) {
  const std::string& manager = opts.field_manager;
  if (manager.empty()) co_return BadRequest("fieldManager is required for apply requests");
  if (!body.is_object()) co_return BadRequest("the request body must be a JSON or YAML object");
  api::DropNulls(body);
  auto decoded = Decode(kind, std::move(body), opts);
  if (!decoded.ok()) co_return decoded.status();
  json::object applied = std::move(*decoded);
  std::string_view body_name = MetaString(applied, "name");
  if (body_name != name) {
    co_return BadRequest("the name of the object (" + std::string(body_name) +
                         ") does not match the name on the URL (" + name + ")");
  }
  if (kind.namespaced) {
    std::string_view body_ns = MetaString(applied, "namespace");
    if (!body_ns.empty() && body_ns != ns) {
      co_return BadRequest(
          "the namespace of the provided object does not match the namespace sent on the request");
    }
  }
  // resourceVersion in the configuration is a precondition; the rest of the system metadata is
  // the server's.
  const std::string want_rv(MetaString(applied, "resourceVersion"));
  for (const char* f :
       {"uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
        "deletionGracePeriodSeconds", "generation", "selfLink", "managedFields", "generateName"}) {
    Meta(applied).erase(f);
  }
  const json::object fields = api::AppliedFields(applied, kind.schema);
  const std::string api_version = kind.ApiVersion();
  for (int attempt = 0;; ++attempt) {
    const std::string now = FormatRfc3339(clock_.NowUnix());
    ObjectPtr cur = cache_.Get(ObjectKey(kind, ns, name));
    if (!cur) {
      if (!want_rv.empty()) co_return NotFoundError(kind, name);
      json::array managed;
      managed.push_back(NewEntry(manager, "Apply", api_version, now));
      EntryFields(managed.back()) = fields;
      WriteOptions create_opts = opts;
      create_opts.managed_fields = &managed;
      create_opts.field_validation = "Ignore";  // checked above, on the configuration
      auto res = co_await Create(kind, ns, json::value(applied), create_opts);
      if (!res.ok() && res.status().code() == Code::kAlreadyExists && attempt < kMaxRetries) {
        co_await CatchUp();
        continue;  // created meanwhile: apply to it
      }
      if (res.ok() && opts.created) *opts.created = true;
      co_return res;
    }
    if (!want_rv.empty() && want_rv != std::to_string(cur->mod_revision)) {
      co_return ConflictError(kind, name);
    }
    json::array entries = ManagedEntries(cur->obj);
    // Fields this configuration sets that other managers own with another value.
    std::vector<std::pair<std::string, api::FieldPath>> conflicts;
    for (const auto& p : api::LeafPaths(fields)) {
      if (p.back() == ".") continue;  // list items themselves are shared freely
      const json::value* want = api::ValueAtPath(applied, p);
      const json::value* have = api::ValueAtPath(cur->obj, p);
      // Owned with the same value, or owned on paper only (the live object lacks it): no clash.
      if (!want || !have || *want == *have) continue;
      for (auto& e : entries) {
        if (!e.is_object()) continue;
        if (EntryString(e, "manager") == manager && EntryString(e, "operation") == "Apply")
          continue;
        json::object& trie = EntryFields(e);
        if (!api::TrieHasLeaf(trie, p)) continue;
        if (opts.force) {
          api::TrieRemove(trie, p);
          continue;
        }
        // Kubernetes names an Update manager with the API version it wrote through.
        std::string who = "\"" + std::string(EntryString(e, "manager")) + "\"";
        if (EntryString(e, "operation") != "Apply")
          who += " using " + std::string(EntryString(e, "apiVersion"));
        conflicts.emplace_back(std::move(who), p);
      }
    }
    if (!conflicts.empty()) {
      // As Kubernetes words it: one line per manager, its paths listed when there are several.
      std::vector<Cause> causes;
      std::vector<std::string> order;
      std::map<std::string, std::vector<std::string>> by_manager;
      for (const auto& [who, path] : conflicts) {
        causes.push_back(
            Cause{"FieldManagerConflict", "conflict with " + who, api::PathString(path)});
        if (!by_manager.count(who)) order.push_back(who);
        by_manager[who].push_back(api::PathString(path));
      }
      std::string msg = "Apply failed with " + std::to_string(conflicts.size()) + " conflict" +
                        (conflicts.size() == 1 ? "" : "s") + ": ";
      for (size_t i = 0; i < order.size(); ++i) {
        const auto& paths = by_manager[order[i]];
        if (i) msg += "\n";
        if (paths.size() == 1) {
          msg += "conflict with " + order[i] + ": " + paths[0];
        } else {
          msg += "conflicts with " + order[i] + ":";
          for (const auto& p : paths) msg += "\n- " + p;
        }
      }
      co_return Status(Code::kConflict, msg, std::move(causes));
    }
    // The merge, then what this manager set before, sets no more and nobody else owns.
    json::value next_v(cur->obj);
    api::MergeApplied(next_v.as_object(), applied, kind.schema);
    json::value* mine = nullptr;
    for (auto& e : entries) {
      if (e.is_object() && EntryString(e, "manager") == manager &&
          EntryString(e, "operation") == "Apply")
        mine = &e;
    }
    if (mine) {
      for (const auto& p : api::LeafPaths(EntryFields(*mine))) {
        if (api::TrieHasLeaf(fields, p)) continue;
        api::FieldPath item(p.begin(), p.end() - (p.back() == "." ? 1 : 0));
        bool kept = false;
        for (auto& e : entries) {
          if (&e == mine || !e.is_object()) continue;
          const json::object& trie = EntryFields(e);
          if (p.back() == "." ? api::TrieHasPrefix(trie, item) : api::TrieHasLeaf(trie, p)) {
            kept = true;
            break;
          }
        }
        if (!kept && p.back() == "." && api::TrieHasPrefix(fields, item)) kept = true;
        if (!kept) api::RemoveAtPath(next_v, p);
      }
      // The entry's time moves only when its fields do: an identical apply writes nothing.
      if (EntryFields(*mine) != fields) {
        EntryFields(*mine) = fields;
        mine->as_object()["time"] = now;
      }
      mine->as_object()["apiVersion"] = api_version;
    } else {
      entries.push_back(NewEntry(manager, "Apply", api_version, now));
      EntryFields(entries.back()) = fields;
    }
    DropEmptyEntries(entries);
    json::object next = std::move(next_v.as_object());
    KeepSystemMetadata(cur->obj, next);
    SetManagedFields(next, std::move(entries));
    api::PrepareForUpdate(kind, next, cur->obj);
    // A workload's pod template (Pod Security).
    std::string psa_warning = PodSecurityTemplateWarning(registry_, cache_, kind, ns, next);
    auto res = co_await WriteUpdate(kind, cur, std::move(next), opts);
    if (!res.ok() && res.status().code() == Code::kConflict && attempt < kMaxRetries &&
        want_rv.empty()) {
      co_await CatchUp();
      continue;
    }
    if (res.ok() && opts.warnings && !psa_warning.empty()) opts.warnings->push_back(psa_warning);
    co_return res;
  }
}

asio::awaitable<Result<ObjectPtr>> Rest::Mutate(const api::KindInfo& kind, std::string ns,
                                                std::string name,
                                                std::function<Status(json::object&)> mutate,
                                                WriteOptions opts) {
  for (int attempt = 0;; ++attempt) {
    ObjectPtr cur = cache_.Get(ObjectKey(kind, ns, name));
    if (!cur) co_return NotFoundError(kind, name);
    json::object next = cur->obj;
    Status st = mutate(next);
    if (!st.ok()) co_return st;
    auto res = co_await WriteUpdate(kind, cur, std::move(next), opts);
    if (!res.ok() && res.status().code() == Code::kConflict && attempt < kMaxRetries) {
      co_await CatchUp();
      continue;
    }
    co_return res;
  }
}

asio::awaitable<Result<ObjectPtr>> Rest::Delete(const api::KindInfo& kind, std::string ns,
                                                std::string name, DeleteOptions opts) {
  for (int attempt = 0;; ++attempt) {
    ObjectPtr cur = cache_.Get(ObjectKey(kind, ns, name));
    if (!cur) co_return NotFoundError(kind, name);
    if (!opts.precondition_uid.empty() && opts.precondition_uid != MetaString(cur->obj, "uid")) {
      co_return Conflict("Precondition failed: UID in precondition: " + opts.precondition_uid +
                         ", UID in object meta: " + std::string(MetaString(cur->obj, "uid")));
    }
    if (!opts.precondition_resource_version.empty() &&
        opts.precondition_resource_version != std::to_string(cur->mod_revision)) {
      co_return Conflict("Precondition failed: ResourceVersion in precondition: " +
                         opts.precondition_resource_version +
                         ", ResourceVersion in object meta: " + std::to_string(cur->mod_revision));
    }
    if (Status st = AdmitNodeDelete(opts.identity, kind, cur->obj); !st.ok()) co_return st;
    const bool already_deleting = !MetaString(cur->obj, "deletionTimestamp").empty();
    json::object next = cur->obj;
    int64_t now = clock_.NowUnix();
    bool update = false;
    if (kind.kind == "Namespace") {
      if (name == "default" || name == "kube-system" || name == "kube-public") {
        co_return Forbidden("namespaces \"" + name +
                            "\" is forbidden: this namespace may not be deleted");
      }
      if (already_deleting) co_return cur;
      Meta(next)["deletionTimestamp"] = FormatRfc3339(now);
      Meta(next)["deletionGracePeriodSeconds"] = 0;
      json::value& status = next["status"];
      if (!status.is_object()) status.emplace_object();
      status.as_object()["phase"] = "Terminating";
      update = true;
    } else {
      if (opts.propagation_policy == "Orphan") AddFinalizer(next, "orphan");
      if (opts.propagation_policy == "Foreground") AddFinalizer(next, "foregroundDeletion");
      int64_t grace = 0;
      if (kind.kind == "Pod") {
        grace = opts.grace_period_seconds;
        if (grace < 0) {
          grace = 30;
          if (auto* s = cur->obj.if_contains("spec"); s && s->is_object()) {
            if (auto* g = s->as_object().if_contains("terminationGracePeriodSeconds");
                g && g->is_int64())
              grace = g->as_int64();
          }
        }
        std::string node, phase;
        if (auto* s = cur->obj.if_contains("spec"); s && s->is_object())
          if (auto* n = s->as_object().if_contains("nodeName"); n && n->is_string())
            node = std::string(n->as_string());
        if (auto* s = cur->obj.if_contains("status"); s && s->is_object())
          if (auto* p = s->as_object().if_contains("phase"); p && p->is_string())
            phase = std::string(p->as_string());
        // Nothing runs an unscheduled or finished pod: it goes at once.
        if (node.empty() || phase == "Succeeded" || phase == "Failed") grace = 0;
      }
      if (grace > 0) {
        if (already_deleting) {
          auto* g = cur->obj.at("metadata").as_object().if_contains("deletionGracePeriodSeconds");
          if (g && g->is_int64() && g->as_int64() <= grace) co_return cur;
        }
        Meta(next)["deletionTimestamp"] = FormatRfc3339(now + grace);
        Meta(next)["deletionGracePeriodSeconds"] = grace;
        update = true;
      } else if (HasFinalizers(next)) {
        if (already_deleting && next == cur->obj) co_return cur;
        if (!already_deleting) {
          Meta(next)["deletionTimestamp"] = FormatRfc3339(now);
          Meta(next)["deletionGracePeriodSeconds"] = 0;
        }
        update = true;
      }
    }
    Result<ObjectPtr> res = Status(Code::kInternal, "unreachable");
    if (update) {
      if (opts.dry_run) co_return cur;
      auto rev = co_await AwaitUpdateApplied(backend_, cache_.applied(), cur->key,
                                             internal::Serialize(next), cur->mod_revision);
      if (!rev.ok()) {
        res = rev.status();
      } else {
        ObjectPtr got = cache_.Get(cur->key);
        if (got) co_return got;
        co_return cur;
      }
    } else {
      res = co_await FinishDelete(kind, cur, opts.dry_run);
    }
    if (!res.ok() && res.status().code() == Code::kConflict && attempt < kMaxRetries &&
        opts.precondition_resource_version.empty()) {
      co_await CatchUp();
      continue;
    }
    if (!res.ok() && res.status().code() == Code::kConflict) co_return ConflictError(kind, name);
    co_return res;
  }
}

}  // namespace sampan::apiserver
