// Watch: a chunked stream of {"type":...,"object":...} lines from the watch cache.
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <random>

#include "api/printers.h"
#include "apiserver/api_handler.h"
#include "apiserver/rest_internal.h"
#include "util/clock.h"

namespace sampan::apiserver {

namespace {

using Clk = std::chrono::steady_clock;
constexpr auto kBookmarkEvery = std::chrono::seconds(30);

struct WakeState {
  explicit WakeState(asio::any_io_executor ex) : timer(ex) {}
  asio::steady_timer timer;
  bool pending = false;
};

// Writes the events gathered as objects, or as text, if any; false once the client is gone.
asio::awaitable<bool> Flush(Responder& res, std::vector<StreamEvent>& evs, std::string& out) {
  Status st;
  if (!evs.empty()) {
    st = co_await res.WriteEvents(std::move(evs));
  } else if (!out.empty()) {
    st = co_await res.Write(std::move(out));
  }
  evs.clear();
  out.clear();
  co_return st.ok();
}

}  // namespace

asio::awaitable<void> ApiHandler::Watch(Request& req, Responder& res, const RequestInfo& info) {
  const api::KindInfo& kind = *info.kind;
  std::string field_selector = FieldSelectorForStorage(info, req.Query("fieldSelector"));
  if (!info.name.empty()) {
    // A watch on a single object is a watch with metadata.name selected.
    field_selector = field_selector.empty() ? "metadata.name=" + info.name
                                            : field_selector + ",metadata.name=" + info.name;
  }
  auto filter = internal::MakeFilter(kind, req.Query("labelSelector"), field_selector);
  if (!filter.ok()) {
    RETURN_REPLY(ErrorResponse(filter.status(), &info));
  }
  std::string rv_text(req.Query("resourceVersion"));
  int64_t after = 0;
  bool from_now = rv_text.empty() || rv_text == "0";
  if (!from_now) {
    auto [p, ec] = std::from_chars(rv_text.data(), rv_text.data() + rv_text.size(), after);
    if (ec != std::errc() || p != rv_text.data() + rv_text.size()) {
      Status bad =
          BadRequest("resourceVersion: Invalid value: \"" + rv_text + "\": must be an integer");
      RETURN_REPLY(ErrorResponse(bad, &info));
    }
  }
  bool send_initial = req.QueryBool("sendInitialEvents");
  if (send_initial) from_now = true;
  bool bookmarks = req.QueryBool("allowWatchBookmarks");
  bool table = api::AcceptsTable(req.Header("accept"));
  int64_t timeout_s = 0;
  if (auto t = req.Query("timeoutSeconds"); !t.empty()) {
    std::from_chars(t.data(), t.data() + t.size(), timeout_s);
  }
  if (timeout_s <= 0) {
    thread_local std::mt19937 rng{std::random_device{}()};
    timeout_s = 1800 + std::uniform_int_distribution<int>(0, 1800)(rng);
  }
  auto deadline = Clk::now() + std::chrono::seconds(timeout_s);

  auto ex = co_await asio::this_coro::executor;
  auto wake = std::make_shared<WakeState>(ex);
  std::weak_ptr<WakeState> weak = wake;
  auto notify = [weak, ex] {
    asio::post(ex, [weak] {
      if (auto w = weak.lock()) {
        w->pending = true;
        w->timer.cancel();
      }
    });
  };
  std::string prefix = ListPrefix(kind, info.ns);
  std::vector<ObjectPtr> initial;
  int64_t initial_rev = 0;
  // With a selector, the cache drops events of objects that neither match now nor matched before
  // (the loop below sends exactly those two kinds), so this watch is not woken for the rest.
  CacheEventFilter accept;
  if (!filter->labels.empty() || !filter->fields.terms().empty()) {
    auto shared = std::make_shared<const internal::Filter>(*filter);
    accept = [shared](const CacheEvent& ev) {
      return shared->Matches(ev.obj->obj) || (ev.prev && shared->Matches(ev.prev->obj));
    };
  }
  auto watcher = rest_.cache().Watch(prefix, after, notify, from_now ? &initial : nullptr,
                                     &initial_rev, std::move(accept));
  if (Status st = co_await res.BeginStream(200, "application/json"); !st.ok()) {
    if (watcher.ok()) rest_.cache().Unwatch(*watcher);
    co_return;
  }
  bool first_table = true;
  // The common case reuses the object's text: no serialization per watcher.
  auto encode_stored = [&](std::string_view type, const StoredObject& so) {
    if (table || info.events_v1()) return std::string();
    std::string line;
    line.reserve(so.json.size() + 32);
    line += "{\"type\":\"";
    line += type;
    line += "\",\"object\":";
    line += so.json;
    line += "}\n";
    return line;
  };
  auto encode = [&](std::string_view type, const json::object& obj) {
    json::object ev;
    ev["type"] = type;
    if (table) {
      api::TableOptions to;
      to.now_unix = Clock::Real().NowUnix();
      to.omit_columns = !first_table;
      first_table = false;
      std::vector<const json::object*> one;
      one.push_back(&obj);
      ev["object"] = api::BuildTable(kind, one, to);
    } else {
      ev["object"] = ViewOf(info, obj);
    }
    std::string line = json::serialize(ev);
    line.push_back('\n');
    return line;
  };
  auto encode_obj = [&](std::string_view type, const StoredObject& so) {
    std::string fast = encode_stored(type, so);
    return fast.empty() ? encode(type, so.obj) : fast;
  };
  // Over the in-process loopback (and when no other form was asked for) events go as objects:
  // the cache's own immutable copies, which the reader shares instead of parsing text.
  const bool typed = res.takes_objects() && !table && !info.events_v1();
  std::vector<StreamEvent> evs;  // typed: events waiting to be written
  std::string out;               // otherwise: their text
  auto add_stored = [&](std::string_view type, const ObjectPtr& so) {
    if (typed) {
      evs.push_back({std::string(type), std::shared_ptr<const json::object>(so, &so->obj)});
    } else {
      out += encode_obj(type, *so);
    }
  };
  auto add_owned = [&](std::string_view type, json::object obj) {
    if (typed) {
      evs.push_back({std::string(type), std::make_shared<const json::object>(std::move(obj))});
    } else if (type == "DELETED" || type == "ADDED" || type == "MODIFIED") {
      out += encode(type, obj);
    } else {
      out += json::serialize(json::object{{"type", type}, {"object", std::move(obj)}}) + "\n";
    }
  };
  auto add_bookmark = [&](int64_t rev, bool initial_end) {
    json::object meta{{"resourceVersion", std::to_string(rev)}};
    if (initial_end) meta["annotations"] = json::object{{"k8s.io/initial-events-end", "true"}};
    add_owned("BOOKMARK", json::object{{"kind", kind.kind},
                                       {"apiVersion", kind.ApiVersion()},
                                       {"metadata", std::move(meta)}});
  };
  if (!watcher.ok()) {
    // Kubernetes answers a too-old resourceVersion with an ERROR event, not an HTTP error.
    json::value st = json::parse(StatusJson(watcher.status()));
    st.as_object()["code"] = 410;
    st.as_object()["reason"] = "Expired";
    add_owned("ERROR", std::move(st.as_object()));
    if (typed) {
      co_await res.WriteEvents(std::move(evs));
    } else {
      co_await res.Write(std::move(out));
    }
    co_await res.Finish();
    co_return;
  }
  auto w = *watcher;
  res.WatchForClose(notify);
  for (auto& o : initial) {
    if (filter->Matches(o->obj)) add_stored("ADDED", o);
  }
  if (bookmarks && send_initial) add_bookmark(initial_rev, true);
  bool alive = true;
  alive = co_await Flush(res, evs, out);
  int64_t last_rev = from_now ? initial_rev : after;
  auto next_bookmark = Clk::now() + kBookmarkEvery;
  while (alive) {
    bool closed = false;
    std::vector<CacheEvent> events = w->Take(&closed);
    for (auto& ev : events) {
      last_rev = ev.revision;
      bool now_match = ev.type != CacheEvent::Type::kDeleted && filter->Matches(ev.obj->obj);
      bool was_match = ev.prev && filter->Matches(ev.prev->obj);
      if (ev.type == CacheEvent::Type::kDeleted) {
        if (filter->Matches(ev.obj->obj)) add_stored("DELETED", ev.obj);
      } else if (now_match && was_match) {
        add_stored("MODIFIED", ev.obj);
      } else if (now_match) {
        add_stored("ADDED", ev.obj);
      } else if (was_match) {
        // No longer selected: the watcher sees it leave, with the new resourceVersion.
        json::object gone = ev.prev->obj;
        internal::Meta(gone)["resourceVersion"] = std::to_string(ev.revision);
        add_owned("DELETED", std::move(gone));
      }
    }
    if (!evs.empty() || !out.empty()) {
      alive = co_await Flush(res, evs, out);
      continue;
    }
    if (closed || res.client_closed()) break;
    auto now = Clk::now();
    if (now >= deadline) break;
    if (bookmarks && now >= next_bookmark) {
      int64_t rev = std::max(last_rev, rest_.cache().revision());
      add_bookmark(rev, false);
      alive = co_await Flush(res, evs, out);
      next_bookmark = now + kBookmarkEvery;
      continue;
    }
    if (wake->pending) {
      wake->pending = false;
      continue;
    }
    wake->timer.expires_at(std::min(deadline, bookmarks ? next_bookmark : deadline));
    boost::system::error_code ec;
    co_await wake->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    wake->pending = false;
  }
  rest_.cache().Unwatch(w);
  if (alive) co_await res.Finish();
}

}  // namespace sampan::apiserver
