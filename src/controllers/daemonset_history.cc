#include "controllers/daemonset_history.h"

#include <algorithm>

#include "controllers/deployment.h"
#include "controllers/util.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;

json::object RevisionData(const json::object& owner) {
  json::object tmpl;
  if (const json::object* t = Obj(Obj(&owner, "spec"), "template")) tmpl = *t;
  tmpl["$patch"] = "replace";
  return json::object{{"spec", json::object{{"template", std::move(tmpl)}}}};
}

json::object RevisionTemplate(const json::object& cr) {
  json::object t;
  if (const json::object* s = Obj(Obj(Obj(&cr, "data"), "spec"), "template")) t = *s;
  t.erase("$patch");
  return t;
}

bool RevisionMatches(const json::object& cr, const json::object& owner) {
  const json::object* cur = Obj(Obj(&owner, "spec"), "template");
  return RevisionTemplate(cr) == (cur ? *cur : json::object());
}

int64_t RevisionNumber(const json::object& cr) { return Int(&cr, "revision"); }

std::vector<ObjectPtr> OwnedRevisions(client::Informer* revisions, const json::object& owner) {
  std::vector<ObjectPtr> out;
  std::string uid = MetaString(owner, "uid");
  for (const ObjectPtr& cr : revisions->ByIndex("namespace", MetaString(owner, "namespace"))) {
    const json::object* ref = ControllerRef(*cr);
    if (ref && Str(ref, "uid") == uid) out.push_back(cr);
  }
  std::sort(out.begin(), out.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    if (RevisionNumber(*a) != RevisionNumber(*b)) return RevisionNumber(*a) < RevisionNumber(*b);
    return MetaString(*a, "name") < MetaString(*b, "name");
  });
  return out;
}

Result<json::object> EnsureCurrentRevision(client::RestClient* client,
                                           const client::Resource& owner_resource,
                                           const json::object& owner,
                                           const std::vector<ObjectPtr>& owned,
                                           const std::string& hash_label) {
  const std::string ns = MetaString(owner, "namespace");
  int64_t max_revision = 0;
  for (const auto& cr : owned) max_revision = std::max(max_revision, RevisionNumber(*cr));
  const json::object* annotations = client::MetaObject(owner, "annotations");
  // An existing revision of this template: make it the newest.
  ObjectPtr match;
  for (auto it = owned.rbegin(); it != owned.rend(); ++it) {
    if (RevisionMatches(**it, owner)) {
      match = *it;
      break;
    }
  }
  if (match) {
    if (RevisionNumber(*match) == max_revision) return *match;
    json::object updated = *match;
    updated["revision"] = max_revision + 1;
    json::object& meta = updated["metadata"].as_object();
    if (annotations) {
      json::object ann = meta.contains("annotations") && meta["annotations"].is_object()
                             ? meta["annotations"].as_object()
                             : json::object();
      for (const auto& [k, v] : *annotations) ann[k] = v;
      meta["annotations"] = ann;
    }
    return client->Update(client::resources::kControllerRevisions, ns, updated);
  }
  int64_t collisions = Int(Obj(&owner, "status"), "collisionCount");
  const json::object* tmpl = Obj(Obj(&owner, "spec"), "template");
  std::string hash = PodTemplateHash(tmpl ? *tmpl : json::object(), collisions);
  std::string name = MetaString(owner, "name") + "-" + hash;
  json::object labels;
  if (const json::object* l = Obj(Obj(tmpl, "metadata"), "labels")) labels = *l;
  labels[hash_label] = hash;
  json::object meta{{"name", name},
                    {"namespace", ns},
                    {"labels", labels},
                    {"ownerReferences", json::array{MakeControllerRef(owner)}}};
  if (annotations) {
    json::object ann = *annotations;
    ann.erase("kubectl.kubernetes.io/last-applied-configuration");
    if (!ann.empty()) meta["annotations"] = ann;
  }
  json::object cr{{"apiVersion", "apps/v1"},
                  {"kind", "ControllerRevision"},
                  {"metadata", meta},
                  {"data", RevisionData(owner)},
                  {"revision", max_revision + 1}};
  auto created = client->Create(client::resources::kControllerRevisions, ns, cr);
  if (created.ok() || created.status().code() != Code::kAlreadyExists) return created;
  // The name exists: ours with the same template (the cache was behind), or a collision.
  auto existing = client->Get(client::resources::kControllerRevisions, ns, name);
  if (!existing.ok()) return existing.status();
  const json::object* ref = ControllerRef(*existing);
  if (ref && Str(ref, "uid") == MetaString(owner, "uid") && RevisionMatches(*existing, owner))
    return *existing;
  json::object updated = owner;
  json::object status;
  if (const json::object* s = Obj(&owner, "status")) status = *s;
  status["collisionCount"] = collisions + 1;
  updated["status"] = status;
  auto r = client->UpdateStatus(owner_resource, ns, updated);
  if (!r.ok()) return r.status();
  return Conflict("controller revision " + name + " holds another template; collisionCount raised");
}

Status TrimRevisions(client::RestClient* client, const std::vector<ObjectPtr>& owned, int64_t limit,
                     const std::set<std::string>& keep) {
  std::vector<ObjectPtr> removable;
  for (const auto& cr : owned)
    if (!keep.count(MetaString(*cr, "name"))) removable.push_back(cr);
  int64_t excess = static_cast<int64_t>(removable.size()) - std::max<int64_t>(limit, 0);
  for (int64_t i = 0; i < excess; ++i) {
    const auto& cr = removable[i];  // oldest first
    client::DeleteOptions opts;
    opts.precondition_uid = MetaString(*cr, "uid");
    Status st = client->Delete(client::resources::kControllerRevisions,
                               MetaString(*cr, "namespace"), MetaString(*cr, "name"), opts);
    if (!st.ok() && st.code() != Code::kNotFound) return st;
  }
  return Status::Ok();
}

}  // namespace sampan::controllers
