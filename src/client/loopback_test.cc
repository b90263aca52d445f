// RestClient over the in-process loopback (client/loopback.h) against a real API server.
#include "client/loopback.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <thread>
#include <vector>

#include "client/rest_client.h"
#include "client/test_apiserver.h"
#include "client/transport.h"

namespace sampan::client {
namespace {
namespace json = boost::json;
using testing::Eventually;

json::object ConfigMap(const std::string& name, const std::string& value) {
  return json::object{{"apiVersion", "v1"},
                      {"kind", "ConfigMap"},
                      {"metadata", json::object{{"name", name}, {"labels", {{"app", "x"}}}}},
                      {"data", json::object{{"k", value}}}};
}

std::string Meta(const json::object& o, const char* field) {
  const auto& m = o.at("metadata").as_object();
  auto* v = m.if_contains(field);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

class LoopbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    loopback_ = server_.Loopback();
    auto c = server_.NewLoopbackClient(loopback_);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }
  testing::TestApiServer server_;
  std::shared_ptr<LoopbackServer> loopback_;
  std::unique_ptr<RestClient> client_;
};

TEST_F(LoopbackTest, CrudAndErrorsAsStatus) {
  auto created = client_->Create(resources::kConfigMaps, "default", ConfigMap("cm1", "v1"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_FALSE(Meta(*created, "uid").empty());
  EXPECT_EQ(
      client_->Create(resources::kConfigMaps, "default", ConfigMap("cm1", "v1")).status().code(),
      Code::kAlreadyExists);

  auto got = client_->Get(resources::kConfigMaps, "default", "cm1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->at("data").at("k"), "v1");

  json::object upd = *got;
  upd["data"].as_object()["k"] = "v2";
  auto updated = client_->Update(resources::kConfigMaps, "default", upd);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(client_->Update(resources::kConfigMaps, "default", upd).status().code(),
            Code::kConflict);

  auto patched = client_->Patch(resources::kConfigMaps, "default", "cm1", PatchType::kMerge,
                                json::parse(R"({"data":{"k":"v3"}})"));
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ(patched->at("data").at("k"), "v3");

  // Validation errors keep their reason and causes.
  json::object bad = ConfigMap("Not_A_Name", "x");
  Status invalid = client_->Create(resources::kConfigMaps, "default", bad).status();
  EXPECT_EQ(invalid.code(), Code::kInvalid) << invalid.ToString();
  EXPECT_FALSE(invalid.causes().empty());

  EXPECT_TRUE(client_->Delete(resources::kConfigMaps, "default", "cm1").ok());
  Status gone = client_->Get(resources::kConfigMaps, "default", "cm1").status();
  EXPECT_EQ(gone.code(), Code::kNotFound);
  EXPECT_NE(gone.message().find("cm1"), std::string::npos) << gone.message();
  EXPECT_EQ(client_->Delete(resources::kConfigMaps, "default", "cm1").code(), Code::kNotFound);
  EXPECT_EQ(client_->Get(resources::kConfigMaps, "no-such-ns", "x").status().code(),
            Code::kNotFound);

  // Non-resource paths go through the same handler.
  auto version = client_->Do("GET", "/version");
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_TRUE(version->as_object().contains("gitVersion"));
  // The server's side of the last request ends just after the client has its answer.
  EXPECT_TRUE(Eventually([&] { return loopback_->active() == 0; }));
}

TEST_F(LoopbackTest, ListPaging) {
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(
        client_
            ->Create(resources::kConfigMaps, "default", ConfigMap("page-" + std::to_string(i), "v"))
            .ok());
  }
  ListOptions opts;
  opts.label_selector = "app=x";
  opts.limit = 10;
  auto first = client_->List(resources::kConfigMaps, "default", opts);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->at("items").as_array().size(), 10u);
  EXPECT_FALSE(Meta(*first, "continue").empty());
  auto all = client_->ListAll(resources::kConfigMaps, "default", opts);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->at("items").as_array().size(), 25u);
  EXPECT_TRUE(Meta(*all, "continue").empty());
}

TEST_F(LoopbackTest, WatchFromResourceVersion) {
  auto a = client_->Create(resources::kConfigMaps, "default", ConfigMap("a", "1"));
  ASSERT_TRUE(a.ok());
  std::string rv = Meta(*a, "resourceVersion");
  ASSERT_TRUE(client_->Create(resources::kConfigMaps, "default", ConfigMap("b", "1")).ok());
  ListOptions opts;
  opts.resource_version = rv;
  opts.allow_bookmarks = false;
  auto w = client_->Watch(resources::kConfigMaps, "default", opts);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE(client_->Delete(resources::kConfigMaps, "default", "a").ok());
  WatchEvent ev;
  auto n = (*w)->Next(&ev);
  ASSERT_TRUE(n.ok() && *n) << n.status().ToString();
  EXPECT_EQ(ev.type, "ADDED");
  // Events come as the server's own objects, shared rather than parsed from text.
  ASSERT_TRUE(ev.shared);
  EXPECT_EQ(Meta(ev.obj(), "name"), "b");
  EXPECT_EQ((*ev.shared).at("kind").as_string(), "ConfigMap");
  n = (*w)->Next(&ev);
  ASSERT_TRUE(n.ok() && *n) << n.status().ToString();
  EXPECT_EQ(ev.type, "DELETED");
  EXPECT_EQ(Meta(ev.obj(), "name"), "a");
  (*w)->Cancel();

  // A bad request on a watch comes back as its Status.
  opts.resource_version = "not-a-number";
  EXPECT_EQ(client_->Watch(resources::kConfigMaps, "default", opts).status().code(),
            Code::kBadRequest);
}

TEST_F(LoopbackTest, CancelEndsTheServersWatch) {
  ListOptions opts;
  auto w = client_->Watch(resources::kConfigMaps, "default", opts);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  // The server is in the watch, waiting for events (earlier requests finish on their own time).
  ASSERT_TRUE(Eventually([&] { return loopback_->active() == 1; }));
  std::atomic<bool> returned{false};
  Result<bool> result = true;
  std::thread reader([&] {
    WatchEvent ev;
    result = (*w)->Next(&ev);
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(returned.load());  // blocked: nothing happened yet
  (*w)->Cancel();
  reader.join();
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_FALSE(*result);
  // The server's watch saw the client gone and ended.
  EXPECT_TRUE(Eventually([&] { return loopback_->active() == 0; }));
  // The client is still usable.
  EXPECT_TRUE(client_->Create(resources::kConfigMaps, "default", ConfigMap("after", "1")).ok());
}

TEST_F(LoopbackTest, ServerSideWatchTimeoutEndsTheStream) {
  ListOptions opts;
  opts.timeout_seconds = 1;
  opts.allow_bookmarks = false;
  auto w = client_->Watch(resources::kConfigMaps, "default", opts);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto start = std::chrono::steady_clock::now();
  WatchEvent ev;
  auto n = (*w)->Next(&ev);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_FALSE(*n);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_TRUE(Eventually([&] { return loopback_->active() == 0; }));
}

TEST_F(LoopbackTest, ManyThreadsAtOnce) {
  constexpr int kThreads = 8, kEach = 40;
  std::atomic<int> failures{0};
  // A watch running alongside sees every create.
  ListOptions wopts;
  wopts.label_selector = "app=x";
  wopts.allow_bookmarks = false;
  auto w = client_->Watch(resources::kConfigMaps, "default", wopts);
  ASSERT_TRUE(w.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!client_->Create(resources::kConfigMaps, "default", ConfigMap(name, "v")).ok())
          ++failures;
        auto got = client_->Get(resources::kConfigMaps, "default", name);
        if (!got.ok() || Meta(*got, "name") != name) ++failures;
      }
    });
  }
  int seen = 0;
  WatchEvent ev;
  while (seen < kThreads * kEach) {
    auto n = (*w)->Next(&ev);
    ASSERT_TRUE(n.ok() && *n) << n.status().ToString();
    if (ev.type == "ADDED") ++seen;
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto all = client_->List(resources::kConfigMaps, "default", ListOptions{});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->at("items").as_array().size(), static_cast<size_t>(kThreads * kEach));
  (*w)->Cancel();
  EXPECT_TRUE(Eventually([&] { return loopback_->active() == 0; }));
}

