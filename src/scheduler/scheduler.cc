#include "scheduler/scheduler.h"

#include "scheduler/json_view.h"
#include "util/clock.h"
#include "util/log.h"

namespace sampan::scheduler {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;
using namespace internal;

namespace {
// Whether anything other than status and bookkeeping metadata differs.
bool SchedulingRelevantChange(const json::object& a, const json::object& b) {
  auto strip = [](json::object o) {
    o.erase("status");
    if (auto* m = o.if_contains("metadata"); m && m->is_object()) {
      m->as_object().erase("resourceVersion");
      m->as_object().erase("managedFields");
      m->as_object().erase("generation");
    }
    return json::value(std::move(o));
  };
  return strip(a) != strip(b);
}
bool Terminal(const json::object& pod) {
  std::string phase = Str(Obj(&pod, "status"), "phase");
  return phase == "Succeeded" || phase == "Failed";
}
std::string NodeNameOf(const json::object& pod) { return Str(Obj(&pod, "spec"), "nodeName"); }
}  // namespace

Scheduler::Scheduler(client::RestClient* client, SchedulerOptions opts)
    : client_(client),
      opts_(std::move(opts)),
      recorder_(client, opts_.scheduler_name),
      pods_(client, client::resources::kPods),
      nodes_(client, client::resources::kNodes),
      namespaces_(client, client::resources::kNamespaces),
      claims_(client, client::resources::kPersistentVolumeClaims),
      volumes_(client, client::resources::kPersistentVolumes),
      storage_classes_(client, client::resources::kStorageClasses),
      volume_cache_(std::make_shared<VolumeAssumeCache>(&claims_, &volumes_, &storage_classes_)),
      queue_(SchedulingQueue::Options{opts_.initial_backoff, opts_.max_backoff,
                                      opts_.unschedulable_flush, nullptr}) {
  framework_ = DefaultFramework(volume_cache_);
  framework_->set_percentage_of_nodes_to_score(opts_.percentage_of_nodes_to_score);
  // A claim, volume or class added or changed may let a pod waiting for its volumes fit
  // (VolumeBinding's EventsToRegister); resyncs and deletions do not.
  for (client::Informer* inf : {&claims_, &volumes_, &storage_classes_}) {
    inf->AddEventHandler(
        client::EventHandlers{[this](const ObjectPtr&) { queue_.MoveAllToActiveOrBackoff(); },
                              [this](const ObjectPtr& o, const ObjectPtr& n) {
                                if (o != n) queue_.MoveAllToActiveOrBackoff();
                              },
                              nullptr});
  }
  pods_.AddEventHandler(client::EventHandlers{
      [this](const ObjectPtr& p) { OnPodEvent(nullptr, p, false); },
      [this](const ObjectPtr& o, const ObjectPtr& p) { OnPodEvent(o, p, false); },
      [this](const ObjectPtr& p) { OnPodEvent(nullptr, p, true); }});
  nodes_.AddEventHandler(client::EventHandlers{
      [this](const ObjectPtr& n) {
        cache_.UpsertNode(n);
        queue_.MoveAllToActiveOrBackoff();
      },
      [this](const ObjectPtr& o, const ObjectPtr& n) {
        if (o == n) return;  // resync
        cache_.UpsertNode(n);
        // Only what can make a waiting pod fit is worth a retry (not a status heartbeat).
        auto labels = [](const ObjectPtr& x) { return client::MetaObject(*x, "labels"); };
        auto eq = [](const json::object* a, const json::object* b) {
          return (!a && !b) || (a && b && *a == *b);
        };
        if (!eq(labels(o), labels(n)) || !eq(Obj(o.get(), "spec"), Obj(n.get(), "spec")) ||
            !eq(Obj(Obj(o.get(), "status"), "allocatable"),
                Obj(Obj(n.get(), "status"), "allocatable")))
          queue_.MoveAllToActiveOrBackoff();
      },
      [this](const ObjectPtr& n) { cache_.RemoveNode(MetaString(*n, "name")); }});
  namespaces_.AddEventHandler(client::EventHandlers{
      [this](const ObjectPtr& n) { cache_.UpsertNamespace(n); },
      [this](const ObjectPtr&, const ObjectPtr& n) { cache_.UpsertNamespace(n); },
      [this](const ObjectPtr& n) { cache_.RemoveNamespace(MetaString(*n, "name")); }});
}

Scheduler::~Scheduler() { Stop(); }

bool Scheduler::Responsible(const json::object& pod) const {
  std::string name = Str(Obj(&pod, "spec"), "schedulerName");
  return name.empty() ? opts_.scheduler_name == "default-scheduler" : name == opts_.scheduler_name;
}

void Scheduler::OnPodEvent(const ObjectPtr& old_pod, const ObjectPtr& pod, bool deleted) {
  std::string key = client::KeyOf(*pod);
  bool assigned = !NodeNameOf(*pod).empty();
  if (deleted || assigned || !MetaString(*pod, "deletionTimestamp").empty()) {
    cache_.RemoveNomination(key);
  } else {
    cache_.UpdateNomination(pod);
  }
  if (deleted || assigned) {
    bool freed = false;
    if (deleted || Terminal(*pod)) {
      cache_.RemovePod(key);
      freed = assigned && (deleted || (old_pod && !Terminal(*old_pod)));
    } else {
      cache_.UpsertPod(pod);  // replaces our assumed copy once the binding is seen
    }
    queue_.Delete(key);
    // An assigned pod leaving (or finishing) frees room: retry the waiting pods.
    if (freed) queue_.MoveAllToActiveOrBackoff();
    return;
  }
  if (!Responsible(*pod) || !MetaString(*pod, "deletionTimestamp").empty()) {
    queue_.Delete(key);
    return;
  }
  // A pending pod whose spec or labels changed is worth another try; a resync
  // or a status change (e.g. our own PodScheduled condition) is not.
  const bool relevant = !old_pod || (old_pod != pod && SchedulingRelevantChange(*old_pod, *pod));
  queue_.AddOrUpdate(key, Int(Obj(pod.get(), "spec"), "priority", 0), relevant);
}

void Scheduler::Start() {
  if (started_.exchange(true)) return;
  storage_classes_.Start();
  volumes_.Start();
  claims_.Start();
  namespaces_.Start();
  nodes_.Start();
  pods_.Start();
  for (int i = 0; i < std::max(1, opts_.bind_workers); ++i)
    binders_.emplace_back([this] { BindLoop(); });
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  if (!started_.load()) return;
  stopping_ = true;
  queue_.ShutDown();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard<std::mutex> lock(bind_mu_);
    bind_stop_ = true;
  }
  bind_cv_.notify_all();
  for (auto& t : binders_)
    if (t.joinable()) t.join();
  binders_.clear();
  pods_.Stop();
  nodes_.Stop();
  namespaces_.Stop();
  claims_.Stop();
  volumes_.Stop();
  storage_classes_.Stop();
}

