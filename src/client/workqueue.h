// A rate-limited work queue of string keys, with client-go's guarantees:
//  - a key waiting in the queue is held once, however often it is added;
//  - a key handed out by Get() is never handed to another worker until Done();
//    adds meanwhile mark it dirty and it comes back after Done();
//  - AddRateLimited() delays a key by base·2^failures (capped), Forget() resets it.
// Thread-safe: any number of producers and workers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "util/status.h"

namespace sampan::client {

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::chrono::milliseconds base_delay{5};
    std::chrono::milliseconds max_delay{std::chrono::seconds(300)};
  };
  WorkQueue() : WorkQueue(Options{}) {}
  explicit WorkQueue(Options opts) : opts_(opts) {}

  void Add(const std::string& key);
  void AddAfter(const std::string& key, std::chrono::milliseconds delay);
  void AddRateLimited(const std::string& key);
  // Clears the key's failure count (call after a successful sync).
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key) const;
  // The delay AddRateLimited would use now for `key`.
  std::chrono::milliseconds NextDelay(const std::string& key) const;

  // Blocks until a key is ready; false once ShutDown() was called and nothing is
  // queued. The caller must call Done(key) when finished with it.
  bool Get(std::string* key);
  void Done(const std::string& key);
  // Wakes every Get(); delayed keys are dropped.
  void ShutDown();
  bool shutting_down() const;
  size_t Len() const;  // keys ready now

  // The controller worker loop: takes keys until ShutDown(), calls `sync` for each; success
  // forgets the key's failures, failure re-adds it rate-limited (a Conflict, which only means
  // the cache was behind, is logged quietly). `what` names the controller in the log.
  void Process(std::string_view what, const std::function<Status(const std::string&)>& sync);

 private:
  void AddLocked(const std::string& key);

  const Options opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;                          // ready, in order
  std::unordered_set<std::string> dirty_;                  // needs processing
  std::unordered_set<std::string> processing_;             // handed out
  std::multimap<Clock::time_point, std::string> waiting_;  // delayed adds
  std::unordered_map<std::string, int> failures_;
  bool shutdown_ = false;
};

}  // namespace sampan::client