TEST_F(LoopbackTest, NoTlsCredentialsNeeded) {
  // The loopback ignores the URL and certificates: a config with neither works.
  ClientConfig cfg;
  cfg.server = "https://nowhere.invalid:1";
  cfg.loopback = loopback_;
  auto c = RestClient::New(cfg);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE((*c)->Get(resources::kNamespaces, "", "default").ok());
}

// The exchange on its own: what each side sees.
TEST(LoopbackExchangeTest, StreamAndCancel) {
  LoopbackExchange ex;
  std::atomic<int> gone_calls{0};
  ex.OnClientGone([&] { ++gone_calls; });
  ASSERT_TRUE(ex.BeginStream(200, {{"content-type", "application/json"}}));
  EXPECT_EQ(ex.WaitFor(false, LoopbackExchange::Clock::now()), LoopbackExchange::Wait::kReady);
  EXPECT_EQ(ex.status(), 200);
  ASSERT_TRUE(ex.Append("hello "));
  ASSERT_TRUE(ex.Append("world"));
  char buf[4];
  EXPECT_EQ(ex.Read(buf, sizeof buf), 4);
  EXPECT_EQ(std::string(buf, 4), "hell");
  char rest[64];
  EXPECT_EQ(ex.Read(rest, sizeof rest), 7);
  EXPECT_EQ(std::string(rest, 7), "o world");
  ex.Cancel();
  EXPECT_EQ(gone_calls.load(), 1);
  EXPECT_TRUE(ex.client_gone());
  EXPECT_FALSE(ex.Append("more"));
  EXPECT_EQ(ex.Read(rest, sizeof rest), -1);
  ex.Cancel();  // once only
  EXPECT_EQ(gone_calls.load(), 1);
  // A callback set after the hang-up runs at once.
  ex.OnClientGone([&] { ++gone_calls; });
  EXPECT_EQ(gone_calls.load(), 2);
}

