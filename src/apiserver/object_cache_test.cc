#include "apiserver/object_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <thread>

namespace sampan::apiserver {
namespace {

namespace json = boost::json;

std::string Obj(const std::string& name, int v) {
  return json::serialize(json::object{{"kind", "ConfigMap"},
                                      {"metadata", json::object{{"name", name}}},
                                      {"data", json::object{{"v", std::to_string(v)}}}});
}

class ObjectCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { backend_ = std::move(store::OpenBackend("memory://").value()); }
  int64_t Put(const std::string& key, int v) {
    auto r = backend_->SyncCreate(key, Obj(key, v));
    if (r.ok()) return *r;
    return *backend_->SyncUpdate(key, Obj(key, v), 0);
  }
  // Waits (bounded) until the cache has applied `rev`.
  void WaitApplied(ObjectCache& c, int64_t rev) {
    for (int i = 0; i < 500 && c.revision() < rev; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_GE(c.revision(), rev);
  }
  std::unique_ptr<store::Backend> backend_;
};

TEST_F(ObjectCacheTest, LoadsExistingObjectsAndFollowsWrites) {
  Put("/registry/configmaps/default/a", 1);
  ObjectCache cache(*backend_);
  ASSERT_TRUE(cache.Start().ok());
  ObjectPtr a = cache.Get("/registry/configmaps/default/a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->obj.at("metadata").at("resourceVersion").as_string(), "1");
  int64_t rev = Put("/registry/configmaps/default/b", 2);
  WaitApplied(cache, rev);
  int64_t at = 0;
  auto list = cache.List("/registry/configmaps/default/", &at);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]->key, "/registry/configmaps/default/a");
  EXPECT_EQ(at, rev);
  ASSERT_TRUE(backend_->SyncDelete("/registry/configmaps/default/a", 0).ok());
  WaitApplied(cache, rev + 1);
  EXPECT_FALSE(cache.Get("/registry/configmaps/default/a"));
}

TEST_F(ObjectCacheTest, TakesTheWritersObjectWhenTheWrittenTextMatches) {
  ObjectCache cache(*backend_);
  ASSERT_TRUE(cache.Start().ok());
  const std::string key = "/registry/configmaps/default/offered";
  std::string text = Obj(key, 1);
  json::object mine = json::parse(text).as_object();
  // A marker the text does not hold shows which object the cache kept; a uint64 comes back as
  // the int64 a parse would give.
  mine["marker"] = uint64_t{7};
  uint64_t ticket = cache.Offer(key, text, std::move(mine));
  // An offer for other text under the same key is left alone.
  uint64_t other = cache.Offer(key, Obj(key, 99), json::object{{"marker", 1}});
  EXPECT_EQ(cache.offer_count(), 2u);
  auto rev = backend_->SyncCreate(key, text);
  ASSERT_TRUE(rev.ok());
  WaitApplied(cache, *rev);
  ObjectPtr got = cache.Get(key);
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->obj.contains("marker"));
  EXPECT_TRUE(got->obj.at("marker").is_int64());
  EXPECT_EQ(got->obj.at("metadata").at("resourceVersion").as_string(), std::to_string(*rev));
  EXPECT_EQ(cache.offer_count(), 1u);
  cache.Withdraw(key, ticket);  // already taken: a no-op
  cache.Withdraw(key, other);
  EXPECT_EQ(cache.offer_count(), 0u);

  // Without an offer the cache parses the text it was sent.
  auto rev2 = backend_->SyncUpdate(key, Obj(key, 2), *rev);
  ASSERT_TRUE(rev2.ok());
  WaitApplied(cache, *rev2);
  got = cache.Get(key);
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->obj.contains("marker"));
  EXPECT_EQ(got->obj.at("data").at("v").as_string(), "2");
}

