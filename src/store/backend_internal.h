// Pieces shared by the backends (internal to src/store): factories and the error
// messages every backend returns, so both speak alike in the conformance suite.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "store/backend.h"

namespace sampan::store {

Result<std::unique_ptr<Backend>> OpenMemoryBackend();
// The most writes the SQLite writer takes from its queue into one group.
inline constexpr size_t kSqliteMaxBatch = 4096;

struct SqliteOptions {
  // Makes the WAL file's written data durable (default: fdatasync). Tests replace it to hold
  // or fail the sync and see that nothing is acknowledged before it returns.
  std::function<Status(int fd)> sync;
  // Tests: called on the sync thread after it synced a group it was handed and before it
  // publishes it (the window in which the writer may commit the next group).
  std::function<void()> before_publish;
};
// Opens (creating if needed) the SQLite store at `path`.
Result<std::unique_ptr<Backend>> OpenSqliteBackend(const std::string& path,
                                                   SqliteOptions options = {});

inline bool HasPrefix(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

Status KeyNotFound(std::string_view key);
Status KeyExists(std::string_view key);
Status RevisionConflict(std::string_view key, int64_t actual, int64_t expected);
Status Compacted(int64_t revision, int64_t compacted);
Status FutureRevision(int64_t revision, int64_t current);

// Checks a read/watch revision against the store's window: Gone below `compacted`,
// BadRequest above `current`. `revision` 0 means latest and always passes.
Status CheckReadRevision(int64_t revision, int64_t compacted, int64_t current);

}  // namespace sampan::store
