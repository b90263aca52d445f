#include "controllers/cronjob.h"

#include <algorithm>
#include <ctime>
#include <set>

#include "controllers/util.h"
#include "util/log.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;

namespace {

constexpr const char* kScheduledTimestamp = "batch.kubernetes.io/cronjob-scheduled-timestamp";

// "Complete" or "Failed" when the Job has finished, else "".
std::string FinishedAs(const json::object& job) {
  if (const json::array* cs = Arr(Obj(&job, "status"), "conditions"))
    for (const auto& c : *cs) {
      if (!c.is_object() || Str(&c.as_object(), "status") != "True") continue;
      std::string t = Str(&c.as_object(), "type");
      if (t == "Complete" || t == "Failed") return t;
    }
  return "";
}

int64_t TimeField(const json::object* o, std::string_view k) {
  int64_t t = 0;
  ParseRfc3339(Str(o, k), &t);
  return t;
}

// RFC 1123 with a numeric zone, in UTC: "Mon, 02 Jan 2006 15:04:05 +0000".
std::string Rfc1123Z(int64_t unix) {
  std::time_t t = static_cast<std::time_t>(unix);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

// RFC 3339 in the zone: "2026-11-25T10:00:00+01:00" (or Z for UTC).
std::string Rfc3339In(int64_t unix, const TimeZone& tz) {
  int64_t off = tz.OffsetAt(unix);
  if (off == 0) return FormatRfc3339(unix);
  std::string s = FormatRfc3339(unix + off);
  s.pop_back();  // 'Z'
  int64_t a = off < 0 ? -off : off;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%c%02lld:%02lld", off < 0 ? '-' : '+',
                static_cast<long long>(a / 3600), static_cast<long long>(a % 3600 / 60));
  return s + buf;
}

bool Flag(const json::object* o, std::string_view k) {
  auto* v = o ? o->if_contains(k) : nullptr;
  return v && v->is_bool() && v->as_bool();
}

}  // namespace

std::string CronJobName(const std::string& cronjob, int64_t scheduled_unix) {
  return cronjob + "-" + std::to_string(scheduled_unix / 60);
}

CronJobController::CronJobController(client::SharedInformers* informers,
                                     client::EventRecorder* recorder, const Clock* clock)
    : client_(informers->client()),
      recorder_(recorder),
      clock_(clock),
      cronjobs_(informers->For(client::resources::kCronJobs)),
      jobs_(informers->For(client::resources::kJobs)),
      queue_(client::WorkQueue::Options{std::chrono::milliseconds(5), std::chrono::seconds(60)}) {
  jobs_->AddIndex("cronjob-uid", [](const json::object& j) -> std::vector<std::string> {
    const json::object* ref = ControllerRef(j);
    if (!ref || Str(ref, "kind") != "CronJob") return {};
    return {Str(ref, "uid")};
  });
  auto enqueue = [this](const ObjectPtr& o) { queue_.Add(client::KeyOf(*o)); };
  cronjobs_->AddEventHandler(client::EventHandlers{
      enqueue, [enqueue](const ObjectPtr&, const ObjectPtr& o) { enqueue(o); }, enqueue});
  auto owner = [this](const ObjectPtr& j) {
    const json::object* ref = ControllerRef(*j);
    if (ref && Str(ref, "kind") == "CronJob")
      queue_.Add(MetaString(*j, "namespace") + "/" + Str(ref, "name"));
  };
  jobs_->AddEventHandler(client::EventHandlers{owner,
                                               [owner](const ObjectPtr& o, const ObjectPtr& j) {
                                                 if (o != j) owner(j);
                                               },
                                               owner});
}

CronJobController::~CronJobController() { Stop(); }

void CronJobController::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      cronjobs_->WaitForSync(std::chrono::seconds(60));
      jobs_->WaitForSync(std::chrono::seconds(60));
      queue_.Process("cronjob", [this](const std::string& key) { return Sync(key); });
    });
  }
}

void CronJobController::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

Result<std::shared_ptr<const TimeZone>> CronJobController::Zone(const std::string& name) {
  std::lock_guard<std::mutex> lock(zones_mu_);
  if (auto it = zones_.find(name); it != zones_.end()) return it->second;
  ASSIGN_OR_RETURN(auto z, TimeZone::Load(name));
  zones_[name] = z;
  return z;
}