SchedulerStats Scheduler::stats() const {
  return SchedulerStats{scheduled_.load(), unschedulable_count_.load(), bind_errors_.load(),
                        preempted_.load(), cycle_nanos_.load()};
}

void Scheduler::Loop() {
  namespaces_.WaitForSync(std::chrono::seconds(30));
  storage_classes_.WaitForSync(std::chrono::seconds(30));
  volumes_.WaitForSync(std::chrono::seconds(30));
  claims_.WaitForSync(std::chrono::seconds(30));
  nodes_.WaitForSync(std::chrono::seconds(30));
  pods_.WaitForSync(std::chrono::seconds(30));
  // A summary after each burst of 1,000+ pods (for benchmarks and capacity questions).
  int64_t burst_cycles = 0, burst_nanos = 0;
  auto burst_start = std::chrono::steady_clock::now();
  std::string key;
  while (queue_.Pop(&key)) {
    if (burst_cycles == 0) {
      burst_start = std::chrono::steady_clock::now();
      burst_nanos = cycle_nanos_.load();
    }
    ++burst_cycles;
    BindTask task;
    bool unschedulable = false;
    Status st = ScheduleOneImpl(key, &task, &unschedulable);
    if (!st.ok()) {
      LOG(WARNING) << "scheduler: " << key << ": " << st.ToString();
      queue_.AddBackoff(key);
    } else if (unschedulable) {
      queue_.AddUnschedulable(key);
    } else {
      // The pod stays assumed in the cache, so a re-add before the binding lands is a no-op.
      queue_.Done(key);
    }
    if (task.pod) {
      {
        std::lock_guard<std::mutex> lock(bind_mu_);
        bind_queue_.push_back(std::move(task));
      }
      bind_cv_.notify_one();
    }
    if (queue_.counts().active == 0) {
      if (burst_cycles >= 1000) {
        double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - burst_start).count();
        LOG(INFO) << "scheduler: " << burst_cycles << " scheduling cycles in " << secs << " s ("
                  << static_cast<int64_t>(burst_cycles / std::max(secs, 1e-9)) << "/s), mean cycle "
                  << (cycle_nanos_.load() - burst_nanos) / burst_cycles / 1000 << " us";
      }
      burst_cycles = 0;
    }
  }
}

