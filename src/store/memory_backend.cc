// memory:// — the whole revisioned history in maps under one mutex. For tests and
// development: same semantics as the SQLite backend (history, compaction, watch
// replay), no durability.
#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "store/backend.h"
#include "store/backend_internal.h"
#include "store/watch_hub.h"

namespace sampan::store {
namespace {

struct Row {
  std::string key;
  std::string value;  // for a deletion: the value that was deleted
  int64_t create_revision = 0;
  int64_t prev_revision = 0;  // the key's previous row (0 for a create)
  bool deleted = false;
};

class MemoryBackend final : public Backend {
 public:
  MemoryBackend() : hub_(WatchHub::Create(0)) {}
  ~MemoryBackend() override { hub_->Shutdown(Unavailable("store closed")); }

  void Create(std::string key, std::string value, WriteCallback done) override {
    Result<int64_t> result = Internal("unset");
    {
      std::lock_guard lock(mu_);
      const Row* cur = Latest(key);
      if (cur != nullptr && !cur->deleted) {
        result = KeyExists(key);
      } else {
        int64_t rev = rev_ + 1;
        result = Append(rev, Row{std::move(key), std::move(value), rev, 0, false});
      }
    }
    Complete(std::move(done), std::move(result));
  }

  void Update(std::string key, std::string value, int64_t expected_revision,
              WriteCallback done) override {
    Result<int64_t> result = Internal("unset");
    {
      std::lock_guard lock(mu_);
      const Row* cur = Latest(key);
      int64_t cur_rev = cur ? by_key_[key].back() : 0;
      if (cur == nullptr || cur->deleted) {
        result = KeyNotFound(key);
      } else if (expected_revision != 0 && expected_revision != cur_rev) {
        result = RevisionConflict(key, cur_rev, expected_revision);
      } else {
        int64_t create = cur->create_revision;
        result = Append(rev_ + 1, Row{std::move(key), std::move(value), create, cur_rev, false});
      }
    }
    Complete(std::move(done), std::move(result));
  }

  void Delete(std::string key, int64_t expected_revision, WriteCallback done) override {
    Result<int64_t> result = Internal("unset");
    {
      std::lock_guard lock(mu_);
      const Row* cur = Latest(key);
      int64_t cur_rev = cur ? by_key_[key].back() : 0;
      if (cur == nullptr || cur->deleted) {
        result = KeyNotFound(key);
      } else if (expected_revision != 0 && expected_revision != cur_rev) {
        result = RevisionConflict(key, cur_rev, expected_revision);
      } else {
        Row row{std::move(key), cur->value, cur->create_revision, cur_rev, true};
        result = Append(rev_ + 1, std::move(row));
      }
    }
    Complete(std::move(done), std::move(result));
  }

  Result<KeyValue> Get(std::string_view key, int64_t revision) override {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(CheckReadRevision(revision, compacted_, rev_));
    int64_t at = revision == 0 ? rev_ : revision;
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return KeyNotFound(key);
    int64_t row_rev = RowAt(it->second, at);
    if (row_rev == 0) return KeyNotFound(key);
    const Row& row = by_rev_.at(row_rev);
    if (row.deleted) return KeyNotFound(key);
    return KeyValue{row.key, row.value, row.create_revision, row_rev};
  }

  Result<ListResult> List(std::string_view prefix, std::string_view start_after, int64_t limit,
                          int64_t revision) override {
    if (limit < 0) return BadRequest("negative limit");
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(CheckReadRevision(revision, compacted_, rev_));
    ListResult out;
    out.revision = revision == 0 ? rev_ : revision;
    auto it = (!start_after.empty() && start_after >= prefix) ? by_key_.upper_bound(start_after)
                                                              : by_key_.lower_bound(prefix);
    for (; it != by_key_.end() && HasPrefix(it->first, prefix); ++it) {
      int64_t row_rev = RowAt(it->second, out.revision);
      if (row_rev == 0) continue;
      const Row& row = by_rev_.at(row_rev);
      if (row.deleted) continue;
      if (limit > 0 && static_cast<int64_t>(out.items.size()) == limit) {
        out.more = true;
        ++out.remaining;
        continue;
      }
      out.items.push_back(KeyValue{row.key, row.value, row.create_revision, row_rev});
    }
    return out;
  }

