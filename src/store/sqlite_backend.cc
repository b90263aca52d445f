// sqlite:// — the embedded default store: one SQLite file in WAL mode with
// synchronous=FULL, holding a log-structured table whose row id is the revision
// (see docs/store.md). One writer thread group-commits queued writes; reads use a
// pool of separate connections and never wait for the writer.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/backend.h"
#include "store/backend_internal.h"
#include "store/sqlite_db.h"
#include "store/watch_hub.h"
#include "util/log.h"
#include "util/thread_name.h"

namespace sampan::store {
namespace {

using sqlite::Db;
using sqlite::ReadTxn;
using sqlite::Stmt;

constexpr int64_t kSchemaVersion = 1;
constexpr size_t kMaxBatch = 4096;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kv (
  id INTEGER PRIMARY KEY,           -- the revision of this write
  name BLOB NOT NULL,               -- the key
  deleted INTEGER NOT NULL,         -- 1: this row records a deletion
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,   -- the key's previous row, 0 for a create
  value BLOB NOT NULL               -- for a deletion: the value deleted
);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql";

constexpr const char* kLatestRow =
    "SELECT id, create_revision, deleted, value FROM kv WHERE name = ?1 ORDER BY id DESC LIMIT 1";
constexpr const char* kRowAt =
    "SELECT id, create_revision, deleted, value FROM kv WHERE name = ?1 AND id <= ?2 "
    "ORDER BY id DESC LIMIT 1";
constexpr const char* kInsert =
    "INSERT INTO kv (id, name, deleted, create_revision, prev_revision, value) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kBeginWrite = "BEGIN IMMEDIATE";
constexpr const char* kCommitWrite = "COMMIT";
constexpr const char* kRollbackWrite = "ROLLBACK";
constexpr const char* kGetMeta = "SELECT value FROM meta WHERE name = ?1";
constexpr const char* kSetMeta = "INSERT OR REPLACE INTO meta (name, value) VALUES (?1, ?2)";
constexpr const char* kMaxId = "SELECT COALESCE(MAX(id), 0) FROM kv";
constexpr const char* kCompact =
    "DELETE FROM kv WHERE id <= ?1 AND (deleted = 1 OR id < (SELECT MAX(k2.id) FROM kv k2 "
    "WHERE k2.name = kv.name AND k2.id <= ?1))";

// The live rows of a key range as of revision ?3: walks the (name, id) index in key
// order and keeps a row only if it is its key's newest at ?3, so LIMIT stops the walk
// early. ?1 = lowest key (inclusive), ?2 = end of range (exclusive; "Open" variants
// have no end).
#define SAMPAN_LIVE_IN_RANGE(end)                  \
  "FROM kv k WHERE k.name >= ?1 " end              \
  " AND k.id <= ?3 AND k.id = (SELECT MAX(k2.id) " \
  "FROM kv k2 WHERE k2.name = k.name AND k2.id <= ?3) AND k.deleted = 0"
constexpr const char* kList =
    "SELECT k.id, k.name, k.create_revision, k.value " SAMPAN_LIVE_IN_RANGE(
        "AND k.name < ?2") " ORDER BY k.name LIMIT ?4";
constexpr const char* kListOpen =
    "SELECT k.id, k.name, k.create_revision, k.value " SAMPAN_LIVE_IN_RANGE(
        "") " ORDER BY k.name LIMIT ?4";
constexpr const char* kCount = "SELECT COUNT(*) " SAMPAN_LIVE_IN_RANGE("AND k.name < ?2");
constexpr const char* kCountOpen = "SELECT COUNT(*) " SAMPAN_LIVE_IN_RANGE("");
#undef SAMPAN_LIVE_IN_RANGE

// History rows in (?1, ?2] under a key range, with the previous value of each.
constexpr const char* kHistory =
    "SELECT k.id, k.name, k.deleted, k.create_revision, k.value, k.prev_revision, p.value, "
    "p.create_revision FROM kv k LEFT JOIN kv p ON p.id = k.prev_revision "
    "WHERE k.id > ?1 AND k.id <= ?2 AND k.name >= ?3 AND k.name < ?4 ORDER BY k.id";
constexpr const char* kHistoryOpen =
    "SELECT k.id, k.name, k.deleted, k.create_revision, k.value, k.prev_revision, p.value, "
    "p.create_revision FROM kv k LEFT JOIN kv p ON p.id = k.prev_revision "
    "WHERE k.id > ?1 AND k.id <= ?2 AND k.name >= ?3 ORDER BY k.id";

// Resets a statement when leaving scope.
struct Using {
  Stmt* s;
  ~Using() { s->Reset(); }
};

// The smallest key greater than every key with `prefix`; false if there is none.
bool PrefixEnd(std::string_view prefix, std::string* end) {
  std::string e(prefix);
  while (!e.empty()) {
    if (static_cast<unsigned char>(e.back()) != 0xff) {
      e.back() = static_cast<char>(static_cast<unsigned char>(e.back()) + 1);
      *end = std::move(e);
      return true;
    }
    e.pop_back();
  }
  return false;
}

Result<int64_t> ReadMeta(Db& db, const char* name) {
  ASSIGN_OR_RETURN(Stmt * s, db.Prepare(kGetMeta));
  Using u{s};
  s->BindText(1, name);
  ASSIGN_OR_RETURN(bool row, s->Step());
  return row ? s->Int(0) : 0;
}

struct Op {
  enum class Kind { kCreate, kUpdate, kDelete, kCompact };
  Kind kind = Kind::kCreate;
  std::string key;
  std::string value;
  int64_t revision = 0;  // expected revision, or the compaction revision
  WriteCallback done;
};

class SqliteBackend final : public Backend {
 public:
  explicit SqliteBackend(std::string path) : path_(std::move(path)) {}

