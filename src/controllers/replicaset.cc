#include "controllers/replicaset.h"

#include <algorithm>
#include <cmath>

#include "api/labels.h"
#include "util/clock.h"
#include "util/log.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;

namespace {

constexpr int kBurstReplicas = 500;

std::vector<std::string> ByNamespace(const json::object& o) { return {MetaString(o, "namespace")}; }

Result<api::LabelSelector> SelectorOf(const json::object& rs, bool legacy_rc) {
  const json::object* spec = Obj(&rs, "spec");
  if (legacy_rc) {
    const json::object* sel = Obj(spec, "selector");
    if (!sel || sel->empty()) sel = Obj(Obj(Obj(spec, "template"), "metadata"), "labels");
    if (!sel || sel->empty()) return Invalid("the ReplicationController has no selector");
    return api::LabelSelector::FromJson(json::value(json::object{{"matchLabels", *sel}}));
  }
  auto* sel = spec ? spec->if_contains("selector") : nullptr;
  if (!sel || !sel->is_object()) return Invalid("the ReplicaSet has no selector");
  // An empty selector selects nothing for a workload.
  if (sel->as_object().empty()) return Invalid("the ReplicaSet has an empty selector");
  return api::LabelSelector::FromJson(*sel);
}

int PodPhaseRank(const json::object& pod) {
  std::string phase = Str(Obj(&pod, "status"), "phase");
  if (phase == "Pending") return 0;
  if (phase == "Unknown") return 1;
  if (phase == "Running") return 2;
  return 3;
}

int64_t DeletionCost(const json::object& pod) {
  const json::object* ann = client::MetaObject(pod, "annotations");
  std::string v = Str(ann, "controller.kubernetes.io/pod-deletion-cost");
  if (v.empty()) return 0;
  try {
    return std::stoll(v);
  } catch (...) {
    return 0;
  }
}

int64_t ReadySince(const json::object& pod) {
  const json::array* conds = Arr(Obj(&pod, "status"), "conditions");
  if (!conds) return 0;
  for (const auto& c : *conds) {
    if (c.is_object() && Str(&c.as_object(), "type") == "Ready" &&
        Str(&c.as_object(), "status") == "True") {
      int64_t t = 0;
      if (ParseRfc3339(Str(&c.as_object(), "lastTransitionTime"), &t)) return t;
    }
  }
  return 0;
}

int64_t MaxRestarts(const json::object& pod) {
  int64_t m = 0;
  if (const json::array* cs = Arr(Obj(&pod, "status"), "containerStatuses")) {
    for (const auto& c : *cs)
      if (c.is_object()) m = std::max(m, Int(&c.as_object(), "restartCount"));
  }
  return m;
}

int64_t CreatedAt(const json::object& pod) {
  int64_t t = 0;
  ParseRfc3339(MetaString(pod, "creationTimestamp"), &t);
  return t;
}

// floor(log2(age)) buckets so that pods of similar age compare equal.
int64_t AgeBucket(int64_t t, int64_t now) {
  if (t == 0) return -1;
  int64_t age = std::max<int64_t>(1, now - t);
  return static_cast<int64_t>(std::floor(std::log2(static_cast<double>(age))));
}

}  // namespace

void SortPodsForDeletion(std::vector<ObjectPtr>& pods, int64_t now) {
  std::map<std::string, int> per_node;
  for (const auto& p : pods) {
    std::string n = Str(Obj(p.get(), "spec"), "nodeName");
    if (!n.empty()) per_node[n]++;
  }
  auto node_count = [&](const json::object& p) {
    std::string n = Str(Obj(&p, "spec"), "nodeName");
    return n.empty() ? 0 : per_node[n];
  };
  std::stable_sort(pods.begin(), pods.end(), [&](const ObjectPtr& a, const ObjectPtr& b) {
    bool ua = Str(Obj(a.get(), "spec"), "nodeName").empty();
    bool ub = Str(Obj(b.get(), "spec"), "nodeName").empty();
    if (ua != ub) return ua;  // 1. unassigned first
    int ra = PodPhaseRank(*a), rb = PodPhaseRank(*b);
    if (ra != rb) return ra < rb;  // 2. Pending < Unknown < Running
    bool ya = IsPodReady(*a), yb = IsPodReady(*b);
    if (ya != yb) return !ya;  // 3. not ready first
    int64_t ca = DeletionCost(*a), cb = DeletionCost(*b);
    if (ca != cb) return ca < cb;  // 4. lower deletion cost first
    int na = node_count(*a), nb = node_count(*b);
    if (na != nb) return na > nb;  // 5. more siblings on the same node first
    if (ya && yb) {
      int64_t ta = AgeBucket(ReadySince(*a), now), tb = AgeBucket(ReadySince(*b), now);
      if (ta != tb) return ta < tb;  // 6. ready more recently first
    }
    int64_t ma = MaxRestarts(*a), mb = MaxRestarts(*b);
    if (ma != mb) return ma > mb;  // 7. more restarts first
    int64_t ta = AgeBucket(CreatedAt(*a), now), tb = AgeBucket(CreatedAt(*b), now);
    if (ta != tb) return ta < tb;  // 8. newer first
    return MetaString(*a, "uid") < MetaString(*b, "uid");
  });
}

