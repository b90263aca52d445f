#include "store/watch_hub.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "util/thread_name.h"

namespace sampan::store {

namespace {
thread_local bool on_store_thread = false;
}  // namespace

bool OnStoreThread() { return on_store_thread; }
void MarkStoreThread() { on_store_thread = true; }

struct WatchHub::Watcher {
  std::string prefix;
  int64_t after = 0;  // newest revision queued or delivered; older events are dropped
  WatchCallbacks callbacks;
  // Guarded by the hub's mu_.
  bool active = false;         // history replayed; live events go straight to `queue`
  bool queued = false;         // present in ready_
  bool finished = false;       // an error is scheduled: accept no more events
  std::vector<Event> pending;  // live events that arrived during the replay
  std::vector<Event> queue;    // to deliver
  bool has_error = false;
  Status error;
  // Set under mu_, read by the dispatcher under delivery_mu.
  std::atomic<bool> cancelled{false};
  // Held while a callback of this watcher runs, so Cancel() can wait for it.
  std::mutex delivery_mu;
};

class WatchHub::Handle final : public WatchHandle {
 public:
  Handle(std::weak_ptr<WatchHub> hub, std::shared_ptr<Watcher> w)
      : hub_(std::move(hub)), w_(std::move(w)) {}
  ~Handle() override { Cancel(); }
  void Cancel() override {
    if (!w_) return;
    if (auto hub = hub_.lock()) {
      hub->Cancel(w_);
    } else {
      // The hub is gone and its dispatcher joined: nothing can run any more.
      w_->cancelled = true;
    }
    w_.reset();
  }

 private:
  std::weak_ptr<WatchHub> hub_;
  std::shared_ptr<Watcher> w_;
};

std::shared_ptr<WatchHub> WatchHub::Create(int64_t last_revision) {
  std::shared_ptr<WatchHub> hub(new WatchHub());
  hub->published_ = last_revision;
  hub->dispatcher_ = std::thread([raw = hub.get()] {
    util::NameThisThread("store-watch");
    raw->Run();
  });
  hub->dispatcher_id_ = hub->dispatcher_.get_id();
  return hub;
}

WatchHub::~WatchHub() {
  if (dispatcher_.joinable()) {
    if (std::this_thread::get_id() == dispatcher_.get_id()) {
      dispatcher_.detach();
    } else {
      {
        std::lock_guard lock(mu_);
        stopping_ = true;
      }
      cv_.notify_all();
      dispatcher_.join();
    }
  }
}

std::shared_ptr<WatchHub::Watcher> WatchHub::Register(std::string prefix, int64_t after_revision,
                                                      WatchCallbacks callbacks,
                                                      int64_t* published) {
  auto w = std::make_shared<Watcher>();
  w->prefix = std::move(prefix);
  w->callbacks = std::move(callbacks);
  std::lock_guard lock(mu_);
  *published = published_;
  w->after = after_revision == 0 ? published_ : after_revision;
  watchers_.push_back(w);
  return w;
}

void WatchHub::Activate(const std::shared_ptr<Watcher>& w, std::vector<Event> replay) {
  std::lock_guard lock(mu_);
  if (w->cancelled) return;
  for (auto* src : {&replay, &w->pending}) {
    for (auto& ev : *src) {
      if (ev.kv.mod_revision <= w->after) continue;
      w->after = ev.kv.mod_revision;
      w->queue.push_back(std::move(ev));
    }
  }
  w->pending.clear();
  w->pending.shrink_to_fit();
  w->active = true;
  if (!w->queue.empty() || w->has_error) {
    w->queued = true;
    ready_.push_back(w);
    cv_.notify_one();
  }
}

void WatchHub::Abandon(const std::shared_ptr<Watcher>& w) {
  std::lock_guard lock(mu_);
  w->cancelled = true;
  std::erase(watchers_, w);
}

std::unique_ptr<WatchHandle> WatchHub::MakeHandle(std::shared_ptr<Watcher> watcher) {
  return std::make_unique<Handle>(weak_from_this(), std::move(watcher));
}

void WatchHub::Publish(std::vector<Event> events) {
  if (events.empty()) return;
  std::lock_guard lock(mu_);
  published_ = events.back().kv.mod_revision;
  for (auto& w : watchers_) {
    if (w->finished) continue;
    bool added = false;
    for (const auto& ev : events) {
      if (ev.kv.mod_revision <= w->after) continue;
      if (ev.kv.key.compare(0, w->prefix.size(), w->prefix) != 0) continue;
      if (w->active) {
        w->after = ev.kv.mod_revision;
        w->queue.push_back(ev);
        added = true;
      } else {
        w->pending.push_back(ev);
      }
    }
    if (added && !w->queued) {
      w->queued = true;
      ready_.push_back(w);
    }
  }
  cv_.notify_one();
}

int64_t WatchHub::published() const {
  std::lock_guard lock(mu_);
  return published_;
}

void WatchHub::Post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      tasks_.push_back(std::move(task));
      cv_.notify_one();
      return;
    }
  }
  task();  // the dispatcher is gone: run it here rather than drop it
}

void WatchHub::Cancel(const std::shared_ptr<Watcher>& w) {
  {
    std::lock_guard lock(mu_);
    w->cancelled = true;
    std::erase(watchers_, w);
    w->queue.clear();
    w->pending.clear();
  }
  if (std::this_thread::get_id() != dispatcher_id_) {
    // Wait for a callback of this watcher that may be running right now.
    std::lock_guard wait(w->delivery_mu);
  }
}

void WatchHub::Shutdown(Status status) {
  {
    std::lock_guard lock(mu_);
    for (auto& w : watchers_) {
      w->finished = true;
      w->has_error = true;
      w->error = status;
      if (w->active && !w->queued) {
        w->queued = true;
        ready_.push_back(w);
      }
    }
    watchers_.clear();
    stopping_ = true;
  }
  cv_.notify_all();
  if (dispatcher_.joinable()) {
    if (std::this_thread::get_id() == dispatcher_id_) {
      dispatcher_.detach();
    } else {
      dispatcher_.join();
    }
  }
}

void WatchHub::Run() {
  MarkStoreThread();
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !ready_.empty() || !tasks_.empty(); });
    if (!tasks_.empty()) {
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
      continue;
    }
    if (!ready_.empty()) {
      std::shared_ptr<Watcher> w = std::move(ready_.front());
      ready_.pop_front();
      w->queued = false;
      std::vector<Event> batch = std::move(w->queue);
      w->queue.clear();
      bool has_error = std::exchange(w->has_error, false);
      Status error = w->error;
      if (has_error) std::erase(watchers_, w);
      lock.unlock();
      {
        std::lock_guard deliver(w->delivery_mu);
        if (!w->cancelled) {
          if (!batch.empty() && w->callbacks.on_events) w->callbacks.on_events(std::move(batch));
          if (has_error && w->callbacks.on_error) w->callbacks.on_error(error);
        }
      }
      lock.lock();
      continue;
    }
    if (stopping_) return;
  }
}

}  // namespace sampan::store