  ~SqliteBackend() override {
    if (writer_.joinable()) {
      {
        std::lock_guard lock(queue_mu_);
        stopping_ = true;
      }
      queue_cv_.notify_all();
      writer_.join();
      LogWriterStats();
    }
    if (hub_) hub_->Shutdown(Unavailable("store closed"));
    pool_.clear();
    writer_db_.reset();
    if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
  }

  Status Init();

  void Create(std::string key, std::string value, WriteCallback done) override {
    Enqueue(Op{Op::Kind::kCreate, std::move(key), std::move(value), 0, std::move(done)});
  }
  void Update(std::string key, std::string value, int64_t expected_revision,
              WriteCallback done) override {
    Enqueue(Op{Op::Kind::kUpdate, std::move(key), std::move(value), expected_revision,
               std::move(done)});
  }
  void Delete(std::string key, int64_t expected_revision, WriteCallback done) override {
    Enqueue(Op{Op::Kind::kDelete, std::move(key), {}, expected_revision, std::move(done)});
  }

  Result<KeyValue> Get(std::string_view key, int64_t revision) override;
  Result<ListResult> List(std::string_view prefix, std::string_view start_after, int64_t limit,
                          int64_t revision) override;
  Result<int64_t> Count(std::string_view prefix) override;
  Result<std::unique_ptr<WatchHandle>> Watch(std::string prefix, int64_t after_revision,
                                             WatchCallbacks callbacks) override;
  Status Compact(int64_t revision) override;
  int64_t CurrentRevision() override { return rev_.load(); }
  int64_t CompactedRevision() override { return compacted_.load(); }

 private:
  // A pooled read connection, returned to the pool when destroyed.
  class Reader {
   public:
    Reader(SqliteBackend* b, std::unique_ptr<Db> db) : b_(b), db_(std::move(db)) {}
    ~Reader() {
      if (db_) {
        std::lock_guard lock(b_->pool_mu_);
        b_->pool_.push_back(std::move(db_));
      }
    }
    Db& operator*() { return *db_; }

   private:
    SqliteBackend* b_;
    std::unique_ptr<Db> db_;
  };
  Result<std::unique_ptr<Reader>> AcquireReader();

  // Opens the read snapshot's view of the revision window; *at = the revision to read at.
  Status BeginRead(Db& db, int64_t revision, int64_t* at);

  void Enqueue(Op op);
  void WriterLoop();
  void LogWriterStats() const;
  void CommitGroup(std::vector<Op>& group);
  Result<int64_t> ApplyWrite(Op& op, int64_t rev, std::vector<Event>* events);
  Status RunCompaction(int64_t revision);

