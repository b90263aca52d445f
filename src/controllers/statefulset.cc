#include "controllers/statefulset.h"

#include <algorithm>
#include <map>
#include <set>

#include "controllers/claim.h"
#include "controllers/daemonset_history.h"
#include "controllers/deployment.h"
#include "controllers/util.h"
#include "util/log.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;

namespace {

const client::Resource kClaims{"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true};
constexpr const char* kRevisionLabel = "controller-revision-hash";
constexpr const char* kPodNameLabel = "statefulset.kubernetes.io/pod-name";
constexpr const char* kPodIndexLabel = "apps.kubernetes.io/pod-index";
constexpr const char* kHashLabel = "controller.kubernetes.io/hash";

std::string Phase(const json::object& pod) { return Str(Obj(&pod, "status"), "phase"); }
bool RunningReady(const json::object& pod) {
  return Phase(pod) == "Running" && IsPodReady(pod) && !IsDeleting(pod);
}
std::string PodRevision(const json::object& pod) {
  return Str(client::MetaObject(pod, "labels"), kRevisionLabel);
}
std::string ClaimName(const json::object& claim_template, const std::string& set, int64_t ord) {
  return MetaString(claim_template, "name") + "-" + set + "-" + std::to_string(ord);
}

}  // namespace

int64_t StatefulPodOrdinal(const std::string& set_name, const std::string& pod_name) {
  if (pod_name.size() <= set_name.size() + 1 || !pod_name.starts_with(set_name) ||
      pod_name[set_name.size()] != '-')
    return -1;
  std::string digits = pod_name.substr(set_name.size() + 1);
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos ||
      (digits.size() > 1 && digits[0] == '0'))
    return -1;
  return std::stoll(digits);
}

