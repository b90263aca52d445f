#include "controllers/job.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "api/labels.h"
#include "controllers/replicaset.h"
#include "util/log.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;

namespace {

constexpr int kBurst = 500;
constexpr int64_t kBackoffBase = 10;  // seconds
constexpr int64_t kBackoffMax = 600;  // seconds
constexpr const char* kOrphanPrefix = "pod:";

bool HasFinalizer(const json::object& pod, std::string_view f) {
  if (const json::array* fs = Arr(Obj(&pod, "metadata"), "finalizers"))
    for (const auto& v : *fs)
      if (v.is_string() && v.as_string() == f) return true;
  return false;
}

bool Flag(const json::object* o, std::string_view k) {
  auto* v = o ? o->if_contains(k) : nullptr;
  return v && v->is_bool() && v->as_bool();
}

std::string Phase(const json::object& pod) { return Str(Obj(&pod, "status"), "phase"); }
bool IsTerminal(const json::object& pod) {
  std::string p = Phase(pod);
  return p == "Succeeded" || p == "Failed";
}

const json::object* FindCondition(const json::object& status, std::string_view type) {
  if (const json::array* cs = Arr(&status, "conditions"))
    for (const auto& c : *cs)
      if (c.is_object() && Str(&c.as_object(), "type") == type) return &c.as_object();
  return nullptr;
}
bool ConditionTrue(const json::object& status, std::string_view type) {
  const json::object* c = FindCondition(status, type);
  return c && Str(c, "status") == "True";
}

// Sets (or updates) a Job condition; lastTransitionTime changes only with the status.
void SetCondition(json::object& status, const std::string& type, const std::string& value,
                  const std::string& reason, const std::string& message, int64_t now) {
  json::array conds;
  if (const json::array* old = Arr(&status, "conditions")) conds = *old;
  std::string ts = FormatRfc3339(now);
  for (auto& c : conds) {
    if (!c.is_object() || Str(&c.as_object(), "type") != type) continue;
    json::object& o = c.as_object();
    if (Str(&o, "status") != value) {
      o["lastTransitionTime"] = ts;
      o["lastProbeTime"] = ts;
    }
    o["status"] = value;
    o["reason"] = reason;
    o["message"] = message;
    status["conditions"] = conds;
    return;
  }
  conds.push_back(json::object{{"type", type},
                               {"status", value},
                               {"lastProbeTime", ts},
                               {"lastTransitionTime", ts},
                               {"reason", reason},
                               {"message", message}});
  status["conditions"] = conds;
}

int64_t CompletionIndex(const json::object& pod) {
  std::string v = Str(client::MetaObject(pod, "annotations"), kJobCompletionIndex);
  if (v.empty()) v = Str(client::MetaObject(pod, "labels"), kJobCompletionIndex);
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 9)
    return -1;
  return std::stoll(v);
}

// When a finished pod finished: its containers' termination times, else its latest condition.
int64_t FinishTime(const json::object& pod) {
  int64_t best = 0, t = 0;
  const json::object* st = Obj(&pod, "status");
  for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
    if (const json::array* cs = Arr(st, list))
      for (const auto& c : *cs) {
        if (!c.is_object()) continue;
        std::string f = Str(Obj(Obj(&c.as_object(), "state"), "terminated"), "finishedAt");
        if (ParseRfc3339(f, &t)) best = std::max(best, t);
      }
  }
  if (best) return best;
  if (const json::array* conds = Arr(st, "conditions"))
    for (const auto& c : *conds)
      if (c.is_object() && ParseRfc3339(Str(&c.as_object(), "lastTransitionTime"), &t))
        best = std::max(best, t);
  if (best) return best;
  if (ParseRfc3339(MetaString(pod, "deletionTimestamp"), &t)) return t;
  ParseRfc3339(MetaString(pod, "creationTimestamp"), &t);
  return t;
}

int64_t RestartCount(const json::object& pod) {
  int64_t n = 0;
  const json::object* st = Obj(&pod, "status");
  for (const char* list : {"containerStatuses", "initContainerStatuses"})
    if (const json::array* cs = Arr(st, list))
      for (const auto& c : *cs)
        if (c.is_object()) n += Int(&c.as_object(), "restartCount");
  return n;
}

std::set<std::string> StringSet(const json::object* o, std::string_view k) {
  std::set<std::string> out;
  if (const json::array* a = Arr(o, k))
    for (const auto& v : *a)
      if (v.is_string()) out.insert(std::string(v.as_string()));
  return out;
}
json::array ToArray(const std::set<std::string>& s) {
  json::array a;
  for (const auto& v : s) a.push_back(json::string(v));
  return a;
}

void AddIndexEnv(json::object& pod_spec) {
  for (const char* list : {"initContainers", "containers"}) {
    auto* cs = pod_spec.if_contains(list);
    if (!cs || !cs->is_array()) continue;
    for (auto& c : cs->as_array()) {
      if (!c.is_object()) continue;
      json::object& container = c.as_object();
      json::array env;
      if (auto* e = container.if_contains("env"); e && e->is_array()) env = e->as_array();
      bool present = false;
      for (const auto& v : env)
        if (v.is_object() && Str(&v.as_object(), "name") == "JOB_COMPLETION_INDEX") present = true;
      if (present) continue;
      env.push_back(json::object{
          {"name", "JOB_COMPLETION_INDEX"},
          {"valueFrom",
           json::object{
               {"fieldRef", json::object{{"apiVersion", "v1"},
                                         {"fieldPath", std::string("metadata.annotations['") +
                                                           kJobCompletionIndex + "']"}}}}}});
      container["env"] = env;
    }
  }
}

