// The watch cache: one store watch over every object, kept in memory and
// fanned out to every client watch.
//
// Holds the newest state of every object (parsed once, shared as immutable
// ObjectPtr) and a window of recent events so that watches can start from a
// resourceVersion a little in the past. Lists and gets are answered from here.
// A write handler answers only once the cache has applied its write (see
// applied() and store_await.h), so a client always reads its own acknowledged
// writes. Thread-safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/backend.h"
#include "util/status.h"

namespace sampan::apiserver {

struct StoredObject {
  std::string key;
  boost::json::object obj;  // metadata.resourceVersion filled in
  int64_t mod_revision = 0;
  std::string json;  // `obj` serialized once, shared by every reply and watch
};
using ObjectPtr = std::shared_ptr<const StoredObject>;

// Builds a StoredObject: metadata.resourceVersion set to `revision` (if > 0), and its text.
ObjectPtr MakeStored(std::string key, boost::json::object obj, int64_t revision);

// The same, for an object read from the store: `text` is `obj` as stored (compact JSON without
// metadata.resourceVersion). The reply text is `text` with the resourceVersion spliced into
// metadata — byte for byte what serializing the object would give, without serializing it again.
ObjectPtr MakeStoredFromText(std::string key, boost::json::object obj, std::string_view text,
                             int64_t revision);

// Parses `text`, an object as stored under `key`, into a StoredObject at `revision`; null (and
// logged) if the text is not a JSON object.
ObjectPtr ParseStored(const std::string& key, std::string_view text, int64_t revision);

// The newest revision the cache has applied, and the callbacks waiting for one. Shared (not
// owned only by the cache) so that a store write callback that outlives the cache stays safe.
class AppliedRevision {
 public:
  // Runs `fn` once `revision` is applied or the cache has stopped: at once, on this thread, if
  // that is already so; otherwise on the thread that applies it. `fn` must be quick (post work
  // elsewhere) and must not call back into this object.
  void OnApplied(int64_t revision, std::function<void()> fn);
  int64_t revision() const;

 private:
  friend class ObjectCache;
  void Advance(int64_t revision);  // runs the callbacks now due, outside the lock
  void Stop(bool run_waiters);     // the cache stopped: no revision will come any more

  struct Waiter {
    int64_t revision;
    std::function<void()> fn;
  };
  mutable std::mutex mu_;
  int64_t revision_ = 0;
  bool stopped_ = false;
  std::vector<Waiter> waiters_;
};

struct CacheEvent {
  enum class Type { kAdded, kModified, kDeleted };
  Type type;
  ObjectPtr obj;   // new state; for kDeleted the last state with the delete's revision
  ObjectPtr prev;  // previous state (null for kAdded)
  int64_t revision = 0;
};

// Which events a watcher wants, decided by the cache before queueing (so a watch with a selector
// is not woken for objects it would drop). Runs on the cache's thread under its lock: it must be
// quick, thread-safe and must not call into the cache. It may accept more than the watcher
// sends (the handler filters exactly); it must not reject an event the watcher would send.
using CacheEventFilter = std::function<bool(const CacheEvent& ev)>;

// One client watch. Events are queued by the cache and taken by the handler.
// `notify` runs when the queue turns non-empty (once per batch, not per event) and when the
// watcher is closed, so the handler must Take() until the queue is empty before it waits.
class CacheWatcher {
 public:
  CacheWatcher(std::string prefix, std::function<void()> notify, CacheEventFilter accept = nullptr)
      : prefix_(std::move(prefix)), notify_(std::move(notify)), accept_(std::move(accept)) {}
  const std::string& prefix() const { return prefix_; }
  // Takes everything queued. `closed` is set when the cache dropped this watcher
  // (too slow, or the cache stopped).
  std::vector<CacheEvent> Take(bool* closed);

 private:
  friend class ObjectCache;
  // Under the prefix, and accepted by the filter if there is one.
  bool Wants(const CacheEvent& ev) const;
  void Push(const CacheEvent& ev);
  void Close();
  std::string prefix_;
  std::function<void()> notify_;
  CacheEventFilter accept_;
  std::mutex mu_;
  std::vector<CacheEvent> queue_;
  bool closed_ = false;
};

class ObjectCache {
 public:
  explicit ObjectCache(store::Backend& backend);
  ~ObjectCache();

  // Loads every object and starts the store watch.
  Status Start();

  ObjectPtr Get(const std::string& key) const;
  // Objects whose key starts with `prefix`, in key order, and the revision they are current at.
  std::vector<ObjectPtr> List(const std::string& prefix, int64_t* revision) const;
  int64_t revision() const;

  // Registers a watch for keys under `prefix` that receives every event with
  // revision > `after_revision`. Gone if that is older than the event window.
  // When `initial` is non-null, it receives the current objects under `prefix`
  // (taken atomically with the registration) and events start after them.
  // `accept` (optional) drops events before they are queued; `initial` is not filtered.
  Result<std::shared_ptr<CacheWatcher>> Watch(const std::string& prefix, int64_t after_revision,
                                              std::function<void()> notify,
                                              std::vector<ObjectPtr>* initial,
                                              int64_t* initial_revision,
                                              CacheEventFilter accept = nullptr);
  void Unwatch(const std::shared_ptr<CacheWatcher>& w);

  // Completes once the cache has applied `revision` (or after 10 s).
  boost::asio::awaitable<void> WaitFor(int64_t revision);
  // Where write handlers wait for their revision without a second hand-off (store_await.h).
  const std::shared_ptr<AppliedRevision>& applied() const { return applied_; }

  size_t watcher_count() const;

  // A write handler hands over the object it is about to write under `key`, with `text`, its
  // serialization as given to the store. When the store's event for `key` carries exactly
  // `text`, the cache takes `obj` instead of parsing the text a second time. The handler calls
  // Withdraw(key, ticket) once its write has ended, whatever the outcome (a no-op if the cache
  // took the object). At most kMaxOffers are kept; beyond that the oldest are forgotten (the
  // cache then parses, as it does for writes made elsewhere).
  static constexpr size_t kMaxOffers = 4096;
  uint64_t Offer(const std::string& key, std::string text, boost::json::object obj);
  void Withdraw(const std::string& key, uint64_t ticket);
  size_t offer_count() const;

 private:
  void OnEvents(std::vector<store::Event> events);
  void OnError(Status st);

  store::Backend& backend_;
  std::unique_ptr<store::WatchHandle> handle_;
  const std::shared_ptr<AppliedRevision> applied_ = std::make_shared<AppliedRevision>();
  mutable std::mutex mu_;
  std::map<std::string, ObjectPtr, std::less<>> objects_;
  std::deque<CacheEvent> window_;  // recent events, oldest first
  int64_t revision_ = 0;
  int64_t window_start_ = 0;  // events with revision > window_start_ are all in window_
  std::vector<std::shared_ptr<CacheWatcher>> watchers_;

  struct Offered {
    uint64_t ticket = 0;
    std::string text;
    boost::json::object obj;
  };
  // The object offered for `key` with exactly `text`, taken out of the offers; nullopt if none.
  std::optional<boost::json::object> TakeOffered(const std::string& key, std::string_view text);
  mutable std::mutex offers_mu_;                              // after mu_ when both are held
  std::multimap<std::string, Offered, std::less<>> offers_;   // guarded by offers_mu_
  std::deque<std::pair<std::string, uint64_t>> offer_order_;  // guarded; oldest first
  uint64_t next_ticket_ = 0;                                  // guarded
};

}  // namespace sampan::apiserver