void Scheduler::BindLoop() {
  for (;;) {
    BindTask task;
    {
      std::unique_lock<std::mutex> lock(bind_mu_);
      bind_cv_.wait(lock, [this] { return bind_stop_ || !bind_queue_.empty(); });
      if (bind_queue_.empty()) return;  // stopping, nothing left
      task = std::move(bind_queue_.front());
      bind_queue_.pop_front();
    }
    std::string key = client::KeyOf(*task.pod);
    Status st = Bind(task);
    if (!st.ok()) {
      LOG(WARNING) << "scheduler: binding " << key << ": " << st.ToString();
      queue_.AddBackoff(key, Int(Obj(task.pod.get(), "spec"), "priority", 0));
    }
  }
}

Status Scheduler::RecordFailure(const json::object& pod, const std::string& reason,
                                const std::string& message) {
  recorder_.Record(pod, "Warning", "FailedScheduling", message);
  // Leave the condition alone when it already says this.
  if (const json::array* conds = Arr(Obj(&pod, "status"), "conditions")) {
    for (const auto& c : *conds) {
      if (c.is_object() && Str(&c.as_object(), "type") == "PodScheduled" &&
          Str(&c.as_object(), "status") == "False" && Str(&c.as_object(), "reason") == reason &&
          Str(&c.as_object(), "message") == message)
        return Status::Ok();
    }
  }
  json::object cond{
      {"type", "PodScheduled"},   {"status", "False"},
      {"reason", reason},         {"message", message},
      {"lastProbeTime", nullptr}, {"lastTransitionTime", FormatRfc3339(Clock::Real().NowUnix())}};
  // Strategic merge: conditions merge by type. The pod's resourceVersion makes the patch
  // conditional: a pod bound meanwhile (by another scheduler or a client posting a Binding) must
  // not be marked unschedulable after its binding said PodScheduled=True.
  const std::string ns(MetaString(pod, "namespace")), name(MetaString(pod, "name"));
  std::string rv(MetaString(pod, "resourceVersion"));
  for (int attempt = 0; attempt < 2; ++attempt) {
    json::object patch{{"metadata", json::object{{"resourceVersion", rv}}},
                       {"status", json::object{{"conditions", json::array{cond}}}}};
    auto r = client_->Patch(client::resources::kPods, ns, name, client::PatchType::kStrategicMerge,
                            patch, "status");
    if (r.ok() || r.status().code() == Code::kNotFound) return Status::Ok();
    if (r.status().code() != Code::kConflict) return r.status();
    // Changed since this cycle read it: write the failure only if it is still unbound.
    auto now = client_->Get(client::resources::kPods, ns, name);
    if (!now.ok()) return now.status().code() == Code::kNotFound ? Status::Ok() : now.status();
    if (!Str(Obj(&*now, "spec"), "nodeName").empty()) return Status::Ok();
    rv = std::string(MetaString(*now, "resourceVersion"));
  }
  return Status::Ok();  // still changing: the next cycle records its own outcome
}