  const std::string path_;
  std::unique_ptr<Db> writer_db_;      // used by the writer thread only (and Init)
  std::atomic<int64_t> rev_{0};        // newest committed and published revision
  std::atomic<int64_t> compacted_{0};  // newest committed compaction
  std::shared_ptr<WatchHub> hub_;

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Db>> pool_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Op> queue_;
  bool stopping_ = false;
  std::thread writer_;
  std::thread::id writer_id_;
  int lock_fd_ = -1;  // PATH.lock, flock'd while open

  // Where the writer's time goes, logged when the store closes: the figures that tell a slow
  // disk (commit) from a busy writer (statements, callbacks) or an idle one (waiting).
  struct WriterStats {
    int64_t groups = 0, writes = 0;
    std::chrono::steady_clock::duration waiting{}, statements{}, commit{}, publish{}, callbacks{};
  };
  WriterStats stats_;  // writer thread only
};

Status SqliteBackend::Init() {
  std::error_code ec;
  auto parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return Internal("cannot create directory " + parent.string() + ": " + ec.message());
  if (std::filesystem::is_directory(path_)) return Internal(path_ + " is a directory, not a file");
  // Two processes appending to one log would each count revisions on their own:
  // refuse a second opener. The kernel drops the lock when the process dies.
  std::string lock_path = path_ + ".lock";
  lock_fd_ = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return ErrnoStatus("cannot open " + lock_path, errno);
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return Unavailable("the store is in use by another process or opener");
    return ErrnoStatus("cannot lock " + lock_path, errno);
  }
  ASSIGN_OR_RETURN(writer_db_, Db::Open(path_, /*create=*/true));
  Db& db = *writer_db_;
  // journal_mode is the first statement to read the file: a corrupt one fails here.
  RETURN_IF_ERROR(db.Exec("PRAGMA journal_mode=WAL"));
  {
    ASSIGN_OR_RETURN(Stmt * s, db.Prepare("PRAGMA journal_mode"));
    Using u{s};
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row || s->Blob(0) != "wal") return Internal("cannot switch the database to WAL mode");
  }
  RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=FULL"));
  RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Status st = db.Exec(kSchema);
  if (st.ok()) {
    auto version = ReadMeta(db, "schema_version");
    if (!version.ok()) {
      st = version.status();
    } else if (*version == 0) {
      ASSIGN_OR_RETURN(Stmt * s, db.Prepare(kSetMeta));
      Using u{s};
      st = s->BindText(1, "schema_version").Bind(2, kSchemaVersion).Run();
    } else if (*version != kSchemaVersion) {
      st = Internal("schema version " + std::to_string(*version) + " is not supported (expected " +
                    std::to_string(kSchemaVersion) + ")");
    }
  }
  if (!st.ok()) {
    (void)db.Exec("ROLLBACK");
    return st;
  }
  RETURN_IF_ERROR(db.Exec("COMMIT"));
  // Prepare every statement now, so a table of another shape is reported at open.
  for (const char* sql : {kLatestRow, kRowAt, kInsert, kGetMeta, kSetMeta, kMaxId, kCompact, kList,
                          kListOpen, kCount, kCountOpen, kHistory, kHistoryOpen}) {
    ASSIGN_OR_RETURN(Stmt * unused, db.Prepare(sql));
    (void)unused;
  }
  ASSIGN_OR_RETURN(int64_t compacted, ReadMeta(db, "compact_revision"));
  int64_t max_id = 0;
  {
    ASSIGN_OR_RETURN(Stmt * s, db.Prepare(kMaxId));
    Using u{s};
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (row) max_id = s->Int(0);
  }
  // Compaction never removes the newest row above the compacted revision, so the
  // counter continues from whichever is larger.
  rev_ = std::max(max_id, compacted);
  compacted_ = compacted;
  hub_ = WatchHub::Create(rev_);
  writer_ = std::thread([this] {
    util::NameThisThread("store-commit");
    WriterLoop();
  });
  writer_id_ = writer_.get_id();
  return Status::Ok();
}

Result<std::unique_ptr<SqliteBackend::Reader>> SqliteBackend::AcquireReader() {
  {
    std::lock_guard lock(pool_mu_);
    if (!pool_.empty()) {
      auto db = std::move(pool_.back());
      pool_.pop_back();
      return std::make_unique<Reader>(this, std::move(db));
    }
  }
  ASSIGN_OR_RETURN(auto db, Db::Open(path_, /*create=*/false));
  return std::make_unique<Reader>(this, std::move(db));
}

