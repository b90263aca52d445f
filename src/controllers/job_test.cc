#include "controllers/job.h"

#include <gtest/gtest.h>

#include <atomic>

#include "client/test_apiserver.h"
#include "controllers/util.h"

namespace sampan::controllers {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using sampan::client::testing::Eventually;

TEST(JobIndexesTest, FormatAndParse) {
  EXPECT_EQ(FormatIndexes({}), "");
  EXPECT_EQ(FormatIndexes({0, 1, 2, 4, 6, 7}), "0-2,4,6,7");
  EXPECT_EQ(FormatIndexes({3, 4, 5, 6}), "3-6");
  EXPECT_EQ(ParseIndexes("0-2,4,6-7"), (std::vector<int64_t>{0, 1, 2, 4, 6, 7}));
  EXPECT_EQ(ParseIndexes(""), std::vector<int64_t>{});
  EXPECT_EQ(ParseIndexes("3,x,1"), (std::vector<int64_t>{1, 3}));
}

TEST(JobPolicyTest, MatchSuccessPolicy) {
  auto job = [](const std::string& rules) {
    return json::parse(R"({"spec":{"completions":6,"completionMode":"Indexed","successPolicy":
        {"rules":)" + rules +
                       "}}}")
        .as_object();
  };
  // All of succeededIndexes.
  EXPECT_EQ(MatchSuccessPolicy(job(R"([{"succeededIndexes":"0,2-3"}])"), {0, 2}), "");
  EXPECT_EQ(MatchSuccessPolicy(job(R"([{"succeededIndexes":"0,2-3"}])"), {0, 2, 3, 5}),
            "Matched rules at index 0");
  // succeededCount within succeededIndexes only (Kubernetes' example: 1-4, count 3, {1,3,5}).
  EXPECT_EQ(
      MatchSuccessPolicy(job(R"([{"succeededIndexes":"1-4","succeededCount":3}])"), {1, 3, 5}), "");
  EXPECT_EQ(
      MatchSuccessPolicy(job(R"([{"succeededIndexes":"1-4","succeededCount":3}])"), {1, 3, 4}),
      "Matched rules at index 0");
  // succeededCount alone; the first matching rule wins.
  EXPECT_EQ(MatchSuccessPolicy(job(R"([{"succeededIndexes":"5"},{"succeededCount":2}])"), {0, 1}),
            "Matched rules at index 1");
  EXPECT_EQ(MatchSuccessPolicy(job(R"([{"succeededCount":2}])"), {4}), "");
  // Nothing succeeded, or no policy: no match.
  EXPECT_EQ(MatchSuccessPolicy(job(R"([{"succeededCount":0}])"), {}), "");
  EXPECT_EQ(MatchSuccessPolicy(json::parse(R"({"spec":{"completions":2}})").as_object(), {0, 1}),
            "");
}

class JobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
    informers_ = std::make_unique<client::SharedInformers>(client_.get());
    recorder_ = std::make_unique<client::EventRecorder>(client_.get(), "job-controller");
    controller_ = std::make_unique<JobController>(informers_.get(), recorder_.get(), &clock_);
    informers_->Start();
    controller_->Run(2);
  }
  void TearDown() override {
    controller_->Stop();
    informers_->Stop();
  }
  void CreateJob(const std::string& yaml_json) {
    auto r =
        client_->Create(client::resources::kJobs, "default", json::parse(yaml_json).as_object());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  json::object GetJob(const std::string& name) {
    auto j = client_->Get(client::resources::kJobs, "default", name);
    return j.ok() ? *j : json::object();
  }
  // Has the controller's workers sync the Job now (after the fake clock moved) by touching it:
  // a direct Sync() could run beside a worker's sync of the same key, which the work queue
  // never allows.
  void Kick(const std::string& key) {
    auto [ns, name] = client::SplitKey(key);
    json::object patch{
        {"metadata",
         json::object{{"annotations", json::object{{"test/kick", std::to_string(++kicks_)}}}}}};
    auto r = client_->Patch(client::resources::kJobs, ns, name, client::PatchType::kMerge, patch);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  int64_t StatusInt(const std::string& job, const char* key) {
    json::object j = GetJob(job);
    return Int(Obj(&j, "status"), key);
  }
  std::string StatusStr(const std::string& job, const char* key) {
    json::object j = GetJob(job);
    return Str(Obj(&j, "status"), key);
  }
  std::vector<json::object> Pods(bool include_finished = true) {
    std::vector<json::object> out;
    auto l = client_->List(client::resources::kPods, "default", {});
    if (!l.ok()) return out;
    for (auto& p : l->at("items").as_array()) {
      std::string phase = Str(Obj(&p.as_object(), "status"), "phase");
      if (!include_finished &&
          (phase == "Succeeded" || phase == "Failed" || IsDeleting(p.as_object())))
        continue;
      out.push_back(p.as_object());
    }
    return out;
  }
  void Finish(const json::object& pod, const std::string& phase) {
    json::object patch{
        {"status", json::object{{"phase", phase},
                                {"conditions",
                                 json::array{json::object{
                                     {"type", "Ready"},
                                     {"status", "False"},
                                     {"lastTransitionTime", FormatRfc3339(clock_.NowUnix())}}}}}}};
    auto r = client_->Patch(client::resources::kPods, "default", client::MetaString(pod, "name"),
                            client::PatchType::kMerge, patch, "status");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  bool HasCondition(const json::object& job, const std::string& type,
                    const std::string& reason = "") {
    if (const json::array* cs = Arr(Obj(&job, "status"), "conditions"))
      for (const auto& c : *cs)
        if (Str(&c.as_object(), "type") == type && Str(&c.as_object(), "status") == "True" &&
            (reason.empty() || Str(&c.as_object(), "reason") == reason))
          return true;
    return false;
  }
  std::string Dump() {
    std::string out;
    auto l = client_->List(client::resources::kJobs, "default", {});
    if (l.ok()) out += json::serialize(*l) + "\n";
    for (auto& p : Pods()) out += json::serialize(p) + "\n";
    if (auto ev = client_->List(client::resources::kEvents, "default", {}); ev.ok())
      for (const auto& e : ev->at("items").as_array())
        out +=
            "event " + Str(&e.as_object(), "reason") + ": " + Str(&e.as_object(), "message") + "\n";
    return out;
  }

  int kicks_ = 0;
  ManualClock clock_{1800000000};
  client::testing::TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
  std::unique_ptr<client::SharedInformers> informers_;
  std::unique_ptr<client::EventRecorder> recorder_;
  std::unique_ptr<JobController> controller_;
};

TEST_F(JobTest, RunsCompletionsWithParallelismAndCompletes) {
  CreateJob(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pi"},
      "spec":{"completions":3,"parallelism":2,"template":{"spec":{"restartPolicy":"Never",
      "containers":[{"name":"c","image":"busybox"}]}}}})");
  int finished = 0;
  size_t max_running = 0;
  while (finished < 3) {
    ASSERT_TRUE(Eventually([&] { return !Pods(false).empty(); })) << Dump();
    auto running = Pods(false);
    max_running = std::max(max_running, running.size());
    for (const auto& p : running) {
      EXPECT_EQ(client::MetaString(p, "generateName"), "pi-");
      const json::array* fins = Arr(Obj(&p, "metadata"), "finalizers");
      ASSERT_TRUE(fins && !fins->empty()) << json::serialize(p);
      EXPECT_EQ((*fins)[0], kJobTrackingFinalizer);
      EXPECT_EQ(Str(client::MetaObject(p, "labels"), "batch.kubernetes.io/job-name"), "pi");
    }
    Finish(running.front(), "Succeeded");
    ++finished;
    ASSERT_TRUE(Eventually([&] { return StatusInt("pi", "succeeded") == finished; })) << Dump();
  }
  EXPECT_EQ(max_running, 2u);
  ASSERT_TRUE(Eventually([&] {
    return HasCondition(GetJob("pi"), "Complete", "CompletionsReached");
  })) << Dump();
  json::object job = GetJob("pi");
  EXPECT_TRUE(HasCondition(job, "SuccessCriteriaMet", "CompletionsReached"));
  EXPECT_FALSE(Str(Obj(&job, "status"), "completionTime").empty());
  EXPECT_FALSE(Str(Obj(&job, "status"), "startTime").empty());
  EXPECT_EQ(Int(Obj(&job, "status"), "active"), 0);
  // Every pod was counted and released.
  ASSERT_TRUE(Eventually([&] {
    for (auto& p : Pods())
      if (Arr(Obj(&p, "metadata"), "finalizers") &&
          !Arr(Obj(&p, "metadata"), "finalizers")->empty())
        return false;
    return true;
  })) << Dump();
  EXPECT_EQ(Pods().size(), 3u);
}

TEST_F(JobTest, BackoffLimitFailsTheJobAfterBackOff) {
  CreateJob(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"bad"},
      "spec":{"backoffLimit":1,"template":{"spec":{"restartPolicy":"Never",
      "containers":[{"name":"c","image":"busybox"}]}}}})");
  ASSERT_TRUE(Eventually([&] { return Pods(false).size() == 1; })) << Dump();
  Finish(Pods(false)[0], "Failed");
  ASSERT_TRUE(Eventually([&] { return StatusInt("bad", "failed") == 1; })) << Dump();
  // The back-off (10 s) holds the replacement until the clock passes it.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(Pods(false).size(), 0u);
  clock_.Advance(11);
  Kick("default/bad");
  ASSERT_TRUE(Eventually([&] { return Pods(false).size() == 1; })) << Dump();
  Finish(Pods(false)[0], "Failed");
  ASSERT_TRUE(Eventually([&] {
    return HasCondition(GetJob("bad"), "Failed", "BackoffLimitExceeded");
  })) << Dump();
  json::object job = GetJob("bad");
  EXPECT_TRUE(HasCondition(job, "FailureTarget", "BackoffLimitExceeded"));
  EXPECT_EQ(Int(Obj(&job, "status"), "failed"), 2);
  EXPECT_TRUE(Str(Obj(&job, "status"), "completionTime").empty());
}

