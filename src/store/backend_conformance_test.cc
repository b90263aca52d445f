// The one suite every store backend passes (memory://, sqlite://).
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "store/backend.h"
#include "store/store_test_util.h"

namespace sampan::store {
namespace {

using testing::Collector;
using testing::TempDir;
using namespace std::chrono_literals;

struct BackendKind {
  std::string name;
  bool persistent;
  std::string (*url)(const std::string& dir);
};

void PrintTo(const BackendKind& kind, std::ostream* os) { *os << kind.name; }

std::string MemoryUrl(const std::string&) { return "memory://"; }
std::string SqliteUrl(const std::string& dir) { return "sqlite://" + dir + "/db/state.db"; }

class BackendTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    Open();
  }
  void Open() {
    auto b = OpenBackend(GetParam().url(dir_.path()));
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    store_ = std::move(b).value();
  }
  void Reopen() {
    store_.reset();
    Open();
  }
  int64_t MustCreate(const std::string& k, const std::string& v) {
    auto r = store_->SyncCreate(k, v);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : -1;
  }

  int64_t MustUpdate(const std::string& k, const std::string& v, int64_t expected) {
    auto r = store_->SyncUpdate(k, v, expected);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : -1;
  }
  int64_t MustDelete(const std::string& k, int64_t expected) {
    auto r = store_->SyncDelete(k, expected);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : -1;
  }

  TempDir dir_;
  std::unique_ptr<Backend> store_;
};

