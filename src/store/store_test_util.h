// Helpers for the store tests: a temporary directory and a watch event collector.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "store/backend.h"
#include "util/temp_dir.h"

namespace sampan::store::testing {

// A fresh directory, removed on destruction.
using TempDir = util::TempDir;

// Collects the events and errors of one watch.
class Collector {
 public:
  WatchCallbacks Callbacks() {
    return WatchCallbacks{[this](std::vector<Event> evs) {
                            std::lock_guard lock(mu_);
                            ++batches_;
                            for (auto& e : evs) events_.push_back(std::move(e));
                            cv_.notify_all();
                          },
                          [this](Status st) {
                            std::lock_guard lock(mu_);
                            errors_.push_back(std::move(st));
                            cv_.notify_all();
                          }};
  }
  // Waits until at least `n` events arrived (or `timeout`); returns all so far.
  std::vector<Event> WaitFor(size_t n,
                             std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return events_.size() >= n; });
    return events_;
  }
  bool WaitError(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return !errors_.empty(); });
  }
  std::vector<Event> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::vector<Status> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
  std::vector<Status> errors_;
  int batches_ = 0;
};

}  // namespace sampan::store::testing