TEST_F(ObjectCacheTest, ForgetsTheOldestOffersBeyondTheBound) {
  ObjectCache cache(*backend_);
  ASSERT_TRUE(cache.Start().ok());
  for (size_t i = 0; i < ObjectCache::kMaxOffers + 10; ++i)
    cache.Offer("/registry/configmaps/default/x" + std::to_string(i), "{}", json::object{});
  EXPECT_EQ(cache.offer_count(), ObjectCache::kMaxOffers);
}

TEST_F(ObjectCacheTest, WatchFilterDropsEventsBeforeQueueingThem) {
  ObjectCache cache(*backend_);
  ASSERT_TRUE(cache.Start().ok());
  int64_t r1 = Put("/registry/configmaps/ns1/other", 1);
  int64_t r2 = Put("/registry/configmaps/ns1/wanted", 1);
  WaitApplied(cache, r2);
  std::atomic<int> notified{0};
  auto only_wanted = [](const CacheEvent& ev) {
    return ev.obj->obj.at("metadata").at("name").as_string() == "/registry/configmaps/ns1/wanted";
  };
  // Replayed from the window: the filter applies there too.
  auto w = cache.Watch(
      "/registry/configmaps/", r1 - 1, [&] { ++notified; }, nullptr, nullptr, only_wanted);
  ASSERT_TRUE(w.ok());
  bool closed = false;
  auto evs = (*w)->Take(&closed);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].revision, r2);
  // Live: events of other objects neither queue nor wake the watcher.
  int64_t r3 = Put("/registry/configmaps/ns1/other", 2);
  int64_t r4 = Put("/registry/configmaps/ns2/other", 1);
  WaitApplied(cache, r4);
  EXPECT_EQ(notified.load(), 0);
  EXPECT_TRUE((*w)->Take(&closed).empty());
  int64_t r5 = Put("/registry/configmaps/ns1/wanted", 2);
  WaitApplied(cache, r5);
  EXPECT_EQ(notified.load(), 1);
  evs = (*w)->Take(&closed);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].revision, r5);
  EXPECT_GT(r5, r3);
  cache.Unwatch(*w);
}

TEST_F(ObjectCacheTest, WatchFromRevisionReplaysOnlyLaterEventsUnderPrefix) {
  ObjectCache cache(*backend_);
  ASSERT_TRUE(cache.Start().ok());
  int64_t r1 = Put("/registry/configmaps/ns1/a", 1);
  Put("/registry/secrets/ns1/s", 1);
  int64_t r3 = Put("/registry/configmaps/ns1/a", 2);
  WaitApplied(cache, r3);
  std::atomic<int> notified{0};
  auto w = cache.Watch(
      "/registry/configmaps/", r1, [&] { ++notified; }, nullptr, nullptr);
  ASSERT_TRUE(w.ok());
  bool closed = false;
  auto evs = (*w)->Take(&closed);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].type, CacheEvent::Type::kModified);
  EXPECT_EQ(evs[0].revision, r3);
  ASSERT_TRUE(evs[0].prev);
  EXPECT_EQ(evs[0].prev->obj.at("data").at("v").as_string(), "1");
  // Live events arrive and notify.
  int64_t r4 = Put("/registry/configmaps/ns1/b", 5);
  ASSERT_TRUE(backend_->SyncDelete("/registry/configmaps/ns1/b", 0).ok());
  WaitApplied(cache, r4 + 1);
  evs = (*w)->Take(&closed);
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0].type, CacheEvent::Type::kAdded);
  EXPECT_EQ(evs[1].type, CacheEvent::Type::kDeleted);
  EXPECT_EQ(evs[1].obj->mod_revision, r4 + 1);
  EXPECT_EQ(evs[1].obj->obj.at("metadata").at("resourceVersion").as_string(),
            std::to_string(r4 + 1));
  // Notified when the queue turned non-empty; not again for the second event queued behind it.
  EXPECT_EQ(notified.load(), 1);
  // Taken empty, the next event notifies again.
  int64_t r6 = Put("/registry/configmaps/ns1/c", 6);
  WaitApplied(cache, r6);
  EXPECT_EQ(notified.load(), 2);
  evs = (*w)->Take(&closed);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].revision, r6);
  cache.Unwatch(*w);
}

