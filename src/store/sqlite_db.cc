#include "store/sqlite_db.h"

namespace sampan::store::sqlite {

Stmt& Stmt::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Stmt& Stmt::BindBlob(int index, std::string_view value) {
  // A zero-length blob must still bind as a blob, not NULL: pass a non-null pointer.
  static const char kEmpty = 0;
  sqlite3_bind_blob64(stmt_, index, value.empty() ? &kEmpty : value.data(), value.size(),
                      SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindText(int index, std::string_view value) {
  sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status st = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
                  ? Unavailable(std::string("sqlite: ") + sqlite3_errmsg(db_))
                  : Internal(std::string("sqlite: ") + sqlite3_errmsg(db_));
  sqlite3_reset(stmt_);
  return st;
}

Status Stmt::Run() {
  for (;;) {
    ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Stmt::Blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), n) : std::string();
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, bool create) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    return Internal("cannot open " + path + ": " + msg);
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 10000);
  return std::unique_ptr<Db>(new Db(raw));
}

Db::~Db() {
  cache_.clear();
  sqlite3_close(db_);
}

Status Db::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Unavailable("sqlite: " + msg);
  return Internal("sqlite: " + msg);
}

Status Db::ExecCached(const char* sql) {
  ASSIGN_OR_RETURN(Stmt * s, Prepare(sql));
  Status st = s->Run();
  s->Reset();
  return st;
}

Result<Stmt*> Db::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second.get();
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error("prepare");
  auto owned = std::make_unique<Stmt>(db_, stmt);
  Stmt* p = owned.get();
  cache_.emplace(sql, std::move(owned));
  return p;
}

Status Db::Error(std::string_view what) const {
  int rc = sqlite3_errcode(db_);
  std::string msg = std::string(what) + ": " + sqlite3_errmsg(db_);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return Unavailable(msg);
  return Internal(msg);
}

namespace {
constexpr const char* kBegin = "BEGIN";
constexpr const char* kCommit = "COMMIT";
}  // namespace

ReadTxn::ReadTxn(Db& db) : db_(db) {
  auto stmt = db_.Prepare(kBegin);
  status_ = stmt.ok() ? (*stmt)->Run() : stmt.status();
  if (stmt.ok()) (*stmt)->Reset();
}

ReadTxn::~ReadTxn() {
  if (!status_.ok()) return;
  auto stmt = db_.Prepare(kCommit);
  if (stmt.ok()) {
    (void)(*stmt)->Run();
    (*stmt)->Reset();
  } else {
    (void)db_.Exec("ROLLBACK");
  }
}

}  // namespace sampan::store::sqlite
