#include "client/workqueue.h"

#include <algorithm>

#include "util/log.h"

namespace sampan::client {

void WorkQueue::AddLocked(const std::string& key) {
  if (shutdown_ || dirty_.count(key)) return;
  dirty_.insert(key);
  if (processing_.count(key)) return;  // re-queued by Done()
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  AddLocked(key);
}

void WorkQueue::AddAfter(const std::string& key, std::chrono::milliseconds delay) {
  if (delay.count() <= 0) return Add(key);
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_) return;
  waiting_.emplace(Clock::now() + delay, key);
  cv_.notify_all();  // a waiter may need an earlier wake-up
}

std::chrono::milliseconds WorkQueue::NextDelay(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(key);
  int n = it == failures_.end() ? 0 : it->second;
  double d = static_cast<double>(opts_.base_delay.count());
  for (int i = 0; i < n && d < opts_.max_delay.count(); ++i) d *= 2;
  return std::chrono::milliseconds(
      static_cast<int64_t>(std::min<double>(d, opts_.max_delay.count())));
}

void WorkQueue::AddRateLimited(const std::string& key) {
  auto delay = NextDelay(key);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++failures_[key];
  }
  AddAfter(key, delay);
}

void WorkQueue::Forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.erase(key);
}

int WorkQueue::NumRequeues(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

bool WorkQueue::Get(std::string* key) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    auto now = Clock::now();
    while (!waiting_.empty() && waiting_.begin()->first <= now) {
      std::string k = std::move(waiting_.begin()->second);
      waiting_.erase(waiting_.begin());
      AddLocked(k);
    }
    if (!queue_.empty()) {
      *key = std::move(queue_.front());
      queue_.pop_front();
      processing_.insert(*key);
      dirty_.erase(*key);
      return true;
    }
    if (shutdown_) return false;
    if (waiting_.empty()) {
      cv_.wait(lock);
    } else {
      // A copy: wait_until keeps reading its deadline while another thread may erase the entry.
      const Clock::time_point next = waiting_.begin()->first;
      cv_.wait_until(lock, next);
    }
  }
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key)) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::ShutDown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutdown_ = true;
  waiting_.clear();
  cv_.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard<std::mutex> lock(mu_);
  return shutdown_;
}

size_t WorkQueue::Len() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void WorkQueue::Process(std::string_view what,
                        const std::function<Status(const std::string&)>& sync) {
  std::string key;
  while (Get(&key)) {
    Status st = sync(key);
    if (st.ok()) {
      Forget(key);
    } else {
      if (st.code() == Code::kConflict) {
        LOG(DEBUG) << what << " " << key << ": " << st.ToString();
      } else {
        LOG(WARNING) << what << " " << key << ": " << st.ToString();
      }
      AddRateLimited(key);
    }
    Done(key);
  }
}

}  // namespace sampan::client
