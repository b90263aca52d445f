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
// not counted), Count; podReplacementPolicy Failed (a terminating pod is replaced, and
// counted, only once Failed).
//
// Not done: successPolicy, backoffLimitPerIndex/maxFailedIndexes (and so the FailIndex
// action, which is counted like Count), adoption of orphan pods.
//
// Threading as ReplicaSetController. `clock` gives "now" (tests inject a fake one).
#pragma once

#include <atomic>
#include <map>
#include <set>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/events.h"
#include "client/shared_informers.h"
#include "client/workqueue.h"
#include "controllers/util.h"
#include "util/clock.h"

namespace sampan::controllers {

inline constexpr const char* kJobTrackingFinalizer = "batch.kubernetes.io/job-tracking";
inline constexpr const char* kJobCompletionIndex = "batch.kubernetes.io/job-completion-index";

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
  struct Counts;
  void OnPod(const client::ObjectPtr& pod, bool deleted);
  std::string OwnerKey(const boost::json::object& pod) const;
  Status SyncOrphanPod(const std::string& key);
  Status RemoveTrackingFinalizer(const boost::json::object& pod);
  Status TrackFinishedPods(const boost::json::object& job, boost::json::object& status,
                           const std::vector<client::ObjectPtr>& pods, boost::json::object* base,
                           std::string* fail_message);
  Status CreatePods(const boost::json::object& job, const std::string& key,
                    const std::vector<int64_t>& indexes, int count);
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

// "1,3-5,7" for the sorted, distinct indexes; and back (invalid parts are skipped).
std::string FormatIndexes(const std::vector<int64_t>& sorted);
std::vector<int64_t> ParseIndexes(std::string_view text);

}  // namespace sampan::controllers
