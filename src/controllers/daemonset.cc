#include "controllers/daemonset.h"

#include <algorithm>
#include <map>
#include <set>

#include "api/labels.h"
#include "controllers/daemonset_history.h"
#include "controllers/deployment.h"
#include "scheduler/plugins.h"
#include "util/log.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;

namespace {

constexpr const char* kHashLabel = "controller-revision-hash";
constexpr const char* kGenerationLabel = "pod-template-generation";

void AddDaemonTolerations(json::object& pod_spec) {
  json::array tols;
  if (auto* t = pod_spec.if_contains("tolerations"); t && t->is_array()) tols = t->as_array();
  auto add = [&](const char* key, const char* effect) {
    for (const auto& t : tols)
      if (t.is_object() && Str(&t.as_object(), "key") == key &&
          Str(&t.as_object(), "effect") == effect)
        return;
    tols.push_back(json::object{{"key", key}, {"operator", "Exists"}, {"effect", effect}});
  };
  add("node.kubernetes.io/not-ready", "NoExecute");
  add("node.kubernetes.io/unreachable", "NoExecute");
  add("node.kubernetes.io/disk-pressure", "NoSchedule");
  add("node.kubernetes.io/memory-pressure", "NoSchedule");
  add("node.kubernetes.io/pid-pressure", "NoSchedule");
  add("node.kubernetes.io/unschedulable", "NoSchedule");
  auto* hn = pod_spec.if_contains("hostNetwork");
  if (hn && hn->is_bool() && hn->as_bool())
    add("node.kubernetes.io/network-unavailable", "NoSchedule");
  pod_spec["tolerations"] = tols;
}

// The node a daemon pod is for: its nodeName, else the node its affinity pins it to.
std::string TargetNode(const json::object& pod) {
  const json::object* spec = Obj(&pod, "spec");
  std::string n = Str(spec, "nodeName");
  if (!n.empty()) return n;
  const json::object* req = Obj(Obj(Obj(spec, "affinity"), "nodeAffinity"),
                                "requiredDuringSchedulingIgnoredDuringExecution");
  const json::array* terms = Arr(req, "nodeSelectorTerms");
  if (!terms || terms->size() != 1 || !(*terms)[0].is_object()) return "";
  const json::array* fields = Arr(&(*terms)[0].as_object(), "matchFields");
  if (!fields || fields->size() != 1 || !(*fields)[0].is_object()) return "";
  const json::object& f = (*fields)[0].as_object();
  const json::array* values = Arr(&f, "values");
  if (Str(&f, "key") != "metadata.name" || Str(&f, "operator") != "In" || !values ||
      values->size() != 1 || !(*values)[0].is_string())
    return "";
  return std::string((*values)[0].as_string());
}

int64_t Created(const json::object& o) {
  int64_t t = 0;
  ParseRfc3339(MetaString(o, "creationTimestamp"), &t);
  return t;
}
void SortByAge(std::vector<ObjectPtr>& pods) {
  std::stable_sort(pods.begin(), pods.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    if (Created(*a) != Created(*b)) return Created(*a) < Created(*b);
    return MetaString(*a, "name") < MetaString(*b, "name");
  });
}
std::string PodHash(const json::object& pod) {
  return Str(client::MetaObject(pod, "labels"), kHashLabel);
}
std::string Phase(const json::object& pod) { return Str(Obj(&pod, "status"), "phase"); }

json::value Field(const json::object* o, const char* k) {
  auto* v = o ? o->if_contains(k) : nullptr;
  return v ? *v : json::value();
}
// Label and spec changes (taints, unschedulable) matter; status heartbeats do not.
bool InterestingNodeChange(const json::object& a, const json::object& b) {
  return Field(Obj(&a, "metadata"), "labels") != Field(Obj(&b, "metadata"), "labels") ||
         Field(&a, "spec") != Field(&b, "spec");
}

}  // namespace

