#include "store/backend.h"

#include <future>
#include <string>

#include "store/backend_internal.h"
#include "store/watch_hub.h"

namespace sampan::store {

Status KeyNotFound(std::string_view key) {
  return NotFound("key \"" + std::string(key) + "\" not found");
}
Status KeyExists(std::string_view key) {
  return AlreadyExists("key \"" + std::string(key) + "\" already exists");
}
Status RevisionConflict(std::string_view key, int64_t actual, int64_t expected) {
  return Conflict("key \"" + std::string(key) + "\" is at revision " + std::to_string(actual) +
                  ", expected " + std::to_string(expected));
}
Status Compacted(int64_t revision, int64_t compacted) {
  return Gone("revision " + std::to_string(revision) +
              " has been compacted (oldest available: " + std::to_string(compacted) + ")");
}
Status FutureRevision(int64_t revision, int64_t current) {
  return BadRequest("revision " + std::to_string(revision) +
                    " is newer than the current revision " + std::to_string(current));
}

Status CheckReadRevision(int64_t revision, int64_t compacted, int64_t current) {
  if (revision == 0) return Status::Ok();
  if (revision < 0) return BadRequest("negative revision " + std::to_string(revision));
  if (revision < compacted) return Compacted(revision, compacted);
  if (revision > current) return FutureRevision(revision, current);
  return Status::Ok();
}

namespace {

Result<int64_t> Wait(const std::function<void(WriteCallback)>& start) {
  if (OnStoreThread()) {
    return Internal("a blocking store write was called from a store callback thread");
  }
  std::promise<Result<int64_t>> promise;
  auto future = promise.get_future();
  start([&promise](Result<int64_t> r) { promise.set_value(std::move(r)); });
  return future.get();
}

}  // namespace

Result<int64_t> Backend::SyncCreate(std::string key, std::string value) {
  return Wait([&](WriteCallback cb) { Create(std::move(key), std::move(value), std::move(cb)); });
}

Result<int64_t> Backend::SyncUpdate(std::string key, std::string value, int64_t expected_revision) {
  return Wait([&](WriteCallback cb) {
    Update(std::move(key), std::move(value), expected_revision, std::move(cb));
  });
}

Result<int64_t> Backend::SyncDelete(std::string key, int64_t expected_revision) {
  return Wait([&](WriteCallback cb) { Delete(std::move(key), expected_revision, std::move(cb)); });
}

Result<std::unique_ptr<Backend>> OpenBackend(std::string_view url) {
  constexpr std::string_view kSqlite = "sqlite://";
  constexpr std::string_view kMemory = "memory://";
  if (url.starts_with(kMemory)) {
    if (url.size() != kMemory.size()) {
      return BadRequest("memory:// takes no path, got \"" + std::string(url) + "\"");
    }
    return OpenMemoryBackend();
  }
  if (url.starts_with(kSqlite)) {
    std::string path(url.substr(kSqlite.size()));
    if (path.empty()) return BadRequest("sqlite:// needs a file path, e.g. sqlite:///var/lib/x.db");
    return OpenSqliteBackend(path);
  }
  return BadRequest("unknown store URL \"" + std::string(url) +
                    "\" (expected sqlite://PATH or memory://)");
}

}  // namespace sampan::store