TEST(LoopbackExchangeTest, EndsAndTimeouts) {
  LoopbackExchange ex;
  EXPECT_EQ(ex.WaitFor(true, LoopbackExchange::Clock::now() + std::chrono::milliseconds(20)),
            LoopbackExchange::Wait::kTimeout);
  ASSERT_TRUE(ex.BeginStream(200, {}));
  ASSERT_TRUE(ex.Append("x"));
  ex.Finish();
  char buf[8];
  EXPECT_EQ(ex.Read(buf, sizeof buf), 1);
  EXPECT_EQ(ex.Read(buf, sizeof buf), 0);  // end of stream

  LoopbackExchange aborted;
  ASSERT_TRUE(aborted.BeginStream(200, {}));
  aborted.Abort();
  EXPECT_EQ(aborted.Read(buf, sizeof buf), -1);

  LoopbackExchange slow;
  ASSERT_TRUE(slow.BeginStream(200, {}));
  std::string mib(1 << 20, 'x');
  bool ok = true;
  for (size_t i = 0; ok && i <= (LoopbackExchange::kMaxBuffered >> 20); ++i) ok = slow.Append(mib);
  EXPECT_FALSE(ok);
  EXPECT_TRUE(slow.too_slow());
  // The reader still drains what was buffered, then sees the end.
  size_t total = 0;
  std::vector<char> big(1 << 20);
  for (;;) {
    long n = slow.Read(big.data(), big.size());
    ASSERT_GE(n, 0);
    if (n == 0) break;
    total += n;
  }
  EXPECT_EQ(total, LoopbackExchange::kMaxBuffered);
}

}  // namespace
}  // namespace sampan::client

namespace sampan::client {
namespace {

TEST(LoopbackExchangeTest, EventObjectsInOrderThenTheEnd) {
  LoopbackExchange ex;
  auto obj = [](const char* name) {
    return std::make_shared<const boost::json::object>(
        boost::json::object{{"metadata", boost::json::object{{"name", name}}}});
  };
  std::vector<LoopbackEvent> none;
  EXPECT_FALSE(ex.AppendEvents(std::move(none)));  // not streaming yet
  ASSERT_TRUE(ex.BeginStream(200, {}));
  std::vector<LoopbackEvent> two{{"ADDED", obj("a")}, {"MODIFIED", obj("a")}};
  ASSERT_TRUE(ex.AppendEvents(std::move(two)));
  LoopbackEvent ev;
  ASSERT_TRUE(ex.NextEvent(&ev));
  EXPECT_EQ(ev.type, "ADDED");
  ASSERT_TRUE(ex.NextEvent(&ev));
  EXPECT_EQ(ev.type, "MODIFIED");
  // A reader blocked for the next one wakes when it comes.
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::vector<LoopbackEvent> one{{"DELETED", obj("a")}};
    ex.AppendEvents(std::move(one));
  });
  ASSERT_TRUE(ex.NextEvent(&ev));
  EXPECT_EQ(ev.type, "DELETED");
  later.join();
  ex.Finish();
  EXPECT_FALSE(ex.NextEvent(&ev));  // the end: Read tells how it ended
  char buf[8];
  EXPECT_EQ(ex.Read(buf, sizeof buf), 0);
}

TEST(LoopbackExchangeTest, EventsBeyondTheBoundEndTheStream) {
  LoopbackExchange ex;
  ASSERT_TRUE(ex.BeginStream(200, {}));
  std::vector<LoopbackEvent> many(LoopbackExchange::kMaxEvents + 1);
  EXPECT_FALSE(ex.AppendEvents(std::move(many)));
  EXPECT_TRUE(ex.too_slow());
  LoopbackEvent ev;
  EXPECT_FALSE(ex.NextEvent(&ev));
  char buf[8];
  EXPECT_EQ(ex.Read(buf, sizeof buf), 0);
}

TEST(LoopbackExchangeTest, CancelDropsUnreadEvents) {
  LoopbackExchange ex;
  ASSERT_TRUE(ex.BeginStream(200, {}));
  std::vector<LoopbackEvent> one{{"ADDED", nullptr}};
  ASSERT_TRUE(ex.AppendEvents(std::move(one)));
  ex.Cancel();
  LoopbackEvent ev;
  EXPECT_FALSE(ex.NextEvent(&ev));
  std::vector<LoopbackEvent> more{{"ADDED", nullptr}};
  EXPECT_FALSE(ex.AppendEvents(std::move(more)));
}

}  // namespace
}  // namespace sampan::client