Status SqliteBackend::BeginRead(Db& db, int64_t revision, int64_t* at) {
  // rev_ is read before the snapshot starts, so every row up to it is in the snapshot.
  int64_t current = rev_.load();
  ASSIGN_OR_RETURN(int64_t compacted, ReadMeta(db, "compact_revision"));
  RETURN_IF_ERROR(CheckReadRevision(revision, compacted, current));
  *at = revision == 0 ? current : revision;
  return Status::Ok();
}

Result<KeyValue> SqliteBackend::Get(std::string_view key, int64_t revision) {
  ASSIGN_OR_RETURN(auto reader, AcquireReader());
  Db& db = **reader;
  ReadTxn txn(db);
  RETURN_IF_ERROR(txn.status());
  int64_t at = 0;
  RETURN_IF_ERROR(BeginRead(db, revision, &at));
  ASSIGN_OR_RETURN(Stmt * s, db.Prepare(kRowAt));
  Using u{s};
  s->BindBlob(1, key).Bind(2, at);
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row || s->Int(2) != 0) return KeyNotFound(key);
  return KeyValue{std::string(key), s->Blob(3), s->Int(1), s->Int(0)};
}

Result<ListResult> SqliteBackend::List(std::string_view prefix, std::string_view start_after,
                                       int64_t limit, int64_t revision) {
  if (limit < 0) return BadRequest("negative limit");
  ASSIGN_OR_RETURN(auto reader, AcquireReader());
  Db& db = **reader;
  ReadTxn txn(db);
  RETURN_IF_ERROR(txn.status());
  ListResult out;
  RETURN_IF_ERROR(BeginRead(db, revision, &out.revision));
  std::string end;
  bool bounded = PrefixEnd(prefix, &end);
  // "Strictly after start_after" is "at or after start_after + NUL".
  std::string low(prefix);
  if (!start_after.empty() && start_after >= prefix) {
    low = std::string(start_after);
    low.push_back('\0');
  }
  {
    ASSIGN_OR_RETURN(Stmt * s, db.Prepare(bounded ? kList : kListOpen));
    Using u{s};
    s->BindBlob(1, low).Bind(3, out.revision).Bind(4, limit > 0 ? limit : -1);
    if (bounded) s->BindBlob(2, end);
    for (;;) {
      ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      out.items.push_back(KeyValue{s->Blob(1), s->Blob(3), s->Int(2), s->Int(0)});
    }
  }
  if (limit > 0 && static_cast<int64_t>(out.items.size()) == limit) {
    ASSIGN_OR_RETURN(Stmt * s, db.Prepare(bounded ? kCount : kCountOpen));
    Using u{s};
    std::string after_last = out.items.back().key;
    after_last.push_back('\0');
    s->BindBlob(1, after_last).Bind(3, out.revision);
    if (bounded) s->BindBlob(2, end);
    ASSIGN_OR_RETURN(bool row, s->Step());
    out.remaining = row ? s->Int(0) : 0;
    out.more = out.remaining > 0;
  }
  return out;
}

Result<int64_t> SqliteBackend::Count(std::string_view prefix) {
  ASSIGN_OR_RETURN(auto reader, AcquireReader());
  Db& db = **reader;
  ReadTxn txn(db);
  RETURN_IF_ERROR(txn.status());
  int64_t at = 0;
  RETURN_IF_ERROR(BeginRead(db, 0, &at));
  std::string end;
  bool bounded = PrefixEnd(prefix, &end);
  ASSIGN_OR_RETURN(Stmt * s, db.Prepare(bounded ? kCount : kCountOpen));
  Using u{s};
  s->BindBlob(1, prefix).Bind(3, at);
  if (bounded) s->BindBlob(2, end);
  ASSIGN_OR_RETURN(bool row, s->Step());
  return row ? s->Int(0) : 0;
}