// A pod the Job counts as failed: Failed, or deleted before it finished (unless only Failed
// pods are replaced).
bool PodFailed(const json::object& pod, bool only_failed) {
  std::string phase = Phase(pod);
  if (phase == "Failed") return true;
  if (only_failed) return false;
  return IsDeleting(pod) && phase != "Succeeded";
}

int64_t AnnotationCount(const json::object& pod, const char* key) {
  std::string v = Str(client::MetaObject(pod, "annotations"), key);
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoll(v);
}

// The failures recorded for the pod's index before it (counted and ignored).
int64_t AbsoluteFailureCount(const json::object& pod) {
  return AnnotationCount(pod, kJobIndexFailureCount) +
         AnnotationCount(pod, kJobIndexIgnoredFailureCount);
}

// 10 s · 2^(failures−1), at most 10 min; 0 without failures.
int64_t BackoffSeconds(int64_t failures) {
  if (failures <= 0) return 0;
  int64_t delay = kBackoffBase;
  for (int64_t i = 1; i < failures && delay < kBackoffMax; ++i) delay *= 2;
  return std::min(delay, kBackoffMax);
}

}  // namespace

// backoffLimitPerIndex bookkeeping, computed from the pods at the start of a sync.
struct JobController::PerIndex {
  bool enabled = false;
  int64_t limit = 0;
  std::set<int64_t> failed;  // status.failedIndexes and the indexes that failed since
  // Index (not succeeded, failed or running) → its latest failed pod, which holds the count.
  std::map<int64_t, ObjectPtr> last_failed;
  std::set<std::string> held;  // uids of failed pods kept (finalizer) until replaced

  // The failure-count annotations a new pod of `index` gets: {counted, ignored}.
  std::pair<int64_t, int64_t> CountsFor(const json::object& job, int64_t index) const {
    auto it = last_failed.find(index);
    if (it == last_failed.end()) return {0, 0};
    const json::object& prev = *it->second;
    int64_t counted = AnnotationCount(prev, kJobIndexFailureCount);
    int64_t ignored = AnnotationCount(prev, kJobIndexIgnoredFailureCount);
    if (Phase(prev) == "Failed" && MatchPodFailurePolicy(job, prev).action == "Ignore") {
      ++ignored;
    } else {
      ++counted;
    }
    return {counted, ignored};
  }
};

namespace {

// Whether the pod's failure exhausts its index: the FailIndex action, or a counted failure
// when the index already failed `limit` times before.
bool IndexFailed(const json::object& job, const json::object& pod, int64_t limit,
                 bool only_failed) {
  if (!PodFailed(pod, only_failed)) return false;
  if (Phase(pod) == "Failed") {
    std::string action = MatchPodFailurePolicy(job, pod).action;
    if (action == "FailIndex") return true;
    if (action == "Ignore") return false;
  }
  return AnnotationCount(pod, kJobIndexFailureCount) >= limit;
}

}  // namespace

bool JobManagedElsewhere(const json::object& job) {
  const json::object* spec = Obj(&job, "spec");
  const json::value* v = spec ? spec->if_contains("managedBy") : nullptr;
  return v && v->is_string() && v->as_string() != kJobControllerName;
}

JobController::JobController(client::SharedInformers* informers, client::EventRecorder* recorder,
                             const Clock* clock)
    : client_(informers->client()),
      recorder_(recorder),
      clock_(clock),
      jobs_(informers->For(client::resources::kJobs)),
      pods_(informers->For(client::resources::kPods)),
      queue_(client::WorkQueue::Options{std::chrono::milliseconds(5), std::chrono::seconds(60)}) {
  pods_->AddIndex("job-uid", [](const json::object& p) -> std::vector<std::string> {
    const json::object* ref = ControllerRef(p);
    if (!ref || Str(ref, "kind") != "Job") return {};
    return {Str(ref, "uid")};
  });
  AddOrphanIndex(pods_);
  jobs_->AddIndex("namespace", [](const json::object& j) -> std::vector<std::string> {
    return {MetaString(j, "namespace")};
  });
  auto enqueue = [this](const ObjectPtr& j) { queue_.Add(client::KeyOf(*j)); };
  jobs_->AddEventHandler(client::EventHandlers{
      enqueue, [enqueue](const ObjectPtr&, const ObjectPtr& j) { enqueue(j); },
      [this](const ObjectPtr& j) {
        expectations_.Forget(client::KeyOf(*j));
        queue_.Add(client::KeyOf(*j));
      }});
  pods_->AddEventHandler(client::EventHandlers{
      [this](const ObjectPtr& p) {
        if (std::string owner = OwnerKey(*p); !owner.empty()) {
          expectations_.CreationObserved(owner);
          queue_.Add(owner);
        } else {
          OnPod(p, false);
          EnqueueAdopters(*p);
        }
      },
      [this](const ObjectPtr& old_pod, const ObjectPtr& p) {
        if (old_pod == p) return;
        std::string owner = OwnerKey(*p);
        // Released (or taken) by someone else: the old owner looks again.
        if (std::string was = OwnerKey(*old_pod); !was.empty() && was != owner) queue_.Add(was);
        if (!owner.empty()) {
          if (!IsDeleting(*old_pod) && IsDeleting(*p)) expectations_.DeletionObserved(owner);
          queue_.Add(owner);
        } else {
          OnPod(p, false);
          EnqueueAdopters(*p);
        }
      },
      [this](const ObjectPtr& p) {
        if (std::string owner = OwnerKey(*p); !owner.empty()) {
          if (!IsDeleting(*p)) expectations_.DeletionObserved(owner);
          queue_.Add(owner);
        }
      }});
}

