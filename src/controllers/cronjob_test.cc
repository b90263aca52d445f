#include "controllers/cronjob.h"

#include <gtest/gtest.h>

#include <atomic>

#include "client/test_apiserver.h"
#include "controllers/util.h"

namespace sampan::controllers {
namespace {
namespace json = boost::json;
using sampan::client::testing::Eventually;

TEST(CronJobNameTest, MinutesSinceEpoch) {
  EXPECT_EQ(CronJobName("hello", 1800000000), "hello-30000000");
  EXPECT_EQ(CronJobName("hello", 1800000059), "hello-30000000");
}

class CronJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
    informers_ = std::make_unique<client::SharedInformers>(client_.get());
    recorder_ = std::make_unique<client::EventRecorder>(client_.get(), "cronjob-controller");
    controller_ = std::make_unique<CronJobController>(informers_.get(), recorder_.get(), &clock_);
    informers_->Start();
    ASSERT_TRUE(informers_->WaitForSync(std::chrono::seconds(10)));
    int64_t now = Clock::Real().NowUnix();
    clock_.Set(now - now % 60 + 10);
  }
  void TearDown() override { informers_->Stop(); }

  void Create(const std::string& name, const std::string& extra_spec) {
    std::string text =
        R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":")" + name +
        R"("},"spec":{"schedule":"*/1 * * * *",)" + extra_spec +
        R"("jobTemplate":{"metadata":{"labels":{"from":"cron"}},"spec":{"template":{"spec":{
                       "restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}}})";
    auto r =
        client_->Create(client::resources::kCronJobs, "default", json::parse(text).as_object());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    // The fake clock: 10 s into the minute of the creationTimestamp, so that no start time has
    // passed yet and the next one comes within the next 60 s.
    int64_t created = 0;
    ASSERT_TRUE(ParseRfc3339(client::MetaString(*r, "creationTimestamp"), &created));
    clock_.Set(created - created % 60 + 10);
    ASSERT_TRUE(Eventually([&] {
      return informers_->For(client::resources::kCronJobs)->Get("default/" + name) != nullptr;
    }));
  }
  // Whether the informers hold exactly what the server has (CronJob `name` and all Jobs).
  bool CacheCurrent(const std::string& name) {
    auto got = client_->Get(client::resources::kCronJobs, "default", name);
    auto cached = informers_->For(client::resources::kCronJobs)->Get("default/" + name);
    auto jobs = client_->List(client::resources::kJobs, "default", {});
    if (!got.ok() || !cached || !jobs.ok()) return false;
    if (client::MetaString(*got, "resourceVersion") !=
        client::MetaString(*cached, "resourceVersion"))
      return false;
    client::Informer* jobs_cache = informers_->For(client::resources::kJobs);
    if (jobs_cache->List().size() != jobs->at("items").as_array().size()) return false;
    for (const auto& j : jobs->at("items").as_array()) {
      auto c = jobs_cache->Get(client::KeyOf(j.as_object()));
      if (!c || client::MetaString(*c, "resourceVersion") !=
                    client::MetaString(j.as_object(), "resourceVersion"))
        return false;
    }
    return true;
  }
  // Syncs from a current cache until a sync succeeds and the cache has caught up with it.
  void Sync(const std::string& name) {
    Status last;
    ASSERT_TRUE(Eventually([&] {
      if (!CacheCurrent(name)) return false;
      last = controller_->Sync("default/" + name);
      return last.ok() && CacheCurrent(name);
    })) << last.ToString();
  }
  std::vector<json::object> Jobs() {
    std::vector<json::object> out;
    auto l = client_->List(client::resources::kJobs, "default", {});
    if (l.ok())
      for (auto& j : l->at("items").as_array())
        if (!IsDeleting(j.as_object())) out.push_back(j.as_object());
    std::sort(out.begin(), out.end(), [](const json::object& a, const json::object& b) {
      return client::MetaString(a, "name") < client::MetaString(b, "name");
    });
    return out;
  }
  json::object Get(const std::string& name) {
    auto r = client_->Get(client::resources::kCronJobs, "default", name);
    return r.ok() ? *r : json::object();
  }
  void Finish(const json::object& job, bool ok) {
    std::string ts = FormatRfc3339(clock_.NowUnix());
    json::object j = job;
    json::array conds;
    if (ok) {
      conds.push_back(json::object{
          {"type", "SuccessCriteriaMet"}, {"status", "True"}, {"lastTransitionTime", ts}});
      conds.push_back(
          json::object{{"type", "Complete"}, {"status", "True"}, {"lastTransitionTime", ts}});
    } else {
      conds.push_back(
          json::object{{"type", "FailureTarget"}, {"status", "True"}, {"lastTransitionTime", ts}});
      conds.push_back(
          json::object{{"type", "Failed"}, {"status", "True"}, {"lastTransitionTime", ts}});
    }
    json::object status{{"conditions", conds}, {"startTime", ts}};
    if (ok) status["completionTime"] = ts;
    j["status"] = status;
    auto r = client_->UpdateStatus(client::resources::kJobs, "default", j);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  std::string Dump() {
    std::string out = json::serialize(Get("c")) + "\n";
    for (auto& j : Jobs()) out += client::MetaString(j, "name") + "\n";
    return out;
  }

  ManualClock clock_{0};
  client::testing::TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
  std::unique_ptr<client::SharedInformers> informers_;
  std::unique_ptr<client::EventRecorder> recorder_;
  std::unique_ptr<CronJobController> controller_;
};