ReplicaSetController::ReplicaSetController(client::SharedInformers* informers,
                                           client::EventRecorder* recorder, bool legacy_rc)
    : client_(informers->client()),
      recorder_(recorder),
      resource_(legacy_rc ? client::resources::kReplicationControllers
                          : client::resources::kReplicaSets),
      legacy_rc_(legacy_rc),
      sets_(informers->For(resource_)),
      pods_(informers->For(client::resources::kPods)),
      queue_(client::WorkQueue::Options{std::chrono::milliseconds(5), std::chrono::seconds(60)}) {
  sets_->AddIndex("namespace", ByNamespace);
  pods_->AddIndex("namespace", ByNamespace);
  sets_->AddEventHandler(client::EventHandlers{
      [this](const ObjectPtr& o) { queue_.Add(client::KeyOf(*o)); },
      [this](const ObjectPtr&, const ObjectPtr& o) { queue_.Add(client::KeyOf(*o)); },
      [this](const ObjectPtr& o) {
        expectations_.Forget(client::KeyOf(*o));
        queue_.Add(client::KeyOf(*o));
      }});
  pods_->AddEventHandler(
      client::EventHandlers{[this](const ObjectPtr& p) {
                              if (std::string owner = OwnerKey(*p); !owner.empty()) {
                                expectations_.CreationObserved(owner);
                                queue_.Add(owner);
                              } else if (!ControllerRef(*p)) {
                                EnqueueMatching(*p);
                              }
                            },
                            [this](const ObjectPtr& old_pod, const ObjectPtr& p) {
                              if (old_pod == p) return;  // resync
                              std::string old_owner = OwnerKey(*old_pod), owner = OwnerKey(*p);
                              if (!old_owner.empty() && old_owner != owner) queue_.Add(old_owner);
                              if (!owner.empty()) {
                                queue_.Add(owner);
                              } else if (!ControllerRef(*p)) {
                                EnqueueMatching(*p);
                              }
                            },
                            [this](const ObjectPtr& p) {
                              if (std::string owner = OwnerKey(*p); !owner.empty()) {
                                expectations_.DeletionObserved(owner);
                                queue_.Add(owner);
                              }
                            }});
}

ReplicaSetController::~ReplicaSetController() { Stop(); }

std::string ReplicaSetController::OwnerKey(const json::object& pod) const {
  const json::object* ref = ControllerRef(pod);
  if (!ref || Str(ref, "kind") != resource_.kind) return "";
  std::string key = MetaString(pod, "namespace") + "/" + Str(ref, "name");
  ObjectPtr owner = sets_->Get(key);
  if (owner && MetaString(*owner, "uid") != Str(ref, "uid")) return "";
  return key;
}

void ReplicaSetController::EnqueueMatching(const json::object& pod) {
  if (IsDeleting(pod)) return;
  const json::value* labels = nullptr;
  if (auto* m = pod.if_contains("metadata"); m && m->is_object())
    labels = m->as_object().if_contains("labels");
  for (const ObjectPtr& rs : sets_->ByIndex("namespace", MetaString(pod, "namespace"))) {
    auto sel = SelectorOf(*rs, legacy_rc_);
    if (sel.ok() && sel->Matches(labels)) queue_.Add(client::KeyOf(*rs));
  }
}

void ReplicaSetController::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      pods_->WaitForSync(std::chrono::seconds(60));
      sets_->WaitForSync(std::chrono::seconds(60));
      queue_.Process(resource_.plural, [this](const std::string& key) { return Sync(key); });
    });
  }
}

void ReplicaSetController::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