void DaemonNodeFit(const json::object& pod_template, const json::object& node, bool* should_run,
                   bool* should_continue) {
  *should_run = *should_continue = false;
  json::object spec;
  if (const json::object* s = Obj(&pod_template, "spec")) spec = *s;
  AddDaemonTolerations(spec);
  std::string name = MetaString(node, "name");
  std::string pinned = Str(&spec, "nodeName");
  if (!pinned.empty() && pinned != name) return;
  if (const json::object* sel = Obj(&spec, "nodeSelector")) {
    const json::object* labels = client::MetaObject(node, "labels");
    for (const auto& [k, v] : *sel) {
      auto* have = labels ? labels->if_contains(k) : nullptr;
      if (!have || *have != v) return;
    }
  }
  const json::object* req = Obj(Obj(Obj(&spec, "affinity"), "nodeAffinity"),
                                "requiredDuringSchedulingIgnoredDuringExecution");
  if (req) {
    bool any = false;
    if (const json::array* terms = Arr(req, "nodeSelectorTerms"))
      for (const auto& t : *terms)
        if (t.is_object() && scheduler::TermMatches(t.as_object(), node)) any = true;
    if (!any) return;
  }
  const json::array* tols = Arr(&spec, "tolerations");
  bool run = true;
  if (const json::array* taints = Arr(Obj(&node, "spec"), "taints")) {
    for (const auto& t : *taints) {
      if (!t.is_object()) continue;
      std::string effect = Str(&t.as_object(), "effect");
      if (effect != "NoSchedule" && effect != "NoExecute") continue;
      bool tolerated = false;
      if (tols)
        for (const auto& tol : *tols)
          if (tol.is_object() && scheduler::Tolerates(tol.as_object(), t.as_object()))
            tolerated = true;
      if (tolerated) continue;
      if (effect == "NoExecute") return;
      run = false;
    }
  }
  *should_run = run;
  *should_continue = true;
}

json::object NewDaemonPod(const json::object& ds, const std::string& node,
                          const std::string& hash) {
  const json::object* tmpl = Obj(Obj(&ds, "spec"), "template");
  json::object meta;
  json::object labels;
  if (const json::object* tm = Obj(tmpl, "metadata")) {
    if (const json::object* l = Obj(tm, "labels")) labels = *l;
    if (auto* a = tm->if_contains("annotations")) meta["annotations"] = *a;
    if (auto* f = tm->if_contains("finalizers")) meta["finalizers"] = *f;
  }
  labels[kHashLabel] = hash;
  labels[kGenerationLabel] = std::to_string(Int(Obj(&ds, "metadata"), "generation", 1));
  meta["labels"] = labels;
  meta["generateName"] = MetaString(ds, "name") + "-";
  meta["namespace"] = MetaString(ds, "namespace");
  meta["ownerReferences"] = json::array{MakeControllerRef(ds)};
  json::object spec;
  if (const json::object* s = Obj(tmpl, "spec")) spec = *s;
  AddDaemonTolerations(spec);
  json::object affinity = spec.contains("affinity") && spec["affinity"].is_object()
                              ? spec["affinity"].as_object()
                              : json::object();
  json::object na = affinity.contains("nodeAffinity") && affinity["nodeAffinity"].is_object()
                        ? affinity["nodeAffinity"].as_object()
                        : json::object();
  na["requiredDuringSchedulingIgnoredDuringExecution"] = json::object{
      {"nodeSelectorTerms",
       json::array{json::object{
           {"matchFields",
            json::array{json::object{{"key", "metadata.name"},
                                     {"operator", "In"},
                                     {"values", json::array{json::string(node)}}}}}}}}};
  affinity["nodeAffinity"] = na;
  spec["affinity"] = affinity;
  return json::object{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", spec}};
}

DaemonSetController::DaemonSetController(client::SharedInformers* informers,
                                         client::EventRecorder* recorder, const Clock* clock)
    : client_(informers->client()),
      recorder_(recorder),
      clock_(clock),
      sets_(informers->For(client::resources::kDaemonSets)),
      pods_(informers->For(client::resources::kPods)),
      nodes_(informers->For(client::resources::kNodes)),
      revisions_(informers->For(client::resources::kControllerRevisions)),
      queue_(client::WorkQueue::Options{std::chrono::milliseconds(5), std::chrono::seconds(60)}) {
  revisions_->AddIndex("namespace", [](const json::object& o) -> std::vector<std::string> {
    return {MetaString(o, "namespace")};
  });
  pods_->AddIndex("ds-uid", [](const json::object& p) -> std::vector<std::string> {
    const json::object* ref = ControllerRef(p);
    if (!ref || Str(ref, "kind") != "DaemonSet") return {};
    return {Str(ref, "uid")};
  });
  auto enqueue = [this](const ObjectPtr& o) { queue_.Add(client::KeyOf(*o)); };
  sets_->AddEventHandler(client::EventHandlers{
      enqueue, [enqueue](const ObjectPtr&, const ObjectPtr& o) { enqueue(o); },
      [this](const ObjectPtr& o) {
        expectations_.Forget(client::KeyOf(*o));
        queue_.Add(client::KeyOf(*o));
      }});
  pods_->AddEventHandler(client::EventHandlers{
      [this](const ObjectPtr& p) {
        const json::object* ref = ControllerRef(*p);
        if (!ref || Str(ref, "kind") != "DaemonSet") return;
        std::string key = MetaString(*p, "namespace") + "/" + Str(ref, "name");
        expectations_.CreationObserved(key);
        queue_.Add(key);
      },
      [this](const ObjectPtr& old_pod, const ObjectPtr& p) {
        if (old_pod == p) return;
        const json::object* ref = ControllerRef(*p);
        if (!ref || Str(ref, "kind") != "DaemonSet") return;
        std::string key = MetaString(*p, "namespace") + "/" + Str(ref, "name");
        if (!IsDeleting(*old_pod) && IsDeleting(*p)) expectations_.DeletionObserved(key);
        queue_.Add(key);
      },
      [this](const ObjectPtr& p) {
        const json::object* ref = ControllerRef(*p);
        if (!ref || Str(ref, "kind") != "DaemonSet") return;
        std::string key = MetaString(*p, "namespace") + "/" + Str(ref, "name");
        if (!IsDeleting(*p)) expectations_.DeletionObserved(key);
        queue_.Add(key);
      }});
  nodes_->AddEventHandler(client::EventHandlers{[this](const ObjectPtr&) { EnqueueAll(); },
                                                [this](const ObjectPtr& a, const ObjectPtr& b) {
                                                  if (a != b && InterestingNodeChange(*a, *b))
                                                    EnqueueAll();
                                                },
                                                [this](const ObjectPtr&) { EnqueueAll(); }});
}

DaemonSetController::~DaemonSetController() { Stop(); }

void DaemonSetController::EnqueueAll() {
  for (const auto& ds : sets_->List()) queue_.Add(client::KeyOf(*ds));
}

void DaemonSetController::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      sets_->WaitForSync(std::chrono::seconds(60));
      pods_->WaitForSync(std::chrono::seconds(60));
      nodes_->WaitForSync(std::chrono::seconds(60));
      revisions_->WaitForSync(std::chrono::seconds(60));
      queue_.Process("daemonset", [this](const std::string& key) { return Sync(key); });
    });
  }
}

