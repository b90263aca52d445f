// The scheduler's queue of pending pods, in three parts as kube-scheduler's:
//  - activeQ: pods ready for a scheduling cycle, popped highest spec.priority first, then the
//    earliest queue timestamp (when the pod was added, or when its last attempt failed), then
//    insertion order (the PrioritySort queue-sort plugin);
//  - backoffQ: pods whose last attempt failed, each waiting initial_backoff·2^(attempts−1)
//    (capped at max_backoff) after that failure before going back to activeQ;
//  - unschedulable pods: pods for which no node fitted; they wait for a cluster event that may
//    help (MoveAllToActiveOrBackoff: into backoffQ while their backoff lasts, else activeQ) or
//    until they have waited max_in_unschedulable.
// A key popped for a cycle is "in flight" until the cycle reports its outcome (Done,
// AddUnschedulable, AddBackoff); it is in no part meanwhile and never handed out twice. An
// update or a move event seen while a pod is in flight is remembered: a failed cycle then sends
// the pod to backoffQ/activeQ instead of the unschedulable pods, since what it saw is stale.
// A key is in at most one part at any time.
//
// All times come from the injected util Clock (ManualClock in tests). Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "util/clock.h"

namespace sampan::scheduler {

class SchedulingQueue {
 public:
  struct Options {
    std::chrono::milliseconds initial_backoff{std::chrono::seconds(1)};  // podInitialBackoffSeconds
    std::chrono::milliseconds max_backoff{std::chrono::seconds(10)};     // podMaxBackoffSeconds
    // podMaxInUnschedulablePodsDuration.
    std::chrono::milliseconds max_in_unschedulable{std::chrono::minutes(5)};
    const Clock* clock = nullptr;  // nullptr = Clock::Real()
  };
  // Where a key is.
  enum class Part { kNone, kActive, kBackoff, kUnschedulable, kInFlight };
  struct Counts {
    size_t active = 0, backoff = 0, unschedulable = 0, in_flight = 0;
  };

  SchedulingQueue() : SchedulingQueue(Options{}) {}
  explicit SchedulingQueue(Options opts);

  // A pending pod was added or changed. Unknown keys enter activeQ. A known key takes the new
  // priority where it is; when `relevant` (its spec or labels changed, so another attempt may
  // succeed) an unschedulable pod moves to backoffQ/activeQ and an in-flight pod is marked to
  // be retried after its cycle.
  void AddOrUpdate(const std::string& key, int64_t priority, bool relevant = true);
  // The pod is gone (deleted, bound, or no longer ours): dropped from whatever part holds it;
  // an in-flight pod is dropped when its cycle reports.
  void Delete(const std::string& key);

  // Blocks until activeQ has a pod (moving completed backoffs and unschedulable pods past
  // max_in_unschedulable first); false once ShutDown() was called. The key is then in flight
  // and its attempt count goes up by one.
  bool Pop(std::string* key);
  // Pop without blocking; false when activeQ is empty (after the same flushes).
  bool TryPop(std::string* key);

  // Cycle outcomes for an in-flight key.
  // Found a node (or nothing was left to do): the queue forgets the pod.
  void Done(const std::string& key);
  // No node fits: to the unschedulable pods, or to backoffQ/activeQ when a move event or a
  // relevant update came during the cycle.
  void AddUnschedulable(const std::string& key);
  // An error (API failure, binding rejected): to backoffQ. For a key the queue does not hold
  // (a binding that failed after Done) the pod re-enters with one attempt counted; a key held
  // elsewhere stays where it is.
  void AddBackoff(const std::string& key, int64_t priority = 0);

  // A cluster event that may make unschedulable pods fit (node added or changed, assigned pod
  // deleted): every unschedulable pod moves to backoffQ (if still backing off) or activeQ, and
  // in-flight pods that fail will not be parked as unschedulable.
  void MoveAllToActiveOrBackoff();
  // Moves one pod to activeQ now, skipping any backoff (e.g. it lost its nomination); in
  // flight: retried after its cycle.
  void Activate(const std::string& key);

  // Wakes every Pop(); later Pops return false.
  void ShutDown();

  Part Where(const std::string& key) const;
  int Attempts(const std::string& key) const;  // 0 for unknown keys
  Counts counts() const;
  // The backoff after `attempts` failed attempts: initial·2^(attempts−1), capped.
  std::chrono::nanoseconds BackoffFor(int attempts) const;

 private:
  struct Entry {
    int64_t priority = 0;
    int64_t timestamp = 0;  // ns: added, or last failure; orders activeQ
    uint64_t seq = 0;       // tie-break: insertion order
    int attempts = 0;
    Part part = Part::kNone;
    int64_t backoff_until = 0;        // ns; meaningful in backoffQ
    int64_t unschedulable_since = 0;  // ns; meaningful in the unschedulable pods
    uint64_t popped_at_move = 0;      // move_seq_ when popped
    bool dirty = false;               // relevant update while in flight
    bool activate = false;            // Activate() while in flight
    bool deleted = false;             // Delete() while in flight
  };
  // Ordering keys into the std::sets (by value; entries hold what is needed to find them).
  struct ActiveKey {
    int64_t neg_priority;
    int64_t timestamp;
    uint64_t seq;
    const std::string* key;
    bool operator<(const ActiveKey& o) const {
      if (neg_priority != o.neg_priority) return neg_priority < o.neg_priority;
      if (timestamp != o.timestamp) return timestamp < o.timestamp;
      return seq < o.seq;
    }
  };
  struct TimedKey {
    int64_t when;
    uint64_t seq;
    const std::string* key;
    bool operator<(const TimedKey& o) const { return when != o.when ? when < o.when : seq < o.seq; }
  };
  using Map = std::unordered_map<std::string, Entry>;

  int64_t Now() const { return clock_->NowUnixNanos(); }
  bool BackingOff(const Entry& e, int64_t now) const;
  // Removes the entry from its part's ordered set (part becomes kNone).
  void Unlink(Map::iterator it);
  // A pod coming back from its cycle: unlinked from in-flight, its time set to `now`; false
  // (nothing more to do) if it was not in flight or was deleted meanwhile (then it is gone).
  bool BackFromFlight(Map::iterator it, int64_t now);
  void ToActive(Map::iterator it);
  void ToBackoff(Map::iterator it);
  void ToUnschedulable(Map::iterator it, int64_t now);
  // Backoff done → activeQ, or activeQ per BackingOff.
  void ToActiveOrBackoff(Map::iterator it, int64_t now);
  // Moves completed backoffs and overdue unschedulable pods; the next deadline (ns, 0 = none).
  int64_t FlushLocked(int64_t now);
  bool PopLocked(std::string* key);

  const Options opts_;
  const Clock* clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Map pods_;
  std::set<ActiveKey> active_;
  std::set<TimedKey> backoff_;        // by backoff_until
  std::set<TimedKey> unschedulable_;  // by unschedulable_since
  size_t in_flight_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t move_seq_ = 0;  // MoveAllToActiveOrBackoff calls so far
  bool shutdown_ = false;
};

}  // namespace sampan::scheduler