TEST_P(BackendTest, CreateGetUpdateDelete) {
  EXPECT_EQ(store_->CurrentRevision(), 0);
  EXPECT_EQ(MustCreate("/a", "v1"), 1);
  auto got = store_->Get("/a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->key, "/a");
  EXPECT_EQ(got->value, "v1");
  EXPECT_EQ(got->create_revision, 1);
  EXPECT_EQ(got->mod_revision, 1);

  EXPECT_EQ(store_->SyncCreate("/a", "again").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(store_->SyncUpdate("/missing", "x", 0).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->SyncDelete("/missing", 0).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->SyncUpdate("/a", "x", 7).status().code(), Code::kConflict);
  EXPECT_EQ(store_->CurrentRevision(), 1) << "failed writes must not use a revision";

  auto r2 = store_->SyncUpdate("/a", "v2", 1);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(*r2, 2);
  EXPECT_EQ(store_->SyncUpdate("/a", "stale", 1).status().code(), Code::kConflict);
  auto r3 = store_->SyncUpdate("/a", "v3", 0);  // 0 = unconditional
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(*r3, 3);
  got = store_->Get("/a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->value, "v3");
  EXPECT_EQ(got->create_revision, 1);
  EXPECT_EQ(got->mod_revision, 3);

  EXPECT_EQ(store_->SyncDelete("/a", 2).status().code(), Code::kConflict);
  auto r4 = store_->SyncDelete("/a", 3);
  ASSERT_TRUE(r4.ok());
  EXPECT_EQ(*r4, 4);
  EXPECT_EQ(store_->Get("/a").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->SyncDelete("/a", 0).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->SyncUpdate("/a", "x", 0).status().code(), Code::kNotFound);

  // Re-creating a deleted key starts a new life.
  EXPECT_EQ(MustCreate("/a", "reborn"), 5);
  got = store_->Get("/a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->create_revision, 5);
  EXPECT_EQ(store_->CurrentRevision(), 5);
}

TEST_P(BackendTest, BinaryKeysAndValues) {
  std::string key("/bin/\x00\xff", 7), value("\x00\x01\xfe\xff", 4);
  MustCreate(key, value);
  MustCreate("/bin/empty", "");
  auto got = store_->Get(key);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->value, value);
  auto empty = store_->Get("/bin/empty");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->value, "");
  auto list = store_->List("/bin/", "", 0);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->items.size(), 2u);
  EXPECT_EQ(list->items[0].key, key);  // "\0" sorts before "e"
}

TEST_P(BackendTest, GetAtRevision) {
  MustCreate("/k", "one");     // 1
  MustUpdate("/k", "two", 0);  // 2
  MustCreate("/other", "x");   // 3
  MustDelete("/k", 0);         // 4
  auto at1 = store_->Get("/k", 1);
  ASSERT_TRUE(at1.ok());
  EXPECT_EQ(at1->value, "one");
  EXPECT_EQ(at1->mod_revision, 1);
  auto at3 = store_->Get("/k", 3);
  ASSERT_TRUE(at3.ok());
  EXPECT_EQ(at3->value, "two");
  EXPECT_EQ(at3->mod_revision, 2);
  EXPECT_EQ(store_->Get("/k", 4).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->Get("/other", 2).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->Get("/k", 99).status().code(), Code::kBadRequest);
  EXPECT_EQ(store_->List("/", "", 0, 99).status().code(), Code::kBadRequest);
}

TEST_P(BackendTest, ListPagingAtFixedRevision) {
  for (int i = 0; i < 25; ++i) {
    char k[32];
    snprintf(k, sizeof k, "/pods/ns/p%02d", i);
    MustCreate(k, "v" + std::to_string(i));
  }
  MustCreate("/pods/nsx/other", "not under /pods/ns/");
  MustCreate("/pods/ns", "the prefix itself without slash");
  MustCreate("/services/ns/s", "x");

  auto page1 = store_->List("/pods/ns/", "", 10);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->items.size(), 10u);
  EXPECT_TRUE(page1->more);
  EXPECT_EQ(page1->remaining, 15);
  EXPECT_EQ(page1->items.front().key, "/pods/ns/p00");
  EXPECT_EQ(page1->items.back().key, "/pods/ns/p09");
  const int64_t at = page1->revision;
  EXPECT_EQ(at, store_->CurrentRevision());

  // Change the range between pages: the next pages still show revision `at`.
  MustDelete("/pods/ns/p12", 0);
  MustUpdate("/pods/ns/p15", "changed", 0);
  MustCreate("/pods/ns/p10a", "new");

  auto page2 = store_->List("/pods/ns/", page1->items.back().key, 10, at);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->items.size(), 10u);
  EXPECT_EQ(page2->revision, at);
  EXPECT_EQ(page2->items.front().key, "/pods/ns/p10");
  EXPECT_EQ(page2->items[2].key, "/pods/ns/p12");
  EXPECT_EQ(page2->items[5].value, "v15");
  EXPECT_TRUE(page2->more);
  EXPECT_EQ(page2->remaining, 5);
  auto page3 = store_->List("/pods/ns/", page2->items.back().key, 10, at);
  ASSERT_TRUE(page3.ok());
  EXPECT_EQ(page3->items.size(), 5u);
  EXPECT_FALSE(page3->more);
  EXPECT_EQ(page3->remaining, 0);

  // Exactly `limit` items left: no more.
  auto exact = store_->List("/pods/ns/", "/pods/ns/p19", 5, at);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->items.size(), 5u);
  EXPECT_FALSE(exact->more);

  // Latest view.
  auto latest = store_->List("/pods/ns/", "", 0);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->items.size(), 25u);  // one deleted, one added
  EXPECT_FALSE(latest->more);
  for (size_t i = 1; i < latest->items.size(); ++i) {
    EXPECT_LT(latest->items[i - 1].key, latest->items[i].key);
  }
  auto everything = store_->List("", "", 0);
  ASSERT_TRUE(everything.ok());
  EXPECT_EQ(everything->items.size(), 28u);
  auto count = store_->Count("/pods/ns/");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 25);
  EXPECT_EQ(*store_->Count(""), 28);
  EXPECT_EQ(*store_->Count("/nothing/"), 0);
}

TEST_P(BackendTest, PrefixWithHighBytes) {
  std::string p("/x\xff", 3);
  MustCreate(p + "a", "1");
  MustCreate(p + "\xff" + "b", "2");
  MustCreate("/y", "3");
  auto list = store_->List(p, "", 0);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->items.size(), 2u);
  EXPECT_EQ(*store_->Count(p), 2);
}