void DaemonSetController::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

Status DaemonSetController::CreatePod(const json::object& ds, const std::string& key,
                                      const std::string& node, const std::string& hash) {
  auto r = client_->Create(client::resources::kPods, MetaString(ds, "namespace"),
                           NewDaemonPod(ds, node, hash));
  if (!r.ok()) {
    expectations_.LowerAdds(key, 1);
    recorder_->Record(ds, "Warning", "FailedCreate", "Error creating: " + r.status().message());
    return r.status();
  }
  recorder_->Record(ds, "Normal", "SuccessfulCreate", "Created pod: " + MetaString(*r, "name"));
  return Status::Ok();
}

Status DaemonSetController::DeletePod(const json::object& ds, const std::string& key,
                                      const json::object& pod) {
  client::DeleteOptions opts;
  opts.precondition_uid = MetaString(pod, "uid");
  Status st = client_->Delete(client::resources::kPods, MetaString(pod, "namespace"),
                              MetaString(pod, "name"), opts);
  if (!st.ok()) {
    expectations_.LowerDeletes(key, 1);
    if (st.code() == Code::kNotFound) return Status::Ok();
    recorder_->Record(ds, "Warning", "FailedDelete", "Error deleting: " + st.message());
    return st;
  }
  recorder_->Record(ds, "Normal", "SuccessfulDelete", "Deleted pod: " + MetaString(pod, "name"));
  return Status::Ok();
}

int64_t DaemonSetController::FailedPodBackoff(const std::string& key, int64_t now, bool record) {
  constexpr int64_t kInitial = 1, kMax = 15 * 60;
  std::lock_guard<std::mutex> lock(backoff_mu_);
  auto it = backoff_.find(key);
  if (!record) {
    if (it == backoff_.end()) return 0;
    int64_t until = it->second.last + it->second.delay;
    return now < until ? until - now : 0;
  }
  if (it == backoff_.end() || now - it->second.last > 2 * kMax) {
    backoff_[key] = Backoff{kInitial, now};
  } else {
    it->second.delay = std::min(it->second.delay * 2, kMax);
    it->second.last = now;
  }
  return 0;
}