TEST_F(CronJobTest, CreatesAJobEachMinuteAndTracksIt) {
  Create("c", "");
  Sync("c");
  EXPECT_TRUE(Jobs().empty()) << Dump();
  clock_.Advance(60);
  Sync("c");
  auto jobs = Jobs();
  ASSERT_EQ(jobs.size(), 1u) << Dump();
  int64_t minute = clock_.NowUnix() - clock_.NowUnix() % 60;
  EXPECT_EQ(client::MetaString(jobs[0], "name"), CronJobName("c", minute));
  EXPECT_EQ(Str(client::MetaObject(jobs[0], "labels"), "from"), "cron");
  EXPECT_EQ(Str(client::MetaObject(jobs[0], "annotations"),
                "batch.kubernetes.io/cronjob-scheduled-timestamp"),
            FormatRfc3339(minute));
  const json::object* ref = ControllerRef(jobs[0]);
  ASSERT_TRUE(ref);
  EXPECT_EQ(Str(ref, "kind"), "CronJob");
  json::object cj = Get("c");
  EXPECT_EQ(Str(Obj(&cj, "status"), "lastScheduleTime"), FormatRfc3339(minute));
  ASSERT_TRUE(Arr(Obj(&cj, "status"), "active"));
  EXPECT_EQ(Arr(Obj(&cj, "status"), "active")->size(), 1u);
  // Syncing again within the minute creates nothing.
  Sync("c");
  EXPECT_EQ(Jobs().size(), 1u);
  // The job finishes: it leaves status.active; lastSuccessfulTime is set.
  Finish(jobs[0], true);
  Sync("c");
  cj = Get("c");
  EXPECT_FALSE(Arr(Obj(&cj, "status"), "active")) << Dump();
  EXPECT_FALSE(Str(Obj(&cj, "status"), "lastSuccessfulTime").empty());
  // Allow: a running job does not stop the next one.
  clock_.Advance(60);
  Sync("c");
  clock_.Advance(60);
  Sync("c");
  EXPECT_EQ(Jobs().size(), 3u) << Dump();
  cj = Get("c");
  ASSERT_TRUE(Arr(Obj(&cj, "status"), "active")) << Dump();
  EXPECT_EQ(Arr(Obj(&cj, "status"), "active")->size(), 2u);
}

