// EventRecorder against the in-process API server: fieldPath, repeats folded into one
// counted event (as client-go's legacy recorder), and similar events combined.
#include "client/events.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "client/test_apiserver.h"

namespace sampan::client {
namespace {
namespace json = boost::json;

class EventRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }
  std::vector<json::object> Events() {
    auto list = client_->ListAll(resources::kEvents, "default", ListOptions{});
    std::vector<json::object> out;
    if (!list.ok()) {
      ADD_FAILURE() << list.status().ToString();
      return out;
    }
    for (const auto& e : list->at("items").as_array()) out.push_back(e.as_object());
    return out;
  }
  const json::object pod_{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", "web"}, {"namespace", "default"}, {"uid", "u-1"}}}};
  testing::TestApiServer server_;
  std::unique_ptr<RestClient> client_;
  ManualClock clock_;
};

TEST(ContainerFieldPathTest, AsKubernetesNamesContainers) {
  EXPECT_EQ(EventRecorder::ContainerFieldPath("web"), "spec.containers{web}");
  EXPECT_EQ(EventRecorder::ContainerFieldPath("setup", true), "spec.initContainers{setup}");
}

TEST_F(EventRecorderTest, FieldPathIsPartOfTheEventAndOfItsIdentity) {
  EventRecorder rec(client_.get(), "kubelet", "node-a", &clock_);
  rec.Record(pod_, "Normal", "Pulled", "image present", "spec.containers{a}");
  rec.Record(pod_, "Normal", "Pulled", "image present", "spec.initContainers{b}");
  rec.Record(pod_, "Normal", "Scheduled", "assigned");
  auto events = Events();
  ASSERT_EQ(events.size(), 3u);
  std::set<std::string> paths;
  for (const auto& e : events) {
    const json::object& io = e.at("involvedObject").as_object();
    EXPECT_EQ(io.at("kind"), "Pod");
    EXPECT_EQ(io.at("name"), "web");
    EXPECT_EQ(io.at("uid"), "u-1");
    paths.insert(io.contains("fieldPath") ? std::string(io.at("fieldPath").as_string()) : "-");
    EXPECT_EQ(e.at("count"), 1);
    EXPECT_EQ(e.at("source").at("component"), "kubelet");
    EXPECT_EQ(e.at("source").at("host"), "node-a");
  }
  EXPECT_EQ(paths, (std::set<std::string>{"-", "spec.containers{a}", "spec.initContainers{b}"}));
}

TEST_F(EventRecorderTest, RepeatsBumpCountAndLastTimestampOnly) {
  EventRecorder rec(client_.get(), "kubelet", "node-a", &clock_);
  const std::string msg = "Back-off restarting failed container app in pod web_default(u-1)";
  rec.Record(pod_, "Warning", "BackOff", msg, "spec.containers{app}");
  clock_.Advance(10);
  rec.Record(pod_, "Warning", "BackOff", msg, "spec.containers{app}");
  clock_.Advance(15);
  rec.Record(pod_, "Warning", "BackOff", msg, "spec.containers{app}");
  auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  const json::object& e = events[0];
  EXPECT_EQ(e.at("count"), 3);
  EXPECT_EQ(e.at("firstTimestamp").as_string(), FormatRfc3339(1700000000));
  EXPECT_EQ(e.at("lastTimestamp").as_string(), FormatRfc3339(1700000025));
  EXPECT_EQ(e.at("message").as_string(), msg);
  EXPECT_EQ(e.at("type"), "Warning");
  EXPECT_EQ(e.at("involvedObject").at("fieldPath"), "spec.containers{app}");
  // core/v1 events from this recorder never carry a series (events.k8s.io/v1 does).
  EXPECT_FALSE(e.contains("series") && !e.at("series").is_null());
  EXPECT_EQ(std::string(e.at("metadata").at("name").as_string()).rfind("web.", 0), 0u);
}

TEST_F(EventRecorderTest, SimilarEventsWithManyMessagesAreCombined) {
  EventRecorder rec(client_.get(), "kubelet", "node-a", &clock_);
  // Nine distinct messages: nine events.
  for (int i = 0; i < 9; ++i) {
    rec.Record(pod_, "Warning", "Unhealthy", "Readiness probe failed: try " + std::to_string(i),
               "spec.containers{app}");
  }
  EXPECT_EQ(Events().size(), 9u);
  // The tenth distinct one within ten minutes becomes one combined event; more fold into it.
  rec.Record(pod_, "Warning", "Unhealthy", "Readiness probe failed: try 9", "spec.containers{app}");
  clock_.Advance(5);
  rec.Record(pod_, "Warning", "Unhealthy", "Readiness probe failed: try 10",
             "spec.containers{app}");
  auto events = Events();
  ASSERT_EQ(events.size(), 10u);
  int combined = 0;
  for (const auto& e : events) {
    std::string m(e.at("message").as_string());
    if (m.rfind("(combined from similar events): ", 0) != 0) {
      EXPECT_EQ(e.at("count"), 1) << m;
      continue;
    }
    ++combined;
    EXPECT_EQ(m, "(combined from similar events): Readiness probe failed: try 10");
    EXPECT_EQ(e.at("count"), 2);
    EXPECT_EQ(e.at("lastTimestamp").as_string(), FormatRfc3339(1700000005));
  }
  EXPECT_EQ(combined, 1);
  // Other reasons are counted apart.
  rec.Record(pod_, "Warning", "BackOff", "back-off", "spec.containers{app}");
  EXPECT_EQ(Events().size(), 11u);
}

TEST_F(EventRecorderTest, SimilarityWindowIsTenMinutes) {
  EventRecorder rec(client_.get(), "kubelet", "node-a", &clock_);
  for (int i = 0; i < 9; ++i) {
    rec.Record(pod_, "Warning", "Unhealthy", "m" + std::to_string(i));
  }
  clock_.Advance(601);  // the record of similar messages has expired
  rec.Record(pod_, "Warning", "Unhealthy", "m9");
  auto events = Events();
  ASSERT_EQ(events.size(), 10u);
  for (const auto& e : events)
    EXPECT_EQ(std::string(e.at("message").as_string()).rfind("(combined", 0), std::string::npos);
}

}  // namespace
}  // namespace sampan::client