Status ReplicaSetController::Sync(const std::string& key) {
  ObjectPtr rs = sets_->Get(key);
  if (!rs) {
    expectations_.Forget(key);
    return Status::Ok();
  }
  auto [ns, name] = client::SplitKey(key);
  auto selector = SelectorOf(*rs, legacy_rc_);
  if (!selector.ok()) {
    recorder_->Record(*rs, "Warning", "InvalidSelector", selector.status().message());
    return Status::Ok();  // nothing to do until the user fixes it
  }
  const std::string uid = MetaString(*rs, "uid");
  const bool rs_deleting = IsDeleting(*rs);
  bool need_manage = expectations_.Satisfied(key);

  // Claim pods: keep owned matching ones, adopt matching orphans, release the rest.
  std::vector<ObjectPtr> owned;
  for (const ObjectPtr& pod : pods_->ByIndex("namespace", ns)) {
    const json::value* labels = nullptr;
    if (auto* m = pod->if_contains("metadata"); m && m->is_object())
      labels = m->as_object().if_contains("labels");
    bool matches = selector->Matches(labels);
    const json::object* ref = ControllerRef(*pod);
    const json::array* refs = Arr(Obj(pod.get(), "metadata"), "ownerReferences");
    if (ref) {
      if (Str(ref, "uid") != uid) continue;
      if (matches) {
        owned.push_back(pod);
        continue;
      }
      if (IsDeleting(*pod) || rs_deleting) continue;
      // Release: drop our reference.
      json::array kept;
      for (const auto& r : *refs)
        if (!(r.is_object() && Str(&r.as_object(), "uid") == uid)) kept.push_back(r);
      json::object patch{
          {"metadata", json::object{{"ownerReferences", kept}, {"uid", MetaString(*pod, "uid")}}}};
      auto r = client_->Patch(client::resources::kPods, ns, MetaString(*pod, "name"),
                              client::PatchType::kMerge, patch);
      if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
      continue;
    }
    if (!matches || IsDeleting(*pod) || rs_deleting) continue;
    // Adopt the orphan.
    json::array new_refs = refs ? *refs : json::array();
    new_refs.push_back(MakeControllerRef(*rs));
    json::object patch{{"metadata", json::object{{"ownerReferences", new_refs},
                                                 {"uid", MetaString(*pod, "uid")}}}};
    auto r = client_->Patch(client::resources::kPods, ns, MetaString(*pod, "name"),
                            client::PatchType::kMerge, patch);
    if (!r.ok()) {
      if (r.status().code() == Code::kNotFound) continue;
      return r.status();
    }
    owned.push_back(std::make_shared<const json::object>(std::move(*r)));
  }
  std::vector<ObjectPtr> active;
  for (const auto& p : owned)
    if (IsPodActive(*p)) active.push_back(p);

  Status manage;
  if (need_manage && !rs_deleting) {
    int64_t replicas = Int(Obj(rs.get(), "spec"), "replicas", 1);
    manage = ManageReplicas(*rs, key, active, replicas);
  }
  Status st = UpdateStatus(*rs, owned, manage);
  if (!manage.ok()) return manage;
  // Pods that are ready but not yet available need another look after minReadySeconds.
  int64_t min_ready = Int(Obj(rs.get(), "spec"), "minReadySeconds");
  if (st.ok() && min_ready > 0) {
    int64_t now = Clock::Real().NowUnix();
    for (const auto& p : active) {
      if (IsPodReady(*p) && !IsPodAvailable(*p, min_ready, now)) {
        queue_.AddAfter(key, std::chrono::seconds(min_ready));
        break;
      }
    }
  }
  return st;
}

