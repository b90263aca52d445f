// The CronJob controller (batch/v1): creates a Job named
// "<cronjob>-<scheduled time in minutes since the epoch>" from spec.jobTemplate at
// each time of spec.schedule (cron_schedule.h) in spec.timeZone. Only the most
// recent missed time runs; with startingDeadlineSeconds, times older than the
// deadline are not looked at (more than 100 missed times: a TooManyMissedTimes
// warning). concurrencyPolicy Allow / Forbid (skip while a Job runs) / Replace
// (delete running Jobs first); suspend; successful/failedJobsHistoryLimit (oldest
// finished Jobs deleted); status.active, lastScheduleTime, lastSuccessfulTime.
//
// Threading as ReplicaSetController. `clock` gives "now" (tests inject a fake
// one and call Sync directly, so nothing waits for a real minute).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/events.h"
#include "client/shared_informers.h"
#include "client/workqueue.h"
#include "controllers/cron_schedule.h"
#include "util/clock.h"

namespace sampan::controllers {

class CronJobController {
 public:
  CronJobController(client::SharedInformers* informers, client::EventRecorder* recorder,
                    const Clock* clock = &Clock::Real());
  ~CronJobController();
  void Run(int workers);
  void Stop();
  Status Sync(const std::string& key);  // public for tests

 private:
  Result<std::shared_ptr<const TimeZone>> Zone(const std::string& name);
  Status CleanupHistory(const boost::json::object& cj, const std::vector<client::ObjectPtr>& jobs);

  client::RestClient* client_;
  client::EventRecorder* recorder_;
  const Clock* clock_;
  client::Informer* cronjobs_;
  client::Informer* jobs_;
  client::WorkQueue queue_;
  std::mutex zones_mu_;
  std::map<std::string, std::shared_ptr<const TimeZone>> zones_;  // guarded
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

// The Job name for a scheduled time: "<cronjob>-<unix/60>".
std::string CronJobName(const std::string& cronjob, int64_t scheduled_unix);

}  // namespace sampan::controllers