Status Scheduler::SetNominatedNode(const json::object& pod, const std::string& node) {
  json::value value = node.empty() ? json::value(nullptr) : json::value(node);
  json::object patch{{"status", json::object{{"nominatedNodeName", value}}}};
  auto r = client_->Patch(client::resources::kPods, MetaString(pod, "namespace"),
                          MetaString(pod, "name"), client::PatchType::kMerge, patch, "status");
  if (!r.ok()) {
    if (r.status().code() == Code::kNotFound) {
      cache_.RemoveNomination(client::KeyOf(pod));
      return Status::Ok();
    }
    return r.status();
  }
  // Held at once, not when the informer shows it: the next cycle must already see it.
  cache_.UpdateNomination(std::make_shared<const json::object>(std::move(*r)));
  return Status::Ok();
}

Status Scheduler::Nominate(const json::object& pod, const PreemptionResult& preemption) {
  RETURN_IF_ERROR(SetNominatedNode(pod, preemption.node));
  // Pods of lower priority nominated to the same node may no longer fit there: they lose the
  // nomination and are tried again.
  const int64_t priority = Int(Obj(&pod, "spec"), "priority", 0);
  for (const std::string& other : cache_.LowerPriorityNominated(preemption.node, priority)) {
    ObjectPtr p = pods_.Get(other);
    if (!p) {
      cache_.RemoveNomination(other);
      continue;
    }
    RETURN_IF_ERROR(SetNominatedNode(*p, ""));
    queue_.Activate(other);
  }
  const std::string now = FormatRfc3339(Clock::Real().NowUnix());
  for (const auto& v : preemption.victims) {
    const json::object& victim = *v->pod;
    std::string ns = MetaString(victim, "namespace"), name = MetaString(victim, "name");
    json::object cond{
        {"type", "DisruptionTarget"},
        {"status", "True"},
        {"reason", "PreemptionByScheduler"},
        {"message", opts_.scheduler_name + ": preempting to accommodate a higher priority pod"},
        {"lastProbeTime", nullptr},
        {"lastTransitionTime", now}};
    json::object cpatch{{"status", json::object{{"conditions", json::array{cond}}}}};
    auto pr = client_->Patch(client::resources::kPods, ns, name, client::PatchType::kStrategicMerge,
                             cpatch, "status");
    if (!pr.ok() && pr.status().code() == Code::kNotFound) continue;
    recorder_.Record(victim, "Normal", "Preempted",
                     "Preempted by pod " + MetaString(pod, "uid") + " on node " + preemption.node);
    client::DeleteOptions d;
    d.precondition_uid = MetaString(victim, "uid");
    Status st = client_->Delete(client::resources::kPods, ns, name, d);
    if (!st.ok() && st.code() != Code::kNotFound && st.code() != Code::kConflict) return st;
    ++preempted_;
    LOG(INFO) << "scheduler: preempted " << ns << "/" << name << " on " << preemption.node
              << " for " << MetaString(pod, "namespace") << "/" << MetaString(pod, "name");
  }
  return Status::Ok();
}

Status Scheduler::ScheduleOne(const std::string& key) {
  bool unschedulable = false;
  Status st = ScheduleOneImpl(key, nullptr, &unschedulable);
  if (st.ok() && unschedulable) queue_.AddUnschedulable(key);  // retried on a cluster event
  return st;
}