TEST_F(JobTest, IndexedPodsCarryTheirIndex) {
  CreateJob(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"ix"},
      "spec":{"completions":3,"parallelism":3,"completionMode":"Indexed","template":{"spec":{
      "restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})");
  ASSERT_TRUE(Eventually([&] { return Pods(false).size() == 3; })) << Dump();
  std::set<std::string> seen;
  for (const auto& p : Pods(false)) {
    std::string ix = Str(client::MetaObject(p, "annotations"), kJobCompletionIndex);
    EXPECT_EQ(Str(client::MetaObject(p, "labels"), kJobCompletionIndex), ix);
    EXPECT_EQ(client::MetaString(p, "generateName"), "ix-" + ix + "-");
    EXPECT_EQ(Str(Obj(&p, "spec"), "hostname"), "ix-" + ix);
    const json::array* env = Arr(&Arr(Obj(&p, "spec"), "containers")->at(0).as_object(), "env");
    ASSERT_TRUE(env);
    EXPECT_EQ(Str(&env->at(0).as_object(), "name"), "JOB_COMPLETION_INDEX");
    seen.insert(ix);
  }
  EXPECT_EQ(seen, (std::set<std::string>{"0", "1", "2"}));
  // Index 1 fails: it is run again (after the back-off); 0 and 2 succeed.
  for (const auto& p : Pods(false)) {
    std::string ix = Str(client::MetaObject(p, "annotations"), kJobCompletionIndex);
    Finish(p, ix == "1" ? "Failed" : "Succeeded");
  }
  ASSERT_TRUE(Eventually([&] { return StatusStr("ix", "completedIndexes") == "0,2"; })) << Dump();
  clock_.Advance(11);
  Kick("default/ix");
  ASSERT_TRUE(Eventually([&] { return Pods(false).size() == 1; })) << Dump();
  auto retry = Pods(false)[0];
  EXPECT_EQ(Str(client::MetaObject(retry, "annotations"), kJobCompletionIndex), "1");
  Finish(retry, "Succeeded");
  ASSERT_TRUE(Eventually([&] { return HasCondition(GetJob("ix"), "Complete"); })) << Dump();
  json::object job = GetJob("ix");
  EXPECT_EQ(Str(Obj(&job, "status"), "completedIndexes"), "0-2");
  EXPECT_EQ(Int(Obj(&job, "status"), "succeeded"), 3);
  EXPECT_EQ(Int(Obj(&job, "status"), "failed"), 1);
}

TEST_F(JobTest, ActiveDeadlineFailsAndDeletesPods) {
  CreateJob(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"slow"},
      "spec":{"activeDeadlineSeconds":30,"parallelism":2,"completions":4,"template":{"spec":{
      "restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})");
  ASSERT_TRUE(Eventually([&] { return Pods(false).size() == 2; })) << Dump();
  clock_.Advance(31);
  Kick("default/slow");
  ASSERT_TRUE(Eventually([&] {
    return HasCondition(GetJob("slow"), "Failed", "DeadlineExceeded");
  })) << Dump();
  // Unbound pods go once the controller drops its finalizer; the killed pods count as failed.
  ASSERT_TRUE(Eventually([&] { return Pods().empty(); })) << Dump();
  // As in Kubernetes, a pod's finalizer goes once it is recorded in
  // status.uncountedTerminatedPods; the failed count follows in a later status write.
  EXPECT_TRUE(Eventually([&] { return StatusInt("slow", "failed") == 2; })) << Dump();
  EXPECT_TRUE(HasCondition(GetJob("slow"), "FailureTarget", "DeadlineExceeded"));
}

TEST_F(JobTest, SuspendAndResume) {
  CreateJob(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"sus"},
      "spec":{"suspend":true,"template":{"spec":{
      "restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})");
  ASSERT_TRUE(Eventually([&] { return HasCondition(GetJob("sus"), "Suspended"); })) << Dump();
  EXPECT_TRUE(Pods().empty());
  ASSERT_TRUE(client_
                  ->Patch(client::resources::kJobs, "default", "sus", client::PatchType::kMerge,
                          json::parse(R"({"spec":{"suspend":false}})"))
                  .ok());
  ASSERT_TRUE(Eventually([&] { return Pods(false).size() == 1; })) << Dump();
  ASSERT_TRUE(Eventually([&] { return !HasCondition(GetJob("sus"), "Suspended"); })) << Dump();
  ASSERT_TRUE(client_
                  ->Patch(client::resources::kJobs, "default", "sus", client::PatchType::kMerge,
                          json::parse(R"({"spec":{"suspend":true}})"))
                  .ok());
  ASSERT_TRUE(Eventually([&] {
    return Pods().empty() && HasCondition(GetJob("sus"), "Suspended");
  })) << Dump();
  EXPECT_EQ(StatusInt("sus", "failed"), 0);
}

TEST_F(JobTest, TtlAfterFinishedDeletesTheJob) {
  CreateJob(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"ttl"},
      "spec":{"ttlSecondsAfterFinished":100,"template":{"spec":{
      "restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})");
  ASSERT_TRUE(Eventually([&] { return Pods(false).size() == 1; })) << Dump();
  Finish(Pods(false)[0], "Succeeded");
  ASSERT_TRUE(Eventually([&] { return HasCondition(GetJob("ttl"), "Complete"); })) << Dump();
  Kick("default/ttl");
  EXPECT_FALSE(GetJob("ttl").empty());
  clock_.Advance(101);
  Kick("default/ttl");
  // Foreground deletion: the job is marked; no garbage collector runs here, so it stays
  // with a deletionTimestamp.
  ASSERT_TRUE(Eventually([&] {
    json::object j = GetJob("ttl");
    return j.empty() || IsDeleting(j);
  })) << Dump();
}

TEST_F(JobTest, OrphanPodLosesTheFinalizer) {
  json::object pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"orphan",
      "finalizers":["batch.kubernetes.io/job-tracking"],
      "ownerReferences":[{"apiVersion":"batch/v1","kind":"Job","name":"gone","uid":"nope",
      "controller":true}]},"spec":{"containers":[{"name":"c","image":"busybox"}]}})")
                         .as_object();
  ASSERT_TRUE(client_->Create(client::resources::kPods, "default", pod).ok());
  ASSERT_TRUE(Eventually([&] {
    auto p = client_->Get(client::resources::kPods, "default", "orphan");
    return p.ok() && !Arr(Obj(&*p, "metadata"), "finalizers");
  })) << Dump();
}

TEST_F(JobTest, PodFailurePolicyIgnoresAndFailsByExitCode) {
  CreateJob(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pfp"},
      "spec":{"backoffLimit":5,"podFailurePolicy":{"rules":[
        {"action":"Ignore","onExitCodes":{"operator":"In","values":[7]}},
        {"action":"FailJob","onExitCodes":{"containerName":"c","operator":"In","values":[42]}}]},
      "template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})");
  auto exit_with = [&](int code) {
    auto pods = Pods(false);
    ASSERT_EQ(pods.size(), 1u) << Dump();
    json::object patch =
        json::parse(R"({"status":{"phase":"Failed","containerStatuses":[{"name":"c",
        "state":{"terminated":{"exitCode":)" +
                    std::to_string(code) + R"(,
        "finishedAt":")" +
                    FormatRfc3339(clock_.NowUnix()) + R"("}}}]}})")
            .as_object();
    ASSERT_TRUE(client_
                    ->Patch(client::resources::kPods, "default",
                            client::MetaString(pods[0], "name"), client::PatchType::kMerge, patch,
                            "status")
                    .ok());
  };
  ASSERT_TRUE(Eventually([&] { return Pods(false).size() == 1; })) << Dump();
  std::string first = client::MetaString(Pods(false)[0], "name");
  exit_with(7);
  // Ignored: not counted, replaced at once (no back-off).
  ASSERT_TRUE(Eventually([&] {
    auto now = Pods(false);
    return now.size() == 1 && client::MetaString(now[0], "name") != first;
  })) << Dump();
  EXPECT_EQ(StatusInt("pfp", "failed"), 0);
  exit_with(42);
  ASSERT_TRUE(Eventually([&] { return HasCondition(GetJob("pfp"), "Failed", "PodFailurePolicy"); }))
      << Dump();
  json::object job = GetJob("pfp");
  EXPECT_EQ(Int(Obj(&job, "status"), "failed"), 1);
  const json::array* conds = Arr(Obj(&job, "status"), "conditions");
  std::string message;
  for (const auto& c : *conds)
    if (Str(&c.as_object(), "type") == "Failed") message = Str(&c.as_object(), "message");
  EXPECT_NE(message.find("failed with exit code 42 matching FailJob rule at index 1"),
            std::string::npos)
      << message;
}

std::string Annotation(const json::object& pod, const char* key) {
  return Str(client::MetaObject(pod, "annotations"), key);
}
std::string IndexOf(const json::object& pod) { return Annotation(pod, kJobCompletionIndex); }

TEST_F(JobTest, SuccessPolicyEndsTheJobEarly) {
  CreateJob(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"sp"},
      "spec":{"completions":3,"parallelism":3,"completionMode":"Indexed",
      "successPolicy":{"rules":[{"succeededIndexes":"0"}]},"template":{"spec":{
      "restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})");
  ASSERT_TRUE(Eventually([&] { return Pods(false).size() == 3; })) << Dump();
  for (const auto& p : Pods(false))
    if (IndexOf(p) == "1") Finish(p, "Succeeded");  // not enough for the rule
  ASSERT_TRUE(Eventually([&] { return StatusStr("sp", "completedIndexes") == "1"; })) << Dump();
  EXPECT_FALSE(HasCondition(GetJob("sp"), "SuccessCriteriaMet"));
  for (const auto& p : Pods(false))
    if (IndexOf(p) == "0") Finish(p, "Succeeded");
  ASSERT_TRUE(Eventually([&] {
    return HasCondition(GetJob("sp"), "SuccessCriteriaMet", "SuccessPolicy");
  })) << Dump();
  // The lingering pod of index 2 is removed, then the Job completes with the same reason.
  ASSERT_TRUE(Eventually([&] { return HasCondition(GetJob("sp"), "Complete", "SuccessPolicy"); }))
      << Dump();
  json::object job = GetJob("sp");
  for (const auto& c : *Arr(Obj(&job, "status"), "conditions"))
    if (Str(&c.as_object(), "type") == "Complete")
      EXPECT_EQ(Str(&c.as_object(), "message"), "Matched rules at index 0");
  EXPECT_EQ(Str(Obj(&job, "status"), "completedIndexes"), "0,1");
  EXPECT_EQ(Int(Obj(&job, "status"), "succeeded"), 2);
  EXPECT_EQ(Int(Obj(&job, "status"), "active"), 0);
  EXPECT_FALSE(Str(Obj(&job, "status"), "completionTime").empty());
  ASSERT_TRUE(Eventually([&] { return Pods(false).empty(); })) << Dump();
}

TEST_F(JobTest, BackoffLimitPerIndexRetriesThenFailsTheIndex) {
  CreateJob(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pi"},
      "spec":{"completions":2,"parallelism":2,"completionMode":"Indexed","backoffLimitPerIndex":1,
      "template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})");
  ASSERT_TRUE(Eventually([&] { return Pods(false).size() == 2; })) << Dump();
  for (const auto& p : Pods(false)) EXPECT_EQ(Annotation(p, kJobIndexFailureCount), "0");
  std::string first_failed;
  for (const auto& p : Pods(false))
    if (IndexOf(p) == "0") {
      first_failed = client::MetaString(p, "name");
      Finish(p, "Failed");
    }
  // The index waits 10 s; its failed pod keeps the finalizer (not counted) until replaced.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(Pods(false).size(), 1u) << Dump();
  EXPECT_EQ(StatusInt("pi", "failed"), 0);
  EXPECT_EQ(StatusStr("pi", "failedIndexes"), "");
  clock_.Advance(11);
  Kick("default/pi");
  ASSERT_TRUE(Eventually([&] { return Pods(false).size() == 2; })) << Dump();
  json::object retry;
  for (const auto& p : Pods(false))
    if (IndexOf(p) == "0") retry = p;
  ASSERT_FALSE(retry.empty()) << Dump();
  EXPECT_EQ(Annotation(retry, kJobIndexFailureCount), "1");
  // Now replaced, the first failure is counted and its pod released.
  ASSERT_TRUE(Eventually([&] {
    auto p = client_->Get(client::resources::kPods, "default", first_failed);
    return StatusInt("pi", "failed") == 1 && p.ok() && !Arr(Obj(&*p, "metadata"), "finalizers");
  })) << Dump();
  // The retry fails too: index 0 has used its one retry.
  Finish(retry, "Failed");
  ASSERT_TRUE(Eventually([&] { return StatusStr("pi", "failedIndexes") == "0"; })) << Dump();
  clock_.Advance(100);
  Kick("default/pi");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(Pods(false).size(), 1u) << Dump();  // index 0 is not run again
  EXPECT_FALSE(HasCondition(GetJob("pi"), "FailureTarget"));
  for (const auto& p : Pods(false)) Finish(p, "Succeeded");  // index 1
  ASSERT_TRUE(Eventually([&] { return HasCondition(GetJob("pi"), "Failed", "FailedIndexes"); }))
      << Dump();
  json::object job = GetJob("pi");
  EXPECT_TRUE(HasCondition(job, "FailureTarget", "FailedIndexes"));
  EXPECT_EQ(Str(Obj(&job, "status"), "completedIndexes"), "1");
  EXPECT_EQ(Str(Obj(&job, "status"), "failedIndexes"), "0");
  EXPECT_EQ(Int(Obj(&job, "status"), "failed"), 2);
  EXPECT_EQ(Int(Obj(&job, "status"), "succeeded"), 1);
}

TEST_F(JobTest, MaxFailedIndexesAndFailIndexAction) {
  CreateJob(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"mf"},
      "spec":{"completions":4,"parallelism":4,"completionMode":"Indexed","backoffLimitPerIndex":3,
      "maxFailedIndexes":1,"podFailurePolicy":{"rules":[
        {"action":"FailIndex","onExitCodes":{"operator":"In","values":[5]}}]},
      "template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})");
  ASSERT_TRUE(Eventually([&] { return Pods(false).size() == 4; })) << Dump();
  auto fail_index = [&](const std::string& ix) {
    for (const auto& p : Pods(false)) {
      if (IndexOf(p) != ix) continue;
      json::object patch = json::parse(R"({"status":{"phase":"Failed","containerStatuses":[
          {"name":"c","state":{"terminated":{"exitCode":5,"finishedAt":")" +
                                       FormatRfc3339(clock_.NowUnix()) + R"("}}}]}})")
                               .as_object();
      ASSERT_TRUE(client_
                      ->Patch(client::resources::kPods, "default", client::MetaString(p, "name"),
                              client::PatchType::kMerge, patch, "status")
                      .ok());
    }
  };
  // FailIndex: the index fails at once despite backoffLimitPerIndex 3, and is not retried.
  fail_index("2");
  ASSERT_TRUE(Eventually([&] { return StatusStr("mf", "failedIndexes") == "2"; })) << Dump();
  clock_.Advance(100);
  Kick("default/mf");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(Pods(false).size(), 3u) << Dump();
  EXPECT_FALSE(HasCondition(GetJob("mf"), "FailureTarget"));
  // A second failed index exceeds maxFailedIndexes 1: the Job fails and its pods go.
  fail_index("0");
  ASSERT_TRUE(Eventually([&] {
    return HasCondition(GetJob("mf"), "Failed", "MaxFailedIndexesExceeded");
  })) << Dump();
  json::object job = GetJob("mf");
  EXPECT_EQ(Str(Obj(&job, "status"), "failedIndexes"), "0,2");
  ASSERT_TRUE(Eventually([&] { return Pods(false).empty(); })) << Dump();
}

TEST_F(JobTest, AdoptsMatchingOrphansAndReleasesStrays) {
  auto orphan = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"stray",
      "labels":{"app":"adopt"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}})")
                    .as_object();
  ASSERT_TRUE(client_->Create(client::resources::kPods, "default", orphan).ok());
  // The controller must see the orphan before its first sync of the Job: had it created two pods
  // first, adopting the orphan would make three and one of them (maybe the orphan) is deleted as
  // excess, which AdoptsOrphanAppearingLater covers.
  ASSERT_TRUE(Eventually(
      [&] { return informers_->For(client::resources::kPods)->Get("default/stray") != nullptr; }));
  CreateJob(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"ad"},
      "spec":{"manualSelector":true,"selector":{"matchLabels":{"app":"adopt"}},
      "parallelism":2,"completions":2,"template":{"metadata":{"labels":{"app":"adopt"}},
      "spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})");
  json::object job = GetJob("ad");
  ASSERT_TRUE(Eventually([&] {
    auto p = client_->Get(client::resources::kPods, "default", "stray");
    const json::object* ref = p.ok() ? ControllerRef(*p) : nullptr;
    return ref && Str(ref, "uid") == client::MetaString(job, "uid");
  })) << Dump();
  auto stray = client_->Get(client::resources::kPods, "default", "stray");
  const json::array* fins = Arr(Obj(&*stray, "metadata"), "finalizers");
  ASSERT_TRUE(fins && fins->size() == 1) << json::serialize(*stray);
  EXPECT_EQ((*fins)[0], kJobTrackingFinalizer);
  // The adopted pod counts: one more is created, not two.
  ASSERT_TRUE(Eventually([&] { return Pods(false).size() == 2; })) << Dump();
  // (The status is written after the pods are made: wait for it rather than read it at once.)
  ASSERT_TRUE(Eventually([&] { return StatusInt("ad", "active") == 2; })) << Dump();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(Pods(false).size(), 2u) << Dump();
  // Relabelled, it is released (reference and finalizer dropped) and replaced.
  ASSERT_TRUE(client_
                  ->Patch(client::resources::kPods, "default", "stray", client::PatchType::kMerge,
                          json::parse(R"({"metadata":{"labels":{"app":"other"}}})"))
                  .ok());
  ASSERT_TRUE(Eventually([&] {
    auto p = client_->Get(client::resources::kPods, "default", "stray");
    return p.ok() && !ControllerRef(*p) && !Arr(Obj(&*p, "metadata"), "finalizers");
  })) << Dump();
  ASSERT_TRUE(Eventually([&] { return Pods(false).size() == 3; })) << Dump();
  std::this_thread::sleep_for(300ms);  // the status write of that sync
  ASSERT_TRUE(Eventually([&] { return StatusInt("ad", "active") == 2; })) << Dump();
  EXPECT_EQ(StatusInt("ad", "failed"), 0);
}

