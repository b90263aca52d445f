// SQLite-specific store tests: durability across SIGKILL, and clear errors for
// files that are not (our) databases. The shared semantics are in
// backend_conformance_test.cc.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "store/backend.h"
#include "store/backend_internal.h"
#include "store/store_test_util.h"

namespace sampan::store {
namespace {

using testing::Collector;
using testing::TempDir;

// Runs in a forked child: writes forever from several threads, reporting every
// acknowledged write as "key revision\n" on `fd`. Never returns.
[[noreturn]] void WriteUntilKilled(const std::string& url, int fd) {
  auto store = OpenBackend(url);
  if (!store.ok()) _exit(2);
  Backend* b = store->get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([b, fd, t] {
      for (int i = 0;; ++i) {
        std::string key = "/crash/" + std::to_string(t) + "/" + std::to_string(i);
        auto r = b->SyncCreate(key, std::string(100 + i % 300, 'x'));
        if (!r.ok()) _exit(3);
        // Lines are far below PIPE_BUF, so each write is atomic.
        std::string line = key + " " + std::to_string(*r) + "\n";
        if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
      }
    });
  }
  for (;;) pause();
}

std::string QueryText(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(s, 0);
      out = t ? reinterpret_cast<const char*>(t) : "";
    }
    sqlite3_finalize(s);
  } else {
    out = std::string("open failed: ") + sqlite3_errmsg(db);
  }
  sqlite3_close(db);
  return out;
}

TEST(SqliteBackendTest, AcknowledgedWritesSurviveSigkill) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  const std::string url = "sqlite://" + path;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    WriteUntilKilled(url, fds[1]);
  }
  close(fds[1]);

  // Read acknowledgements until enough writes happened, then kill mid-stream.
  std::string buffer;
  char chunk[4096];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  size_t lines = 0;
  while (lines < 3000 && std::chrono::steady_clock::now() < deadline) {
    ssize_t n = read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;
    buffer.append(chunk, n);
    lines += std::count(chunk, chunk + n, '\n');
  }
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited early with " << WEXITSTATUS(wstatus);
  for (;;) {  // acknowledgements written before the kill
    ssize_t n = read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;
    buffer.append(chunk, n);
  }
  close(fds[0]);

  std::map<std::string, int64_t> acked;
  std::istringstream in(buffer);
  std::string key;
  int64_t rev = 0, max_rev = 0;
  while (in >> key >> rev) {
    acked[key] = rev;
    max_rev = std::max(max_rev, rev);
  }
  ASSERT_GE(acked.size(), 3000u);

  EXPECT_EQ(QueryText(path, "PRAGMA integrity_check"), "ok");
  auto reopened = OpenBackend(url);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  Backend& store = **reopened;
  for (const auto& [k, r] : acked) {
    auto got = store.Get(k);
    ASSERT_TRUE(got.ok()) << k << " was acknowledged at " << r << " but is lost";
    EXPECT_EQ(got->mod_revision, r);
  }
  const int64_t current = store.CurrentRevision();
  EXPECT_GE(current, max_rev);
  // Commits are all-or-nothing, so the surviving revisions are exactly 1..current.
  EXPECT_EQ(QueryText(path, "SELECT COUNT(*) = MAX(id) FROM kv"), "1");
  EXPECT_EQ(QueryText(path,
                      "SELECT COUNT(*) FROM kv k WHERE prev_revision != 0 AND NOT EXISTS "
                      "(SELECT 1 FROM kv p WHERE p.id = k.prev_revision AND p.name = k.name)"),
            "0");
  auto count = store.Count("/crash/");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, current);
  auto next = store.SyncCreate("/after-crash", "x");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, current + 1);
}

TEST(SqliteBackendTest, GarbageFileIsAClearError) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  {
    std::ofstream f(path, std::ios::binary);
    for (int i = 0; i < 512; ++i) f << "this is not an sqlite database, line " << i << "\n";
  }
  auto b = OpenBackend("sqlite://" + path);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kInternal);
  EXPECT_NE(b.status().message().find(path), std::string::npos) << b.status().ToString();
  EXPECT_NE(b.status().message().find("not a database"), std::string::npos)
      << b.status().ToString();
}

TEST(SqliteBackendTest, CorruptPagesAreAClearError) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  {
    auto b = OpenBackend("sqlite://" + path);
    ASSERT_TRUE(b.ok());
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE((*b)->SyncCreate("/k/" + std::to_string(i), std::string(500, 'v')).ok());
    }
  }  // closing checkpoints the WAL into the main file
  {
    // Overwrite the header's page size and the first pages with junk.
    int fd = open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    std::string junk(8192, '\x5a');
    ASSERT_EQ(pwrite(fd, junk.data(), junk.size(), 0), static_cast<ssize_t>(junk.size()));
    close(fd);
  }
  auto b = OpenBackend("sqlite://" + path);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("opening sqlite store " + path), std::string::npos)
      << b.status().ToString();
}

