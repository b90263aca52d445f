#include "scheduler/scheduling_queue.h"

#include <algorithm>
#include <vector>

namespace sampan::scheduler {

SchedulingQueue::SchedulingQueue(Options opts)
    : opts_(opts), clock_(opts.clock ? opts.clock : &Clock::Real()) {}

std::chrono::nanoseconds SchedulingQueue::BackoffFor(int attempts) const {
  std::chrono::nanoseconds d = opts_.initial_backoff;
  const std::chrono::nanoseconds max = opts_.max_backoff;
  if (d >= max) return max;
  for (int i = 1; i < attempts; ++i) {
    if (d > max - d) return max;  // doubling would pass the cap
    d += d;
  }
  return d;
}

bool SchedulingQueue::BackingOff(const Entry& e, int64_t now) const {
  return e.attempts > 0 && e.timestamp + BackoffFor(e.attempts).count() > now;
}

void SchedulingQueue::Unlink(Map::iterator it) {
  Entry& e = it->second;
  switch (e.part) {
    case Part::kActive:
      active_.erase(ActiveKey{-e.priority, e.timestamp, e.seq, &it->first});
      break;
    case Part::kBackoff:
      backoff_.erase(TimedKey{e.backoff_until, e.seq, &it->first});
      break;
    case Part::kUnschedulable:
      unschedulable_.erase(TimedKey{e.unschedulable_since, e.seq, &it->first});
      break;
    case Part::kInFlight:
      --in_flight_;
      break;
    case Part::kNone:
      break;
  }
  e.part = Part::kNone;
}

void SchedulingQueue::ToActive(Map::iterator it) {
  Entry& e = it->second;
  e.part = Part::kActive;
  active_.insert(ActiveKey{-e.priority, e.timestamp, e.seq, &it->first});
  cv_.notify_one();
}

void SchedulingQueue::ToBackoff(Map::iterator it) {
  Entry& e = it->second;
  e.part = Part::kBackoff;
  e.backoff_until = e.timestamp + BackoffFor(std::max(1, e.attempts)).count();
  backoff_.insert(TimedKey{e.backoff_until, e.seq, &it->first});
  cv_.notify_one();  // a waiting Pop() may need an earlier deadline
}

void SchedulingQueue::ToUnschedulable(Map::iterator it, int64_t now) {
  Entry& e = it->second;
  e.part = Part::kUnschedulable;
  e.unschedulable_since = now;
  unschedulable_.insert(TimedKey{now, e.seq, &it->first});
}

void SchedulingQueue::ToActiveOrBackoff(Map::iterator it, int64_t now) {
  if (BackingOff(it->second, now)) {
    ToBackoff(it);
  } else {
    ToActive(it);
  }
}

void SchedulingQueue::AddOrUpdate(const std::string& key, int64_t priority, bool relevant) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = Now();
  auto [it, inserted] = pods_.try_emplace(key);
  Entry& e = it->second;
  if (inserted) {
    e.priority = priority;
    e.timestamp = now;
    e.seq = next_seq_++;
    ToActive(it);
    return;
  }
  switch (e.part) {
    case Part::kActive:
      if (e.priority != priority) {
        Unlink(it);
        e.priority = priority;
        ToActive(it);
      }
      break;
    case Part::kBackoff:
      e.priority = priority;  // backoffQ is ordered by time only
      break;
    case Part::kUnschedulable:
      e.priority = priority;
      if (relevant) {
        Unlink(it);
        ToActiveOrBackoff(it, now);
      }
      break;
    case Part::kInFlight:
      e.priority = priority;
      if (e.deleted) {  // deleted, then a pod of that name came back during the cycle
        e.deleted = false;
        e.dirty = true;
      } else if (relevant) {
        e.dirty = true;
      }
      break;
    case Part::kNone:
      break;
  }
}

void SchedulingQueue::Delete(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pods_.find(key);
  if (it == pods_.end()) return;
  if (it->second.part == Part::kInFlight) {
    it->second.deleted = true;
    it->second.dirty = it->second.activate = false;
    return;
  }
  Unlink(it);
  pods_.erase(it);
}

int64_t SchedulingQueue::FlushLocked(int64_t now) {
  while (!backoff_.empty() && backoff_.begin()->when <= now) {
    auto it = pods_.find(*backoff_.begin()->key);
    Unlink(it);
    ToActive(it);
  }
  const int64_t max_wait = std::chrono::nanoseconds(opts_.max_in_unschedulable).count();
  while (!unschedulable_.empty() && unschedulable_.begin()->when + max_wait <= now) {
    auto it = pods_.find(*unschedulable_.begin()->key);
    Unlink(it);
    ToActiveOrBackoff(it, now);
  }
  int64_t next = 0;
  if (!backoff_.empty()) next = backoff_.begin()->when;
  if (!unschedulable_.empty()) {
    int64_t u = unschedulable_.begin()->when + max_wait;
    next = next == 0 ? u : std::min(next, u);
  }
  return next;
}