TEST_P(BackendTest, WatchReplaysHistoryThenLive) {
  MustCreate("/w/a", "a1");       // 1
  MustUpdate("/w/a", "a2", 1);    // 2
  MustCreate("/elsewhere", "x");  // 3
  MustDelete("/w/a", 2);          // 4
  Collector c;
  auto h = store_->Watch("/w/", 1, c.Callbacks());
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  MustCreate("/w/b", "b1");     // 5
  MustCreate("/x/b", "no");     // 6
  MustUpdate("/w/b", "b2", 5);  // 7
  auto evs = c.WaitFor(4);
  ASSERT_EQ(evs.size(), 4u);
  EXPECT_EQ(evs[0].kv.mod_revision, 2);
  EXPECT_EQ(evs[0].type, Event::Type::kPut);
  EXPECT_FALSE(evs[0].is_create());
  EXPECT_EQ(evs[0].kv.value, "a2");
  EXPECT_EQ(evs[0].prev_kv.value, "a1");
  EXPECT_EQ(evs[0].prev_kv.mod_revision, 1);
  EXPECT_EQ(evs[1].type, Event::Type::kDelete);
  EXPECT_EQ(evs[1].kv.key, "/w/a");
  EXPECT_EQ(evs[1].kv.value, "a2");
  EXPECT_EQ(evs[1].kv.mod_revision, 4);
  EXPECT_EQ(evs[1].kv.create_revision, 1);
  EXPECT_EQ(evs[2].kv.mod_revision, 5);
  EXPECT_TRUE(evs[2].is_create());
  EXPECT_TRUE(evs[2].prev_kv.key.empty());
  EXPECT_EQ(evs[3].kv.mod_revision, 7);
  EXPECT_EQ(evs[3].prev_kv.value, "b1");
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(c.events().size(), 4u) << "no duplicates, nothing outside the prefix";
  EXPECT_TRUE(c.errors().empty());
}

TEST_P(BackendTest, WatchFromZeroSeesOnlyFutureWrites) {
  MustCreate("/f/old", "x");
  Collector c;
  auto h = store_->Watch("/f/", 0, c.Callbacks());
  ASSERT_TRUE(h.ok());
  MustCreate("/f/new", "y");
  auto evs = c.WaitFor(1);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].kv.key, "/f/new");
}

TEST_P(BackendTest, WatchFromFutureRevisionSkipsUntilThere) {
  MustCreate("/f/1", "x");  // 1
  Collector c;
  auto h = store_->Watch("/f/", 2, c.Callbacks());
  ASSERT_TRUE(h.ok());
  MustCreate("/f/2", "x");  // 2: not > 2
  MustCreate("/f/3", "x");  // 3
  auto evs = c.WaitFor(1);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].kv.mod_revision, 3);
}

TEST_P(BackendTest, CancelStopsCallbacks) {
  Collector c;
  auto h = store_->Watch("/c/", 0, c.Callbacks());
  ASSERT_TRUE(h.ok());
  MustCreate("/c/1", "x");
  ASSERT_EQ(c.WaitFor(1).size(), 1u);
  (*h)->Cancel();
  MustCreate("/c/2", "x");
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(c.events().size(), 1u);
  h->reset();  // destroying after Cancel is fine
}

TEST_P(BackendTest, CallbacksMayCallBackIntoTheStore) {
  // A watch callback that reads, writes asynchronously and cancels its own watch.
  std::unique_ptr<WatchHandle> handle;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::string seen;
  Status sync_status;
  auto h = store_->Watch("/cb/", 0,
                         WatchCallbacks{[&](std::vector<Event> evs) {
                                          auto got = store_->Get(evs[0].kv.key);
                                          std::string v = got.ok() ? got->value : "";
                                          // Blocking writes from a store thread are refused.
                                          Status st = store_->SyncCreate("/cb-sync", "x").status();
                                          store_->Create("/cb-async", "y",
                                                         [&, v, st](Result<int64_t> r) {
                                                           std::lock_guard lock(mu);
                                                           seen = v;
                                                           sync_status = st;
                                                           done = r.ok();
                                                           cv.notify_all();
                                                         });
                                          std::lock_guard lock(mu);
                                          if (handle) handle->Cancel();
                                        },
                                        nullptr});
  ASSERT_TRUE(h.ok());
  {
    std::lock_guard lock(mu);
    handle = std::move(h).value();
  }
  MustCreate("/cb/x", "payload");
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return done; }));
  EXPECT_EQ(seen, "payload");
  EXPECT_EQ(sync_status.code(), Code::kInternal);
  EXPECT_TRUE(store_->Get("/cb-async").ok());
  EXPECT_EQ(store_->Get("/cb-sync").status().code(), Code::kNotFound);
}