json::object NewStatefulPod(const json::object& set, const json::object& tmpl,
                            const std::string& revision, int64_t ordinal) {
  const std::string set_name = MetaString(set, "name");
  const std::string name = set_name + "-" + std::to_string(ordinal);
  json::object meta;
  json::object labels;
  if (const json::object* tm = Obj(&tmpl, "metadata")) {
    if (const json::object* l = Obj(tm, "labels")) labels = *l;
    if (auto* a = tm->if_contains("annotations")) meta["annotations"] = *a;
    if (auto* f = tm->if_contains("finalizers")) meta["finalizers"] = *f;
  }
  labels[kPodNameLabel] = name;
  labels[kPodIndexLabel] = std::to_string(ordinal);
  labels[kRevisionLabel] = revision;
  meta["labels"] = labels;
  meta["name"] = name;
  meta["namespace"] = MetaString(set, "namespace");
  meta["ownerReferences"] = json::array{MakeControllerRef(set)};
  json::object spec;
  if (const json::object* s = Obj(&tmpl, "spec")) spec = *s;
  spec["hostname"] = name;
  std::string service = Str(Obj(&set, "spec"), "serviceName");
  if (!service.empty()) spec["subdomain"] = service;
  if (const json::array* claims = Arr(Obj(&set, "spec"), "volumeClaimTemplates")) {
    json::array volumes;
    if (auto* v = spec.if_contains("volumes"); v && v->is_array()) volumes = v->as_array();
    for (const auto& c : *claims) {
      if (!c.is_object()) continue;
      std::string vol = MetaString(c.as_object(), "name");
      json::object entry{
          {"name", vol},
          {"persistentVolumeClaim",
           json::object{{"claimName", ClaimName(c.as_object(), set_name, ordinal)}}}};
      bool replaced = false;
      for (auto& v : volumes)
        if (v.is_object() && Str(&v.as_object(), "name") == vol) {
          v = entry;
          replaced = true;
        }
      if (!replaced) volumes.push_back(entry);
    }
    spec["volumes"] = volumes;
  }
  return json::object{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", spec}};
}

StatefulSetController::StatefulSetController(client::SharedInformers* informers,
                                             client::EventRecorder* recorder, const Clock* clock)
    : client_(informers->client()),
      recorder_(recorder),
      clock_(clock),
      sets_(informers->For(client::resources::kStatefulSets)),
      pods_(informers->For(client::resources::kPods)),
      revisions_(informers->For(client::resources::kControllerRevisions)),
      queue_(client::WorkQueue::Options{std::chrono::milliseconds(5), std::chrono::seconds(60)}) {
  revisions_->AddIndex("namespace", [](const json::object& o) -> std::vector<std::string> {
    return {MetaString(o, "namespace")};
  });
  pods_->AddIndex("sts-uid", [](const json::object& p) -> std::vector<std::string> {
    const json::object* ref = ControllerRef(p);
    if (!ref || Str(ref, "kind") != "StatefulSet") return {};
    return {Str(ref, "uid")};
  });
  AddOrphanIndex(pods_);
  sets_->AddIndex("namespace", [](const json::object& o) -> std::vector<std::string> {
    return {MetaString(o, "namespace")};
  });
  auto enqueue = [this](const ObjectPtr& o) { queue_.Add(client::KeyOf(*o)); };
  sets_->AddEventHandler(client::EventHandlers{
      enqueue, [enqueue](const ObjectPtr&, const ObjectPtr& o) { enqueue(o); }, enqueue});
  // The owner of a pod, or for an orphan every set of its namespace that could adopt it.
  auto owner = [this](const ObjectPtr& p) {
    const json::object* ref = ControllerRef(*p);
    if (ref) {
      if (Str(ref, "kind") == "StatefulSet")
        queue_.Add(MetaString(*p, "namespace") + "/" + Str(ref, "name"));
      return;
    }
    if (IsDeleting(*p)) return;
    for (const ObjectPtr& set : sets_->ByIndex("namespace", MetaString(*p, "namespace"))) {
      const json::object* spec = Obj(set.get(), "spec");
      const json::value* sel = spec ? spec->if_contains("selector") : nullptr;
      if (!sel || !sel->is_object() || sel->as_object().empty()) continue;
      auto selector = api::LabelSelector::FromJson(*sel);
      if (selector.ok() && IsAdoptable(*p, *selector) &&
          StatefulPodOrdinal(MetaString(*set, "name"), MetaString(*p, "name")) >= 0)
        queue_.Add(client::KeyOf(*set));
    }
  };
  // Revisions: the owner looks again when one of its own changes (e.g. relabelled: released);
  // an orphan brings every set of its namespace whose selector it matches (adoption).
  auto revision_owner = [this](const ObjectPtr& cr) {
    if (const json::object* ref = ControllerRef(*cr)) {
      if (Str(ref, "kind") == "StatefulSet")
        queue_.Add(MetaString(*cr, "namespace") + "/" + Str(ref, "name"));
      return;
    }
    if (IsDeleting(*cr)) return;
    for (const ObjectPtr& set : sets_->ByIndex("namespace", MetaString(*cr, "namespace"))) {
      const json::object* spec = Obj(set.get(), "spec");
      const json::value* sel = spec ? spec->if_contains("selector") : nullptr;
      if (!sel || !sel->is_object() || sel->as_object().empty()) continue;
      auto selector = api::LabelSelector::FromJson(*sel);
      if (selector.ok() && IsAdoptable(*cr, *selector)) queue_.Add(client::KeyOf(*set));
    }
  };
  revisions_->AddEventHandler(
      client::EventHandlers{revision_owner,
                            [revision_owner](const ObjectPtr& a, const ObjectPtr& b) {
                              if (a == b) return;
                              revision_owner(b);
                              const json::object* was = ControllerRef(*a);
                              const json::object* now = ControllerRef(*b);
                              if (was && (!now || Str(was, "uid") != Str(now, "uid")))
                                revision_owner(a);
                            },
                            revision_owner});
  pods_->AddEventHandler(client::EventHandlers{owner,
                                               [owner](const ObjectPtr& a, const ObjectPtr& b) {
                                                 if (a == b) return;
                                                 owner(b);
                                                 // A pod released or taken elsewhere: the old
                                                 // owner looks again.
                                                 const json::object* was = ControllerRef(*a);
                                                 const json::object* now = ControllerRef(*b);
                                                 if (was &&
                                                     (!now || Str(was, "uid") != Str(now, "uid")))
                                                   owner(a);
                                               },
                                               owner});
}

StatefulSetController::~StatefulSetController() { Stop(); }

void StatefulSetController::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      sets_->WaitForSync(std::chrono::seconds(60));
      pods_->WaitForSync(std::chrono::seconds(60));
      revisions_->WaitForSync(std::chrono::seconds(60));
      queue_.Process("statefulset", [this](const std::string& key) { return Sync(key); });
    });
  }
}