Status ReplicaSetController::ManageReplicas(const json::object& rs, const std::string& key,
                                            std::vector<ObjectPtr>& active, int64_t replicas) {
  auto [ns, name] = client::SplitKey(key);
  int64_t diff = static_cast<int64_t>(active.size()) - replicas;
  if (diff < 0) {
    int want = static_cast<int>(std::min<int64_t>(-diff, kBurstReplicas));
    expectations_.Expect(key, want, 0);
    const json::object* tmpl = Obj(Obj(&rs, "spec"), "template");
    json::object meta;
    if (const json::object* tm = Obj(tmpl, "metadata")) {
      if (auto* l = tm->if_contains("labels")) meta["labels"] = *l;
      if (auto* a = tm->if_contains("annotations")) meta["annotations"] = *a;
      if (auto* f = tm->if_contains("finalizers")) meta["finalizers"] = *f;
    }
    meta["generateName"] = name + "-";
    meta["namespace"] = ns;
    meta["ownerReferences"] = json::array{MakeControllerRef(rs)};
    json::object pod{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}};
    if (const json::object* spec = Obj(tmpl, "spec")) pod["spec"] = *spec;
    // Slow start: 1, 2, 4, … pods per batch; stop at the first failure.
    int created = 0, batch = 1;
    Status failure;
    while (created < want && failure.ok()) {
      int n = std::min(batch, want - created);
      for (int i = 0; i < n; ++i) {
        auto r = client_->Create(client::resources::kPods, ns, pod);
        if (!r.ok()) {
          failure = r.status();
          break;
        }
        ++created;
        recorder_->Record(rs, "Normal", "SuccessfulCreate",
                          "Created pod: " + MetaString(*r, "name"));
      }
      batch *= 2;
    }
    if (!failure.ok()) {
      expectations_.LowerAdds(key, want - created);
      recorder_->Record(rs, "Warning", "FailedCreate", "Error creating: " + failure.message());
      return failure;
    }
    return Status::Ok();
  }
  if (diff > 0) {
    int n = static_cast<int>(std::min<int64_t>(diff, kBurstReplicas));
    SortPodsForDeletion(active, Clock::Real().NowUnix());
    expectations_.Expect(key, 0, n);
    Status failure;
    for (int i = 0; i < n; ++i) {
      const auto& pod = active[i];
      std::string pod_name = MetaString(*pod, "name");
      client::DeleteOptions opts;
      opts.precondition_uid = MetaString(*pod, "uid");
      Status st = client_->Delete(client::resources::kPods, ns, pod_name, opts);
      if (!st.ok() && st.code() != Code::kNotFound) {
        expectations_.LowerDeletes(key, 1);
        recorder_->Record(rs, "Warning", "FailedDelete", "Error deleting: " + st.message());
        if (failure.ok()) failure = st;
        continue;
      }
      if (st.code() == Code::kNotFound) {
        expectations_.LowerDeletes(key, 1);
        continue;
      }
      recorder_->Record(rs, "Normal", "SuccessfulDelete", "Deleted pod: " + pod_name);
    }
    return failure;
  }
  return Status::Ok();
}

Status ReplicaSetController::UpdateStatus(const json::object& rs,
                                          const std::vector<ObjectPtr>& owned,
                                          const Status& manage_error) {
  const json::object* spec = Obj(&rs, "spec");
  const json::object* tmpl_labels = Obj(Obj(Obj(spec, "template"), "metadata"), "labels");
  int64_t min_ready = Int(spec, "minReadySeconds");
  int64_t now = Clock::Real().NowUnix();
  int64_t replicas = 0, fully = 0, ready = 0, available = 0;
  for (const auto& p : owned) {
    if (!IsPodActive(*p)) continue;
    ++replicas;
    bool full = true;
    if (tmpl_labels) {
      const json::object* pl = client::MetaObject(*p, "labels");
      for (const auto& [k, v] : *tmpl_labels) {
        auto* have = pl ? pl->if_contains(k) : nullptr;
        if (!have || *have != v) full = false;
      }
    }
    if (full) ++fully;
    if (IsPodReady(*p)) ++ready;
    if (IsPodAvailable(*p, min_ready, now)) ++available;
  }
  json::object old_status;
  if (const json::object* s = Obj(&rs, "status")) old_status = *s;
  json::object status = old_status;
  status["replicas"] = replicas;
  status["fullyLabeledReplicas"] = fully;
  status["readyReplicas"] = ready;
  status["availableReplicas"] = available;
  if (auto* m = rs.if_contains("metadata"); m && m->is_object()) {
    if (auto* g = m->as_object().if_contains("generation")) status["observedGeneration"] = *g;
  }
  // ReplicaFailure condition: set on a failed create/delete, removed once healthy.
  json::array conds;
  if (const json::array* old = Arr(&old_status, "conditions")) {
    for (const auto& c : *old)
      if (!(c.is_object() && Str(&c.as_object(), "type") == "ReplicaFailure")) conds.push_back(c);
  }
  if (!manage_error.ok()) {
    json::object prev_failure;
    if (const json::array* old = Arr(&old_status, "conditions")) {
      for (const auto& c : *old)
        if (c.is_object() && Str(&c.as_object(), "type") == "ReplicaFailure")
          prev_failure = c.as_object();
    }
    std::string reason = manage_error.code() == Code::kNotFound ? "FailedDelete" : "FailedCreate";
    conds.push_back(json::object{
        {"type", "ReplicaFailure"},
        {"status", "True"},
        {"reason", reason},
        {"message", manage_error.message()},
        {"lastTransitionTime",
         prev_failure.empty() ? FormatRfc3339(now) : Str(&prev_failure, "lastTransitionTime")}});
  }
  if (conds.empty()) {
    status.erase("conditions");
  } else {
    status["conditions"] = conds;
  }
  if (status == old_status) return Status::Ok();
  json::object updated = rs;
  updated["status"] = status;
  auto [ns, name] = client::SplitKey(client::KeyOf(rs));
  auto r = client_->UpdateStatus(resource_, ns, updated);
  if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
  return Status::Ok();
}

}  // namespace sampan::controllers