TEST_F(ObjectCacheTest, ReplyTextIsTheStoredTextWithResourceVersion) {
  ObjectCache cache(*backend_);
  ASSERT_TRUE(cache.Start().ok());
  // Braces, quotes and a nested "metadata" key before the top-level one must not confuse the
  // splice; an empty metadata object gets the field without a comma.
  const std::string key = "/registry/configmaps/ns1/tricky";
  const std::string text =
      R"({"data":{"metadata":"{\"}\\","x":[{"metadata":{}}]},"kind":"ConfigMap",)"
      R"("metadata":{"name":"tricky","labels":{"a":"}"}},"z":1})";
  auto rev = backend_->SyncCreate(key, text);
  ASSERT_TRUE(rev.ok());
  const std::string empty_key = "/registry/configmaps/ns1/empty";
  auto rev2 = backend_->SyncCreate(empty_key, R"({"metadata":{},"kind":"ConfigMap"})");
  ASSERT_TRUE(rev2.ok());
  WaitApplied(cache, *rev2);
  for (const std::string* k : {&key, &empty_key}) {
    ObjectPtr got = cache.Get(*k);
    ASSERT_TRUE(got);
    // Byte for byte what serializing the object gives, and it parses back to the object.
    EXPECT_EQ(got->json, boost::json::serialize(got->obj));
    EXPECT_EQ(boost::json::parse(got->json).as_object(), got->obj);
    EXPECT_EQ(got->obj.at("metadata").at("resourceVersion").as_string(),
              std::to_string(got->mod_revision));
  }
  EXPECT_EQ(cache.Get(key)->obj.at("data").at("metadata").as_string(), "{\"}\\");
}

TEST_F(ObjectCacheTest, WatchWithInitialStateIsAtomicWithRegistration) {
  Put("/registry/pods/x/a", 1);
  Put("/registry/pods/x/b", 1);
  ObjectCache cache(*backend_);
  ASSERT_TRUE(cache.Start().ok());
  std::vector<ObjectPtr> initial;
  int64_t at = 0;
  auto w = cache.Watch(
      "/registry/pods/x/", 0, [] {}, &initial, &at);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(initial.size(), 2u);
  EXPECT_EQ(at, 2);
  bool closed = false;
  EXPECT_TRUE((*w)->Take(&closed).empty());
}

TEST_F(ObjectCacheTest, WatchFromBeforeTheCacheStartedIsGone) {
  Put("/registry/pods/x/a", 1);
  Put("/registry/pods/x/a", 2);
  ObjectCache cache(*backend_);
  ASSERT_TRUE(cache.Start().ok());
  auto w = cache.Watch(
      "/registry/pods/", 1, [] {}, nullptr, nullptr);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kGone);
  EXPECT_TRUE(cache
                  .Watch(
                      "/registry/pods/", 2, [] {}, nullptr, nullptr)
                  .ok());
}

TEST_F(ObjectCacheTest, WaitForCompletesOnceApplied) {
  ObjectCache cache(*backend_);
  ASSERT_TRUE(cache.Start().ok());
  boost::asio::io_context io;
  std::atomic<bool> done{false};
  int64_t target = 3;
  boost::asio::co_spawn(boost::asio::make_strand(io), cache.WaitFor(target),
                        [&](std::exception_ptr) { done = true; });
  std::thread t([&] { io.run(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(done.load());
  Put("/registry/a/x", 1);
  Put("/registry/a/y", 1);
  Put("/registry/a/z", 1);
  t.join();
  EXPECT_TRUE(done.load());
  EXPECT_GE(cache.revision(), 3);
}

}  // namespace
}  // namespace sampan::apiserver