TEST_P(BackendTest, WriteCallbackMayWriteAgain) {
  std::promise<Result<int64_t>> second;
  store_->Create("/chain/1", "a", [&](Result<int64_t> r) {
    store_->Update("/chain/1", "b", *r, [&](Result<int64_t> r2) { second.set_value(r2); });
  });
  auto r = second.get_future().get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2);
}

TEST_P(BackendTest, CompactionMakesOldRevisionsGone) {
  MustCreate("/c/a", "a1");     // 1
  MustUpdate("/c/a", "a2", 1);  // 2
  MustCreate("/c/b", "b1");     // 3
  MustDelete("/c/b", 3);        // 4
  MustCreate("/c/d", "d1");     // 5
  MustUpdate("/c/a", "a3", 2);  // 6
  ASSERT_TRUE(store_->Compact(5).ok());
  EXPECT_EQ(store_->CompactedRevision(), 5);
  EXPECT_EQ(store_->CurrentRevision(), 6);

  EXPECT_EQ(store_->Get("/c/a", 2).status().code(), Code::kGone);
  EXPECT_EQ(store_->Get("/c/a", 4).status().code(), Code::kGone);
  EXPECT_EQ(store_->List("/c/", "", 0, 1).status().code(), Code::kGone);
  Collector gone;
  auto h = store_->Watch("/c/", 3, gone.Callbacks());
  if (h.ok()) {
    ASSERT_TRUE(gone.WaitError());
    EXPECT_EQ(gone.errors()[0].code(), Code::kGone);
  } else {
    EXPECT_EQ(h.status().code(), Code::kGone);
  }

  // The compacted revision itself and newer ones still read.
  auto a5 = store_->Get("/c/a", 5);
  ASSERT_TRUE(a5.ok());
  EXPECT_EQ(a5->value, "a2");
  EXPECT_EQ(store_->Get("/c/b", 5).status().code(), Code::kNotFound);
  auto list5 = store_->List("/c/", "", 0, 5);
  ASSERT_TRUE(list5.ok());
  ASSERT_EQ(list5->items.size(), 2u);
  EXPECT_EQ(list5->items[0].value, "a2");
  EXPECT_EQ(list5->items[1].key, "/c/d");
  auto latest = store_->Get("/c/a");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->value, "a3");
  EXPECT_EQ(latest->create_revision, 1);

  // Watching from the compacted revision replays what follows, with prev values.
  Collector c;
  auto w = store_->Watch("/c/", 5, c.Callbacks());
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto evs = c.WaitFor(1);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].kv.mod_revision, 6);
  EXPECT_EQ(evs[0].prev_kv.value, "a2");

  // Compacting an older revision again is a no-op; the future is refused.
  EXPECT_TRUE(store_->Compact(3).ok());
  EXPECT_EQ(store_->CompactedRevision(), 5);
  EXPECT_EQ(store_->Compact(100).code(), Code::kBadRequest);
  // Writes continue from the same counter.
  EXPECT_EQ(MustCreate("/c/e", "e"), 7);
}

TEST_P(BackendTest, CompactEverythingDeletedKeepsCounter) {
  MustCreate("/z", "1");
  MustDelete("/z", 0);
  ASSERT_TRUE(store_->Compact(2).ok());
  EXPECT_EQ(store_->CurrentRevision(), 2);
  EXPECT_EQ(*store_->Count(""), 0);
  if (GetParam().persistent) {
    Reopen();
    EXPECT_EQ(store_->CurrentRevision(), 2);
    EXPECT_EQ(store_->CompactedRevision(), 2);
  }
  EXPECT_EQ(MustCreate("/z", "again"), 3);
}

