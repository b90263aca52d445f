// A queue of small jobs run in order on one thread of their own, so that best-effort API
// writes (Events) stay off the pod workers' path: a worker that started a container goes on
// to write its status at once instead of waiting for three Event POSTs first. Kubernetes'
// event broadcaster is asynchronous the same way, and drops events when it falls behind.
//
//   TaskQueue q("events", 1000);
//   q.Post([=] { recorder->Record(...); });
//   ...
//   q.Stop(std::chrono::seconds(2));  // runs what is queued, for at most 2 s
//
// Thread-safe. Jobs run one at a time, in the order posted.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace sampan::agent {

class TaskQueue {
 public:
  // Holds at most `capacity` waiting jobs; a job posted to a full queue is dropped (and
  // counted in dropped()).
  TaskQueue(std::string name, size_t capacity);
  ~TaskQueue();  // Stop(0)
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  // Queues `job`; false when dropped (full queue, or stopped).
  bool Post(std::function<void()> job);
  // Runs the jobs still queued until `drain` has passed, drops the rest, and ends the thread.
  // Idempotent.
  void Stop(std::chrono::milliseconds drain = std::chrono::milliseconds(0));
  // Waits until every job posted so far has run (for tests).
  void Flush();
  size_t dropped() const;

 private:
  void Run();

  const std::string name_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;             // guarded by mu_
  bool stopping_ = false;                              // guarded by mu_
  bool running_job_ = false;                           // guarded by mu_
  bool ended_ = false;                                 // guarded by mu_: the thread has left Run
  std::chrono::steady_clock::time_point drain_until_;  // guarded by mu_
  size_t dropped_ = 0;                                 // guarded by mu_
  std::thread thread_;
};

}  // namespace sampan::agent