Status Scheduler::ScheduleOneImpl(const std::string& key, BindTask* task, bool* unschedulable) {
  ObjectPtr pod = pods_.Get(key);
  if (!pod) return Status::Ok();  // deleted meanwhile
  if (!NodeNameOf(*pod).empty()) return Status::Ok();
  if (!MetaString(*pod, "deletionTimestamp").empty() || !Responsible(*pod)) return Status::Ok();
  if (cache_.IsAssumed(key)) return Status::Ok();  // bound, not yet observed

  auto t0 = std::chrono::steady_clock::now();
  auto info = std::make_shared<const PodInfo>(pod);
  PreemptionResult preemption;
  ScheduleResult result = cache_.Schedule(*framework_, *info, &preemption);
  cycle_nanos_ +=
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  if (result.node.empty()) {
    ++unschedulable_count_;
    *unschedulable = true;
    if (!preemption.node.empty()) {
      RETURN_IF_ERROR(RecordFailure(*pod, "Unschedulable", result.message));
      return Nominate(*pod, preemption);
    }
    std::string message = result.message;
    if (!preemption.message.empty()) message += " " + preemption.message + ".";
    // Preemption found nothing for a pod that could preempt: a nomination it had is void.
    if (preemption.eligible && !Str(Obj(pod.get(), "status"), "nominatedNodeName").empty())
      RETURN_IF_ERROR(SetNominatedNode(*pod, ""));
    return RecordFailure(*pod, "Unschedulable", message);
  }
  // VolumeBinding's Reserve: the decisions for the chosen node, assumed with the pod.
  PodVolumes volumes;
  if (PodHasClaims(*pod)) {
    ObjectPtr node = nodes_.Get(result.node);
    PodVolumeClaims claims;
    std::string why = GetPodVolumeClaims(*pod, *volume_cache_, &claims);
    std::vector<std::string> reasons;
    if (why.empty() && node) reasons = FindPodVolumes(claims, *node, &volumes);
    if (!why.empty() || !node || !reasons.empty()) {
      return Unavailable("the volumes of the pod changed during its scheduling cycle");
    }
    volume_cache_->Assume(&volumes, result.node);
  }
  // Assume first, so the next pod already sees this one's resources.
  cache_.AssumePod(std::move(info), result.node);
  BindTask t{pod, result.node, std::move(volumes)};
  if (task) {
    *task = std::move(t);
    return Status::Ok();
  }
  return Bind(t);
}