TEST_F(CronJobTest, ForbidSkipsWhileAJobRuns) {
  Create("c", R"("concurrencyPolicy":"Forbid",)");
  clock_.Advance(60);
  Sync("c");
  ASSERT_EQ(Jobs().size(), 1u) << Dump();
  clock_.Advance(60);
  Sync("c");
  ASSERT_EQ(Jobs().size(), 1u) << Dump();
  // Once it finishes, the missed start runs.
  Finish(Jobs()[0], true);
  Sync("c");
  EXPECT_EQ(Jobs().size(), 2u) << Dump();
}

TEST_F(CronJobTest, ReplaceDeletesTheRunningJob) {
  Create("c", R"("concurrencyPolicy":"Replace",)");
  clock_.Advance(60);
  Sync("c");
  auto first = Jobs();
  ASSERT_EQ(first.size(), 1u) << Dump();
  clock_.Advance(60);
  Sync("c");
  auto now = Jobs();
  ASSERT_EQ(now.size(), 1u) << Dump();
  EXPECT_NE(client::MetaString(now[0], "name"), client::MetaString(first[0], "name"));
}

TEST_F(CronJobTest, HistoryLimitsDeleteTheOldestFinishedJobs) {
  Create("c", R"("successfulJobsHistoryLimit":1,"failedJobsHistoryLimit":0,)");
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(60);
    Sync("c");
    auto jobs = Jobs();
    ASSERT_FALSE(jobs.empty()) << Dump();
    Finish(jobs.back(), i != 1);  // the second fails
    clock_.Advance(1);
    Sync("c");
  }
  Sync("c");
  auto jobs = Jobs();
  ASSERT_EQ(jobs.size(), 1u) << Dump();
  int64_t minute = clock_.NowUnix() - clock_.NowUnix() % 60;
  EXPECT_EQ(client::MetaString(jobs[0], "name"), CronJobName("c", minute));
}

TEST_F(CronJobTest, OnlyTheLatestMissedTimeRunsAndDeadlinesSkipOldOnes) {
  Create("late", R"("startingDeadlineSeconds":20,)");
  Create("c", "");
  clock_.Advance(10 * 60 + 30);  // ten missed minutes; now 40 s past the last one
  Sync("c");
  Sync("late");
  auto jobs = Jobs();
  ASSERT_EQ(jobs.size(), 1u) << Dump();
  int64_t minute = clock_.NowUnix() - clock_.NowUnix() % 60;
  EXPECT_EQ(client::MetaString(jobs[0], "name"), CronJobName("c", minute));
  // 15 s later than a minute: within the deadline, "late" runs.
  clock_.Advance(35);
  Sync("late");
  EXPECT_EQ(Jobs().size(), 2u) << Dump();
}

TEST_F(CronJobTest, SuspendedCronJobsCreateNothing) {
  Create("c", R"("suspend":true,)");
  clock_.Advance(120);
  Sync("c");
  EXPECT_TRUE(Jobs().empty());
}

TEST_F(CronJobTest, TimeZoneShiftsTheSchedule) {
  // 30 minutes past the hour in a +05:30 zone is on the hour in UTC.
  auto r = client_->Create(client::resources::kCronJobs, "default",
                           json::parse(R"({
      "apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"c"},
      "spec":{"schedule":"30 * * * *","timeZone":"Asia/Kolkata",
      "jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never",
      "containers":[{"name":"c","image":"busybox"}]}}}}}})")
                               .as_object());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(Eventually(
      [&] { return informers_->For(client::resources::kCronJobs)->Get("default/c") != nullptr; }));
  int64_t hour = clock_.NowUnix() - clock_.NowUnix() % 3600 + 3600;
  clock_.Set(hour + 5);
  Sync("c");
  auto jobs = Jobs();
  ASSERT_EQ(jobs.size(), 1u) << Dump();
  EXPECT_EQ(client::MetaString(jobs[0], "name"), CronJobName("c", hour));
  EXPECT_EQ(Str(client::MetaObject(jobs[0], "annotations"),
                "batch.kubernetes.io/cronjob-scheduled-timestamp")
                .substr(19),
            "+05:30");
}

}  // namespace
}  // namespace sampan::controllers