  Result<int64_t> Count(std::string_view prefix) override {
    std::lock_guard lock(mu_);
    int64_t n = 0;
    for (auto it = by_key_.lower_bound(prefix); it != by_key_.end() && HasPrefix(it->first, prefix);
         ++it) {
      if (!by_rev_.at(it->second.back()).deleted) ++n;
    }
    return n;
  }

  Result<std::unique_ptr<WatchHandle>> Watch(std::string prefix, int64_t after_revision,
                                             WatchCallbacks callbacks) override {
    if (after_revision < 0) return BadRequest("negative revision");
    std::lock_guard lock(mu_);
    if (after_revision != 0 && after_revision < compacted_) {
      return Compacted(after_revision, compacted_);
    }
    int64_t after = after_revision == 0 ? rev_ : after_revision;
    int64_t published = 0;
    auto w = hub_->Register(prefix, after, std::move(callbacks), &published);
    // Writes publish under mu_, so nothing is in flight: history up to rev_ is all here.
    std::vector<Event> replay;
    for (auto it = by_rev_.upper_bound(after); it != by_rev_.end(); ++it) {
      if (HasPrefix(it->second.key, prefix)) replay.push_back(MakeEvent(it->first, it->second));
    }
    hub_->Activate(w, std::move(replay));
    return hub_->MakeHandle(std::move(w));
  }

  Status Compact(int64_t revision) override {
    std::lock_guard lock(mu_);
    if (revision > rev_) return FutureRevision(revision, rev_);
    if (revision <= compacted_) return Status::Ok();
    for (auto it = by_key_.begin(); it != by_key_.end();) {
      std::vector<int64_t>& revs = it->second;
      // Keep the newest row at or below `revision` unless it is a deletion.
      auto keep = std::upper_bound(revs.begin(), revs.end(), revision);
      if (keep != revs.begin()) {
        auto last_old = keep - 1;
        if (!by_rev_.at(*last_old).deleted) keep = last_old;
      }
      for (auto r = revs.begin(); r != keep; ++r) by_rev_.erase(*r);
      revs.erase(revs.begin(), keep);
      it = revs.empty() ? by_key_.erase(it) : std::next(it);
    }
    compacted_ = revision;
    return Status::Ok();
  }

  int64_t CurrentRevision() override {
    std::lock_guard lock(mu_);
    return rev_;
  }
  int64_t CompactedRevision() override {
    std::lock_guard lock(mu_);
    return compacted_;
  }

 private:
  // The key's newest row, or null. Requires mu_.
  const Row* Latest(const std::string& key) const {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return nullptr;
    return &by_rev_.at(it->second.back());
  }

  // The revision of the newest row at or below `at` among `revs`, or 0.
  static int64_t RowAt(const std::vector<int64_t>& revs, int64_t at) {
    auto it = std::upper_bound(revs.begin(), revs.end(), at);
    return it == revs.begin() ? 0 : *(it - 1);
  }

  Event MakeEvent(int64_t rev, const Row& row) const {
    Event ev;
    ev.type = row.deleted ? Event::Type::kDelete : Event::Type::kPut;
    ev.kv = KeyValue{row.key, row.value, row.create_revision, rev};
    if (row.prev_revision != 0) {
      auto prev = by_rev_.find(row.prev_revision);
      if (prev != by_rev_.end()) {
        ev.prev_kv = KeyValue{prev->second.key, prev->second.value, prev->second.create_revision,
                              row.prev_revision};
      }
    }
    return ev;
  }

  // Stores `row` at revision `rev` (== rev_ + 1) and publishes its event. Requires mu_.
  int64_t Append(int64_t rev, Row row) {
    rev_ = rev;
    by_key_[row.key].push_back(rev);
    auto& stored = by_rev_.emplace(rev, std::move(row)).first->second;
    std::vector<Event> events;
    events.push_back(MakeEvent(rev, stored));
    hub_->Publish(std::move(events));
    return rev;
  }

  void Complete(WriteCallback done, Result<int64_t> result) {
    hub_->Post([done = std::move(done), result = std::move(result)]() mutable {
      done(std::move(result));
    });
  }

  std::mutex mu_;
  int64_t rev_ = 0;
  int64_t compacted_ = 0;
  std::map<int64_t, Row> by_rev_;
  std::map<std::string, std::vector<int64_t>, std::less<>> by_key_;
  std::shared_ptr<WatchHub> hub_;
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenMemoryBackend() {
  return std::unique_ptr<Backend>(std::make_unique<MemoryBackend>());
}

}  // namespace sampan::store
