// store_bench: durable creates/s through the sqlite store backend with N concurrent
// writers, side by side with raw SQLite (WAL, synchronous=FULL) on the same disk:
// one row per commit, and 100 rows per commit. Not a test; run by bench/store.sh.
//
//   store_bench --dir DIR [--seconds S] [--rounds R] [--writers 1,8,64] [--value-bytes B]
//
// Each configuration runs S seconds in total, in R slices taken in turn.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/backend.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string dir;
  double seconds = 3;
  std::vector<int> writers = {1, 8, 64};
  size_t value_bytes = 512;
  int rounds = 5;
};

[[noreturn]] void Die(const std::string& msg) {
  fprintf(stderr, "store_bench: %s\n", msg.c_str());
  exit(1);
}

void Check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    Die(std::string(what) + ": " + sqlite3_errmsg(db));
  }
}

std::string FreshPath(const Options& o, const std::string& name) {
  std::string path = o.dir + "/" + name + ".db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  return path;
}

// One measured configuration. Run() works for about `seconds` and returns how many
// operations it completed; state (open files, key counters) persists across calls,
// so configurations can take turns: disk latency on shared machines drifts over
// seconds, and interleaving exposes every configuration to the same drift.
class Workload {
 public:
  virtual ~Workload() = default;
  virtual int64_t Run(double seconds) = 0;
};

// Raw SQLite: a table shaped like the store's, `rows_per_commit` inserts per transaction.
class RawSqlite final : public Workload {
 public:
  RawSqlite(const Options& o, int rows_per_commit)
      : rows_per_commit_(rows_per_commit), value_(o.value_bytes, 'v') {
    std::string path = FreshPath(o, "raw" + std::to_string(rows_per_commit));
    Check(db_, sqlite3_open(path.c_str(), &db_), "open");
    Check(db_,
          sqlite3_exec(db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", nullptr, nullptr,
                       nullptr),
          "pragmas");
    Check(db_,
          sqlite3_exec(db_,
                       "CREATE TABLE kv (id INTEGER PRIMARY KEY, name BLOB NOT NULL, deleted "
                       "INTEGER NOT NULL, create_revision INTEGER NOT NULL, prev_revision "
                       "INTEGER NOT NULL, value BLOB NOT NULL);"
                       "CREATE INDEX kv_name_id ON kv (name, id);",
                       nullptr, nullptr, nullptr),
          "schema");
    Check(
        db_,
        sqlite3_prepare_v2(db_, "INSERT INTO kv VALUES (?1, ?2, 0, ?1, 0, ?3)", -1, &ins_, nullptr),
        "prepare");
  }
  ~RawSqlite() override {
    sqlite3_finalize(ins_);
    sqlite3_close(db_);
  }
  int64_t Run(double seconds) override {
    int64_t n = 0;
    auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
      Check(db_, sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr), "begin");
      for (int i = 0; i < rows_per_commit_; ++i) {
        ++id_;
        std::string key = "/registry/bench/raw/" + std::to_string(id_);
        sqlite3_bind_int64(ins_, 1, id_);
        sqlite3_bind_blob(ins_, 2, key.data(), key.size(), SQLITE_TRANSIENT);
        sqlite3_bind_blob(ins_, 3, value_.data(), value_.size(), SQLITE_STATIC);
        Check(db_, sqlite3_step(ins_), "insert");
        sqlite3_reset(ins_);
      }
      Check(db_, sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr), "commit");
      n += rows_per_commit_;
    }
    return n;
  }

 private:
  int rows_per_commit_;
  std::string value_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* ins_ = nullptr;
  int64_t id_ = 0;
};

std::unique_ptr<sampan::store::Backend> OpenStore(const Options& o, const std::string& name) {
  auto b = sampan::store::OpenBackend("sqlite://" + FreshPath(o, name));
  if (!b.ok()) Die(b.status().ToString());
  return std::move(b).value();
}

// `writers` threads, each creating keys one at a time with the blocking API.
class BlockingWriters final : public Workload {
 public:
  BlockingWriters(const Options& o, int writers)
      : writers_(writers),
        value_(o.value_bytes, 'v'),
        store_(OpenStore(o, "store" + std::to_string(writers))),
        next_(writers, 0) {}
  int64_t Run(double seconds) override {
    std::atomic<int64_t> total{0};
    auto end = Clock::now() + std::chrono::duration<double>(seconds);
    std::vector<std::thread> threads;
    for (int t = 0; t < writers_; ++t) {
      threads.emplace_back([&, t] {
        while (Clock::now() < end) {
          std::string key =
              "/registry/bench/w" + std::to_string(t) + "/" + std::to_string(next_[t]++);
          if (!store_->SyncCreate(std::move(key), value_).ok()) Die("a backend write failed");
          ++total;
        }
      });
    }
    for (auto& th : threads) th.join();
    return total;
  }

 private:
  int writers_;
  std::string value_;
  std::unique_ptr<sampan::store::Backend> store_;
  std::vector<int64_t> next_;
};

