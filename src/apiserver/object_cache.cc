#include "apiserver/object_cache.h"

#include <algorithm>
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

constexpr size_t kWindowSize = 20000;         // events kept for watches from the past
constexpr size_t kMaxWatcherBacklog = 50000;  // a watcher further behind is dropped

ObjectPtr Parse(const store::KeyValue& kv, int64_t revision) {
  return ParseStored(kv.key, kv.value, revision);
}

// The offset of the closing brace of the top-level "metadata" object in `text`, the JSON text of
// an object; npos if there is none. Strings are skipped whole, so braces or quotes inside them
// do not count.
size_t MetadataEnd(std::string_view text) {
  int depth = 0;
  bool expect_metadata_value = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') {
      size_t start = ++i;
      while (i < text.size() && text[i] != '"') i += text[i] == '\\' ? 2 : 1;
      if (i >= text.size()) return std::string_view::npos;
      if (depth == 1 && i + 1 < text.size() && text[i + 1] == ':' &&
          text.substr(start, i - start) == "metadata") {
        expect_metadata_value = true;
      }
      continue;
    }
    if (c == '{' || c == '[') {
      ++depth;
      if (expect_metadata_value && depth == 2 && c == '{') {
        // Find this object's end: scan on until the depth drops back to 1.
        for (++i; i < text.size(); ++i) {
          c = text[i];
          if (c == '"') {
            for (++i; i < text.size() && text[i] != '"';) i += text[i] == '\\' ? 2 : 1;
          } else if (c == '{' || c == '[') {
            ++depth;
          } else if (c == '}' || c == ']') {
            if (--depth == 1) return i;
          }
        }
        return std::string_view::npos;
      }
      expect_metadata_value = false;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c != ':' && c != ' ') {
      expect_metadata_value = false;
    }
  }
  return std::string_view::npos;
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

ObjectPtr MakeStoredFromText(std::string key, json::object obj, std::string_view text,
                             int64_t revision) {
  json::value* meta = obj.if_contains("metadata");
  size_t end = MetadataEnd(text);
  if (revision <= 0 || !meta || !meta->is_object() ||
      meta->as_object().contains("resourceVersion") || end == std::string_view::npos) {
    return MakeStored(std::move(key), std::move(obj), revision);
  }
  std::string rv = std::to_string(revision);
  // Appended last, as serializing the object after the insertion below would place it.
  meta->as_object()["resourceVersion"] = rv;
  auto out = std::make_shared<StoredObject>();
  out->key = std::move(key);
  out->obj = std::move(obj);
  out->mod_revision = revision;
  constexpr std::string_view kField = "\"resourceVersion\":\"";
  bool empty_meta = end > 0 && text[end - 1] == '{';
  out->json.reserve(text.size() + kField.size() + rv.size() + 2);
  out->json.append(text.substr(0, end));
  if (!empty_meta) out->json += ',';
  out->json.append(kField);
  out->json.append(rv);
  out->json += '"';
  out->json.append(text.substr(end));
  return out;
}

ObjectPtr ParseStored(const std::string& key, std::string_view text, int64_t revision) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    LOG(ERROR) << "store holds an unreadable object at " << key << ": " << ec.message();
    return nullptr;
  }
  return MakeStoredFromText(key, std::move(v.as_object()), text, revision);
}

std::vector<CacheEvent> CacheWatcher::Take(bool* closed) {
  std::lock_guard lk(mu_);
  *closed = closed_;
  std::vector<CacheEvent> out;
  out.swap(queue_);
  return out;
}

bool CacheWatcher::Wants(const CacheEvent& ev) const {
  if (ev.obj->key.compare(0, prefix_.size(), prefix_) != 0) return false;
  return !accept_ || accept_(ev);
}

void CacheWatcher::Push(const CacheEvent& ev) {
  bool was_empty = false;
  {
    std::lock_guard lk(mu_);
    if (closed_) return;
    was_empty = queue_.empty();
    if (queue_.size() >= kMaxWatcherBacklog) {
      closed_ = true;
      queue_.clear();
      was_empty = true;  // wake the handler to see it closed
    } else {
      queue_.push_back(ev);
    }
  }
  // One wake-up per batch: a non-empty queue was announced when it became non-empty, and the
  // handler takes the whole queue before it waits again.
  if (was_empty) notify_();
}

void CacheWatcher::Close() {
  {
    std::lock_guard lk(mu_);
    closed_ = true;
  }
  notify_();
}