TEST_P(BackendTest, ConcurrentWritersAndWatchers) {
  constexpr int kThreads = 8, kPerThread = 150, kTotal = kThreads * kPerThread;
  Collector early, late;
  auto h1 = store_->Watch("/cc/", 0, early.Callbacks());
  ASSERT_TRUE(h1.ok());
  std::vector<std::vector<int64_t>> revs(kThreads);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::unique_ptr<WatchHandle> h2;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string key = "/cc/" + std::to_string(t) + "/" + std::to_string(i);
        auto r = store_->SyncCreate(key, "v");
        if (!r.ok()) {
          ++failures;
          continue;
        }
        revs[t].push_back(*r);
        if (i % 3 == 0) {
          if (!store_->SyncUpdate(key, "v2", *r).ok()) ++failures;
        }
      }
    });
  }
  // Join a second watcher mid-stream from an early revision: replay + live must
  // meet without a gap or a duplicate.
  while (store_->CurrentRevision() < 300) std::this_thread::yield();
  auto h2r = store_->Watch("/cc/", 10, late.Callbacks());
  ASSERT_TRUE(h2r.ok());
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);

  const int updates = kThreads * ((kPerThread + 2) / 3);
  const int64_t total = kTotal + updates;
  EXPECT_EQ(store_->CurrentRevision(), total);
  std::set<int64_t> all;
  for (auto& v : revs) {
    for (size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1], v[i]);
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kTotal)) << "revisions are unique";

  auto check = [&](Collector& c, int64_t after) {
    auto evs = c.WaitFor(total - after);
    ASSERT_EQ(evs.size(), static_cast<size_t>(total - after));
    for (size_t i = 0; i < evs.size(); ++i) {
      ASSERT_EQ(evs[i].kv.mod_revision, after + 1 + static_cast<int64_t>(i));
    }
  };
  check(early, 0);
  check(late, 10);
  EXPECT_EQ(*store_->Count("/cc/"), kTotal);
}

TEST_P(BackendTest, WatchRacingCompactionIsGoneOrComplete) {
  // Writers and a compactor run while watches start from recent revisions: each
  // watch must either fail with Gone or see every revision after its start once, in order.
  for (int i = 0; i < 50; ++i) MustCreate("/race/" + std::to_string(i), "0");
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      if (!store_->SyncUpdate("/race/" + std::to_string(i % 50), std::to_string(i), 0).ok()) {
        ADD_FAILURE() << "update failed";
        return;
      }
    }
  });
  std::thread compactor([&] {
    while (!stop) {
      int64_t target = store_->CurrentRevision() - 20;
      if (target > 0) EXPECT_TRUE(store_->Compact(target).ok());
      std::this_thread::sleep_for(1ms);
    }
  });
  struct Joiner {
    std::function<void()> f;
    ~Joiner() { f(); }
  } join_on_exit{[&] {
    stop = true;
    writer.join();
    compactor.join();
  }};
  int complete = 0, gone = 0;
  for (int round = 0; round < 40; ++round) {
    // Odd rounds start right at the compaction point, to race the next compaction.
    int64_t from =
        round % 2 ? store_->CompactedRevision() + round % 3 : store_->CurrentRevision() - 10;
    if (from <= 0) {  // 0 would mean "future only"
      std::this_thread::sleep_for(5ms);
      continue;
    }
    auto c = std::make_unique<Collector>();
    auto h = store_->Watch("/race/", from, c->Callbacks());
    if (!h.ok()) {
      EXPECT_EQ(h.status().code(), Code::kGone) << h.status().ToString();
      ++gone;
      continue;
    }
    std::this_thread::sleep_for(5ms);
    int64_t until = store_->CurrentRevision();
    auto evs = c->WaitFor(until - from);
    (*h)->Cancel();
    if (!c->errors().empty()) {
      EXPECT_EQ(c->errors()[0].code(), Code::kGone);
      ++gone;
      continue;
    }
    ASSERT_GE(evs.size(), static_cast<size_t>(until - from));
    for (size_t i = 0; i < evs.size(); ++i) {
      ASSERT_EQ(evs[i].kv.mod_revision, from + 1 + static_cast<int64_t>(i));
      if (!evs[i].is_create()) {
        ASSERT_EQ(evs[i].prev_kv.key, evs[i].kv.key)
            << "prev_kv lost at " << evs[i].kv.mod_revision;
      }
    }
    ++complete;
  }
  EXPECT_GT(complete, 0);
  RecordProperty("gone", gone);
}

