#include "agent/task_queue.h"

#include "util/log.h"

namespace sampan::agent {

TaskQueue::TaskQueue(std::string name, size_t capacity)
    : name_(std::move(name)), capacity_(capacity) {
  thread_ = std::thread([this] { Run(); });
}

TaskQueue::~TaskQueue() { Stop(); }

bool TaskQueue::Post(std::function<void()> job) {
  std::lock_guard<std::mutex> l(mu_);
  if (stopping_ || jobs_.size() >= capacity_) {
    if (dropped_++ % 100 == 0)
      LOG(WARNING) << name_ << ": queue full or stopped, dropping (" << dropped_ << " so far)";
    return false;
  }
  jobs_.push_back(std::move(job));
  cv_.notify_all();
  return true;
}

void TaskQueue::Stop(std::chrono::milliseconds drain) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!stopping_) {
      stopping_ = true;
      drain_until_ = std::chrono::steady_clock::now() + drain;
    }
    cv_.notify_all();
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void TaskQueue::Flush() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [this] { return (jobs_.empty() && !running_job_) || ended_; });
}

size_t TaskQueue::dropped() const {
  std::lock_guard<std::mutex> l(mu_);
  return dropped_;
}

void TaskQueue::Run() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    cv_.wait(l, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty() || (stopping_ && std::chrono::steady_clock::now() >= drain_until_)) break;
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    running_job_ = true;
    l.unlock();
    job();
    l.lock();
    running_job_ = false;
    cv_.notify_all();
  }
  dropped_ += jobs_.size();
  jobs_.clear();
  ended_ = true;
  cv_.notify_all();
}

}  // namespace sampan::agent
