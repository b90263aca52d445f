// A thin RAII layer over the SQLite C API (internal to src/store): connections,
// cached prepared statements, and errors as Status.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "util/status.h"

namespace sampan::store::sqlite {

// A prepared statement. Reset() after use so it can be run again.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int index, int64_t value);
  Stmt& BindBlob(int index, std::string_view value);
  Stmt& BindText(int index, std::string_view value);
  // Steps once: true if a row is available, false when done.
  Result<bool> Step();
  // Steps to completion, expecting no rows.
  Status Run();
  void Reset();

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string Blob(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// A connection used by one thread at a time.
class Db {
 public:
  // Opens `path` (creating it if `create`), with a busy timeout.
  static Result<std::unique_ptr<Db>> Open(const std::string& path, bool create);
  ~Db();

  Status Exec(const char* sql);
  // Runs one statement without results (BEGIN, COMMIT, ...) through the statement cache:
  // no parse per call, unlike Exec. `sql` must be a string literal (cached by its address).
  Status ExecCached(const char* sql);
  // A statement prepared once per connection and cached by its SQL text (reset on return).
  Result<Stmt*> Prepare(const char* sql);

  sqlite3* raw() { return db_; }
  // "what: <sqlite message>" as Internal, Unavailable for busy/locked.
  Status Error(std::string_view what) const;

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::map<const char*, std::unique_ptr<Stmt>> cache_;
};

// A read transaction: BEGIN on construction, COMMIT on destruction, so a set of
// reads sees one WAL snapshot.
class ReadTxn {
 public:
  explicit ReadTxn(Db& db);
  ~ReadTxn();
  const Status& status() const { return status_; }

 private:
  Db& db_;
  Status status_;
};

}  // namespace sampan::store::sqlite