JobController::~JobController() { Stop(); }

std::string JobController::OwnerKey(const json::object& pod) const {
  const json::object* ref = ControllerRef(pod);
  if (!ref || Str(ref, "kind") != "Job") return "";
  std::string key = MetaString(pod, "namespace") + "/" + Str(ref, "name");
  ObjectPtr job = jobs_->Get(key);
  if (!job || MetaString(*job, "uid") != Str(ref, "uid")) return "";
  return key;
}

void JobController::EnqueueAdopters(const json::object& pod) {
  if (ControllerRef(pod) || IsDeleting(pod)) return;
  for (const ObjectPtr& job : jobs_->ByIndex("namespace", MetaString(pod, "namespace"))) {
    const json::value* sel =
        Obj(job.get(), "spec") ? Obj(job.get(), "spec")->if_contains("selector") : nullptr;
    if (!sel || !sel->is_object() || sel->as_object().empty()) continue;
    auto selector = api::LabelSelector::FromJson(*sel);
    if (selector.ok() && IsAdoptable(pod, *selector)) queue_.Add(client::KeyOf(*job));
  }
}

void JobController::OnPod(const ObjectPtr& pod, bool) {
  // A pod of a Job that is gone still carries our finalizer: drop it.
  if (HasFinalizer(*pod, kJobTrackingFinalizer)) queue_.Add(kOrphanPrefix + client::KeyOf(*pod));
}

void JobController::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      jobs_->WaitForSync(std::chrono::seconds(60));
      pods_->WaitForSync(std::chrono::seconds(60));
      queue_.Process("job", [this](const std::string& key) { return Sync(key); });
    });
  }
}

void JobController::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

Status JobController::RemoveTrackingFinalizer(const json::object& pod) {
  if (!HasFinalizer(pod, kJobTrackingFinalizer)) return Status::Ok();
  json::array kept;
  for (const auto& f : *Arr(Obj(&pod, "metadata"), "finalizers"))
    if (!(f.is_string() && f.as_string() == kJobTrackingFinalizer)) kept.push_back(f);
  json::value finalizers = kept;
  if (kept.empty()) finalizers = nullptr;  // a merge patch null removes the field
  json::object patch{
      {"metadata", json::object{{"finalizers", finalizers},
                                {"resourceVersion", MetaString(pod, "resourceVersion")}}}};
  auto r = client_->Patch(client::resources::kPods, MetaString(pod, "namespace"),
                          MetaString(pod, "name"), client::PatchType::kMerge, patch);
  if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
  return Status::Ok();
}

Status JobController::SyncOrphanPod(const std::string& key) {
  ObjectPtr pod = pods_->Get(key);
  if (!pod || !HasFinalizer(*pod, kJobTrackingFinalizer)) return Status::Ok();
  const json::object* ref = ControllerRef(*pod);
  if (ref && Str(ref, "kind") == "Job") {
    ObjectPtr job = jobs_->Get(MetaString(*pod, "namespace") + "/" + Str(ref, "name"));
    if (job && MetaString(*job, "uid") == Str(ref, "uid")) return Status::Ok();  // owner syncs it
  }
  return RemoveTrackingFinalizer(*pod);
}

namespace {
int64_t ParseRv(const std::string& rv) {
  if (rv.empty() || rv.size() > 18 || rv.find_first_not_of("0123456789") != std::string::npos)
    return -1;
  return std::stoll(rv);
}
}  // namespace

void JobController::StatusWritten(const json::object& job) {
  int64_t rv = ParseRv(MetaString(job, "resourceVersion"));
  if (rv < 0) return;
  std::lock_guard<std::mutex> lock(written_mu_);
  written_[client::KeyOf(job)] = rv;
}

bool JobController::CacheCaughtUp(const std::string& key, const std::string& cached_rv) {
  int64_t have = ParseRv(cached_rv);
  std::lock_guard<std::mutex> lock(written_mu_);
  auto it = written_.find(key);
  if (it == written_.end() || have < 0) return true;
  if (have >= it->second) {
    written_.erase(it);
    return true;
  }
  return false;
}

Status JobController::WriteStatus(const json::object& job, const json::object& status) {
  const json::object* old = Obj(&job, "status");
  if (old && *old == status) return Status::Ok();
  json::object updated = job;
  updated["status"] = status;
  auto r = client_->UpdateStatus(client::resources::kJobs, MetaString(job, "namespace"), updated);
  if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
  if (r.ok()) StatusWritten(*r);
  return Status::Ok();
}

