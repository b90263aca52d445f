#include "client/informer.h"

#include <algorithm>
#include <random>

#include "util/log.h"
#include "util/thread_name.h"

namespace sampan::client {
namespace json = boost::json;

std::string MetaString(const json::object& obj, std::string_view field) {
  auto* m = obj.if_contains("metadata");
  if (!m || !m->is_object()) return "";
  auto* v = m->as_object().if_contains(field);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

const json::object* MetaObject(const json::object& obj, std::string_view field) {
  auto* m = obj.if_contains("metadata");
  if (!m || !m->is_object()) return nullptr;
  auto* v = m->as_object().if_contains(field);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

std::string KeyOf(const json::object& obj) {
  std::string ns = MetaString(obj, "namespace");
  std::string name = MetaString(obj, "name");
  return ns.empty() ? name : ns + "/" + name;
}

std::pair<std::string, std::string> SplitKey(std::string_view key) {
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return {"", std::string(key)};
  return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

Informer::Informer(RestClient* client, Resource resource, std::string ns, ListOptions opts,
                   std::chrono::milliseconds resync)
    : client_(client),
      resource_(std::move(resource)),
      ns_(std::move(ns)),
      opts_(std::move(opts)),
      resync_(resync) {}

Informer::~Informer() { Stop(); }

void Informer::AddEventHandler(EventHandlers handlers) { handlers_.push_back(std::move(handlers)); }

void Informer::AddIndex(const std::string& name, IndexFunc func) {
  index_funcs_[name] = std::move(func);
}

void Informer::Start() {
  thread_ = std::thread([this] {
    util::NameThisThread("informer");
    RunLoop();
  });
  if (resync_.count() > 0) resync_thread_ = std::thread([this] { ResyncLoop(); });
}

void Informer::Stop() {
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    if (watch_) watch_->Cancel();
    state_cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (resync_thread_.joinable()) resync_thread_.join();
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(state_mu_);
  return state_cv_.wait_until(lock, deadline, [this] { return synced_.load() || stopping_; }) &&
         synced_.load();
}

bool Informer::SleepFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(state_mu_);
  state_cv_.wait_for(lock, d, [this] { return stopping_; });
  return !stopping_;
}

ObjectPtr Informer::Get(std::string_view key) const {
  std::shared_lock lock(cache_mu_);
  auto it = items_.find(key);
  return it == items_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Informer::List() const {
  std::shared_lock lock(cache_mu_);
  std::vector<ObjectPtr> out;
  out.reserve(items_.size());
  for (const auto& [k, v] : items_) out.push_back(v);
  return out;
}

std::vector<ObjectPtr> Informer::ByIndex(const std::string& index, const std::string& value) const {
  std::shared_lock lock(cache_mu_);
  std::vector<ObjectPtr> out;
  auto idx = indices_.find(index);
  if (idx == indices_.end()) return out;
  auto keys = idx->second.find(value);
  if (keys == idx->second.end()) return out;
  for (const auto& k : keys->second) {
    if (auto it = items_.find(k); it != items_.end()) out.push_back(it->second);
  }
  return out;
}

std::string Informer::last_resource_version() const {
  std::shared_lock lock(cache_mu_);
  return rv_;
}

void Informer::IndexLocked(const std::string& key, const json::object* old_obj,
                           const json::object* new_obj) {
  for (const auto& [name, fn] : index_funcs_) {
    std::vector<std::string> old_values, new_values;
    if (old_obj) old_values = fn(*old_obj);
    if (new_obj) new_values = fn(*new_obj);
    // Most updates (a status change) keep every index value: nothing to move.
    if (old_values == new_values) continue;
    auto& idx = indices_[name];
    for (const auto& v : old_values) {
      if (std::find(new_values.begin(), new_values.end(), v) != new_values.end()) continue;
      auto it = idx.find(v);
      if (it == idx.end()) continue;
      it->second.erase(key);
      if (it->second.empty()) idx.erase(it);
    }
    for (const auto& v : new_values) idx[v].insert(key);
  }
}

ObjectPtr Informer::Upsert(const std::string& key, ObjectPtr obj) {
  std::unique_lock lock(cache_mu_);
  auto [it, added] = items_.try_emplace(key);  // one walk of the tree for both
  ObjectPtr old = std::move(it->second);
  IndexLocked(key, old.get(), obj.get());
  it->second = std::move(obj);
  return old;
}

ObjectPtr Informer::Remove(const std::string& key) {
  std::unique_lock lock(cache_mu_);
  auto it = items_.find(key);
  if (it == items_.end()) return nullptr;
  ObjectPtr old = it->second;
  IndexLocked(key, old.get(), nullptr);
  items_.erase(it);
  return old;
}

void Informer::Deliver(const std::function<void()>& fn) {
  std::lock_guard<std::mutex> lock(deliver_mu_);
  fn();
}

Status Informer::ListAndReplace() {
  ListOptions o;
  o.label_selector = opts_.label_selector;
  o.field_selector = opts_.field_selector;
  o.limit = 500;
  ASSIGN_OR_RETURN(json::object list, client_->ListAll(resource_, ns_, o));
  std::string rv;
  if (auto* m = list.if_contains("metadata"); m && m->is_object()) {
    if (auto* v = m->as_object().if_contains("resourceVersion"); v && v->is_string())
      rv = v->as_string().c_str();
  }
  std::map<std::string, ObjectPtr> fresh;
  if (auto* items = list.if_contains("items"); items && items->is_array()) {
    for (auto& it : items->as_array()) {
      if (!it.is_object()) continue;
      json::object obj = std::move(it.as_object());
      // Lists omit kind/apiVersion per item; fill them so consumers see whole objects.
      if (!obj.contains("kind")) obj["kind"] = resource_.kind;
      if (!obj.contains("apiVersion")) obj["apiVersion"] = resource_.ApiVersion();
      std::string key = KeyOf(obj);
      fresh[key] = std::make_shared<const json::object>(std::move(obj));
    }
  }
  // Work out deletions first (objects we had that the list no longer has).
  std::vector<std::string> gone;
  {
    std::shared_lock lock(cache_mu_);
    for (const auto& [k, v] : items_) {
      if (!fresh.count(k)) gone.push_back(k);
    }
  }
  for (const auto& k : gone) {
    ObjectPtr old = Remove(k);
    if (old)
      Deliver([&] {
        for (auto& h : handlers_)
          if (h.on_delete) h.on_delete(old);
      });
  }
  for (auto& [k, obj] : fresh) {
    ObjectPtr old = Upsert(k, obj);
    if (old && MetaString(*old, "resourceVersion") == MetaString(*obj, "resourceVersion")) continue;
    Deliver([&] {
      for (auto& h : handlers_) {
        if (old) {
          if (h.on_update) h.on_update(old, obj);
        } else if (h.on_add) {
          h.on_add(obj);
        }
      }
    });
  }
  {
    std::unique_lock lock(cache_mu_);
    rv_ = rv;
  }
  if (!synced_.load()) {
    std::lock_guard<std::mutex> lock(state_mu_);
    synced_.store(true);
    state_cv_.notify_all();
  }
  return Status::Ok();
}

Status Informer::WatchOnce() {
  ListOptions o;
  o.label_selector = opts_.label_selector;
  o.field_selector = opts_.field_selector;
  o.resource_version = last_resource_version();
  o.allow_bookmarks = true;
  // Like client-go: a random 5–10 minute server-side timeout spreads re-watches.
  static thread_local std::mt19937 rng(std::random_device{}());
  o.timeout_seconds = 300 + static_cast<int>(rng() % 300);
  ASSIGN_OR_RETURN(std::unique_ptr<WatchStream> w, client_->Watch(resource_, ns_, o));
  std::shared_ptr<WatchStream> stream(std::move(w));
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    if (stopping_) return Status::Ok();
    watch_ = stream;
  }
  Status result;
  for (;;) {
    WatchEvent ev;
    auto more = stream->Next(&ev);
    if (!more.ok()) {
      result = more.status();
      break;
    }
    if (!*more) break;
    std::string rv = MetaString(ev.obj(), "resourceVersion");
    if (ev.type == "BOOKMARK") {
      std::unique_lock lock(cache_mu_);
      if (!rv.empty()) rv_ = rv;
      continue;
    }
    ObjectPtr obj;
    if (ev.shared && ev.shared->contains("kind") && ev.shared->contains("apiVersion")) {
      obj = std::move(ev.shared);  // the server's own copy, shared (in-process loopback)
    } else {
      json::object o = ev.shared ? *ev.shared : std::move(ev.object);
      if (!o.contains("kind")) o["kind"] = resource_.kind;
      if (!o.contains("apiVersion")) o["apiVersion"] = resource_.ApiVersion();
      obj = std::make_shared<const json::object>(std::move(o));
    }
    std::string key = KeyOf(*obj);
    if (ev.type == "ADDED" || ev.type == "MODIFIED") {
      ObjectPtr old = Upsert(key, obj);
      Deliver([&] {
        for (auto& h : handlers_) {
          if (old) {
            if (h.on_update) h.on_update(old, obj);
          } else if (h.on_add) {
            h.on_add(obj);
          }
        }
      });
    } else if (ev.type == "DELETED") {
      ObjectPtr old = Remove(key);
      ObjectPtr last = obj;  // the deleted object's final state
      if (old || last)
        Deliver([&] {
          for (auto& h : handlers_)
            if (h.on_delete) h.on_delete(last);
        });
    }
    if (!rv.empty()) {
      std::unique_lock lock(cache_mu_);
      rv_ = rv;
    }
  }
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    watch_.reset();
  }
  return result;
}

void Informer::RunLoop() {
  std::chrono::milliseconds backoff(100);
  const std::chrono::milliseconds max_backoff(std::chrono::seconds(10));
  bool need_list = true;
  while (SleepFor(std::chrono::milliseconds(0))) {
    if (need_list) {
      Status st = ListAndReplace();
      if (!st.ok()) {
        LOG(WARNING) << "informer " << resource_.plural << ": list failed: " << st.ToString();
        if (!SleepFor(backoff)) return;
        backoff = std::min(backoff * 2, max_backoff);
        continue;
      }
      need_list = false;
    }
    Status st = WatchOnce();
    if (st.ok()) {
      backoff = std::chrono::milliseconds(100);
      continue;  // the server closed the stream: watch again from the last version
    }
    if (st.code() == Code::kGone) {
      LOG(DEBUG) << "informer " << resource_.plural << ": watch expired, re-listing";
      need_list = true;
      continue;
    }
    LOG(WARNING) << "informer " << resource_.plural << ": watch failed: " << st.ToString();
    if (!SleepFor(backoff)) return;
    backoff = std::min(backoff * 2, max_backoff);
    need_list = st.code() != Code::kUnavailable && st.code() != Code::kTimeout;
  }
}

void Informer::ResyncLoop() {
  while (SleepFor(resync_)) {
    if (!synced_.load()) continue;
    for (const auto& obj : List()) {
      Deliver([&] {
        for (auto& h : handlers_)
          if (h.on_update) h.on_update(obj, obj);
      });
    }
  }
}

}  // namespace sampan::client