// An orphan that shows up after the Job made its pods is adopted too (its arrival re-syncs the
// Job); the one pod too many is then deleted, uncounted.
TEST_F(JobTest, AdoptsOrphanAppearingLater) {
  CreateJob(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"late"},
      "spec":{"manualSelector":true,"selector":{"matchLabels":{"app":"late"}},
      "parallelism":2,"completions":2,"template":{"metadata":{"labels":{"app":"late"}},
      "spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})");
  ASSERT_TRUE(Eventually([&] { return StatusInt("late", "active") == 2; })) << Dump();
  const std::string uid = client::MetaString(GetJob("late"), "uid");
  auto orphan = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"late-stray",
      "labels":{"app":"late"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}})")
                    .as_object();
  ASSERT_TRUE(client_->Create(client::resources::kPods, "default", orphan).ok());
  // Adopted (and possibly deleted as the excess): no live pod is left without the Job as owner.
  auto settled = [&] {
    auto live = Pods(false);
    if (live.size() != 2) return false;
    for (const auto& p : live) {
      const json::object* ref = ControllerRef(p);
      if (!ref || Str(ref, "uid") != uid) return false;
    }
    return true;
  };
  ASSERT_TRUE(Eventually(settled)) << Dump();
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(settled()) << Dump();
  ASSERT_TRUE(Eventually([&] { return StatusInt("late", "active") == 2; })) << Dump();
  EXPECT_EQ(StatusInt("late", "failed"), 0);
}