TEST_P(BackendTest, ManyAsyncWritesComplete) {
  constexpr int kN = 2000;
  std::atomic<int> ok{0}, done{0};
  std::mutex mu;
  std::condition_variable cv;
  for (int i = 0; i < kN; ++i) {
    store_->Create("/async/" + std::to_string(i), "v", [&](Result<int64_t> r) {
      if (r.ok()) ++ok;
      if (++done == kN) {
        std::lock_guard lock(mu);
        cv.notify_all();
      }
    });
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return done.load() == kN; }));
  EXPECT_EQ(ok.load(), kN);
  EXPECT_EQ(store_->CurrentRevision(), kN);
}

// Run only on the backends that keep data across a reopen.
class PersistentBackendTest : public BackendTest {};

TEST_P(PersistentBackendTest, RestartKeepsDataAndRevisionCounter) {
  MustCreate("/r/a", "1");
  MustUpdate("/r/a", "2", 0);
  MustCreate("/r/b", "3");
  MustDelete("/r/b", 0);
  ASSERT_TRUE(store_->Compact(2).ok());
  Reopen();
  EXPECT_EQ(store_->CurrentRevision(), 4);
  EXPECT_EQ(store_->CompactedRevision(), 2);
  auto a = store_->Get("/r/a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->value, "2");
  EXPECT_EQ(a->mod_revision, 2);
  EXPECT_EQ(store_->Get("/r/b").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->Get("/r/a", 1).status().code(), Code::kGone);
  auto b3 = store_->Get("/r/b", 3);
  ASSERT_TRUE(b3.ok());
  EXPECT_EQ(b3->value, "3");
  EXPECT_EQ(MustCreate("/r/c", "5"), 5);
  // History after a restart is replayed to watchers too.
  Collector c;
  auto h = store_->Watch("/r/", 2, c.Callbacks());
  ASSERT_TRUE(h.ok());
  auto evs = c.WaitFor(3);
  ASSERT_EQ(evs.size(), 3u);
  EXPECT_EQ(evs[1].type, Event::Type::kDelete);
  EXPECT_EQ(evs[2].kv.key, "/r/c");
}

TEST_P(BackendTest, WatcherOutlivingTheStoreIsSafe) {
  Collector c;
  auto h = store_->Watch("/", 0, c.Callbacks());
  ASSERT_TRUE(h.ok());
  store_.reset();
  ASSERT_TRUE(c.WaitError());
  EXPECT_EQ(c.errors()[0].code(), Code::kUnavailable);
  h->reset();
  Open();
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendTest,
                         ::testing::Values(BackendKind{"memory", false, &MemoryUrl},
                                           BackendKind{"sqlite", true, &SqliteUrl}),
                         [](const auto& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(Backends, PersistentBackendTest,
                         ::testing::Values(BackendKind{"sqlite", true, &SqliteUrl}),
                         [](const auto& info) { return info.param.name; });

TEST(OpenBackendTest, RejectsUnknownSchemes) {
  EXPECT_EQ(OpenBackend("etcd3://x").status().code(), Code::kBadRequest);
  EXPECT_EQ(OpenBackend("sqlite://").status().code(), Code::kBadRequest);
  EXPECT_EQ(OpenBackend("memory://x").status().code(), Code::kBadRequest);
  EXPECT_EQ(OpenBackend("").status().code(), Code::kBadRequest);
}

}  // namespace
}  // namespace sampan::store
