// The watch cache: one store watch over every object, kept in memory and
// fanned out to every client watch.
//
// Holds the newest state of every object (parsed once, shared as immutable
// ObjectPtr) and a window of recent events so that watches can start from a
// resourceVersion a little in the past. Lists and gets are answered from here.
// A write handler awaits WaitFor(revision) before answering, so a client always
// reads its own acknowledged writes. Thread-safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/backend.h"
#include "util/status.h"

namespace sampan::apiserver {

struct StoredObject {
  std::string key;
  boost::json::object obj;  // metadata.resourceVersion filled in
  int64_t mod_revision = 0;
  std::string json;         // `obj` serialized once, shared by every reply and watch
};
using ObjectPtr = std::shared_ptr<const StoredObject>;

// Builds a StoredObject: metadata.resourceVersion set to `revision` (if > 0), and its text.
ObjectPtr MakeStored(std::string key, boost::json::object obj, int64_t revision);

struct CacheEvent {
  enum class Type { kAdded, kModified, kDeleted };
  Type type;
  ObjectPtr obj;   // new state; for kDeleted the last state with the delete's revision
  ObjectPtr prev;  // previous state (null for kAdded)
  int64_t revision = 0;
};

// One client watch. Events are queued by the cache and taken by the handler.
class CacheWatcher {
 public:
  CacheWatcher(std::string prefix, std::function<void()> notify)
      : prefix_(std::move(prefix)), notify_(std::move(notify)) {}
  const std::string& prefix() const { return prefix_; }
  // Takes everything queued. `closed` is set when the cache dropped this watcher
  // (too slow, or the cache stopped).
  std::vector<CacheEvent> Take(bool* closed);

 private:
  friend class ObjectCache;
  void Push(const CacheEvent& ev);
  void Close();
  std::string prefix_;
  std::function<void()> notify_;
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
  Result<std::shared_ptr<CacheWatcher>> Watch(const std::string& prefix, int64_t after_revision,
                                              std::function<void()> notify,
                                              std::vector<ObjectPtr>* initial,
                                              int64_t* initial_revision);
  void Unwatch(const std::shared_ptr<CacheWatcher>& w);

  // Completes once the cache has applied `revision` (or after 10 s).
  boost::asio::awaitable<void> WaitFor(int64_t revision);

  size_t watcher_count() const;

 private:
  void OnEvents(std::vector<store::Event> events);
  void OnError(Status st);

  store::Backend& backend_;
  std::unique_ptr<store::WatchHandle> handle_;
  mutable std::mutex mu_;
  std::condition_variable applied_cv_;
  std::map<std::string, ObjectPtr, std::less<>> objects_;
  std::deque<CacheEvent> window_;  // recent events, oldest first
  int64_t revision_ = 0;
  int64_t window_start_ = 0;  // events with revision > window_start_ are all in window_
  std::vector<std::shared_ptr<CacheWatcher>> watchers_;
  struct Waiter {
    int64_t revision;
    std::function<void()> wake;
  };
  std::vector<Waiter> waiters_;
};

}  // namespace sampan::apiserver