void StatefulSetController::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

Status StatefulSetController::CreateClaims(const json::object& set, int64_t ordinal) {
  const json::object* spec = Obj(&set, "spec");
  const json::array* claims = Arr(spec, "volumeClaimTemplates");
  if (!claims) return Status::Ok();
  const std::string ns = MetaString(set, "namespace"), set_name = MetaString(set, "name");
  bool owned_by_set =
      Str(Obj(spec, "persistentVolumeClaimRetentionPolicy"), "whenDeleted") == "Delete";
  for (const auto& c : *claims) {
    if (!c.is_object()) continue;
    const json::object& t = c.as_object();
    std::string name = ClaimName(t, set_name, ordinal);
    auto got = client_->Get(kClaims, ns, name);
    if (got.ok()) continue;
    if (got.status().code() != Code::kNotFound) return got.status();
    json::object labels;
    if (const json::object* l = client::MetaObject(t, "labels")) labels = *l;
    if (const json::object* ml = Obj(Obj(spec, "selector"), "matchLabels"))
      for (const auto& [k, v] : *ml) labels[k] = v;
    json::object meta{{"name", name}, {"namespace", ns}};
    if (!labels.empty()) meta["labels"] = labels;
    if (const json::object* a = client::MetaObject(t, "annotations")) meta["annotations"] = *a;
    if (owned_by_set) meta["ownerReferences"] = json::array{MakeControllerRef(set)};
    json::object claim{{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"}, {"metadata", meta}};
    if (const json::object* s = Obj(&t, "spec")) claim["spec"] = *s;
    auto r = client_->Create(kClaims, ns, claim);
    std::string pod = set_name + "-" + std::to_string(ordinal);
    if (!r.ok() && r.status().code() != Code::kAlreadyExists) {
      recorder_->Record(set, "Warning", "FailedCreate",
                        "create Claim " + name + " for Pod " + pod + " in StatefulSet " + set_name +
                            " failed error: " + r.status().message());
      return r.status();
    }
    if (r.ok())
      recorder_->Record(
          set, "Normal", "SuccessfulCreate",
          "create Claim " + name + " Pod " + pod + " in StatefulSet " + set_name + " success");
  }
  return Status::Ok();
}

Status StatefulSetController::CreatePod(const json::object& set, const json::object& tmpl,
                                        const std::string& revision, int64_t ordinal) {
  RETURN_IF_ERROR(CreateClaims(set, ordinal));
  json::object pod = NewStatefulPod(set, tmpl, revision, ordinal);
  std::string name = MetaString(pod, "name"), set_name = MetaString(set, "name");
  auto r = client_->Create(client::resources::kPods, MetaString(set, "namespace"), pod);
  if (!r.ok()) {
    if (r.status().code() == Code::kAlreadyExists) {
      // Ours and the cache is behind, or a pod of that name that is not ours (e.g. one we
      // released): look again later, as the name may be free by then.
      queue_.AddAfter(client::KeyOf(set), std::chrono::seconds(1));
      return Status::Ok();
    }
    recorder_->Record(set, "Warning", "FailedCreate",
                      "create Pod " + name + " in StatefulSet " + set_name +
                          " failed error: " + r.status().message());
    return r.status();
  }
  recorder_->Record(set, "Normal", "SuccessfulCreate",
                    "create Pod " + name + " in StatefulSet " + set_name + " successful");
  return Status::Ok();
}

Status StatefulSetController::DeletePod(const json::object& set, const json::object& pod) {
  std::string name = MetaString(pod, "name"), set_name = MetaString(set, "name");
  client::DeleteOptions opts;
  opts.precondition_uid = MetaString(pod, "uid");
  Status st = client_->Delete(client::resources::kPods, MetaString(pod, "namespace"), name, opts);
  if (!st.ok() && st.code() != Code::kNotFound) {
    recorder_->Record(
        set, "Warning", "FailedDelete",
        "delete Pod " + name + " in StatefulSet " + set_name + " failed error: " + st.message());
    return st;
  }
  if (st.ok())
    recorder_->Record(set, "Normal", "SuccessfulDelete",
                      "delete Pod " + name + " in StatefulSet " + set_name + " successful");
  return Status::Ok();
}

struct StatefulSetController::Plan {
  std::string update_name, current_name;
  json::object update_tmpl, current_tmpl;
  int64_t start = 0, replicas = 1;
  std::map<int64_t, ObjectPtr> pods;  // by ordinal
  int64_t now = 0, min_ready = 0;
};

Status StatefulSetController::Manage(const json::object& set, Plan& plan) {
  const json::object* spec = Obj(&set, "spec");
  const bool monotonic = Str(spec, "podManagementPolicy") != "Parallel";
  const json::object* us = Obj(spec, "updateStrategy");
  const bool rolling = Str(us, "type") != "OnDelete";
  const int64_t partition = rolling ? Int(Obj(us, "rollingUpdate"), "partition") : 0;
  const int64_t end = plan.start + plan.replicas;
  auto healthy = [&](const json::object& p) {
    return RunningReady(p) && IsPodAvailable(p, plan.min_ready, plan.now);
  };

  // 1. Pods in range, lowest ordinal first.
  for (int64_t ord = plan.start; ord < end; ++ord) {
    auto it = plan.pods.find(ord);
    if (it == plan.pods.end()) {
      bool use_current = rolling && ord - plan.start < partition;
      RETURN_IF_ERROR(CreatePod(set, use_current ? plan.current_tmpl : plan.update_tmpl,
                                use_current ? plan.current_name : plan.update_name, ord));
      if (monotonic) return Status::Ok();
      continue;
    }
    const json::object& pod = *it->second;
    if (IsDeleting(pod)) {
      if (monotonic) return Status::Ok();
      continue;
    }
    std::string phase = Phase(pod);
    if (phase == "Failed" || phase == "Succeeded") {
      RETURN_IF_ERROR(DeletePod(set, pod));
      if (monotonic) return Status::Ok();
      continue;
    }
    if (monotonic && !healthy(pod)) return Status::Ok();
  }
  // 2. Pods beyond the range, highest ordinal first.
  std::vector<ObjectPtr> condemned;
  for (auto it = plan.pods.rbegin(); it != plan.pods.rend(); ++it)
    if (it->first < plan.start || it->first >= end) condemned.push_back(it->second);
  bool when_scaled_delete =
      Str(Obj(spec, "persistentVolumeClaimRetentionPolicy"), "whenScaled") == "Delete";
  for (const auto& pod : condemned) {
    if (IsDeleting(*pod)) {
      if (monotonic) return Status::Ok();
      continue;
    }
    if (monotonic) {
      for (const auto& [ord, other] : plan.pods)
        if (other != pod && !healthy(*other)) return Status::Ok();
    }
    if (when_scaled_delete) {
      // The pod owns its claims, so the garbage collector removes them after it.
      int64_t ord = StatefulPodOrdinal(MetaString(set, "name"), MetaString(*pod, "name"));
      if (const json::array* claims = Arr(spec, "volumeClaimTemplates")) {
        for (const auto& c : *claims) {
          if (!c.is_object()) continue;
          std::string cn = ClaimName(c.as_object(), MetaString(set, "name"), ord);
          json::object ref{{"apiVersion", "v1"},
                           {"kind", "Pod"},
                           {"name", MetaString(*pod, "name")},
                           {"uid", MetaString(*pod, "uid")}};
          auto claim = client_->Get(kClaims, MetaString(set, "namespace"), cn);
          if (!claim.ok()) continue;
          json::array refs;
          if (const json::array* r = Arr(Obj(&*claim, "metadata"), "ownerReferences")) refs = *r;
          refs.push_back(ref);
          (void)client_->Patch(kClaims, MetaString(set, "namespace"), cn, client::PatchType::kMerge,
                               json::object{{"metadata", json::object{{"ownerReferences", refs}}}});
        }
      }
    }
    RETURN_IF_ERROR(DeletePod(set, *pod));
    if (monotonic) return Status::Ok();
  }
  // 3. Rolling update, highest ordinal first, down to the partition.
  if (!rolling) return Status::Ok();
  const json::object* ru = Obj(us, "rollingUpdate");
  int64_t max_unavailable =
      std::max<int64_t>(1, ResolveIntOrPercent(ru ? ru->if_contains("maxUnavailable") : nullptr,
                                               plan.replicas, true, 1));
  int64_t unavailable = 0;
  for (int64_t ord = plan.start; ord < end; ++ord) {
    auto it = plan.pods.find(ord);
    if (it == plan.pods.end() || !healthy(*it->second)) ++unavailable;
  }
  for (int64_t ord = end - 1; ord >= plan.start + partition; --ord) {
    auto it = plan.pods.find(ord);
    if (it == plan.pods.end()) continue;
    const json::object& pod = *it->second;
    if (PodRevision(pod) == plan.update_name) continue;
    if (IsDeleting(pod)) continue;
    bool was_healthy = healthy(pod);
    if (was_healthy && unavailable >= max_unavailable) break;
    RETURN_IF_ERROR(DeletePod(set, pod));
    if (was_healthy) ++unavailable;
  }
  return Status::Ok();
}

Result<std::vector<ObjectPtr>> StatefulSetController::ClaimHistory(
    const json::object& set, const api::LabelSelector& selector) {
  const std::string ns = MetaString(set, "namespace");
  std::vector<ObjectPtr> candidates = revisions_->ByIndex("namespace", ns);
  // The revision of the current template may exist before the cache shows it (e.g. an orphan of
  // an earlier set of this name): read it, so that it is adopted rather than taken for a hash
  // collision by EnsureCurrentRevision.
  bool have_current = false;
  const std::string uid = MetaString(set, "uid");
  for (const auto& cr : candidates) {
    const json::object* ref = ControllerRef(*cr);
    if ((!ref || Str(ref, "uid") == uid) && RevisionMatches(*cr, set)) have_current = true;
  }
  if (!have_current) {
    const json::object* tmpl = Obj(Obj(&set, "spec"), "template");
    std::string name =
        MetaString(set, "name") + "-" +
        PodTemplateHash(tmpl ? *tmpl : json::object(), Int(Obj(&set, "status"), "collisionCount"));
    auto got = client_->Get(client::resources::kControllerRevisions, ns, name);
    if (got.ok()) {
      auto fresh = std::make_shared<const json::object>(std::move(*got));
      std::erase_if(candidates,
                    [&](const ObjectPtr& cr) { return MetaString(*cr, "name") == name; });
      candidates.push_back(std::move(fresh));
    } else if (got.status().code() != Code::kNotFound) {
      return got.status();
    }
  }
  ASSIGN_OR_RETURN(std::vector<ObjectPtr> owned, ClaimRevisions(client_, candidates, set, selector,
                                                                &client::resources::kStatefulSets));
  std::sort(owned.begin(), owned.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    if (RevisionNumber(*a) != RevisionNumber(*b)) return RevisionNumber(*a) < RevisionNumber(*b);
    return MetaString(*a, "name") < MetaString(*b, "name");
  });
  return owned;
}

Status StatefulSetController::Sync(const std::string& key) {
  ObjectPtr set_ptr = sets_->Get(key);
  if (!set_ptr) return Status::Ok();
  const json::object& set = *set_ptr;
  if (IsDeleting(set)) return Status::Ok();
  const json::object* spec = Obj(&set, "spec");
  auto* sel = spec ? spec->if_contains("selector") : nullptr;
  if (!sel || !sel->is_object() || sel->as_object().empty()) {
    recorder_->Record(set, "Warning", "InvalidSelector", "empty selector is not allowed");
    return Status::Ok();
  }
  auto selector = api::LabelSelector::FromJson(*sel);
  if (!selector.ok()) {
    recorder_->Record(set, "Warning", "InvalidSelector", selector.status().message());
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(std::vector<ObjectPtr> revisions, ClaimHistory(set, *selector));
  ASSIGN_OR_RETURN(
      json::object update,
      EnsureCurrentRevision(client_, client::resources::kStatefulSets, set, revisions, kHashLabel));
  Plan plan;
  plan.update_name = MetaString(update, "name");
  if (const json::object* t = Obj(spec, "template")) plan.update_tmpl = *t;
  plan.current_name = plan.update_name;
  plan.current_tmpl = plan.update_tmpl;
  const json::object* old_status_ptr = Obj(&set, "status");
  std::string recorded = Str(old_status_ptr, "currentRevision");
  for (const auto& cr : revisions)
    if (MetaString(*cr, "name") == recorded && recorded != plan.update_name) {
      plan.current_name = recorded;
      plan.current_tmpl = RevisionTemplate(*cr);
    }
  plan.start = Int(Obj(spec, "ordinals"), "start", 0);
  plan.replicas = Int(spec, "replicas", 1);
  plan.now = clock_->NowUnix();
  plan.min_ready = Int(spec, "minReadySeconds");
  const std::string set_name = MetaString(set, "name");
  // Adopt orphans named "<set>-<ordinal>" that match the selector; release pods that stopped
  // matching.
  ClaimOptions claim;
  claim.owner_resource = &client::resources::kStatefulSets;
  claim.filter = [&set_name](const json::object& pod) {
    return StatefulPodOrdinal(set_name, MetaString(pod, "name")) >= 0;
  };
  ASSIGN_OR_RETURN(std::vector<ObjectPtr> owned,
                   ClaimPods(client_, pods_, pods_->ByIndex("sts-uid", MetaString(set, "uid")), set,
                             *selector, claim));
  for (const auto& p : owned) {
    int64_t ord = StatefulPodOrdinal(set_name, MetaString(*p, "name"));
    if (ord >= 0) plan.pods[ord] = p;
  }
  Status manage = Manage(set, plan);

  // History: keep the current and update revisions and any a pod runs.
  std::set<std::string> keep{plan.update_name, plan.current_name};
  for (const auto& [_, p] : plan.pods) keep.insert(PodRevision(*p));
  Status trim = TrimRevisions(client_, revisions, Int(spec, "revisionHistoryLimit", 10), keep);
  if (!trim.ok()) LOG(WARNING) << "statefulset " << key << ": history cleanup: " << trim.ToString();

  // Status.
  int64_t replicas = 0, ready = 0, available = 0, current = 0, updated = 0;
  bool waiting_ready = false;
  for (const auto& [_, p] : plan.pods) {
    if (!Phase(*p).empty()) ++replicas;
    if (RunningReady(*p)) {
      ++ready;
      if (IsPodAvailable(*p, plan.min_ready, plan.now)) {
        ++available;
      } else {
        waiting_ready = true;
      }
    }
    if (!IsDeleting(*p)) {
      if (PodRevision(*p) == plan.current_name) ++current;
      if (PodRevision(*p) == plan.update_name) ++updated;
    }
  }
  json::object old_status = old_status_ptr ? *old_status_ptr : json::object();
  json::object status = old_status;
  status["observedGeneration"] = Int(Obj(&set, "metadata"), "generation", 1);
  status["replicas"] = replicas;
  status["readyReplicas"] = ready;
  status["availableReplicas"] = available;
  status["currentReplicas"] = current;
  status["updatedReplicas"] = updated;
  status["currentRevision"] = plan.current_name;
  status["updateRevision"] = plan.update_name;
  if (!status.contains("collisionCount")) status["collisionCount"] = 0;
  if (Str(Obj(spec, "updateStrategy"), "type") != "OnDelete" && updated == replicas &&
      ready == replicas) {
    status["currentRevision"] = plan.update_name;
    status["currentReplicas"] = updated;
  }
  for (const char* k : {"readyReplicas", "currentReplicas", "updatedReplicas"})
    if (Int(&status, k) == 0) status.erase(k);
  if (status != old_status) {
    json::object obj = set;
    obj["status"] = status;
    auto r =
        client_->UpdateStatus(client::resources::kStatefulSets, MetaString(set, "namespace"), obj);
    if (!r.ok() && r.status().code() != Code::kNotFound && manage.ok()) manage = r.status();
  }
  if (waiting_ready && plan.min_ready > 0)
    queue_.AddAfter(key, std::chrono::seconds(plan.min_ready));
  return manage;
}

}  // namespace sampan::controllers