void AppliedRevision::OnApplied(int64_t revision, std::function<void()> fn) {
  {
    std::lock_guard lk(mu_);
    if (revision_ < revision && !stopped_) {
      waiters_.push_back({revision, std::move(fn)});
      return;
    }
  }
  fn();
}

int64_t AppliedRevision::revision() const {
  std::lock_guard lk(mu_);
  return revision_;
}

void AppliedRevision::Advance(int64_t revision) {
  std::vector<std::function<void()>> due;
  {
    std::lock_guard lk(mu_);
    if (revision <= revision_) return;
    revision_ = revision;
    auto split = std::partition(waiters_.begin(), waiters_.end(),
                                [revision](const Waiter& w) { return w.revision > revision; });
    due.reserve(waiters_.end() - split);
    for (auto it = split; it != waiters_.end(); ++it) due.push_back(std::move(it->fn));
    waiters_.erase(split, waiters_.end());
  }
  for (auto& f : due) f();
}

void AppliedRevision::Stop(bool run_waiters) {
  std::vector<Waiter> all;
  {
    std::lock_guard lk(mu_);
    stopped_ = true;
    all.swap(waiters_);
  }
  if (run_waiters) {
    for (auto& w : all) w.fn();
  }
}

ObjectCache::ObjectCache(store::Backend& backend) : backend_(backend) {}

ObjectCache::~ObjectCache() {
  if (handle_) handle_->Cancel();
  // Waiting writes are dropped, not resumed: their handlers belong to executors that are being
  // torn down with the server (Asio destroys an abandoned coroutine on its own executor).
  applied_->Stop(/*run_waiters=*/false);
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
  applied_->Advance(all.revision);
  store::WatchCallbacks cb;
  cb.on_events = [this](std::vector<store::Event> evs) { OnEvents(std::move(evs)); };
  cb.on_error = [this](Status st) { OnError(st); };
  ASSIGN_OR_RETURN(handle_, backend_.Watch("/registry/", all.revision, std::move(cb)));
  LOG(INFO) << "watch cache loaded " << all.items.size() << " objects at revision " << all.revision;
  return Status::Ok();
}

void ObjectCache::OnError(Status st) {
  LOG(ERROR) << "store watch failed: " << st.ToString();
  {
    std::lock_guard lk(mu_);
    for (auto& w : watchers_) w->Close();
    watchers_.clear();
  }
  // The cache will apply nothing more: let waiting writes answer from what they have.
  applied_->Stop(/*run_waiters=*/true);
}

void ObjectCache::OnEvents(std::vector<store::Event> events) {
  // The new states are built before the lock is taken: the text splicing, the allocations and,
  // for writes made elsewhere, the parse. Under the lock only the map, the window and the
  // watcher queues change, so that readers (every write handler looks up its namespace) wait
  // for as little as possible. Only this thread applies events, so what is built here is what
  // is applied, unless a replay overlap skips it below.
  std::vector<ObjectPtr> built(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const store::Event& ev = events[i];
    const int64_t rev = ev.kv.mod_revision;
    if (ev.type == store::Event::Type::kDelete) {
      // A delete without the last value takes the cached state, under the lock.
      if (!ev.kv.value.empty()) built[i] = Parse(ev.kv, rev);
    } else if (auto offered = TakeOffered(ev.kv.key, ev.kv.value)) {
      built[i] = MakeStoredFromText(ev.kv.key, std::move(*offered), ev.kv.value, rev);
    } else {
      built[i] = Parse(ev.kv, rev);
    }
  }
  int64_t applied = 0;
  std::vector<CacheEvent> dropped;  // out of the window: freed after the lock is released
  {
    std::lock_guard lk(mu_);
    for (size_t i = 0; i < events.size(); ++i) {
      const store::Event& ev = events[i];
      int64_t rev = ev.kv.mod_revision;
      if (rev <= revision_) continue;  // already applied (replay overlap)
      CacheEvent ce;
      ce.revision = rev;
      auto it = objects_.find(ev.kv.key);
      ce.prev = it == objects_.end() ? nullptr : it->second;
      ce.obj = std::move(built[i]);
      if (ev.type == store::Event::Type::kDelete) {
        ce.type = CacheEvent::Type::kDeleted;
        if (!ce.obj) ce.obj = ce.prev;
        if (ce.obj && ce.obj->mod_revision != rev)
          ce.obj = MakeStored(ce.obj->key, ce.obj->obj, rev);
        if (it != objects_.end()) objects_.erase(it);
      } else {
        ce.type = ce.prev ? CacheEvent::Type::kModified : CacheEvent::Type::kAdded;
        if (!ce.obj) {
          revision_ = rev;  // skipped, but applied: a write waiting for it must not hang
          continue;
        }
        if (it != objects_.end()) {
          it->second = ce.obj;
        } else {
          objects_.emplace_hint(it, ev.kv.key, ce.obj);
        }
      }
      revision_ = rev;
      if (!ce.obj) continue;
      window_.push_back(ce);
      while (window_.size() > kWindowSize) {
        window_start_ = window_.front().revision;
        dropped.push_back(std::move(window_.front()));
        window_.pop_front();
      }
      for (auto& w : watchers_) {
        if (w->Wants(ce)) w->Push(ce);
      }
    }
    // Drop watchers the cache closed for being too slow.
    std::erase_if(watchers_, [](const std::shared_ptr<CacheWatcher>& w) {
      std::lock_guard wl(w->mu_);
      return w->closed_;
    });
    applied = revision_;
  }
  applied_->Advance(applied);
}