TEST(SqliteBackendTest, DirectoryOrBlockedPathIsAClearError) {
  TempDir dir;
  auto b = OpenBackend("sqlite://" + dir.path());
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("is a directory"), std::string::npos)
      << b.status().ToString();

  const std::string file = dir.path() + "/plainfile";
  std::ofstream(file) << "x";
  auto under_file = OpenBackend("sqlite://" + file + "/state.db");
  ASSERT_FALSE(under_file.ok());
  EXPECT_NE(under_file.status().message().find("cannot create directory"), std::string::npos)
      << under_file.status().ToString();
}

TEST(SqliteBackendTest, UnknownSchemaVersionIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  ASSERT_TRUE(OpenBackend("sqlite://" + path).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = 99 WHERE name = 'schema_version'", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto b = OpenBackend("sqlite://" + path);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("schema version 99"), std::string::npos)
      << b.status().ToString();
}

TEST(SqliteBackendTest, SecondOpenerIsRefusedUntilTheFirstCloses) {
  TempDir dir;
  const std::string url = "sqlite://" + dir.path() + "/state.db";
  auto first = OpenBackend(url);
  ASSERT_TRUE(first.ok());
  auto second = OpenBackend(url);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos)
      << second.status().ToString();
  first->reset();
  EXPECT_TRUE(OpenBackend(url).ok());
}

// Stands in for fdatasync: records which file it was asked to sync, and holds every
// caller until released; then answers `result`.
class HeldSync {
 public:
  std::function<Status(int)> Fn() {
    return [this](int fd) {
      struct stat st {};
      fstat(fd, &st);
      std::unique_lock lock(mu_);
      inodes_.push_back(st.st_ino);
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
      return result_;
    };
  }
  // Waits until `n` syncs have started.
  bool WaitStarted(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return inodes_.size() >= n; });
  }
  void Release(Status result = Status::Ok()) {
    std::lock_guard lock(mu_);
    released_ = true;
    result_ = std::move(result);
    cv_.notify_all();
  }
  std::vector<ino_t> inodes() {
    std::lock_guard lock(mu_);
    return inodes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ino_t> inodes_;
  bool released_ = false;
  Status result_;
};

// A write is acknowledged, published to watchers and readable only after the WAL holding it
// was synced; until then it is in the WAL (committed) but invisible.
TEST(SqliteBackendTest, WritesAreVisibleOnlyAfterTheWalIsSynced) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  HeldSync held;
  auto opened = OpenSqliteBackend(path, SqliteOptions{held.Fn()});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Backend& store = **opened;
  Collector watch;
  auto handle = store.Watch("/k/", 0, watch.Callbacks());
  ASSERT_TRUE(handle.ok());

  std::promise<Result<int64_t>> a, b, c;
  auto settle = [](std::promise<Result<int64_t>>& p) {
    return [&p](Result<int64_t> r) { p.set_value(std::move(r)); };
  };
  store.Create("/k/a", "1", settle(a));
  ASSERT_TRUE(held.WaitStarted(1));
  // Committed into the WAL, being synced: not acknowledged, not readable, not published.
  EXPECT_EQ(QueryText(path, "SELECT COUNT(*) FROM kv"), "1");
  auto fa = a.get_future();
  EXPECT_EQ(fa.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  EXPECT_EQ(store.CurrentRevision(), 0);
  EXPECT_EQ(store.Get("/k/a").status().code(), Code::kNotFound);
  auto count = store.Count("/k/");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 0);
  EXPECT_EQ(store.Get("/k/a", 1).status().code(), Code::kBadRequest);  // a future revision

  // While the sync runs, later writes wait in the writer's open transaction: the WAL
  // gets no second commit until the syncer is free.
  store.Create("/k/b", "2", settle(b));
  store.Create("/k/c", "3", settle(c));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(QueryText(path, "SELECT COUNT(*) FROM kv"), "1");
  EXPECT_TRUE(watch.events().empty());

  held.Release();
  auto ra = fa.get();
  auto rb = b.get_future().get();
  auto rc = c.get_future().get();
  ASSERT_TRUE(ra.ok() && rb.ok() && rc.ok());
  EXPECT_EQ(*ra, 1);
  EXPECT_EQ(*rb, 2);
  EXPECT_EQ(*rc, 3);
  EXPECT_EQ(store.CurrentRevision(), 3);
  auto got = store.Get("/k/c");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->value, "3");
  auto events = watch.WaitFor(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kv.key, "/k/a");
  EXPECT_EQ(events[2].kv.mod_revision, 3);
  // What was synced is the database's WAL file.
  struct stat wal {};
  ASSERT_EQ(stat((path + "-wal").c_str(), &wal), 0);
  auto inodes = held.inodes();
  ASSERT_GE(inodes.size(), 2u);
  for (ino_t ino : inodes) EXPECT_EQ(ino, wal.st_ino);
}