Result<std::unique_ptr<WatchHandle>> SqliteBackend::Watch(std::string prefix,
                                                          int64_t after_revision,
                                                          WatchCallbacks callbacks) {
  if (after_revision < 0) return BadRequest("negative revision");
  if (after_revision != 0 && after_revision < compacted_.load()) {
    return Compacted(after_revision, compacted_.load());
  }
  int64_t published = 0;
  auto w = hub_->Register(prefix, after_revision, std::move(callbacks), &published);
  std::vector<Event> replay;
  if (after_revision != 0 && after_revision < published) {
    auto read_history = [&]() -> Status {
      ASSIGN_OR_RETURN(auto reader, AcquireReader());
      Db& db = **reader;
      ReadTxn txn(db);
      RETURN_IF_ERROR(txn.status());
      // Check compaction inside the snapshot: a compaction committed after the
      // check above would otherwise remove rows this replay must see.
      ASSIGN_OR_RETURN(int64_t compacted, ReadMeta(db, "compact_revision"));
      if (after_revision < compacted) return Compacted(after_revision, compacted);
      std::string end;
      bool bounded = PrefixEnd(prefix, &end);
      ASSIGN_OR_RETURN(Stmt * s, db.Prepare(bounded ? kHistory : kHistoryOpen));
      Using u{s};
      s->Bind(1, after_revision).Bind(2, published).BindBlob(3, prefix);
      if (bounded) s->BindBlob(4, end);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        Event ev;
        ev.type = s->Int(2) ? Event::Type::kDelete : Event::Type::kPut;
        ev.kv = KeyValue{s->Blob(1), s->Blob(4), s->Int(3), s->Int(0)};
        if (int64_t prev = s->Int(5); prev != 0) {
          ev.prev_kv = KeyValue{ev.kv.key, s->Blob(6), s->Int(7), prev};
        }
        replay.push_back(std::move(ev));
      }
      return Status::Ok();
    };
    Status st = read_history();
    if (!st.ok()) {
      hub_->Abandon(w);
      return st;
    }
  }
  hub_->Activate(w, std::move(replay));
  return hub_->MakeHandle(std::move(w));
}

Status SqliteBackend::Compact(int64_t revision) {
  int64_t current = rev_.load();
  if (revision > current) return FutureRevision(revision, current);
  if (revision <= compacted_.load()) return Status::Ok();
  if (std::this_thread::get_id() == writer_id_) return RunCompaction(revision);
  std::promise<Status> promise;
  auto future = promise.get_future();
  Enqueue(Op{Op::Kind::kCompact, {}, {}, revision, [&promise](Result<int64_t> r) {
               promise.set_value(r.status());
             }});
  return future.get();
}

void SqliteBackend::Enqueue(Op op) {
  {
    std::lock_guard lock(queue_mu_);
    if (!stopping_) {
      queue_.push_back(std::move(op));
      queue_cv_.notify_one();
      return;
    }
  }
  op.done(Unavailable("store closed"));
}

