// sqlite:// — the embedded default store: one SQLite file in WAL mode holding a
// log-structured table whose row id is the revision (see docs/store.md). One writer
// thread runs queued writes in an open transaction and commits it into the WAL when the
// sync thread is free; the sync thread makes it durable (fdatasync of the WAL) while the
// writer already runs the next writes, and only then publishes the group and answers
// its writers. Reads use a pool of separate connections, never wait for the writer, and
// never see a revision that is not yet durable.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
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

// The writes of one group commit: in the WAL, not yet known to be on disk.
struct Committed {
  int64_t revision = 0;  // the group's newest revision
  std::vector<Event> events;
  std::vector<WriteCallback> done;
  std::vector<Result<int64_t>> results;
};

Status FdatasyncFile(int fd) {
  if (fdatasync(fd) == 0) return Status::Ok();
  return ErrnoStatus("fdatasync", errno);
}

class SqliteBackend final : public Backend {
 public:
  SqliteBackend(std::string path, SqliteOptions options)
      : path_(std::move(path)),
        wal_path_(path_ + "-wal"),
        sync_(options.sync ? std::move(options.sync) : FdatasyncFile),
        before_publish_(std::move(options.before_publish)) {}

  ~SqliteBackend() override {
    if (writer_.joinable()) {
      {
        std::lock_guard lock(queue_mu_);
        stopping_ = true;
      }
      queue_cv_.notify_all();
      sync_cv_.notify_all();
      writer_.join();
      // The writer has handed over its last group; the syncer finishes them all.
      {
        std::lock_guard lock(queue_mu_);
        writer_done_ = true;
      }
      sync_cv_.notify_all();
      syncer_.join();
      LogWriterStats();
    }
    if (wal_fd_ >= 0) close(wal_fd_);
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
  // Runs `ops` in the open transaction (beginning one if none is open).
  void ApplyGroup(std::vector<Op>& ops);
  // Commits the open transaction into the WAL and hands it to the syncer (or, `sync_here`,
  // makes it durable and answers it on this thread).
  void CommitOpen(bool sync_here);
  // Fails every write of the open transaction (rolled back) with `st`.
  void FailOpen(const Status& st);
  Result<int64_t> ApplyWrite(Op& op, int64_t rev, std::vector<Event>* events);
  Status RunCompaction(int64_t revision);

  // The sync thread: makes handed-over groups durable, then publishes and answers them.
  void SyncLoop();
  void Deliver(std::deque<Committed>& ready, bool on_syncer);
  Status SyncWal();
  // After a failed sync nothing more is written: what the WAL holds beyond the last durable
  // revision is of unknown fate, so every later write fails with this status (a restart
  // recovers what the disk has).
  Status Failure();
  void Fail(const Status& st);

  const std::string path_;
  const std::string wal_path_;
  const std::function<Status(int fd)> sync_;
  const std::function<void()> before_publish_;  // tests only (SqliteOptions)
  std::unique_ptr<Db> writer_db_;      // used by the writer thread only (and Init)
  int64_t written_ = 0;                // writer: newest revision committed to the WAL
  bool txn_open_ = false;              // writer: a write transaction is open
  Committed open_;                     // writer: what the open transaction holds
  std::atomic<int64_t> rev_{0};        // newest durable and published revision
  std::atomic<int64_t> compacted_{0};  // newest committed compaction
  std::shared_ptr<WatchHub> hub_;

  // Under queue_mu_: groups handed to the syncer, and whether it is busy with one (from
  // hand-over until its sync returned and nothing else waits). The writer commits its open
  // transaction only when the syncer is free, so every sync takes one whole group and the
  // group grows for as long as the previous sync runs.
  std::condition_variable sync_cv_;
  std::deque<Committed> committed_;
  bool sync_busy_ = false;
  bool writer_waiting_ = false;  // the writer has a transaction to commit once sync_busy_ clears
  // A synced group is being published and answered. The syncer clears sync_busy_ before it
  // publishes (so that the writer may commit the next group meanwhile), but that next group
  // must then go through the syncer too, after this one: a writer that published it itself
  // could publish it first, and watchers (the API server's cache) would see revisions out of
  // order and drop the older ones.
  bool publishing_ = false;
  bool writer_done_ = false;
  std::thread syncer_;
  int wal_fd_ = -1;  // the WAL file, opened at the first sync (by whoever holds sync_busy_)

  std::atomic<bool> failed_{false};
  std::mutex failure_mu_;
  Status failure_;  // set once, when failed_ turns true

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Db>> pool_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // the writer waits here
  std::deque<Op> queue_;
  bool stopping_ = false;
  std::thread writer_;
  std::thread::id writer_id_;
  int lock_fd_ = -1;  // PATH.lock, flock'd while open

  // Where the writer's and the syncer's time goes, logged when the store closes: the figures
  // that tell a slow disk (sync) from a busy writer (statements, commit) or an idle one.
  struct WriterStats {
    int64_t groups = 0, writes = 0;
    std::chrono::steady_clock::duration waiting{}, statements{}, commit{};
  };
  struct SyncStats {
    int64_t syncs = 0;
    std::chrono::steady_clock::duration waiting{}, sync{}, publish{}, callbacks{};
  };
  WriterStats stats_;     // writer thread only
  SyncStats sync_stats_;  // sync thread only
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
  // Commits write the WAL without syncing it; the sync thread fdatasyncs it before any
  // write is acknowledged, published or readable. NORMAL still syncs around checkpoints
  // (the WAL before its pages are copied, the database file before the WAL is reused).
  RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=NORMAL"));
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
  written_ = rev_;
  compacted_ = compacted;
  hub_ = WatchHub::Create(rev_);
  syncer_ = std::thread([this] {
    util::NameThisThread("store-sync");
    SyncLoop();
  });
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
      queue_cv_.wait(lock, [&] {
        return !queue_.empty() || (txn_open_ && !sync_busy_) || (stopping_ && !txn_open_);
      });
      stats_.waiting += std::chrono::steady_clock::now() - wait_start;
      if (queue_.empty() && !txn_open_) return;  // stopping, and everything queued is done
      while (!queue_.empty() && batch.size() < kSqliteMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    // Writes join the open transaction; a compaction runs alone, in queue order, after
    // what came before it is committed.
    std::vector<Op> group;
    for (Op& op : batch) {
      if (op.kind != Op::Kind::kCompact) {
        group.push_back(std::move(op));
        continue;
      }
      ApplyGroup(group);
      group.clear();
      if (txn_open_) CommitOpen(/*sync_here=*/false);
      Status st = RunCompaction(op.revision);
      op.done(st.ok() ? Result<int64_t>(op.revision) : Result<int64_t>(st));
    }
    ApplyGroup(group);
    batch.clear();
    if (!txn_open_) continue;
    // Commit when the syncer is free. With nothing else queued there is nothing to overlap the
    // sync with: this thread syncs and answers the group itself, saving the hand-over.
    bool commit = false, here = false;
    {
      std::lock_guard lock(queue_mu_);
      if (!sync_busy_) {
        commit = true;
        sync_busy_ = true;
        here = queue_.empty() && !publishing_;
      } else {
        writer_waiting_ = true;
      }
    }
    if (commit) CommitOpen(here);
  }
}

void SqliteBackend::ApplyGroup(std::vector<Op>& ops) {
  if (ops.empty()) return;
  if (failed_.load()) {
    Status st = Failure();
    for (Op& op : ops) op.done(st);
    return;
  }
  Db& db = *writer_db_;
  const auto t0 = std::chrono::steady_clock::now();
  if (!txn_open_) {
    Status st = db.ExecCached(kBeginWrite);
    if (!st.ok()) {
      LOG(ERROR) << "store " << path_ << ": cannot begin a write: " << st.ToString();
      st = st.WithContext("store commit failed");
      for (Op& op : ops) op.done(st);
      return;
    }
    txn_open_ = true;
    open_.revision = written_;
  }
  for (Op& op : ops) {
    Result<int64_t> r = ApplyWrite(op, open_.revision + 1, &open_.events);
    if (r.ok()) {
      open_.revision = *r;
    } else if (r.status().code() == Code::kInternal || r.status().code() == Code::kUnavailable) {
      // The database failed, not the request: nothing of the open transaction stays.
      Status st = r.status();
      open_.done.push_back(std::move(op.done));
      for (Op* rest = &op + 1; rest != ops.data() + ops.size(); ++rest) {
        open_.done.push_back(std::move(rest->done));
      }
      FailOpen(st);
      return;
    }
    open_.results.push_back(std::move(r));
    open_.done.push_back(std::move(op.done));
  }
  stats_.writes += static_cast<int64_t>(ops.size());
  stats_.statements += std::chrono::steady_clock::now() - t0;
}

void SqliteBackend::CommitOpen(bool sync_here) {
  const auto t0 = std::chrono::steady_clock::now();
  Status st = writer_db_->ExecCached(kCommitWrite);
  stats_.commit += std::chrono::steady_clock::now() - t0;
  if (!st.ok()) {
    if (sync_here) {
      std::lock_guard lock(queue_mu_);
      sync_busy_ = false;
    }
    FailOpen(st);
    return;
  }
  ++stats_.groups;
  txn_open_ = false;
  written_ = open_.revision;
  if (sync_here) {
    std::deque<Committed> ready;
    ready.push_back(std::move(open_));
    open_ = Committed{};
    Deliver(ready, /*on_syncer=*/false);
    return;
  }
  {
    std::lock_guard lock(queue_mu_);
    sync_busy_ = true;
    committed_.push_back(std::move(open_));
  }
  open_ = Committed{};
  sync_cv_.notify_one();
}

void SqliteBackend::FailOpen(const Status& failure) {
  (void)writer_db_->ExecCached(kRollbackWrite);
  txn_open_ = false;
  LOG(ERROR) << "store " << path_ << ": group commit of " << open_.done.size()
             << " writes failed: " << failure.ToString();
  Status st = failure.WithContext("store commit failed");
  Committed failed = std::move(open_);
  open_ = Committed{};
  for (WriteCallback& done : failed.done) done(st);
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

void SqliteBackend::SyncLoop() {
  MarkStoreThread();
  using Clock = std::chrono::steady_clock;
  std::deque<Committed> ready;
  for (;;) {
    {
      auto wait_start = Clock::now();
      std::unique_lock lock(queue_mu_);
      sync_cv_.wait(lock, [&] { return writer_done_ || !committed_.empty(); });
      sync_stats_.waiting += Clock::now() - wait_start;
      if (committed_.empty()) return;  // the writer is gone, and every group is answered
      ready.swap(committed_);
    }
    Deliver(ready, /*on_syncer=*/true);
  }
}

// Makes `ready` (groups committed in this order) durable, then publishes and answers them.
// Runs on the sync thread, or on the writer when it committed with nothing else queued;
// never on both at once: whoever set sync_busy_ holds the WAL file and the sync statistics.
void SqliteBackend::Deliver(std::deque<Committed>& ready, bool on_syncer) {
  using Clock = std::chrono::steady_clock;
  // One sync covers every group committed before it started.
  const auto t0 = Clock::now();
  Status st = failed_.load() ? Failure() : SyncWal();
  const auto t1 = Clock::now();
  ++sync_stats_.syncs;
  sync_stats_.sync += t1 - t0;
  // Free for the next group as soon as the disk is: the writer commits it while this
  // thread publishes and answers the synced one.
  bool wake_writer = false;
  {
    std::lock_guard lock(queue_mu_);
    sync_busy_ = !committed_.empty();
    publishing_ = true;
    wake_writer = writer_waiting_ && !sync_busy_;
    if (wake_writer) writer_waiting_ = false;
  }
  if (wake_writer) queue_cv_.notify_one();
  if (on_syncer && before_publish_) before_publish_();
  auto published = [&] {
    std::lock_guard lock(queue_mu_);
    publishing_ = false;
  };
  if (!st.ok()) {
    Fail(st);
    Status failed = Failure();
    for (Committed& c : ready) {
      for (WriteCallback& done : c.done) done(failed);
    }
    ready.clear();
    published();
    return;
  }
  std::vector<Event> events;
  for (Committed& c : ready) {
    if (events.empty()) {
      events = std::move(c.events);
    } else {
      events.insert(events.end(), std::make_move_iterator(c.events.begin()),
                    std::make_move_iterator(c.events.end()));
    }
  }
  rev_.store(ready.back().revision);
  hub_->Publish(std::move(events));
  published();
  const auto t2 = Clock::now();
  for (Committed& c : ready) {
    for (size_t i = 0; i < c.done.size(); ++i) c.done[i](std::move(c.results[i]));
  }
  ready.clear();
  sync_stats_.publish += t2 - t1;
  sync_stats_.callbacks += Clock::now() - t2;
}

Status SqliteBackend::SyncWal() {
  // SQLite keeps the WAL file (truncating or reusing it, never deleting it) while any
  // connection is open, and the writer's is open for the backend's whole life, so the file
  // opened at the first sync stays the WAL. No per-sync check: a stat of the file costs as
  // much as a third of the sync itself here (measured with store_bench, one writer).
  if (wal_fd_ < 0) {
    wal_fd_ = open(wal_path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (wal_fd_ < 0) return ErrnoStatus("open " + wal_path_, errno);
  }
  Status st = sync_(wal_fd_);
  return st.ok() ? st : st.WithContext(wal_path_);
}

Status SqliteBackend::Failure() {
  std::lock_guard lock(failure_mu_);
  return failure_;
}

void SqliteBackend::Fail(const Status& st) {
  std::lock_guard lock(failure_mu_);
  if (failed_.load()) return;
  failure_ = Unavailable("store " + path_ + " failed to make writes durable (" + st.ToString() +
                         "); writes are refused until sampan restarts");
  failed_.store(true);
  LOG(ERROR) << failure_.ToString();
}

void SqliteBackend::LogWriterStats() const {
  if (stats_.groups == 0) return;
  auto ms = [](std::chrono::steady_clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  LOG(INFO) << "store " << path_ << ": " << stats_.writes << " writes in " << stats_.groups
            << " group commits (" << stats_.writes / stats_.groups << " per group) and "
            << sync_stats_.syncs << " syncs; writer ms: waiting " << ms(stats_.waiting)
            << ", statements " << ms(stats_.statements) << ", commit " << ms(stats_.commit)
            << "; syncer ms: waiting " << ms(sync_stats_.waiting) << ", sync "
            << ms(sync_stats_.sync) << ", publish " << ms(sync_stats_.publish) << ", callbacks "
            << ms(sync_stats_.callbacks);
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

Result<std::unique_ptr<Backend>> OpenSqliteBackend(const std::string& path, SqliteOptions options) {
  auto backend = std::make_unique<SqliteBackend>(path, std::move(options));
  Status st = backend->Init();
  if (!st.ok()) return st.WithContext("opening sqlite store " + path);
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace sampan::store