// After a failed sync the fate of what the WAL holds is unknown: the writes being synced
// fail, and every later write is refused (until a restart) instead of building on them.
TEST(SqliteBackendTest, AFailedSyncFailsItsWritesAndRefusesLaterOnes) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  HeldSync failing;
  failing.Release(Internal("fdatasync: Input/output error"));
  auto opened = OpenSqliteBackend(path, SqliteOptions{failing.Fn()});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Backend& store = **opened;

  auto first = store.SyncCreate("/k/a", "1");
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), Code::kUnavailable);
  EXPECT_NE(first.status().message().find("failed to make writes durable"), std::string::npos)
      << first.status().ToString();
  EXPECT_NE(first.status().message().find("Input/output error"), std::string::npos)
      << first.status().ToString();
  EXPECT_EQ(store.CurrentRevision(), 0);
  EXPECT_EQ(store.Get("/k/a").status().code(), Code::kNotFound);

  auto later = store.SyncCreate("/k/b", "2");
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.status().code(), Code::kUnavailable);
  EXPECT_EQ(failing.inodes().size(), 1u);   // refused without another attempt
  auto list = store.List("/k/", "", 0, 0);  // reads still answer
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->items.empty());
}

TEST(SqliteBackendTest, OpensInWalMode) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  auto b = OpenBackend("sqlite://" + path);
  ASSERT_TRUE(b.ok());
  // journal_mode=WAL is persistent in the file; a second connection sees it.
  EXPECT_EQ(QueryText(path, "PRAGMA journal_mode"), "wal");
}

}  // namespace
}  // namespace sampan::store

namespace sampan::store {
namespace {

// Watchers see every revision once, in order, whichever thread publishes a group: the syncer
// (groups handed over while it synced) or the writer (a group committed with nothing queued).
// Bursts of writes with pauses between them make both happen many times. A group published
// by the writer before the syncer's previous one would show here as a revision out of order.
// The window itself, held open: the sync thread has synced a group (handed over because more
// writes were queued) and not yet published it, while the writer commits the next group with
// nothing queued. That group must not be published first.
TEST(SqliteBackendTest, AGroupCommittedWhileTheSyncerPublishesIsPublishedAfter) {
  testing::TempDir dir;
  HeldSync held;  // holds the first sync (the writer's own, of the first write)
  std::atomic<int> syncer_publishes{0};
  SqliteOptions options{held.Fn()};
  options.before_publish = [&] {
    if (syncer_publishes++ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  };
  auto opened = OpenSqliteBackend(dir.path() + "/state.db", options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Backend& store = **opened;
  testing::Collector watch;
  auto handle = store.Watch("/k/", 0, watch.Callbacks());
  ASSERT_TRUE(handle.ok());
  std::atomic<int> acknowledged{0};
  auto ack = [&](Result<int64_t> r) {
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    ++acknowledged;
  };
  store.Create("/k/first", "v", ack);
  ASSERT_TRUE(held.WaitStarted(1));  // the writer is syncing the first write itself
  // More than one batch queues meanwhile: the writer commits the first batch with writes
  // still queued, so it hands it to the sync thread, which then holds it before publishing
  // while the writer commits the rest with nothing queued.
  const int n = static_cast<int>(kSqliteMaxBatch) + 1;
  for (int i = 0; i < n; ++i) store.Create("/k/w" + std::to_string(i), "v", ack);
  held.Release();
  auto events = watch.WaitFor(static_cast<size_t>(n) + 1);
  ASSERT_EQ(events.size(), static_cast<size_t>(n) + 1);
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(events[i].kv.mod_revision, static_cast<int64_t>(i + 1)) << "event " << i;
  }
  EXPECT_GE(syncer_publishes.load(), 1);  // the window was held open
}

TEST(SqliteBackendTest, WatchersSeeRevisionsInOrderUnderBurstyWrites) {
  testing::TempDir dir;
  auto opened = OpenSqliteBackend(dir.path() + "/state.db", SqliteOptions{});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Backend& store = **opened;
  testing::Collector watch;
  auto handle = store.Watch("/k/", 0, watch.Callbacks());
  ASSERT_TRUE(handle.ok());
  constexpr int kThreads = 4, kBursts = 60, kPerBurst = 8;
  std::atomic<int> failed{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int b = 0; b < kBursts; ++b) {
        std::vector<std::promise<void>> done(kPerBurst);
        for (int i = 0; i < kPerBurst; ++i) {
          store.Create(
              "/k/" + std::to_string(t) + "-" + std::to_string(b) + "-" + std::to_string(i), "v",
              [&done, &failed, i](Result<int64_t> r) {
                if (!r.ok()) ++failed;
                done[i].set_value();
              });
        }
        for (auto& d : done) d.get_future().wait();
        std::this_thread::sleep_for(std::chrono::microseconds(100 * (t + 1)));
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(failed.load(), 0);
  const size_t total = kThreads * kBursts * kPerBurst;
  auto events = watch.WaitFor(total);
  ASSERT_EQ(events.size(), total);
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(events[i].kv.mod_revision, static_cast<int64_t>(i + 1)) << "event " << i;
  }
}

}  // namespace
}  // namespace sampan::store
