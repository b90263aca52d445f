// An Informer keeps a local, indexed copy of one resource (list, then watch from
// the list's resourceVersion; re-list on 410 Gone) and tells handlers about
// changes. Objects are handed out as shared_ptr<const object>: never mutate them,
// copy first.
//
// Threading: Start() runs one thread per informer that lists, watches, updates the
// cache and then calls the handlers (one call at a time, in event order; handlers
// must be quick — compute a key and enqueue it). Resync (if enabled) replays every
// cached object as OnUpdate(obj, obj) from a second thread, serialized with events.
// Cache reads (Get/List/ByIndex) are thread-safe.
#pragma once

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/rest_client.h"

namespace sampan::client {

using ObjectPtr = std::shared_ptr<const boost::json::object>;

struct EventHandlers {
  std::function<void(const ObjectPtr& obj)> on_add;
  std::function<void(const ObjectPtr& old_obj, const ObjectPtr& new_obj)> on_update;
  // The last state known; after a re-list it may be older than the actual deletion.
  std::function<void(const ObjectPtr& obj)> on_delete;
};

// Handlers that call `fn` on any add, update or delete (for a loop that rebuilds from the
// informers' lists whenever anything changed).
inline EventHandlers OnAnyChange(const std::function<void()>& fn) {
  EventHandlers h;
  h.on_add = [fn](const ObjectPtr&) { fn(); };
  h.on_update = [fn](const ObjectPtr&, const ObjectPtr&) { fn(); };
  h.on_delete = [fn](const ObjectPtr&) { fn(); };
  return h;
}

// Index function: the index values of an object (e.g. its node name).
using IndexFunc = std::function<std::vector<std::string>(const boost::json::object& obj)>;

// "namespace/name", or "name" for cluster-scoped objects.
std::string KeyOf(const boost::json::object& obj);
// Splits a key into namespace ("" if none) and name.
std::pair<std::string, std::string> SplitKey(std::string_view key);

// Small accessors for the metadata every component reads.
std::string MetaString(const boost::json::object& obj, std::string_view field);
const boost::json::object* MetaObject(const boost::json::object& obj, std::string_view field);

class Informer {
 public:
  // `ns` "" = all namespaces. `opts` carries label/field selectors only.
  Informer(RestClient* client, Resource resource, std::string ns = "", ListOptions opts = {},
           std::chrono::milliseconds resync = std::chrono::milliseconds(0));
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Before Start().
  void AddEventHandler(EventHandlers handlers);
  void AddIndex(const std::string& name, IndexFunc func);

  void Start();
  void Stop();  // cancels the watch and joins; idempotent
  bool HasSynced() const { return synced_.load(); }
  bool WaitForSync(std::chrono::milliseconds timeout) const;

  ObjectPtr Get(std::string_view key) const;
  std::vector<ObjectPtr> List() const;
  std::vector<ObjectPtr> ByIndex(const std::string& index, const std::string& value) const;
  std::string last_resource_version() const;
  const Resource& resource() const { return resource_; }

 private:
  void RunLoop();
  void ResyncLoop();
  // Cache updates; each returns what changed so handlers can be called afterwards.
  ObjectPtr Upsert(const std::string& key, ObjectPtr obj);  // returns the old object
  ObjectPtr Remove(const std::string& key);
  void IndexLocked(const std::string& key, const boost::json::object* old_obj,
                   const boost::json::object* new_obj);
  Status ListAndReplace();
  Status WatchOnce();  // Gone → caller re-lists
  void Deliver(const std::function<void()>& fn);
  bool SleepFor(std::chrono::milliseconds d);  // false if stopping

  RestClient* client_;
  const Resource resource_;
  const std::string ns_;
  const ListOptions opts_;
  const std::chrono::milliseconds resync_;
  std::vector<EventHandlers> handlers_;
  std::map<std::string, IndexFunc> index_funcs_;

  mutable std::shared_mutex cache_mu_;
  std::map<std::string, ObjectPtr, std::less<>> items_;                          // guarded
  std::map<std::string, std::map<std::string, std::set<std::string>>> indices_;  // guarded
  std::string rv_;                                                               // guarded

  std::mutex deliver_mu_;  // handlers run one at a time

  mutable std::mutex state_mu_;
  mutable std::condition_variable state_cv_;
  bool stopping_ = false;               // guarded by state_mu_
  std::shared_ptr<WatchStream> watch_;  // guarded by state_mu_
  std::atomic<bool> synced_{false};
  std::thread thread_, resync_thread_;
};

}  // namespace sampan::client
