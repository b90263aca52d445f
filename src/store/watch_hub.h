// WatchHub: the watch machinery shared by the store backends (internal to src/store).
//
// A backend publishes the events of each commit, in revision order, and the hub
// queues them for every watcher whose prefix matches. One dispatcher thread owned
// by the hub delivers each watcher's queued events as a batch, never holding a hub
// lock while user code runs, so callbacks may call back into the store.
//
// The replay/live seam: Register() records the last revision published so far (R)
// and from then on buffers every newer matching event for the watcher. The backend
// reads history in (after_revision, R] and hands it to Activate(), which places it
// before the buffered live events. Nothing is lost (every revision <= R is in the
// history read, every revision > R is buffered) and nothing is duplicated (events
// <= after_revision or already delivered are dropped by revision).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/backend.h"

namespace sampan::store {

// True on a thread owned by a store (writer or dispatcher). Sync* wrappers refuse to
// block there, since they would wait for the very thread they run on.
bool OnStoreThread();
// Marks the current thread as store-owned for its lifetime.
void MarkStoreThread();

class WatchHub : public std::enable_shared_from_this<WatchHub> {
 public:
  struct Watcher;

  // `last_revision`: the newest revision already durable when the hub is created.
  static std::shared_ptr<WatchHub> Create(int64_t last_revision);
  ~WatchHub();

  // Registers a watcher for keys under `prefix` that receives events with revision
  // > `after_revision` (0: > the last published revision). Sets *published to the last revision
  // published so far; the caller must replay history up to it, then call Activate() (or Abandon()).
  std::shared_ptr<Watcher> Register(std::string prefix, int64_t after_revision,
                                    WatchCallbacks callbacks, int64_t* published);
  // Queues `replay` (events in (after_revision, published], in order) ahead of the
  // live events buffered since Register(), and starts delivery.
  void Activate(const std::shared_ptr<Watcher>& watcher, std::vector<Event> replay);
  // Removes a registered watcher without ever calling it (e.g. its replay failed).
  void Abandon(const std::shared_ptr<Watcher>& watcher);
  // A handle that cancels `watcher` when destroyed.
  std::unique_ptr<WatchHandle> MakeHandle(std::shared_ptr<Watcher> watcher);

  // Publishes the events of one commit. Calls must be serialised by the caller and
  // carry strictly increasing revisions.
  void Publish(std::vector<Event> events);
  // The last revision passed to Publish() (or given to Create()).
  int64_t published() const;

  // Runs `task` on the dispatcher thread (used to complete writes off the caller's thread).
  void Post(std::function<void()> task);

  // Fails every watcher with `status` (after its queued events) and stops the
  // dispatcher once the queues are drained. Called by the backend's destructor.
  void Shutdown(Status status);

 private:
  WatchHub() = default;
  void Run();
  void Cancel(const std::shared_ptr<Watcher>& watcher);

  class Handle;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t published_ = 0;
  bool stopping_ = false;
  std::vector<std::shared_ptr<Watcher>> watchers_;  // registered and not cancelled
  std::deque<std::shared_ptr<Watcher>> ready_;      // have events/errors to deliver
  std::deque<std::function<void()>> tasks_;
  std::thread dispatcher_;
  std::thread::id dispatcher_id_;
};

}  // namespace sampan::store