// One thread keeping `window` asynchronous creates in flight (how an event-loop
// server with many clients drives the store).
class AsyncWindow final : public Workload {
 public:
  AsyncWindow(const Options& o, int window)
      : window_(window),
        value_(o.value_bytes, 'v'),
        store_(OpenStore(o, "async" + std::to_string(window))) {}
  int64_t Run(double seconds) override {
    std::mutex mu;
    std::condition_variable cv;
    int in_flight = 0;
    int64_t done = 0;
    bool failed = false;
    auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return in_flight < window_; });
        if (failed) Die("a backend write failed");
        ++in_flight;
      }
      store_->Create("/registry/bench/a/" + std::to_string(next_++), value_,
                     [&](sampan::Result<int64_t> r) {
                       std::lock_guard lock(mu);
                       --in_flight;
                       ++done;
                       if (!r.ok()) failed = true;
                       cv.notify_one();
                     });
    }
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return in_flight == 0; });
    return done;
  }

 private:
  int window_;
  std::string value_;
  std::unique_ptr<sampan::store::Backend> store_;
  int64_t next_ = 0;
};

// `readers` threads doing Get of random existing keys among 10,000.
class Readers final : public Workload {
 public:
  static constexpr int kKeys = 10000;
  Readers(const Options& o, int readers)
      : readers_(readers), store_(OpenStore(o, "read" + std::to_string(readers))) {
    std::string value(o.value_bytes, 'v');
    std::atomic<int> pending{kKeys};
    for (int i = 0; i < kKeys; ++i) {
      store_->Create("/registry/bench/r/" + std::to_string(i), value,
                     [&](sampan::Result<int64_t> r) {
                       if (!r.ok()) Die(r.status().ToString());
                       --pending;
                     });
    }
    while (pending > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  int64_t Run(double seconds) override {
    std::atomic<int64_t> total{0};
    auto end = Clock::now() + std::chrono::duration<double>(seconds);
    std::vector<std::thread> threads;
    for (int t = 0; t < readers_; ++t) {
      threads.emplace_back([&, t] {
        uint64_t x = 88172645463325252ull + t + seed_++;
        int64_t n = 0;
        while (Clock::now() < end) {
          x ^= x << 13, x ^= x >> 7, x ^= x << 17;
          if (!store_->Get("/registry/bench/r/" + std::to_string(x % kKeys)).ok())
            Die("get failed");
          ++n;
        }
        total += n;
      });
    }
    for (auto& th : threads) th.join();
    return total;
  }

 private:
  int readers_;
  std::unique_ptr<sampan::store::Backend> store_;
  std::atomic<uint64_t> seed_{0};
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--dir") {
      o.dir = next();
    } else if (a == "--seconds") {
      o.seconds = std::stod(next());
    } else if (a == "--rounds") {
      o.rounds = std::max(1, std::stoi(next()));
    } else if (a == "--value-bytes") {
      o.value_bytes = std::stoul(next());
    } else if (a == "--writers") {
      o.writers.clear();
      std::stringstream ss(next());
      for (std::string n; std::getline(ss, n, ',');) o.writers.push_back(std::stoi(n));
    } else {
      Die("unknown flag " + a + " (flags: --dir --seconds --rounds --writers --value-bytes)");
    }
  }
  if (o.dir.empty()) Die("--dir is required");
  std::filesystem::create_directories(o.dir);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = Parse(argc, argv);
  printf(
      "store_bench: dir=%s, %.1f s per configuration in %d interleaved rounds, value=%zu bytes,\n"
      "             sqlite %s, WAL + synchronous=FULL\n",
      o.dir.c_str(), o.seconds, o.rounds, o.value_bytes, sqlite3_libversion());
  struct Entry {
    std::string name, unit;
    std::unique_ptr<Workload> w;
    int64_t ops = 0;
    double secs = 0;
    double rate() const { return secs > 0 ? ops / secs : 0; }
  };
  std::vector<Entry> entries;
  entries.push_back({"raw sqlite, 1 row per commit", "rows/s", std::make_unique<RawSqlite>(o, 1)});
  entries.push_back(
      {"raw sqlite, 100 rows per commit", "rows/s", std::make_unique<RawSqlite>(o, 100)});
  for (int n : o.writers) {
    entries.push_back({"store, " + std::to_string(n) + " writer thread(s), blocking", "creates/s",
                       std::make_unique<BlockingWriters>(o, n)});
  }
  entries.push_back(
      {"store, 1 thread, 256 async in flight", "creates/s", std::make_unique<AsyncWindow>(o, 256)});
  for (int n : {1, 8}) {
    entries.push_back({"store, " + std::to_string(n) + " reader thread(s), Get", "gets/s",
                       std::make_unique<Readers>(o, n)});
  }
  for (int round = 0; round < o.rounds; ++round) {
    for (auto& e : entries) {
      auto start = Clock::now();
      e.ops += e.w->Run(o.seconds / o.rounds);
      e.secs += std::chrono::duration<double>(Clock::now() - start).count();
    }
  }
  const double raw1 = entries[0].rate(), raw100 = entries[1].rate();
  for (auto& e : entries) {
    printf("%-44s %10.0f %-9s", e.name.c_str(), e.rate(), e.unit.c_str());
    if (e.unit == "creates/s") {
      printf("  %7.2fx raw single  %5.2fx raw batched", e.rate() / raw1, e.rate() / raw100);
    }
    printf("\n");
  }
  entries.clear();
  for (const auto& entry : std::filesystem::directory_iterator(o.dir)) {
    if (entry.path().string().find(".db") != std::string::npos)
      std::filesystem::remove(entry.path());
  }
  return 0;
}