namespace {
// Numbers as parsing the text would give them back: a non-negative integer that fits int64 is an
// int64 after a parse, whatever kind the writer's object held it as.
void AsParsed(json::value& v) {
  switch (v.kind()) {
    case json::kind::uint64:
      if (v.get_uint64() <= static_cast<uint64_t>(INT64_MAX))
        v = static_cast<int64_t>(v.get_uint64());
      break;
    case json::kind::object:
      for (auto& kv : v.get_object()) AsParsed(kv.value());
      break;
    case json::kind::array:
      for (auto& e : v.get_array()) AsParsed(e);
      break;
    default:
      break;
  }
}
}  // namespace

uint64_t ObjectCache::Offer(const std::string& key, std::string text, json::object obj) {
  for (auto& kv : obj) AsParsed(kv.value());
  // The stored text never holds a resourceVersion: neither may the object kept for it.
  if (auto* m = obj.if_contains("metadata"); m && m->is_object())
    m->as_object().erase("resourceVersion");
  std::lock_guard lk(offers_mu_);
  uint64_t ticket = ++next_ticket_;
  offers_.emplace(key, Offered{ticket, std::move(text), std::move(obj)});
  offer_order_.emplace_back(key, ticket);
  while (offer_order_.size() > kMaxOffers) {
    auto [old_key, old_ticket] = std::move(offer_order_.front());
    offer_order_.pop_front();
    auto [b, e] = offers_.equal_range(old_key);
    for (auto it = b; it != e; ++it) {
      if (it->second.ticket == old_ticket) {
        offers_.erase(it);
        break;
      }
    }
  }
  return ticket;
}

void ObjectCache::Withdraw(const std::string& key, uint64_t ticket) {
  std::lock_guard lk(offers_mu_);
  auto [b, e] = offers_.equal_range(key);
  for (auto it = b; it != e; ++it) {
    if (it->second.ticket == ticket) {
      offers_.erase(it);
      break;  // its offer_order_ entry goes when it reaches the front (found nothing then)
    }
  }
  if (offers_.empty()) offer_order_.clear();  // stale order entries would only be skipped later
}

size_t ObjectCache::offer_count() const {
  std::lock_guard lk(offers_mu_);
  return offers_.size();
}

std::optional<json::object> ObjectCache::TakeOffered(const std::string& key,
                                                     std::string_view text) {
  std::lock_guard lk(offers_mu_);
  auto [b, e] = offers_.equal_range(key);
  for (auto it = b; it != e; ++it) {
    if (it->second.text == text) {
      std::optional<json::object> out(std::move(it->second.obj));
      offers_.erase(it);
      return out;
    }
  }
  return std::nullopt;
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

Result<std::shared_ptr<CacheWatcher>> ObjectCache::Watch(
    const std::string& prefix, int64_t after_revision, std::function<void()> notify,
    std::vector<ObjectPtr>* initial, int64_t* initial_revision, CacheEventFilter accept) {
  auto w = std::make_shared<CacheWatcher>(prefix, std::move(notify), std::move(accept));
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
      if (ev.revision > after_revision && w->Wants(ev)) {
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
  if (applied_->revision() >= revision) co_return;
  auto ex = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(ex, std::chrono::seconds(10));
  applied_->OnApplied(revision, [timer, ex] { asio::post(ex, [timer] { timer->cancel(); }); });
  if (applied_->revision() >= revision) co_return;  // applied meanwhile: the cancel is harmless
  boost::system::error_code ec;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace sampan::apiserver