Status CronJobController::CleanupHistory(const json::object& cj,
                                         const std::vector<ObjectPtr>& jobs) {
  const json::object* spec = Obj(&cj, "spec");
  for (const char* kind : {"Complete", "Failed"}) {
    bool ok_kind = std::string(kind) == "Complete";
    const char* field = ok_kind ? "successfulJobsHistoryLimit" : "failedJobsHistoryLimit";
    if (!spec || !spec->contains(field) || spec->at(field).is_null()) continue;
    int64_t limit = Int(spec, field);
    std::vector<ObjectPtr> finished;
    for (const auto& j : jobs)
      if (FinishedAs(*j) == kind && !IsDeleting(*j)) finished.push_back(j);
    if (static_cast<int64_t>(finished.size()) <= limit) continue;
    std::sort(finished.begin(), finished.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
      int64_t ta = TimeField(Obj(a.get(), "status"), "startTime");
      int64_t tb = TimeField(Obj(b.get(), "status"), "startTime");
      if (ta != tb) return ta < tb;
      return MetaString(*a, "name") < MetaString(*b, "name");
    });
    for (size_t i = 0; i + limit < finished.size(); ++i) {
      client::DeleteOptions opts;
      opts.propagation_policy = "Background";
      opts.precondition_uid = MetaString(*finished[i], "uid");
      std::string name = MetaString(*finished[i], "name");
      Status st =
          client_->Delete(client::resources::kJobs, MetaString(cj, "namespace"), name, opts);
      if (!st.ok() && st.code() != Code::kNotFound) return st;
      if (st.ok()) recorder_->Record(cj, "Normal", "SuccessfulDelete", "Deleted job " + name);
    }
  }
  return Status::Ok();
}