bool SchedulingQueue::PopLocked(std::string* key) {
  if (active_.empty()) return false;
  auto it = pods_.find(*active_.begin()->key);
  Unlink(it);
  Entry& e = it->second;
  e.part = Part::kInFlight;
  ++in_flight_;
  ++e.attempts;
  e.popped_at_move = move_seq_;
  e.dirty = e.activate = e.deleted = false;
  *key = it->first;
  return true;
}

bool SchedulingQueue::Pop(std::string* key) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (shutdown_) return false;
    const int64_t now = Now();
    const int64_t next = FlushLocked(now);
    if (PopLocked(key)) return true;
    // Wait for an add or the next deadline; at most a second, so that a clock that is not the
    // steady one (or moves by hand) is still followed.
    std::chrono::nanoseconds wait = std::chrono::seconds(1);
    if (next != 0)
      wait = std::clamp(std::chrono::nanoseconds(next - now),
                        std::chrono::nanoseconds(std::chrono::milliseconds(1)), wait);
    cv_.wait_for(lock, wait);
  }
}

bool SchedulingQueue::TryPop(std::string* key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_) return false;
  FlushLocked(Now());
  return PopLocked(key);
}

void SchedulingQueue::Done(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pods_.find(key);
  if (it == pods_.end() || it->second.part != Part::kInFlight) return;
  Entry& e = it->second;
  const bool again = !e.deleted && (e.dirty || e.activate);
  Unlink(it);
  if (!again) {
    pods_.erase(it);
    return;
  }
  // Changed during a cycle that placed it: one more look (a no-op when the placement holds).
  e.timestamp = Now();
  ToActive(it);
}

void SchedulingQueue::AddUnschedulable(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = Now();
  auto [it, inserted] = pods_.try_emplace(key);
  Entry& e = it->second;
  if (inserted) {  // not popped from this queue (a direct cycle): one attempt
    e.seq = next_seq_++;
    e.attempts = 1;
    e.timestamp = now;
    ToUnschedulable(it, now);
    return;
  }
  if (!BackFromFlight(it, now)) return;
  if (e.activate) {
    ToActive(it);
  } else if (e.dirty || e.popped_at_move != move_seq_) {
    ToActiveOrBackoff(it, now);
  } else {
    ToUnschedulable(it, now);
  }
}

void SchedulingQueue::AddBackoff(const std::string& key, int64_t priority) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = Now();
  auto [it, inserted] = pods_.try_emplace(key);
  Entry& e = it->second;
  if (inserted) {
    e.seq = next_seq_++;
    e.priority = priority;
    e.attempts = 1;
    e.timestamp = now;
    ToBackoff(it);
    return;
  }
  if (!BackFromFlight(it, now)) return;
  if (e.activate) {
    ToActive(it);
  } else {
    ToBackoff(it);
  }
}

bool SchedulingQueue::BackFromFlight(Map::iterator it, int64_t now) {
  Entry& e = it->second;
  if (e.part != Part::kInFlight) return false;  // already queued elsewhere
  Unlink(it);
  if (e.deleted) {
    pods_.erase(it);
    return false;
  }
  e.timestamp = now;
  return true;
}

void SchedulingQueue::MoveAllToActiveOrBackoff() {
  std::lock_guard<std::mutex> lock(mu_);
  ++move_seq_;
  if (unschedulable_.empty()) return;
  const int64_t now = Now();
  std::vector<const std::string*> keys;
  keys.reserve(unschedulable_.size());
  for (const auto& k : unschedulable_) keys.push_back(k.key);
  for (const std::string* k : keys) {
    auto it = pods_.find(*k);
    Unlink(it);
    ToActiveOrBackoff(it, now);
  }
}

void SchedulingQueue::Activate(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pods_.find(key);
  if (it == pods_.end()) return;
  switch (it->second.part) {
    case Part::kBackoff:
    case Part::kUnschedulable:
      Unlink(it);
      ToActive(it);
      break;
    case Part::kInFlight:
      if (!it->second.deleted) it->second.activate = true;
      break;
    case Part::kActive:
    case Part::kNone:
      break;
  }
}

void SchedulingQueue::ShutDown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

SchedulingQueue::Part SchedulingQueue::Where(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pods_.find(key);
  return it == pods_.end() ? Part::kNone : it->second.part;
}

int SchedulingQueue::Attempts(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pods_.find(key);
  return it == pods_.end() ? 0 : it->second.attempts;
}

SchedulingQueue::Counts SchedulingQueue::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Counts{active_.size(), backoff_.size(), unschedulable_.size(), in_flight_};
}

}  // namespace sampan::scheduler