Status Scheduler::Bind(const BindTask& task) {
  const json::object& pod = *task.pod;
  std::string key = client::KeyOf(pod);
  std::string ns = MetaString(pod, "namespace");
  std::string name = MetaString(pod, "name");
  if (!task.volumes.empty()) {
    if (Status st = BindVolumes(task); !st.ok()) {
      // Unreserve: the volume assumptions and the pod's go; the pod is tried again.
      volume_cache_->Revert(task.volumes);
      cache_.ForgetPod(key);
      ++bind_errors_;
      recorder_.Record(pod, "Warning", "FailedScheduling",
                       "running PreBind plugin \"VolumeBinding\": " + st.message());
      return st;
    }
  }
  json::object binding{
      {"apiVersion", "v1"},
      {"kind", "Binding"},
      {"metadata",
       json::object{{"name", name}, {"namespace", ns}, {"uid", MetaString(pod, "uid")}}},
      {"target", json::object{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", task.node}}}};
  auto bound = client_->CreateSubresource(client::resources::kPods, ns, name, "binding", binding);
  if (!bound.ok()) {
    cache_.ForgetPod(key);
    if (bound.status().code() == Code::kNotFound) return Status::Ok();
    if (bound.status().code() == Code::kConflict) {
      // Already bound by someone else, or being deleted: the informer will tell.
      return Status::Ok();
    }
    ++bind_errors_;
    recorder_.Record(pod, "Warning", "FailedScheduling",
                     "Binding rejected: " + bound.status().message());
    return bound.status();
  }
  ++scheduled_;
  recorder_.Record(pod, "Normal", "Scheduled",
                   "Successfully assigned " + ns + "/" + name + " to " + task.node);
  return Status::Ok();
}

Status Scheduler::BindVolumes(const BindTask& task) {
  // bindAPIUpdate: pre-bind the static volumes, then ask for the provisioned ones.
  std::vector<ObjectPtr> written;
  for (const auto& b : task.volumes.static_bindings) {
    if (!b.write) {
      written.push_back(b.pv);  // pre-bound already (an earlier attempt, or the user)
      continue;
    }
    auto r = client_->Update(client::resources::kPersistentVolumes, "", *b.pv);
    if (!r.ok()) return r.status();
    auto obj = std::make_shared<const json::object>(std::move(*r));
    volume_cache_->Written(obj, true);
    written.push_back(std::move(obj));
    LOG(INFO) << "scheduler: pre-bound persistent volume " << MetaString(*b.pv, "name")
              << " to claim " << client::KeyOf(*b.pvc) << " for pod " << client::KeyOf(*task.pod);
  }
  for (const ObjectPtr& pvc : task.volumes.provisions) {
    auto r = client_->Update(client::resources::kPersistentVolumeClaims,
                             MetaString(*pvc, "namespace"), *pvc);
    if (!r.ok()) return r.status();
    auto obj = std::make_shared<const json::object>(std::move(*r));
    volume_cache_->Written(obj, false);
    written.push_back(std::move(obj));
  }
  // Then wait for the binder controller (and a provisioner) to bind the claims.
  const auto deadline = std::chrono::steady_clock::now() + opts_.volume_bind_timeout;
  for (;;) {
    ASSIGN_OR_RETURN(bool bound, VolumesBound(task, written));
    if (bound) return Status::Ok();
    if (stopping_.load()) return Unavailable("binding volumes: the scheduler is stopping");
    if (std::chrono::steady_clock::now() >= deadline) {
      return Unavailable("binding volumes: timed out waiting for the condition");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Result<bool> Scheduler::VolumesBound(const BindTask& task, const std::vector<ObjectPtr>& written) {
  // checkBindings, on the informers' copies (not the assumed ones).
  auto rv = [](const json::object& o) {
    std::string v = MetaString(o, "resourceVersion");
    return v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos
               ? int64_t{-1}
               : std::stoll(v);
  };
  if (!pods_.Get(client::KeyOf(*task.pod))) {
    return Unavailable("binding volumes: pod does not exist any more");
  }
  const size_t n_static = task.volumes.static_bindings.size();
  for (size_t i = 0; i < written.size(); ++i) {
    const bool is_volume = i < n_static;
    const json::object& mine = *written[i];
    ObjectPtr pvc = claims_.Get(client::KeyOf(is_volume ? *task.volumes.static_bindings[i].pvc
                                                        : *task.volumes.provisions[i - n_static]));
    if (!pvc) return Unavailable("binding volumes: claim " + client::KeyOf(mine) + " is gone");
    if (is_volume) {
      ObjectPtr pv = volumes_.Get(MetaString(mine, "name"));
      if (!pv)
        return Unavailable("binding volumes: pv \"" + MetaString(mine, "name") + "\" is gone");
      if (rv(*pv) < rv(mine)) return false;  // the informer has not seen the write yet
      if (Str(Obj(Obj(pv.get(), "spec"), "claimRef"), "uid").empty()) {
        return Unavailable("binding volumes: ClaimRef got reset for pv \"" +
                           MetaString(*pv, "name") + "\"");
      }
    } else {
      if (rv(*pvc) < rv(mine)) return false;
      const json::object* ann = client::MetaObject(*pvc, "annotations");
      const json::value* sel = ann ? ann->if_contains(kAnnSelectedNode) : nullptr;
      if (!sel || !sel->is_string() || sel->as_string() != task.node) {
        // A provisioner that failed takes the annotation away to have the pod rescheduled.
        return Unavailable("binding volumes: provisioning failed for PVC \"" +
                           MetaString(*pvc, "name") + "\"");
      }
    }
    if (!ClaimFullyBound(*pvc)) return false;
  }
  return true;
}

}  // namespace sampan::scheduler
