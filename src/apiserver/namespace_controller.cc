#include "apiserver/namespace_controller.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "apiserver/rest_internal.h"
#include "util/log.h"

namespace sampan::apiserver {

namespace {
const api::KindInfo& NamespaceKind(const api::Registry& r) {
  return *r.FindKind("", "v1", "Namespace");
}
}  // namespace

asio::awaitable<void> NamespaceController::Run() {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  for (;;) {
    co_await SyncAll();
    timer.expires_after(std::chrono::seconds(1));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
  }
}

asio::awaitable<void> NamespaceController::SyncAll() {
  const api::KindInfo& nsk = NamespaceKind(rest_.registry());
  std::vector<ObjectPtr> all = rest_.cache().List(ResourcePrefix(nsk), nullptr);
  for (auto& ns : all) {
    if (internal::MetaString(ns->obj, "deletionTimestamp").empty()) continue;
    std::string name(internal::MetaString(ns->obj, "name"));
    co_await Sync(name);
  }
}

asio::awaitable<void> NamespaceController::Sync(std::string ns) {
  size_t remaining = 0;
  for (const api::KindInfo* kind : rest_.registry().kinds()) {
    if (!kind->namespaced) continue;
    // Several versions of one resource share storage only if they share a prefix; each
    // prefix is visited once per kind entry, which is harmless.
    std::vector<ObjectPtr> objs = rest_.cache().List(ListPrefix(*kind, ns), nullptr);
    for (auto& o : objs) {
      ++remaining;
      if (!internal::MetaString(o->obj, "deletionTimestamp").empty()) continue;
      DeleteOptions d;
      d.propagation_policy = "Background";
      std::string name(internal::MetaString(o->obj, "name"));
      auto r = co_await rest_.Delete(*kind, ns, name, d);
      if (!r.ok() && r.status().code() != Code::kNotFound) {
        LOG(WARNING) << "namespace " << ns << ": delete " << o->key << ": " << r.status().ToString();
      }
    }
  }
  // Count again: what the deletes above removed no longer counts.
  remaining = 0;
  for (const api::KindInfo* kind : rest_.registry().kinds()) {
    if (kind->namespaced) remaining += rest_.cache().List(ListPrefix(*kind, ns), nullptr).size();
  }
  if (remaining > 0) co_return;
  std::function<Status(json::object&)> finalize = [](json::object& o) {
    if (auto* spec = o.if_contains("spec"); spec && spec->is_object()) {
      if (auto* f = spec->as_object().if_contains("finalizers"); f && f->is_array()) {
        json::array keep;
        for (auto& e : f->as_array())
          if (!(e.is_string() && e.as_string() == "kubernetes")) keep.push_back(e);
        *f = std::move(keep);
      }
    }
    return Status::Ok();
  };
  std::string cluster;
  WriteOptions system;
  system.skip_update_validation = true;
  auto r = co_await rest_.Mutate(NamespaceKind(rest_.registry()), cluster, ns, finalize, system);
  if (!r.ok() && r.status().code() != Code::kNotFound) {
    LOG(WARNING) << "namespace " << ns << ": finalize: " << r.status().ToString();
  }
}

asio::awaitable<Status> EnsureSystemNamespaces(Rest& rest) {
  const api::KindInfo& nsk = NamespaceKind(rest.registry());
  for (const char* name : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    if (rest.cache().Get(ObjectKey(nsk, "", name))) continue;
    json::object obj{{"apiVersion", "v1"},
                     {"kind", "Namespace"},
                     {"metadata", json::object{{"name", name}}}};
    std::string cluster;
    json::value body(std::move(obj));
    WriteOptions wo;
    auto r = co_await rest.Create(nsk, cluster, std::move(body), wo);
    if (!r.ok() && r.status().code() != Code::kAlreadyExists) co_return r.status();
  }
  co_return Status::Ok();
}

}  // namespace sampan::apiserver