Status JobController::HandleFinished(const json::object& job, const std::string& key,
                                     const std::vector<ObjectPtr>& pods) {
  for (const auto& p : pods)
    if (IsTerminal(*p) || IsDeleting(*p)) RETURN_IF_ERROR(RemoveTrackingFinalizer(*p));
  const json::object* spec = Obj(&job, "spec");
  if (!spec || !spec->contains("ttlSecondsAfterFinished") || IsDeleting(job)) return Status::Ok();
  int64_t ttl = Int(spec, "ttlSecondsAfterFinished");
  const json::object* status = Obj(&job, "status");
  int64_t finished = 0;
  if (!ParseRfc3339(Str(status, "completionTime"), &finished)) {
    const json::object* failed = status ? FindCondition(*status, "Failed") : nullptr;
    if (!failed || !ParseRfc3339(Str(failed, "lastTransitionTime"), &finished)) return Status::Ok();
  }
  int64_t now = clock_->NowUnix();
  if (now < finished + ttl) {
    queue_.AddAfter(key, std::chrono::seconds(finished + ttl - now));
    return Status::Ok();
  }
  client::DeleteOptions opts;
  opts.propagation_policy = "Foreground";
  opts.precondition_uid = MetaString(job, "uid");
  auto [ns, name] = client::SplitKey(key);
  Status st = client_->Delete(client::resources::kJobs, ns, name, opts);
  if (!st.ok() && st.code() != Code::kNotFound) return st;
  return Status::Ok();
}

