#include "client/informer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "client/events.h"
#include "client/leader_election.h"
#include "client/test_apiserver.h"

namespace sampan::client {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using sampan::client::testing::Eventually;

json::object ConfigMap(const std::string& name, const std::string& group) {
  return json::object{{"apiVersion", "v1"},
                      {"kind", "ConfigMap"},
                      {"metadata", json::object{{"name", name}, {"labels", {{"group", group}}}}}};
}

class InformerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }
  testing::TestApiServer server_;
  std::unique_ptr<RestClient> client_;
};

TEST(KeyTest, KeyOfAndSplit) {
  json::object o{{"metadata", {{"name", "a"}, {"namespace", "ns"}}}};
  EXPECT_EQ(KeyOf(o), "ns/a");
  json::object n{{"metadata", {{"name", "node1"}}}};
  EXPECT_EQ(KeyOf(n), "node1");
  EXPECT_EQ(SplitKey("ns/a"), (std::pair<std::string, std::string>{"ns", "a"}));
  EXPECT_EQ(SplitKey("node1"), (std::pair<std::string, std::string>{"", "node1"}));
}

TEST_F(InformerTest, ListWatchHandlersAndIndex) {
  ASSERT_TRUE(client_->Create(resources::kConfigMaps, "default", ConfigMap("pre", "g1")).ok());
  Informer inf(client_.get(), resources::kConfigMaps, "default");
  std::mutex mu;
  std::vector<std::string> log;
  inf.AddEventHandler(EventHandlers{[&](const ObjectPtr& o) {
                                      std::lock_guard<std::mutex> l(mu);
                                      log.push_back("add " + MetaString(*o, "name"));
                                    },
                                    [&](const ObjectPtr& old_obj, const ObjectPtr& o) {
                                      std::lock_guard<std::mutex> l(mu);
                                      log.push_back("update " + MetaString(*o, "name"));
                                    },
                                    [&](const ObjectPtr& o) {
                                      std::lock_guard<std::mutex> l(mu);
                                      log.push_back("delete " + MetaString(*o, "name"));
                                    }});
  inf.AddIndex("group", [](const json::object& o) -> std::vector<std::string> {
    auto* labels = MetaObject(o, "labels");
    if (!labels) return {};
    auto* g = labels->if_contains("group");
    if (!g || !g->is_string()) return {};
    return {std::string(g->as_string())};
  });
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(5s));
  ASSERT_NE(inf.Get("default/pre"), nullptr);
  EXPECT_EQ(inf.Get("default/pre")->at("kind"), "ConfigMap");

  ASSERT_TRUE(client_->Create(resources::kConfigMaps, "default", ConfigMap("a", "g1")).ok());
  ASSERT_TRUE(client_->Create(resources::kConfigMaps, "default", ConfigMap("b", "g2")).ok());
  ASSERT_TRUE(Eventually([&] { return inf.List().size() == 3; }));
  EXPECT_EQ(inf.ByIndex("group", "g1").size(), 2u);
  EXPECT_EQ(inf.ByIndex("group", "g2").size(), 1u);

  // Relabel b into g1: the index follows.
  ASSERT_TRUE(client_
                  ->Patch(resources::kConfigMaps, "default", "b", PatchType::kMerge,
                          json::parse(R"({"metadata":{"labels":{"group":"g1"}}})"))
                  .ok());
  ASSERT_TRUE(Eventually([&] { return inf.ByIndex("group", "g1").size() == 3; }));
  EXPECT_TRUE(inf.ByIndex("group", "g2").empty());
  // A change that keeps the label keeps b where it is in the index.
  ASSERT_TRUE(client_
                  ->Patch(resources::kConfigMaps, "default", "b", PatchType::kMerge,
                          json::parse(R"({"data":{"k":"v"}})"))
                  .ok());
  ASSERT_TRUE(Eventually([&] {
    auto b = inf.Get("default/b");
    return b && b->contains("data");
  }));
  EXPECT_EQ(inf.ByIndex("group", "g1").size(), 3u);
  EXPECT_TRUE(inf.ByIndex("group", "g2").empty());

  ASSERT_TRUE(client_->Delete(resources::kConfigMaps, "default", "a").ok());
  ASSERT_TRUE(Eventually([&] { return inf.Get("default/a") == nullptr; }));
  EXPECT_EQ(inf.ByIndex("group", "g1").size(), 2u);
  inf.Stop();
  std::lock_guard<std::mutex> l(mu);
  std::vector<std::string> want{"add pre", "add a", "add b", "update b", "update b", "delete a"};
  EXPECT_EQ(log, want);
}

