// The Job controller (batch/v1): runs pods until spec.completions succeed
// (NonIndexed, or Indexed with one success per index 0..completions-1), at most
// spec.parallelism at once; retries failed pods with an exponential back-off
// (10 s · 2^(n−1), at most 10 min) until status.failed exceeds backoffLimit;
// enforces activeDeadlineSeconds; suspends (deleting active pods) and resumes;
// deletes finished Jobs after ttlSecondsAfterFinished (the TTL-after-finished
// controller's work, done here).
//
// Pods carry the batch.kubernetes.io/job-tracking finalizer: a finished pod is
// first recorded in status.uncountedTerminatedPods, then its finalizer is
// removed, then it is moved into status.succeeded/failed, so no pod is counted
// twice or lost if the controller stops midway. Orphaned pods (Job gone) lose
// the finalizer too.
//
// Conditions as Kubernetes 1.32 writes them: SuccessCriteriaMet or FailureTarget
// first, Complete or Failed once no pod of the Job is still running or
// terminating; Suspended while suspended.
//
// podFailurePolicy: FailJob (FailureTarget reason PodFailurePolicy), Ignore (the failure is
// not counted), Count, FailIndex; podReplacementPolicy Failed (a terminating pod is replaced,
// and counted, only once Failed).
//
// successPolicy (Indexed): once the succeeded indexes meet a rule (all of succeededIndexes,
// or succeededCount of them, or succeededCount indexes at all), SuccessCriteriaMet (reason
// SuccessPolicy, "Matched rules at index N") is written, the remaining pods are deleted, and
// Complete follows with the same reason once they are gone.
//
// backoffLimitPerIndex (Indexed): each pod carries the failures of its index so far in the
// annotation batch.kubernetes.io/job-index-failure-count (ignored ones in
// ...-ignored-failure-count); a failed pod is retried after a per-index back-off until its
// count reaches the limit, then the index is listed in status.failedIndexes (at once with the
// FailIndex action). A failed pod keeps its tracking finalizer until its replacement exists,
// so the count is never lost. More than maxFailedIndexes failed indexes fail the Job
// (MaxFailedIndexesExceeded); otherwise it fails with FailedIndexes once every index has
// succeeded or failed.
//
// Orphan pods matching the Job's selector are adopted (with the tracking finalizer); pods it
// controls whose labels stop matching are released (claim.h).
//
// spec.managedBy (batch/v1, beta and on by default in Kubernetes 1.32): a Job naming another
// controller than kubernetes.io/job-controller is left alone — no pods made, adopted or deleted,
// no finalizers removed, no status written; only its ttlSecondsAfterFinished deletion once it
// finished still applies (Kubernetes' TTL-after-finished controller does not look at managedBy).
//
// Not done: podFailurePolicy rules are
// matched against Failed pods only; the TooManySucceededPods event; the MaxUncountedPods cap
// on one status write.
//
// Threading as ReplicaSetController. `clock` gives "now" (tests inject a fake one).
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/events.h"
#include "client/shared_informers.h"
#include "client/workqueue.h"
#include "controllers/claim.h"
#include "controllers/util.h"
#include "util/clock.h"

namespace sampan::controllers {

inline constexpr const char* kJobTrackingFinalizer = "batch.kubernetes.io/job-tracking";
inline constexpr const char* kJobCompletionIndex = "batch.kubernetes.io/job-completion-index";
inline constexpr const char* kJobIndexFailureCount = "batch.kubernetes.io/job-index-failure-count";
inline constexpr const char* kJobIndexIgnoredFailureCount =
    "batch.kubernetes.io/job-index-ignored-failure-count";
inline constexpr const char* kJobControllerName = "kubernetes.io/job-controller";

// Whether spec.managedBy names a controller other than the built-in one.
bool JobManagedElsewhere(const boost::json::object& job);

class JobController {
 public:
  JobController(client::SharedInformers* informers, client::EventRecorder* recorder,
                const Clock* clock = &Clock::Real());
  ~JobController();
  void Run(int workers);
  void Stop();
  // Syncs one Job (key "ns/name"), or an orphan pod (key "pod:ns/name"). Public for tests.
  Status Sync(const std::string& key);

 private:
  struct PerIndex;  // backoffLimitPerIndex bookkeeping of one sync (job.cc)
  void OnPod(const client::ObjectPtr& pod, bool deleted);
  // Enqueues the Jobs of the pod's namespace that could adopt it.
  void EnqueueAdopters(const boost::json::object& pod);
  std::string OwnerKey(const boost::json::object& pod) const;
  Status SyncOrphanPod(const std::string& key);
  Status RemoveTrackingFinalizer(const boost::json::object& pod);
  Status TrackFinishedPods(const boost::json::object& job, boost::json::object& status,
                           const std::vector<client::ObjectPtr>& pods, boost::json::object* base,
                           std::string* fail_message, PerIndex* per_index);
  // `per_index`: with backoffLimitPerIndex, the failure-count annotations come from it.
  Status CreatePods(const boost::json::object& job, const std::string& key,
                    const std::vector<int64_t>& indexes, int count,
                    const PerIndex* per_index = nullptr);
  // `uncounted`: drop the tracking finalizer first, so the pods do not count as failed
  // (suspension, lower parallelism); otherwise they count once gone (failure, deadline).
  Status DeletePods(const boost::json::object& job, const std::string& key,
                    const std::vector<client::ObjectPtr>& pods, bool uncounted);
  Status WriteStatus(const boost::json::object& job, const boost::json::object& status);
  // A finished pod's count lives only in the status we wrote until the informer shows it: a Job
  // whose cached copy is older than our last status write is not synced (it is retried).
  void StatusWritten(const boost::json::object& job);
  bool CacheCaughtUp(const std::string& key, const std::string& cached_rv);
  Status HandleFinished(const boost::json::object& job, const std::string& key,
                        const std::vector<client::ObjectPtr>& pods);

  client::RestClient* client_;
  client::EventRecorder* recorder_;
  const Clock* clock_;
  client::Informer* jobs_;
  client::Informer* pods_;
  client::WorkQueue queue_;
  Expectations expectations_;
  std::mutex written_mu_;
  std::map<std::string, int64_t> written_;  // guarded; key → resourceVersion we wrote
  // Pods whose tracking finalizer we removed (and counted) but the pod cache may still show
  // with it: job key → pod uids. Guarded by written_mu_. Such a pod must not be counted again.
  std::map<std::string, std::set<std::string>> released_;
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

// The podFailurePolicy rule that matches a Failed pod (the first, in order): its action
// ("FailJob", "Ignore", "Count", "FailIndex") and the message Kubernetes writes; empty if none.
struct PodFailureAction {
  std::string action, message;
};
PodFailureAction MatchPodFailurePolicy(const boost::json::object& job,
                                       const boost::json::object& pod);

// The message of the first spec.successPolicy rule the succeeded indexes (sorted) meet,
// "Matched rules at index N"; empty if none does (or there is no policy).
std::string MatchSuccessPolicy(const boost::json::object& job,
                               const std::vector<int64_t>& succeeded);

// "1,3-5,7" for the sorted, distinct indexes (two neighbours are written "1,2", as
// Kubernetes does); and back (invalid parts are skipped).
std::string FormatIndexes(const std::vector<int64_t>& sorted);
std::vector<int64_t> ParseIndexes(std::string_view text);

}  // namespace sampan::controllers