Status JobController::CreatePods(const json::object& job, const std::string& key,
                                 const std::vector<int64_t>& indexes, int count,
                                 const PerIndex* per_index) {
  auto [ns, name] = client::SplitKey(key);
  const json::object* tmpl = Obj(Obj(&job, "spec"), "template");
  const bool indexed = !indexes.empty();
  if (indexed) count = static_cast<int>(indexes.size());
  count = std::min(count, kBurst);
  if (count <= 0) return Status::Ok();
  expectations_.Expect(key, count, 0);
  int created = 0, batch = 1;
  Status failure;
  while (created < count && failure.ok()) {
    int n = std::min(batch, count - created);
    for (int i = 0; i < n; ++i) {
      json::object meta;
      if (const json::object* tm = Obj(tmpl, "metadata")) {
        for (const char* k : {"labels", "annotations"})
          if (auto* v = tm->if_contains(k)) meta[k] = *v;
      }
      json::array finalizers;
      if (const json::array* f = Arr(Obj(tmpl, "metadata"), "finalizers")) finalizers = *f;
      finalizers.push_back(json::string(kJobTrackingFinalizer));
      meta["finalizers"] = finalizers;
      meta["namespace"] = ns;
      meta["ownerReferences"] = json::array{MakeControllerRef(job)};
      json::object spec;
      if (const json::object* s = Obj(tmpl, "spec")) spec = *s;
      if (indexed) {
        std::string ix = std::to_string(indexes[created]);
        meta["generateName"] = std::string(name) + "-" + ix + "-";
        for (const char* k : {"labels", "annotations"}) {
          json::object m =
              meta.contains(k) && meta[k].is_object() ? meta[k].as_object() : json::object();
          m[kJobCompletionIndex] = ix;
          meta[k] = m;
        }
        if (per_index && per_index->enabled) {
          auto [counted, ignored] = per_index->CountsFor(job, indexes[created]);
          json::object& ann = meta["annotations"].as_object();
          ann[kJobIndexFailureCount] = std::to_string(counted);
          if (ignored > 0) ann[kJobIndexIgnoredFailureCount] = std::to_string(ignored);
        }
        if (Str(&spec, "hostname").empty()) spec["hostname"] = std::string(name) + "-" + ix;
        AddIndexEnv(spec);
      } else {
        meta["generateName"] = std::string(name) + "-";
      }
      json::object pod{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", spec}};
      auto r = client_->Create(client::resources::kPods, ns, pod);
      if (!r.ok()) {
        failure = r.status();
        break;
      }
      ++created;
      recorder_->Record(job, "Normal", "SuccessfulCreate",
                        "Created pod: " + MetaString(*r, "name"));
    }
    batch *= 2;
  }
  if (!failure.ok()) {
    expectations_.LowerAdds(key, count - created);
    recorder_->Record(job, "Warning", "FailedCreate", "Error creating: " + failure.message());
  }
  return failure;
}

Status JobController::DeletePods(const json::object& job, const std::string& key,
                                 const std::vector<ObjectPtr>& pods, bool uncounted) {
  if (pods.empty()) return Status::Ok();
  expectations_.Expect(key, 0, static_cast<int>(pods.size()));
  Status failure;
  for (const auto& p : pods) {
    if (uncounted) {
      // Released first, the pod never reaches the failed count.
      Status released = RemoveTrackingFinalizer(*p);
      if (!released.ok()) {
        expectations_.LowerDeletes(key, 1);
        if (failure.ok()) failure = released;
        continue;
      }
    }
    client::DeleteOptions opts;
    opts.precondition_uid = MetaString(*p, "uid");
    Status st = client_->Delete(client::resources::kPods, MetaString(*p, "namespace"),
                                MetaString(*p, "name"), opts);
    if (!st.ok()) {
      expectations_.LowerDeletes(key, 1);
      if (st.code() == Code::kNotFound) continue;
      recorder_->Record(job, "Warning", "FailedDelete", "Error deleting: " + st.message());
      if (failure.ok()) failure = st;
      continue;
    }
    recorder_->Record(job, "Normal", "SuccessfulDelete", "Deleted pod: " + MetaString(*p, "name"));
  }
  return failure;
}

// Steps 1–3 of finished-pod accounting (see job.h). `status` is the Job's status as it will be
// written; `base` becomes the Job as written when uncounted pods had to be persisted first;
// `fail_message` is set when a podFailurePolicy FailJob rule matched.
Status JobController::TrackFinishedPods(const json::object& job, json::object& status,
                                        const std::vector<ObjectPtr>& pods, json::object* base,
                                        std::string* fail_message, PerIndex* per_index) {
  const json::object* spec = Obj(&job, "spec");
  const bool indexed = Str(spec, "completionMode") == "Indexed";
  const int64_t completions = Int(spec, "completions", -1);
  const bool only_failed = Str(spec, "podReplacementPolicy") == "Failed";
  json::object uncounted;
  if (const json::object* u = Obj(&status, "uncountedTerminatedPods")) uncounted = *u;
  std::set<std::string> unc_s = StringSet(&uncounted, "succeeded");
  std::set<std::string> unc_f = StringSet(&uncounted, "failed");
  std::vector<int64_t> done_v = ParseIndexes(Str(&status, "completedIndexes"));
  std::set<int64_t> done(done_v.begin(), done_v.end());
  bool record = false;
  std::vector<ObjectPtr> to_release;
  const std::string job_key = client::KeyOf(job);
  // Pods whose finish is not counted yet: they carry the finalizer and we did not release them.
  auto tracked = [&](const json::object& p) {
    if (!HasFinalizer(p, kJobTrackingFinalizer)) return false;
    std::lock_guard<std::mutex> lock(written_mu_);
    auto it = released_.find(job_key);
    return it == released_.end() || !it->second.count(MetaString(p, "uid"));
  };
  const json::value* per_index_limit = spec ? spec->if_contains("backoffLimitPerIndex") : nullptr;
  per_index->enabled = indexed && per_index_limit && per_index_limit->is_int64();
  if (per_index->enabled) {
    per_index->limit = per_index_limit->as_int64();
    for (int64_t ix : ParseIndexes(Str(&status, "failedIndexes")))
      if (ix < completions) per_index->failed.insert(ix);
    const size_t failed_before = per_index->failed.size();
    std::set<int64_t> succeeded = done, running;
    for (const auto& p : pods) {
      int64_t ix = CompletionIndex(*p);
      if (ix < 0 || ix >= completions) continue;
      if (Phase(*p) == "Succeeded") succeeded.insert(ix);
      if (!IsTerminal(*p) && !IsDeleting(*p)) running.insert(ix);
      if (tracked(*p) && IndexFailed(job, *p, per_index->limit, only_failed))
        per_index->failed.insert(ix);
    }
    for (const auto& p : pods) {
      int64_t ix = CompletionIndex(*p);
      if (ix < 0 || ix >= completions || !PodFailed(*p, only_failed)) continue;
      if (succeeded.count(ix) || per_index->failed.count(ix) || running.count(ix)) continue;
      ObjectPtr& best = per_index->last_failed[ix];
      if (!best || AbsoluteFailureCount(*p) > AbsoluteFailureCount(*best) ||
          (AbsoluteFailureCount(*p) == AbsoluteFailureCount(*best) &&
           FinishTime(*p) >= FinishTime(*best)))
        best = p;
    }
    // Until the Job is finishing, the latest failed pod of an index to retry keeps its finalizer
    // (and is not counted yet), so its replacement can take over its failure count.
    const bool finishing = ConditionTrue(status, "FailureTarget") ||
                           ConditionTrue(status, "SuccessCriteriaMet") || IsDeleting(job);
    if (!finishing)
      for (const auto& [ix, p] : per_index->last_failed)
        if (tracked(*p)) per_index->held.insert(MetaString(*p, "uid"));
    // A new failed index is written before the pod that shows it loses its finalizer.
    if (per_index->failed.size() != failed_before) record = true;
  }
  for (const auto& p : pods) {
    std::string phase = Phase(*p), uid = MetaString(*p, "uid");
    {
      std::lock_guard<std::mutex> lock(written_mu_);
      auto& mine = released_[job_key];
      if (!HasFinalizer(*p, kJobTrackingFinalizer)) {
        mine.erase(uid);  // the cache has seen the release
        continue;
      }
      if (mine.count(uid)) continue;  // released and counted; the cache is behind
    }
    bool finished = IsTerminal(*p) || IsDeleting(*p);
    if (!finished || per_index->held.count(uid)) continue;
    to_release.push_back(p);
    if (unc_s.count(uid) || unc_f.count(uid)) continue;
    if (phase == "Succeeded") {
      if (indexed) {
        int64_t ix = CompletionIndex(*p);
        if (ix >= 0 && ix < completions && !done.count(ix)) {
          done.insert(ix);
          record = true;
        }
      } else {
        unc_s.insert(uid);
        record = true;
      }
    } else {
      // A pod deleted before it finished counts as failed (pods the controller removes for
      // suspension or lower parallelism lose the finalizer first and never get here), unless
      // only Failed pods count (podReplacementPolicy Failed, the default with a
      // podFailurePolicy); a podFailurePolicy rule may ignore the failure or fail the Job.
      if (phase != "Failed" && only_failed) continue;  // released below, not counted
      PodFailureAction action =
          phase == "Failed" ? MatchPodFailurePolicy(job, *p) : PodFailureAction{};
      if (action.action == "Ignore") continue;
      if (action.action == "FailJob" && fail_message->empty()) *fail_message = action.message;
      unc_f.insert(uid);
      record = true;
    }
  }
  auto put = [&] {
    json::object u;
    if (!unc_s.empty()) u["succeeded"] = ToArray(unc_s);
    if (!unc_f.empty()) u["failed"] = ToArray(unc_f);
    status["uncountedTerminatedPods"] = u;
    if (indexed) {
      std::string text = FormatIndexes({done.begin(), done.end()});
      status["completedIndexes"] = text;
      status["succeeded"] = static_cast<int64_t>(done.size());
    }
    if (per_index->enabled)
      status["failedIndexes"] = FormatIndexes({per_index->failed.begin(), per_index->failed.end()});
  };
  if (record) {
    put();
    json::object updated = job;
    updated["status"] = status;
    auto r = client_->UpdateStatus(client::resources::kJobs, MetaString(job, "namespace"), updated);
    if (!r.ok()) return r.status();
    StatusWritten(*r);
    *base = std::move(*r);
    if (const json::object* s = Obj(base, "status")) status = *s;
  }
  std::set<std::string> released;
  for (const auto& p : to_release) {
    RETURN_IF_ERROR(RemoveTrackingFinalizer(*p));
    released.insert(MetaString(*p, "uid"));
  }
  {
    std::lock_guard<std::mutex> lock(written_mu_);
    released_[job_key].insert(released.begin(), released.end());
  }
  // Fold uncounted pods whose finalizer is gone into the counters.
  std::map<std::string, ObjectPtr> by_uid;
  for (const auto& p : pods) by_uid[MetaString(*p, "uid")] = p;
  auto gone = [&](const std::string& uid) {
    auto it = by_uid.find(uid);
    return it == by_uid.end() || released.count(uid) ||
           !HasFinalizer(*it->second, kJobTrackingFinalizer);
  };
  int64_t succeeded = Int(&status, "succeeded"), failed = Int(&status, "failed");
  for (auto it = unc_s.begin(); it != unc_s.end();) {
    if (gone(*it)) {
      ++succeeded;
      it = unc_s.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = unc_f.begin(); it != unc_f.end();) {
    if (gone(*it)) {
      ++failed;
      it = unc_f.erase(it);
    } else {
      ++it;
    }
  }
  if (!indexed) status["succeeded"] = succeeded;
  status["failed"] = failed;
  put();
  return Status::Ok();
}

Status JobController::Sync(const std::string& key) {
  if (key.starts_with(kOrphanPrefix)) return SyncOrphanPod(key.substr(std::strlen(kOrphanPrefix)));
  ObjectPtr job_ptr = jobs_->Get(key);
  if (!job_ptr) {
    expectations_.Forget(key);
    std::lock_guard<std::mutex> lock(written_mu_);
    written_.erase(key);
    released_.erase(key);
    return Status::Ok();
  }
  const json::object& job = *job_ptr;
  if (!CacheCaughtUp(key, MetaString(job, "resourceVersion")))
    return Conflict("job " + key + ": the cache has not seen our last status write yet");
  std::vector<ObjectPtr> pods = pods_->ByIndex("job-uid", MetaString(job, "uid"));
  json::object status;
  if (const json::object* s = Obj(&job, "status")) status = *s;
  const bool finished = ConditionTrue(status, "Complete") || ConditionTrue(status, "Failed");
  if (JobManagedElsewhere(job)) return finished ? HandleFinished(job, key, {}) : Status::Ok();
  if (finished || IsDeleting(job)) return HandleFinished(job, key, pods);

  // Adopt matching orphans, release pods that stopped matching.
  if (const json::value* sel =
          Obj(&job, "spec") ? Obj(&job, "spec")->if_contains("selector") : nullptr;
      sel && sel->is_object() && !sel->as_object().empty()) {
    auto selector = api::LabelSelector::FromJson(*sel);
    if (selector.ok()) {
      ClaimOptions claim;
      claim.owner_resource = &client::resources::kJobs;
      claim.finalizer = kJobTrackingFinalizer;
      ASSIGN_OR_RETURN(pods, ClaimPods(client_, pods_, pods, job, *selector, claim));
    }
  }

  const json::object* spec = Obj(&job, "spec");
  const int64_t now = clock_->NowUnix();
  const bool satisfied = expectations_.Satisfied(key);
  const bool suspended = Flag(spec, "suspend");
  const bool indexed = Str(spec, "completionMode") == "Indexed";
  const bool has_completions =
      spec && spec->contains("completions") && !spec->at("completions").is_null();
  const int64_t completions = Int(spec, "completions", 1);
  const int64_t parallelism = Int(spec, "parallelism", 1);
  const int64_t backoff_limit = Int(spec, "backoffLimit", 6);

  json::object base = job;     // the object the final status write goes against
  std::string policy_failure;  // a podFailurePolicy FailJob rule matched a pod
  PerIndex per_index;
  RETURN_IF_ERROR(TrackFinishedPods(job, status, pods, &base, &policy_failure, &per_index));

  std::vector<ObjectPtr> active;
  int64_t terminating = 0, ready = 0, restarts = 0;
  for (const auto& p : pods) {
    if (IsTerminal(*p)) continue;
    if (IsDeleting(*p)) {
      ++terminating;
      continue;
    }
    active.push_back(p);
    if (IsPodReady(*p)) ++ready;
    restarts += RestartCount(*p);
  }
  const int64_t succeeded = Int(&status, "succeeded"), failed = Int(&status, "failed");
  const json::object* uncounted = Obj(&status, "uncountedTerminatedPods");
  const bool all_counted = !uncounted || uncounted->empty();

  // Suspension and start time.
  if (suspended) {
    if (!ConditionTrue(status, "Suspended")) {
      SetCondition(status, "Suspended", "True", "JobSuspended", "Job suspended", now);
      recorder_->Record(job, "Normal", "Suspended", "Job suspended");
    }
  } else {
    if (ConditionTrue(status, "Suspended")) {
      SetCondition(status, "Suspended", "False", "JobResumed", "Job resumed", now);
      recorder_->Record(job, "Normal", "Resumed", "Job resumed");
      status["startTime"] = FormatRfc3339(now);
    }
    if (Str(&status, "startTime").empty()) status["startTime"] = FormatRfc3339(now);
  }
  int64_t start = 0;
  ParseRfc3339(Str(&status, "startTime"), &start);

  // The decisive conditions: FailureTarget or SuccessCriteriaMet.
  bool failing = ConditionTrue(status, "FailureTarget");
  bool succeeding = ConditionTrue(status, "SuccessCriteriaMet");
  const bool on_failure = Str(Obj(Obj(spec, "template"), "spec"), "restartPolicy") == "OnFailure";
  const int64_t deadline = Int(spec, "activeDeadlineSeconds", -1);
  if (!failing && !succeeding && !suspended) {
    bool complete = false;
    if (indexed || has_completions) {
      complete = succeeded >= completions;
    } else {
      complete = succeeded > 0 && active.empty() && satisfied;
    }
    // Kubernetes' order: FailJob, the backoff limit, the deadline, the failed indexes, the
    // success policy, and last the completions.
    const int64_t failed_indexes = static_cast<int64_t>(per_index.failed.size());
    const json::value* max_failed = spec ? spec->if_contains("maxFailedIndexes") : nullptr;
    std::string policy_success;
    if (indexed) {
      std::vector<int64_t> done = ParseIndexes(Str(&status, "completedIndexes"));
      policy_success = MatchSuccessPolicy(job, done);
    }
    auto fail = [&](const char* reason, const std::string& message) {
      SetCondition(status, "FailureTarget", "True", reason, message, now);
      failing = true;
    };
    if (!policy_failure.empty()) {
      fail("PodFailurePolicy", policy_failure);
    } else if (failed > backoff_limit ||
               (on_failure && (backoff_limit == 0 ? restarts > 0 : restarts >= backoff_limit))) {
      fail("BackoffLimitExceeded", "Job has reached the specified backoff limit");
    } else if (deadline >= 0 && start > 0 && now >= start + deadline) {
      fail("DeadlineExceeded", "Job was active longer than specified deadline");
    } else if (per_index.enabled && max_failed && max_failed->is_int64() &&
               failed_indexes > max_failed->as_int64()) {
      fail("MaxFailedIndexesExceeded",
           "Job has exceeded the specified maximal number of failed indexes");
    } else if (per_index.enabled && failed_indexes > 0 &&
               failed_indexes + succeeded >= completions) {
      fail("FailedIndexes", "Job has failed indexes");
    } else if (!policy_success.empty()) {
      SetCondition(status, "SuccessCriteriaMet", "True", "SuccessPolicy", policy_success, now);
      succeeding = true;
    } else if (complete) {
      SetCondition(status, "SuccessCriteriaMet", "True", "CompletionsReached",
                   "Reached expected number of succeeded pods", now);
      succeeding = true;
    }
  }

  Status manage;
  std::optional<std::chrono::seconds> requeue;
  if (failing || succeeding || suspended) {
    if (satisfied && !active.empty()) manage = DeletePods(job, key, active, suspended);
    // Terminal only once every pod we created or deleted has been seen (expectations), none
    // is left running or terminating, and every finished one is counted.
    if ((failing || succeeding) && satisfied && active.empty() && terminating == 0 && all_counted &&
        per_index.held.empty()) {
      const json::object* target =
          FindCondition(status, failing ? "FailureTarget" : "SuccessCriteriaMet");
      std::string reason = Str(target, "reason"), message = Str(target, "message");
      if (succeeding) {
        SetCondition(status, "Complete", "True", reason, message, now);
        status["completionTime"] = FormatRfc3339(now);
        recorder_->Record(job, "Normal", "Completed", "Job completed");
      } else {
        SetCondition(status, "Failed", "True", reason, message, now);
        recorder_->Record(job, "Warning", reason, message);
      }
      if (spec && spec->contains("ttlSecondsAfterFinished"))
        requeue = std::chrono::seconds(std::max<int64_t>(0, Int(spec, "ttlSecondsAfterFinished")));
    }
  } else if (satisfied) {
    int64_t remaining = (indexed || has_completions) ? completions - succeeded : parallelism;
    if (!indexed && !has_completions && succeeded > 0) remaining = 0;
    int64_t want = std::max<int64_t>(0, std::min(parallelism, remaining));
    // With podReplacementPolicy Failed a terminating pod is replaced only once it has failed.
    int64_t running = static_cast<int64_t>(active.size());
    const bool only_failed_replaced = Str(spec, "podReplacementPolicy") == "Failed";
    if (only_failed_replaced) running += terminating;
    int64_t diff = want - running;
    if (indexed && per_index.enabled) {
      // Failed indexes are not run again; they count toward the work that is done.
      diff = std::min(
          diff, completions - succeeded - static_cast<int64_t>(per_index.failed.size()) - running);
    }
    if (diff > 0) {
      // Back-off after failures: 10 s · 2^(n−1) since the last failure, n = failures since
      // the last success.
      int64_t last_success = 0, last_failure = 0, streak = 0;
      for (const auto& p : pods)
        if (Phase(*p) == "Succeeded") last_success = std::max(last_success, FinishTime(*p));
      for (const auto& p : pods) {
        // Failed pods, and pods deleted before they finished that were not released by us
        // (suspension, lower parallelism).
        bool deleted_unfinished =
            IsDeleting(*p) && Phase(*p) != "Succeeded" && HasFinalizer(*p, kJobTrackingFinalizer);
        if (Phase(*p) != "Failed" && !deleted_unfinished) continue;
        if (Phase(*p) == "Failed" && MatchPodFailurePolicy(job, *p).action == "Ignore") continue;
        int64_t t = FinishTime(*p);
        if (t < last_success) continue;
        ++streak;
        last_failure = std::max(last_failure, t);
      }
      // With backoffLimitPerIndex each index has its own back-off instead (below).
      int64_t delay = per_index.enabled ? 0 : BackoffSeconds(streak);
      if (delay > 0 && now < last_failure + delay) {
        requeue = std::chrono::seconds(last_failure + delay - now);
      } else if (indexed) {
        std::vector<int64_t> done_v = ParseIndexes(Str(&status, "completedIndexes"));
        std::set<int64_t> busy(done_v.begin(), done_v.end());
        busy.insert(per_index.failed.begin(), per_index.failed.end());
        for (const auto& p : pods)
          if (!IsTerminal(*p) && (!IsDeleting(*p) || only_failed_replaced))
            busy.insert(CompletionIndex(*p));
        std::vector<int64_t> todo;
        for (int64_t i = 0; i < completions && static_cast<int64_t>(todo.size()) < diff; ++i)
          if (!busy.count(i)) todo.push_back(i);
        if (per_index.enabled) {
          // An index whose last pod failed waits 10 s · 2^(failures−1) from that failure.
          std::vector<int64_t> ready_now;
          int64_t wait = 0;
          for (int64_t ix : todo) {
            auto it = per_index.last_failed.find(ix);
            int64_t left = 0;
            if (it != per_index.last_failed.end())
              left = FinishTime(*it->second) +
                     BackoffSeconds(AbsoluteFailureCount(*it->second) + 1) - now;
            if (left <= 0) {
              ready_now.push_back(ix);
            } else if (wait == 0 || left < wait) {
              wait = left;
            }
          }
          if (wait > 0) requeue = std::chrono::seconds(wait);
          todo = std::move(ready_now);
        }
        manage = CreatePods(job, key, todo, 0, &per_index);
      } else {
        manage = CreatePods(job, key, {}, static_cast<int>(diff));
      }
    } else if (diff < 0) {
      std::vector<ObjectPtr> excess = active;
      SortPodsForDeletion(excess, now);
      excess.resize(std::min(excess.size(), static_cast<size_t>(-diff)));
      manage = DeletePods(job, key, excess, true);
    }
    if (deadline >= 0 && start > 0) {
      auto left = std::chrono::seconds(std::max<int64_t>(1, start + deadline - now));
      if (!requeue || left < *requeue) requeue = left;
    }
  }

  // Active pods being deleted to stop the Job no longer count as active.
  int64_t active_now = (failing || succeeding || suspended) ? 0 : active.size();
  if (active_now > 0) {
    status["active"] = active_now;
  } else {
    status.erase("active");
  }
  status["ready"] = (failing || succeeding || suspended) ? 0 : ready;
  status["terminating"] = terminating;
  if (Int(&status, "succeeded") == 0 && !indexed) status.erase("succeeded");
  if (Int(&status, "failed") == 0) status.erase("failed");
  if (indexed && Str(&status, "completedIndexes").empty()) status.erase("completedIndexes");
  Status st = WriteStatus(base, status);
  if (requeue) queue_.AddAfter(key, *requeue);
  if (!manage.ok()) return manage;
  return st;
}

}  // namespace sampan::controllers