Status DaemonSetController::Sync(const std::string& key) {
  ObjectPtr ds_ptr = sets_->Get(key);
  if (!ds_ptr) {
    expectations_.Forget(key);
    return Status::Ok();
  }
  const json::object& ds = *ds_ptr;
  if (IsDeleting(ds)) return Status::Ok();
  const json::object* spec = Obj(&ds, "spec");
  auto* sel = spec ? spec->if_contains("selector") : nullptr;
  if (!sel || !sel->is_object() || sel->as_object().empty()) {
    recorder_->Record(ds, "Warning", "InvalidSelector", "empty selector is not allowed");
    return Status::Ok();
  }
  std::vector<ObjectPtr> revisions = OwnedRevisions(revisions_, ds);
  ASSIGN_OR_RETURN(
      json::object current,
      EnsureCurrentRevision(client_, client::resources::kDaemonSets, ds, revisions, kHashLabel));
  const std::string hash = Str(client::MetaObject(current, "labels"), kHashLabel);
  const json::object* tmpl = Obj(spec, "template");
  const json::object empty;
  const int64_t now = clock_->NowUnix();
  const int64_t min_ready = Int(spec, "minReadySeconds");
  const bool satisfied = expectations_.Satisfied(key);

  // Pods by node (live ones; being-deleted pods are only waited for).
  std::map<std::string, std::vector<ObjectPtr>> by_node;
  for (const auto& p : pods_->ByIndex("ds-uid", MetaString(ds, "uid")))
    by_node[TargetNode(*p)].push_back(p);
  struct NodeState {
    bool run = false, keep = false;
    std::vector<ObjectPtr> live;  // not deleting, not failed; oldest first
  };
  std::map<std::string, NodeState> nodes;
  std::vector<std::string> to_create;
  std::vector<ObjectPtr> to_delete;
  for (const auto& n : nodes_->List()) {
    std::string name = MetaString(*n, "name");
    NodeState& st = nodes[name];
    DaemonNodeFit(tmpl ? *tmpl : empty, *n, &st.run, &st.keep);
    auto it = by_node.find(name);
    std::vector<ObjectPtr> pods = it == by_node.end() ? std::vector<ObjectPtr>{} : it->second;
    SortByAge(pods);
    for (const auto& p : pods) {
      if (IsDeleting(*p)) continue;
      if (!st.keep) {
        to_delete.push_back(p);
      } else if (Phase(*p) == "Failed") {
        // A pod that keeps failing on a node is replaced with a growing delay (1 s … 15 min).
        if (int64_t wait = FailedPodBackoff(key + "|" + name, now, false); wait > 0) {
          queue_.AddAfter(key, std::chrono::seconds(wait));
          continue;
        }
        FailedPodBackoff(key + "|" + name, now, true);
        recorder_->Record(ds, "Warning", "FailedDaemonPod",
                          "Found failed daemon pod " + MetaString(*p, "namespace") + "/" +
                              MetaString(*p, "name") + " on node " + name +
                              ", will try to kill it");
        to_delete.push_back(p);
      } else {
        st.live.push_back(p);
      }
    }
    if (!st.keep) continue;
    if (st.live.empty()) {
      if (st.run) to_create.push_back(name);
      continue;
    }
    // At most one pod per node; during a surge one old and one updated pod.
    ObjectPtr first_new, first_old;
    std::vector<ObjectPtr> kept;
    for (const auto& p : st.live) {
      bool updated = PodHash(*p) == hash;
      ObjectPtr& slot = updated ? first_new : first_old;
      if (!slot) {
        slot = p;
        kept.push_back(p);
      } else {
        to_delete.push_back(p);
      }
    }
    st.live = kept;
  }
  // Unbound pods aimed at nodes that no longer exist.
  for (const auto& [node, pods] : by_node) {
    if (nodes.count(node)) continue;
    for (const auto& p : pods)
      if (!IsDeleting(*p) && Str(Obj(p.get(), "spec"), "nodeName").empty()) to_delete.push_back(p);
  }

  // Rolling update, when nothing else is pending.
  const json::object* us = Obj(spec, "updateStrategy");
  int64_t desired = 0;
  for (const auto& [_, st] : nodes)
    if (st.run) ++desired;
  if (satisfied && to_create.empty() && to_delete.empty() && Str(us, "type") != "OnDelete") {
    const json::object* ru = Obj(us, "rollingUpdate");
    int64_t max_surge =
        ResolveIntOrPercent(ru ? ru->if_contains("maxSurge") : nullptr, desired, true, 0);
    int64_t max_unavailable =
        ResolveIntOrPercent(ru ? ru->if_contains("maxUnavailable") : nullptr, desired, true, 1);
    if (max_surge == 0 && max_unavailable == 0) max_unavailable = 1;
    int64_t unavailable = 0, surging = 0;
    std::vector<ObjectPtr> replace_now, candidates;
    std::vector<std::string> surge_now, surge_candidates;
    for (const auto& [name, st] : nodes) {
      if (!st.run) continue;
      ObjectPtr updated, old;
      for (const auto& p : st.live) (PodHash(*p) == hash ? updated : old) = p;
      bool old_ok = old && IsPodAvailable(*old, min_ready, now);
      bool new_ok = updated && IsPodAvailable(*updated, min_ready, now);
      if (max_surge == 0) {
        if (!old && !updated) {
          ++unavailable;
        } else if (updated) {
          if (!new_ok) ++unavailable;
        } else if (!old_ok) {
          replace_now.push_back(old);
          ++unavailable;
        } else {
          candidates.push_back(old);
        }
      } else {
        if (!old) {
          if (!new_ok) ++unavailable;
        } else if (!updated) {
          if (!old_ok) {
            surge_now.push_back(name);
          } else {
            surge_candidates.push_back(name);
          }
        } else if (new_ok) {
          replace_now.push_back(old);
        } else {
          ++surging;
        }
      }
    }
    std::vector<ObjectPtr> deletes = replace_now;
    for (const auto& p : candidates) {
      if (unavailable >= max_unavailable) break;
      deletes.push_back(p);
      ++unavailable;
    }
    std::vector<std::string> creates = surge_now;
    for (const auto& n : surge_candidates) {
      if (surging >= max_surge) break;
      creates.push_back(n);
      ++surging;
    }
    for (const auto& p : deletes) to_delete.push_back(p);
    for (const auto& n : creates) to_create.push_back(n);
  }

  Status manage;
  if (satisfied && (!to_create.empty() || !to_delete.empty())) {
    expectations_.Expect(key, static_cast<int>(to_create.size()),
                         static_cast<int>(to_delete.size()));
    for (const auto& n : to_create) {
      Status s = CreatePod(ds, key, n, hash);
      if (manage.ok()) manage = s;
    }
    for (const auto& p : to_delete) {
      Status s = DeletePod(ds, key, *p);
      if (manage.ok()) manage = s;
    }
  }

  // History: keep the current revision and every revision a live pod runs.
  std::set<std::string> keep{MetaString(current, "name")};
  std::set<std::string> live_hashes;
  for (const auto& [_, st] : nodes)
    for (const auto& p : st.live) live_hashes.insert(PodHash(*p));
  for (const auto& cr : revisions)
    if (live_hashes.count(Str(client::MetaObject(*cr, "labels"), kHashLabel)))
      keep.insert(MetaString(*cr, "name"));
  Status trim = TrimRevisions(client_, revisions, Int(spec, "revisionHistoryLimit", 10), keep);
  if (!trim.ok()) LOG(WARNING) << "daemonset " << key << ": history cleanup: " << trim.ToString();

  // Status.
  int64_t current_n = 0, misscheduled = 0, ready = 0, available = 0, updated = 0;
  bool waiting_ready = false;
  for (const auto& [_, st] : nodes) {
    if (st.live.empty()) continue;
    if (!st.run) {
      ++misscheduled;
      continue;
    }
    ++current_n;
    const auto& first = st.live.front();
    if (IsPodReady(*first)) ++ready;
    if (IsPodAvailable(*first, min_ready, now)) {
      ++available;
    } else if (IsPodReady(*first)) {
      waiting_ready = true;
    }
    for (const auto& p : st.live)
      if (PodHash(*p) == hash) {
        ++updated;
        break;
      }
  }
  json::object old_status;
  if (const json::object* s = Obj(&ds, "status")) old_status = *s;
  json::object status = old_status;
  status["desiredNumberScheduled"] = desired;
  status["currentNumberScheduled"] = current_n;
  status["numberMisscheduled"] = misscheduled;
  status["numberReady"] = ready;
  status["updatedNumberScheduled"] = updated;
  status["numberAvailable"] = available;
  if (desired - available > 0) {
    status["numberUnavailable"] = desired - available;
  } else {
    status.erase("numberUnavailable");
  }
  if (available == 0) status.erase("numberAvailable");
  if (updated == 0) status.erase("updatedNumberScheduled");
  status["observedGeneration"] = Int(Obj(&ds, "metadata"), "generation", 1);
  if (status != old_status) {
    json::object obj = ds;
    obj["status"] = status;
    auto r =
        client_->UpdateStatus(client::resources::kDaemonSets, MetaString(ds, "namespace"), obj);
    if (!r.ok() && r.status().code() != Code::kNotFound && manage.ok()) manage = r.status();
  }
  if (waiting_ready && min_ready > 0) queue_.AddAfter(key, std::chrono::seconds(min_ready));
  return manage;
}

}  // namespace sampan::controllers
