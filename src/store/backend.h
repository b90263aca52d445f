// The revisioned key-value store behind the API server, modelled on etcd v3 / kine.
//
// Every successful write (create, update, delete) gets the next revision, a
// cluster-wide int64 counter that starts at 1 and never goes backwards, even
// across restarts. A key's `mod_revision` is the revision of the write that
// produced its current value; `create_revision` that of the create. The API
// server uses mod_revision as the object's resourceVersion.
//
// Backends: "sqlite://PATH" (embedded default, WAL, durable group commit) and
// "memory://" (tests). Both pass the shared conformance suite
// (store/backend_conformance_test.cc). Open one with OpenBackend(url).
//
// Thread safety: every method may be called from any thread concurrently.
// Write methods complete asynchronously: `done` is called exactly once, on a
// store-owned thread, after the write is durable (fsync'd for sqlite), so that
// concurrent writers share one commit. Callbacks must not block for long.
// Sync* wrappers block the calling thread; use them in tests and tools.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace sampan::store {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
};

struct ListResult {
  std::vector<KeyValue> items;  // sorted by key
  int64_t revision = 0;         // the store revision the list was read at
  bool more = false;            // true if `limit` cut the list short
  int64_t remaining = 0;        // how many keys after the last item (when more)
};

struct Event {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;       // for kDelete: key, value = the value deleted, mod_revision = the delete's revision
  KeyValue prev_kv;  // previous value for puts that updated (empty key for creates)
  bool is_create() const { return type == Type::kPut && kv.create_revision == kv.mod_revision; }
};

// Receives batches of events in strictly increasing revision order, from a store-owned
// thread. A batch holds all events of one or more revisions. After an error (e.g. Gone
// because from_revision was compacted) `on_error` is called once and no more events come.
struct WatchCallbacks {
  std::function<void(std::vector<Event>)> on_events;
  std::function<void(Status)> on_error;
};

// Cancels the watch when destroyed (or on Cancel()); after it returns, no callback runs.
class WatchHandle {
 public:
  virtual ~WatchHandle() = default;
  virtual void Cancel() = 0;
};

using WriteCallback = std::function<void(Result<int64_t> revision)>;

class Backend {
 public:
  virtual ~Backend() = default;

  // Creates `key` if absent. Returns (via done) the new revision; AlreadyExists if present.
  virtual void Create(std::string key, std::string value, WriteCallback done) = 0;

  // Replaces the value of `key` if its mod_revision equals `expected_revision`
  // (0 = any). NotFound if absent; Conflict if the revision differs.
  virtual void Update(std::string key, std::string value, int64_t expected_revision,
                      WriteCallback done) = 0;

  // Deletes `key` if its mod_revision equals `expected_revision` (0 = any).
  // NotFound if absent; Conflict if the revision differs. Returns the delete's revision.
  virtual void Delete(std::string key, int64_t expected_revision, WriteCallback done) = 0;

  // Returns the value of `key` as of `revision` (0 = latest).
  // NotFound if absent then; Gone if `revision` is older than the compacted revision;
  // BadRequest if it is newer than CurrentRevision().
  virtual Result<KeyValue> Get(std::string_view key, int64_t revision = 0) = 0;

  // Lists keys with `prefix`, sorted, strictly after `start_after` (empty = from the
  // start), at most `limit` (0 = all), as of `revision` (0 = latest).
  // Gone if `revision` was compacted; BadRequest if newer than CurrentRevision().
  // Paging at a fixed revision gives a consistent view.
  virtual Result<ListResult> List(std::string_view prefix, std::string_view start_after,
                                  int64_t limit, int64_t revision = 0) = 0;

  // Counts live keys under `prefix`.
  virtual Result<int64_t> Count(std::string_view prefix) = 0;

  // Watches keys with `prefix` for writes with revision > `after_revision`
  // (0 = only future writes). History still held is replayed first, then live events.
  // Gone (via on_error, or returned directly) if `after_revision` < compacted revision.
  virtual Result<std::unique_ptr<WatchHandle>> Watch(std::string prefix, int64_t after_revision,
                                                     WatchCallbacks callbacks) = 0;

  // Discards history (superseded values and deletions) at or below `revision`.
  // Reads and watches older than it then fail with Gone. A revision at or below the
  // compacted one is a no-op; one newer than CurrentRevision() is BadRequest.
  virtual Status Compact(int64_t revision) = 0;

  // The newest revision (0 for an empty, never-written store).
  virtual int64_t CurrentRevision() = 0;
  // The revision of the last compaction (0 if none).
  virtual int64_t CompactedRevision() = 0;

  // Blocking wrappers around the asynchronous writes.
  Result<int64_t> SyncCreate(std::string key, std::string value);
  Result<int64_t> SyncUpdate(std::string key, std::string value, int64_t expected_revision);
  Result<int64_t> SyncDelete(std::string key, int64_t expected_revision);
};

// Opens a backend by URL: "sqlite:///var/lib/sampan/db/state.db", "memory://".
// BadRequest for an unknown scheme; Internal/Unavailable if it cannot be opened
// (Unavailable: the sqlite file is already open in this or another process).
Result<std::unique_ptr<Backend>> OpenBackend(std::string_view url);

}  // namespace sampan::store