TEST_F(InformerTest, SelectorsAndResync) {
  ListOptions opts;
  opts.label_selector = "group=mine";
  Informer inf(client_.get(), resources::kConfigMaps, "", opts, 100ms);
  std::atomic<int> resyncs{0};
  inf.AddEventHandler(EventHandlers{nullptr,
                                    [&](const ObjectPtr& a, const ObjectPtr& b) {
                                      if (a == b) ++resyncs;
                                    },
                                    nullptr});
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(5s));
  ASSERT_TRUE(client_->Create(resources::kConfigMaps, "default", ConfigMap("m", "mine")).ok());
  ASSERT_TRUE(client_->Create(resources::kConfigMaps, "default", ConfigMap("o", "other")).ok());
  ASSERT_TRUE(Eventually([&] { return inf.Get("default/m") != nullptr; }));
  EXPECT_TRUE(Eventually([&] { return resyncs.load() >= 2; }));
  EXPECT_EQ(inf.Get("default/o"), nullptr);
  inf.Stop();
}

TEST_F(InformerTest, EventRecorderDeduplicates) {
  EventRecorder rec(client_.get(), "test-component", "host1");
  json::object pod{{"apiVersion", "v1"},
                   {"kind", "Pod"},
                   {"metadata", {{"name", "p"}, {"namespace", "default"}, {"uid", "u-1"}}}};
  rec.Record(pod, "Warning", "FailedScheduling", "nope");
  rec.Record(pod, "Warning", "FailedScheduling", "nope");
  rec.Record(pod, "Normal", "Scheduled", "ok");
  ListOptions o;
  auto list = client_->ListAll(resources::kEvents, "default", o);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->at("items").as_array().size(), 2u);
  for (const auto& ev : list->at("items").as_array()) {
    const auto& e = ev.as_object();
    EXPECT_EQ(e.at("involvedObject").at("name"), "p");
    EXPECT_EQ(e.at("source").at("component"), "test-component");
    if (e.at("reason") == "FailedScheduling") {
      EXPECT_EQ(e.at("count"), 2);
    } else {
      EXPECT_EQ(e.at("count"), 1);
    }
  }
}

TEST_F(InformerTest, LeaderElectionOneLeaderAndTakeover) {
  LeaderElectionConfig cfg;
  cfg.lease_name = "test-lock";
  cfg.lease_duration = 1s;
  cfg.renew_deadline = 700ms;
  cfg.retry_period = 100ms;
  cfg.identity = "a";
  std::atomic<int> a_started{0}, a_stopped{0}, b_started{0};
  auto a = std::make_unique<LeaderElector>(
      client_.get(), cfg, [&] { ++a_started; }, [&] { ++a_stopped; });
  cfg.identity = "b";
  cfg.release_on_stop = true;
  LeaderElector b(
      client_.get(), cfg, [&] { ++b_started; }, nullptr);
  a->Start();
  ASSERT_TRUE(Eventually([&] { return a->IsLeader(); }));
  b.Start();
  std::this_thread::sleep_for(1500ms);  // longer than the lease: a keeps renewing
  EXPECT_FALSE(b.IsLeader());
  EXPECT_EQ(b_started.load(), 0);
  auto lease = client_->Get(resources::kLeases, "kube-system", "test-lock");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(lease->at("spec").at("holderIdentity"), "a");
  // a steps down (releasing the lease): b takes over.
  a->Stop();
  EXPECT_EQ(a_stopped.load(), 1);
  ASSERT_TRUE(Eventually([&] { return b.IsLeader(); }, 5s));
  lease = client_->Get(resources::kLeases, "kube-system", "test-lock");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(lease->at("spec").at("holderIdentity"), "b");
  EXPECT_EQ(lease->at("spec").at("leaseTransitions"), 1);
  b.Stop();
}

TEST_F(InformerTest, ExpiredLeaseIsTakenOver) {
  // A holder that stopped renewing without releasing: taken over after the duration.
  LeaderElectionConfig cfg;
  cfg.lease_name = "stale-lock";
  cfg.lease_duration = 1s;
  cfg.retry_period = 100ms;
  cfg.identity = "dead";
  LeaderElector dead(client_.get(), cfg, nullptr, nullptr);
  ASSERT_TRUE(dead.TryAcquireOrRenew());
  cfg.identity = "alive";
  LeaderElector alive(client_.get(), cfg, nullptr, nullptr);
  EXPECT_FALSE(alive.TryAcquireOrRenew());
  std::this_thread::sleep_for(1200ms);
  EXPECT_TRUE(alive.TryAcquireOrRenew());
}

}  // namespace
}  // namespace sampan::client