Status CronJobController::Sync(const std::string& key) {
  ObjectPtr cj_ptr = cronjobs_->Get(key);
  if (!cj_ptr) return Status::Ok();
  const json::object& cj = *cj_ptr;
  auto [ns, name] = client::SplitKey(key);
  const json::object* spec = Obj(&cj, "spec");
  const int64_t now_ns = clock_->NowUnixNanos();
  const int64_t now = now_ns / 1000000000;
  std::vector<ObjectPtr> jobs = jobs_->ByIndex("cronjob-uid", MetaString(cj, "uid"));

  json::object old_status;
  if (const json::object* s = Obj(&cj, "status")) old_status = *s;
  json::object status = old_status;

  // status.active: the running Jobs we own; finished ones leave with an event.
  std::set<std::string> listed;
  if (const json::array* a = Arr(&old_status, "active"))
    for (const auto& r : *a)
      if (r.is_object()) listed.insert(Str(&r.as_object(), "uid"));
  json::array active;
  int64_t last_success = TimeField(&old_status, "lastSuccessfulTime");
  for (const auto& j : jobs) {
    std::string finished = FinishedAs(*j);
    if (finished.empty()) {
      if (!IsDeleting(*j)) {
        active.push_back(json::object{{"kind", "Job"},
                                      {"namespace", ns},
                                      {"name", MetaString(*j, "name")},
                                      {"uid", MetaString(*j, "uid")},
                                      {"apiVersion", "batch/v1"},
                                      {"resourceVersion", MetaString(*j, "resourceVersion")}});
      }
      continue;
    }
    if (listed.count(MetaString(*j, "uid")))
      recorder_->Record(cj, "Normal", "SawCompletedJob",
                        "Saw completed job: " + MetaString(*j, "name") + ", status: " + finished);
    if (finished == "Complete")
      last_success = std::max(last_success, TimeField(Obj(j.get(), "status"), "completionTime"));
  }
  // Keep refs of jobs listed earlier that the cache has not shown yet (just created).
  if (const json::array* a = Arr(&old_status, "active")) {
    for (const auto& r : *a) {
      if (!r.is_object()) continue;
      std::string uid = Str(&r.as_object(), "uid");
      bool known = std::any_of(jobs.begin(), jobs.end(),
                               [&](const ObjectPtr& j) { return MetaString(*j, "uid") == uid; });
      if (!known) {
        auto got = client_->Get(client::resources::kJobs, ns, Str(&r.as_object(), "name"));
        if (got.ok() && MetaString(*got, "uid") == uid && FinishedAs(*got).empty())
          active.push_back(r);
      }
    }
  }
  if (last_success > 0) status["lastSuccessfulTime"] = FormatRfc3339(last_success);
  auto write_status = [&]() -> Status {
    if (active.empty()) {
      status.erase("active");
    } else {
      status["active"] = active;
    }
    if (status == old_status) return Status::Ok();
    json::object updated = cj;
    updated["status"] = status;
    auto r = client_->UpdateStatus(client::resources::kCronJobs, ns, updated);
    if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
    return Status::Ok();
  };

  if (!IsDeleting(cj)) RETURN_IF_ERROR(CleanupHistory(cj, jobs));
  if (IsDeleting(cj) || Flag(spec, "suspend")) return write_status();

  std::string tz_name = Str(spec, "timeZone");
  auto zone = Zone(tz_name);
  if (!zone.ok()) {
    recorder_->Record(cj, "Warning", "UnknownTimeZone",
                      "invalid timeZone: \"" + tz_name + "\": " + zone.status().message());
    return write_status();
  }
  std::string schedule_text = Str(spec, "schedule");
  auto schedule = CronSchedule::Parse(schedule_text);
  if (!schedule.ok()) {
    recorder_->Record(
        cj, "Warning", "UnparseableSchedule",
        "unparseable schedule: \"" + schedule_text + "\" : " + schedule.status().message());
    return write_status();
  }
  const TimeZone& tz = **zone;

  int64_t earliest = TimeField(&old_status, "lastScheduleTime");
  if (earliest == 0) earliest = TimeField(Obj(&cj, "metadata"), "creationTimestamp");
  const bool has_deadline = spec && spec->contains("startingDeadlineSeconds") &&
                            !spec->at("startingDeadlineSeconds").is_null();
  const int64_t deadline = Int(spec, "startingDeadlineSeconds");
  if (has_deadline) earliest = std::max(earliest, now - deadline);
  int64_t recent = -1, missed = 0;
  for (int64_t t = schedule->Next(earliest, tz); t >= 0 && t <= now; t = schedule->Next(t, tz)) {
    recent = t;
    if (++missed > 1000000) break;
  }
  int64_t next = schedule->Next(now, tz);
  auto requeue = [&] {
    if (next < 0) return;
    int64_t ms = next * 1000 - now_ns / 1000000 + 100;
    queue_.AddAfter(key, std::chrono::milliseconds(std::max<int64_t>(ms, 100)));
  };
  if (recent < 0) {
    requeue();
    return write_status();
  }
  if (missed > 100) {
    recorder_->Record(cj, "Warning", "TooManyMissedTimes",
                      "too many missed start times: " + std::to_string(missed) +
                          ". Set or decrease .spec.startingDeadlineSeconds or check clock skew");
  }
  if (has_deadline && recent + deadline < now) {
    recorder_->Record(cj, "Warning", "MissSchedule",
                      "Missed scheduled time to start a job: " + Rfc1123Z(recent));
    requeue();
    return write_status();
  }
  const std::string job_name = CronJobName(std::string(name), recent);
  bool exists = std::any_of(jobs.begin(), jobs.end(),
                            [&](const ObjectPtr& j) { return MetaString(*j, "name") == job_name; });
  if (exists) {
    status["lastScheduleTime"] = FormatRfc3339(recent);
    requeue();
    return write_status();
  }
  std::string policy = Str(spec, "concurrencyPolicy");
  if (policy == "Forbid" && !active.empty()) {
    recorder_->Record(cj, "Normal", "JobAlreadyActive",
                      "Not starting job because prior execution is running and concurrency "
                      "policy is Forbid");
    requeue();
    return write_status();
  }
  if (policy == "Replace") {
    for (const auto& ref : active) {
      std::string jn = Str(&ref.as_object(), "name");
      client::DeleteOptions opts;
      opts.propagation_policy = "Background";
      opts.precondition_uid = Str(&ref.as_object(), "uid");
      Status st = client_->Delete(client::resources::kJobs, ns, jn, opts);
      if (!st.ok() && st.code() != Code::kNotFound) return st;
      recorder_->Record(cj, "Normal", "SuccessfulDelete", "Deleted job " + jn);
    }
    active.clear();
  }
  const json::object* jt = Obj(spec, "jobTemplate");
  json::object meta{{"name", job_name},
                    {"namespace", ns},
                    {"ownerReferences", json::array{MakeControllerRef(cj)}}};
  if (const json::object* l = Obj(Obj(jt, "metadata"), "labels")) meta["labels"] = *l;
  json::object ann;
  if (const json::object* a = Obj(Obj(jt, "metadata"), "annotations")) ann = *a;
  ann[kScheduledTimestamp] = Rfc3339In(recent, tz);
  meta["annotations"] = ann;
  json::object job{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", meta}};
  if (const json::object* js = Obj(jt, "spec")) job["spec"] = *js;
  auto created = client_->Create(client::resources::kJobs, ns, job);
  if (!created.ok() && created.status().code() != Code::kAlreadyExists) {
    recorder_->Record(cj, "Warning", "FailedCreate",
                      "Error creating job: " + created.status().message());
    return created.status();
  }
  if (created.ok()) {
    recorder_->Record(cj, "Normal", "SuccessfulCreate", "Created job " + job_name);
    active.push_back(json::object{{"kind", "Job"},
                                  {"namespace", ns},
                                  {"name", job_name},
                                  {"uid", MetaString(*created, "uid")},
                                  {"apiVersion", "batch/v1"},
                                  {"resourceVersion", MetaString(*created, "resourceVersion")}});
  }
  status["lastScheduleTime"] = FormatRfc3339(recent);
  requeue();
  return write_status();
}

}  // namespace sampan::controllers