// spec.managedBy naming another controller: the Job is left alone (no pods made or adopted, no
// status); the built-in controller's own name is synced as usual.
TEST_F(JobTest, ManagedByAnotherControllerIsLeftAlone) {
  EXPECT_FALSE(JobManagedElsewhere(json::parse(R"({"spec":{}})").as_object()));
  EXPECT_FALSE(JobManagedElsewhere(
      json::parse(R"({"spec":{"managedBy":"kubernetes.io/job-controller"}})").as_object()));
  EXPECT_TRUE(JobManagedElsewhere(
      json::parse(R"({"spec":{"managedBy":"example.com/queue"}})").as_object()));
  auto orphan = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"ext-stray",
      "labels":{"app":"ext"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}})")
                    .as_object();
  ASSERT_TRUE(client_->Create(client::resources::kPods, "default", orphan).ok());
  CreateJob(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"ext"},
      "spec":{"managedBy":"example.com/queue","manualSelector":true,
      "selector":{"matchLabels":{"app":"ext"}},"parallelism":2,"completions":2,
      "template":{"metadata":{"labels":{"app":"ext"}},"spec":{"restartPolicy":"Never",
      "containers":[{"name":"c","image":"busybox"}]}}}})");
  CreateJob(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"own"},
      "spec":{"managedBy":"kubernetes.io/job-controller","template":{"spec":{
      "restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})");
  ASSERT_TRUE(Eventually([&] { return StatusInt("own", "active") == 1; })) << Dump();
  Kick("default/ext");
  std::this_thread::sleep_for(300ms);
  const std::string ext_uid = client::MetaString(GetJob("ext"), "uid");
  int owned_by_ext = 0;
  for (const auto& p : Pods()) {
    const json::object* ref = ControllerRef(p);
    if (ref && Str(ref, "uid") == ext_uid) ++owned_by_ext;
  }
  EXPECT_EQ(owned_by_ext, 0) << Dump();
  auto stray = client_->Get(client::resources::kPods, "default", "ext-stray");
  ASSERT_TRUE(stray.ok());
  EXPECT_EQ(ControllerRef(*stray), nullptr) << json::serialize(*stray);
  json::object ext = GetJob("ext");
  const json::object* st = Obj(&ext, "status");
  EXPECT_TRUE(!st || st->empty()) << json::serialize(ext);
  EXPECT_EQ(Pods().size(), 2u) << Dump();  // the stray and the pod of "own"
}

}  // namespace
}  // namespace sampan::controllers
