#include "apiserver/object_cache.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <chrono>

#include "util/log.h"

namespace sampan::apiserver {

namespace json = boost::json;
namespace asio = boost::asio;

namespace {

constexpr size_t kWindowSize = 20000;        // events kept for watches from the past
constexpr size_t kMaxWatcherBacklog = 50000;  // a watcher further behind is dropped

ObjectPtr Parse(const store::KeyValue& kv, int64_t revision) {
  boost::system::error_code ec;
  json::value v = json::parse(kv.value, ec);
  if (ec || !v.is_object()) {
    LOG(ERROR) << "store holds an unreadable object at " << kv.key << ": " << ec.message();
    return nullptr;
  }
  return MakeStored(kv.key, std::move(v.as_object()), revision);
}

}  // namespace

ObjectPtr MakeStored(std::string key, json::object obj, int64_t revision) {
  auto out = std::make_shared<StoredObject>();
  out->key = std::move(key);
  out->obj = std::move(obj);
  out->mod_revision = revision;
  if (revision > 0) {
    json::value& meta = out->obj["metadata"];
    if (!meta.is_object()) meta.emplace_object();
    meta.as_object()["resourceVersion"] = std::to_string(revision);
  }
  out->json = json::serialize(out->obj);
  return out;
}

std::vector<CacheEvent> CacheWatcher::Take(bool* closed) {
  std::lock_guard lk(mu_);
  *closed = closed_;
  std::vector<CacheEvent> out;
  out.swap(queue_);
  return out;
}

void CacheWatcher::Push(const CacheEvent& ev) {
  {
    std::lock_guard lk(mu_);
    if (closed_) return;
    if (queue_.size() >= kMaxWatcherBacklog) {
      closed_ = true;
      queue_.clear();
    } else {
      queue_.push_back(ev);
    }
  }
  notify_();
}

void CacheWatcher::Close() {
  {
    std::lock_guard lk(mu_);
    closed_ = true;
  }
  notify_();
}

ObjectCache::ObjectCache(store::Backend& backend) : backend_(backend) {}

ObjectCache::~ObjectCache() {
  if (handle_) handle_->Cancel();
  std::lock_guard lk(mu_);
  for (auto& w : watchers_) w->Close();
}

Status ObjectCache::Start() {
  ASSIGN_OR_RETURN(store::ListResult all, backend_.List("/registry/", "", 0, 0));
  {
    std::lock_guard lk(mu_);
    for (auto& kv : all.items) {
      if (auto obj = Parse(kv, kv.mod_revision)) objects_[kv.key] = obj;
    }
    revision_ = all.revision;
    window_start_ = all.revision;
  }
  store::WatchCallbacks cb;
  cb.on_events = [this](std::vector<store::Event> evs) { OnEvents(std::move(evs)); };
  cb.on_error = [this](Status st) { OnError(st); };
  ASSIGN_OR_RETURN(handle_, backend_.Watch("/registry/", all.revision, std::move(cb)));
  LOG(INFO) << "watch cache loaded " << all.items.size() << " objects at revision " << all.revision;
  return Status::Ok();
}

void ObjectCache::OnError(Status st) {
  LOG(ERROR) << "store watch failed: " << st.ToString();
  std::lock_guard lk(mu_);
  for (auto& w : watchers_) w->Close();
  watchers_.clear();
}

void ObjectCache::OnEvents(std::vector<store::Event> events) {
  std::vector<std::function<void()>> wake;
  {
    std::lock_guard lk(mu_);
    for (auto& ev : events) {
      int64_t rev = ev.kv.mod_revision;
      if (rev <= revision_) continue;  // already applied (replay overlap)
      CacheEvent ce;
      ce.revision = rev;
      auto it = objects_.find(ev.kv.key);
      ce.prev = it == objects_.end() ? nullptr : it->second;
      if (ev.type == store::Event::Type::kDelete) {
        ce.type = CacheEvent::Type::kDeleted;
        store::KeyValue last = ev.kv;
        if (last.value.empty() && ce.prev) {
          ce.obj = ce.prev;
        } else {
          ce.obj = Parse(last, rev);
        }
        if (ce.obj && ce.obj->mod_revision != rev) ce.obj = MakeStored(ce.obj->key, ce.obj->obj, rev);
        if (it != objects_.end()) objects_.erase(it);
      } else {
        ce.type = ce.prev ? CacheEvent::Type::kModified : CacheEvent::Type::kAdded;
        ce.obj = Parse(ev.kv, rev);
        if (!ce.obj) continue;
        objects_[ev.kv.key] = ce.obj;
      }
      revision_ = rev;
      if (!ce.obj) continue;
      window_.push_back(ce);
      while (window_.size() > kWindowSize) {
        window_start_ = window_.front().revision;
        window_.pop_front();
      }
      for (auto& w : watchers_) {
        if (ce.obj->key.compare(0, w->prefix().size(), w->prefix()) == 0) w->Push(ce);
      }
    }
    // Drop watchers the cache closed for being too slow.
    std::erase_if(watchers_, [](const std::shared_ptr<CacheWatcher>& w) {
      std::lock_guard wl(w->mu_);
      return w->closed_;
    });
    auto split = std::partition(waiters_.begin(), waiters_.end(),
                                [this](const Waiter& w) { return w.revision > revision_; });
    for (auto it = split; it != waiters_.end(); ++it) wake.push_back(std::move(it->wake));
    waiters_.erase(split, waiters_.end());
  }
  applied_cv_.notify_all();
  for (auto& f : wake) f();
}

ObjectPtr ObjectCache::Get(const std::string& key) const {
  std::lock_guard lk(mu_);
  auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> ObjectCache::List(const std::string& prefix, int64_t* revision) const {
  std::vector<ObjectPtr> out;
  std::lock_guard lk(mu_);
  for (auto it = objects_.lower_bound(prefix);
       it != objects_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    out.push_back(it->second);
  }
  if (revision) *revision = revision_;
  return out;
}

int64_t ObjectCache::revision() const {
  std::lock_guard lk(mu_);
  return revision_;
}

size_t ObjectCache::watcher_count() const {
  std::lock_guard lk(mu_);
  return watchers_.size();
}

Result<std::shared_ptr<CacheWatcher>> ObjectCache::Watch(const std::string& prefix,
                                                         int64_t after_revision,
                                                         std::function<void()> notify,
                                                         std::vector<ObjectPtr>* initial,
                                                         int64_t* initial_revision) {
  auto w = std::make_shared<CacheWatcher>(prefix, std::move(notify));
  std::lock_guard lk(mu_);
  if (initial) {
    for (auto it = objects_.lower_bound(prefix);
         it != objects_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      initial->push_back(it->second);
    }
    if (initial_revision) *initial_revision = revision_;
  } else {
    if (after_revision < window_start_) {
      return Gone("too old resource version: " + std::to_string(after_revision) + " (" +
                  std::to_string(window_start_ + 1) + ")");
    }
    for (auto& ev : window_) {
      if (ev.revision > after_revision &&
          ev.obj->key.compare(0, prefix.size(), prefix) == 0) {
        std::lock_guard wl(w->mu_);
        w->queue_.push_back(ev);
      }
    }
  }
  watchers_.push_back(w);
  return w;
}

void ObjectCache::Unwatch(const std::shared_ptr<CacheWatcher>& w) {
  std::lock_guard lk(mu_);
  std::erase(watchers_, w);
}

asio::awaitable<void> ObjectCache::WaitFor(int64_t revision) {
  {
    std::lock_guard lk(mu_);
    if (revision_ >= revision) co_return;
  }
  auto ex = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(ex, std::chrono::seconds(10));
  {
    std::lock_guard lk(mu_);
    if (revision_ >= revision) co_return;
    waiters_.push_back({revision, [timer, ex] {
                          asio::post(ex, [timer] { timer->cancel(); });
                        }});
  }
  boost::system::error_code ec;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace sampan::apiserver