void SqliteBackend::WriterLoop() {
  MarkStoreThread();
  std::vector<Op> batch;
  for (;;) {
    {
      auto wait_start = std::chrono::steady_clock::now();
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      stats_.waiting += std::chrono::steady_clock::now() - wait_start;
      if (queue_.empty()) return;  // stopping, and everything queued is done
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    // Writes are committed in groups; a compaction runs alone, in queue order.
    std::vector<Op> group;
    for (Op& op : batch) {
      if (op.kind != Op::Kind::kCompact) {
        group.push_back(std::move(op));
        continue;
      }
      CommitGroup(group);
      group.clear();
      Status st = RunCompaction(op.revision);
      op.done(st.ok() ? Result<int64_t>(op.revision) : Result<int64_t>(st));
    }
    CommitGroup(group);
    batch.clear();
  }
}

Result<int64_t> SqliteBackend::ApplyWrite(Op& op, int64_t rev, std::vector<Event>* events) {
  Db& db = *writer_db_;
  int64_t cur_rev = 0, create_rev = 0;
  bool live = false;
  std::string cur_value;
  {
    ASSIGN_OR_RETURN(Stmt * s, db.Prepare(kLatestRow));
    Using u{s};
    s->BindBlob(1, op.key);
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (row && s->Int(2) == 0) {
      live = true;
      cur_rev = s->Int(0);
      create_rev = s->Int(1);
      if (op.kind != Op::Kind::kCreate) cur_value = s->Blob(3);
    }
  }
  Event ev;
  if (op.kind == Op::Kind::kCreate) {
    if (live) return KeyExists(op.key);
    ev.kv = KeyValue{op.key, std::move(op.value), rev, rev};
  } else {
    if (!live) return KeyNotFound(op.key);
    if (op.revision != 0 && op.revision != cur_rev) {
      return RevisionConflict(op.key, cur_rev, op.revision);
    }
    ev.prev_kv = KeyValue{op.key, std::move(cur_value), create_rev, cur_rev};
    if (op.kind == Op::Kind::kUpdate) {
      ev.kv = KeyValue{op.key, std::move(op.value), create_rev, rev};
    } else {
      ev.type = Event::Type::kDelete;
      ev.kv = KeyValue{op.key, ev.prev_kv.value, create_rev, rev};
    }
  }
  ASSIGN_OR_RETURN(Stmt * s, db.Prepare(kInsert));
  Using u{s};
  s->Bind(1, rev).BindBlob(2, ev.kv.key).Bind(3, ev.type == Event::Type::kDelete ? 1 : 0);
  s->Bind(4, ev.kv.create_revision).Bind(5, ev.prev_kv.mod_revision).BindBlob(6, ev.kv.value);
  Status st = s->Run();
  if (!st.ok()) return Status(st.code(), st.message()).WithContext("insert");
  events->push_back(std::move(ev));
  return rev;
}

void SqliteBackend::CommitGroup(std::vector<Op>& group) {
  if (group.empty()) return;
  Db& db = *writer_db_;
  std::vector<Result<int64_t>> results;
  results.reserve(group.size());
  std::vector<Event> events;
  int64_t rev = rev_.load();
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto t1 = t0;
  Status failure = db.ExecCached(kBeginWrite);
  if (failure.ok()) {
    for (Op& op : group) {
      Result<int64_t> r = ApplyWrite(op, rev + 1, &events);
      if (r.ok()) {
        rev = *r;
      } else if (r.status().code() == Code::kInternal || r.status().code() == Code::kUnavailable) {
        failure = r.status();  // the database failed, not the request
        break;
      }
      results.push_back(std::move(r));
    }
    t1 = Clock::now();
    if (failure.ok()) failure = db.ExecCached(kCommitWrite);
    if (!failure.ok()) (void)db.ExecCached(kRollbackWrite);
  }
  const auto t2 = Clock::now();
  ++stats_.groups;
  stats_.writes += static_cast<int64_t>(group.size());
  stats_.statements += t1 - t0;
  stats_.commit += t2 - t1;
  if (!failure.ok()) {
    LOG(ERROR) << "store " << path_ << ": group commit of " << group.size()
               << " writes failed: " << failure.ToString();
    Status st = failure.WithContext("store commit failed");
    for (Op& op : group) op.done(st);
    return;
  }
  rev_.store(rev);
  hub_->Publish(std::move(events));
  const auto t3 = Clock::now();
  for (size_t i = 0; i < group.size(); ++i) group[i].done(std::move(results[i]));
  stats_.publish += t3 - t2;
  stats_.callbacks += Clock::now() - t3;
}

void SqliteBackend::LogWriterStats() const {
  if (stats_.groups == 0) return;
  auto ms = [](std::chrono::steady_clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  LOG(INFO) << "store " << path_ << ": " << stats_.writes << " writes in " << stats_.groups
            << " group commits (" << stats_.writes / stats_.groups << " per group); writer ms: "
            << "waiting " << ms(stats_.waiting) << ", statements " << ms(stats_.statements)
            << ", commit " << ms(stats_.commit) << ", publish " << ms(stats_.publish)
            << ", callbacks " << ms(stats_.callbacks);
}

Status SqliteBackend::RunCompaction(int64_t revision) {
  if (revision <= compacted_.load()) return Status::Ok();
  Db& db = *writer_db_;
  RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  auto run = [&]() -> Status {
    {
      ASSIGN_OR_RETURN(Stmt * s, db.Prepare(kCompact));
      Using u{s};
      RETURN_IF_ERROR(s->Bind(1, revision).Run());
    }
    ASSIGN_OR_RETURN(Stmt * s, db.Prepare(kSetMeta));
    Using u{s};
    return s->BindText(1, "compact_revision").Bind(2, revision).Run();
  };
  Status st = run();
  if (st.ok()) st = db.Exec("COMMIT");
  if (!st.ok()) {
    (void)db.Exec("ROLLBACK");
    return st.WithContext("compaction");
  }
  compacted_.store(revision);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Backend>> OpenSqliteBackend(const std::string& path) {
  auto backend = std::make_unique<SqliteBackend>(path);
  Status st = backend->Init();
  if (!st.ok()) return st.WithContext("opening sqlite store " + path);
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace sampan::store
