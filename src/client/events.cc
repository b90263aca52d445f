#include "client/events.h"

#include <cstdio>

#include "client/informer.h"
#include "util/log.h"

namespace sampan::client {
namespace json = boost::json;

namespace {
constexpr size_t kMaxSeen = 4096;
}

EventRecorder::EventRecorder(RestClient* client, std::string component, std::string host,
                             const Clock* clock)
    : client_(client), component_(std::move(component)), host_(std::move(host)), clock_(clock) {}

void EventRecorder::Record(const json::object& involved, std::string_view type,
                           std::string_view reason, std::string message) {
  std::string ns = MetaString(involved, "namespace");
  if (ns.empty()) ns = "default";  // events about cluster-scoped objects go to default
  std::string name = MetaString(involved, "name");
  std::string uid = MetaString(involved, "uid");
  std::string kind, api_version;
  if (auto* k = involved.if_contains("kind"); k && k->is_string()) kind = k->as_string().c_str();
  if (auto* a = involved.if_contains("apiVersion"); a && a->is_string())
    api_version = a->as_string().c_str();
  int64_t now_ns = clock_->NowUnixNanos();
  std::string now = FormatRfc3339(now_ns / 1000000000);
  std::string dedup = kind + "\x1f" + ns + "\x1f" + name + "\x1f" + uid + "\x1f" +
                      std::string(type) + "\x1f" + std::string(reason) + "\x1f" + message;

  std::unique_lock<std::mutex> lock(mu_);
  auto it = seen_.find(dedup);
  if (it != seen_.end()) {
    Seen s = it->second;
    s.count++;
    it->second.count = s.count;
    lock.unlock();
    json::object patch{{"count", s.count}, {"lastTimestamp", now}};
    auto r = client_->Patch(resources::kEvents, s.ns, s.name, PatchType::kMerge, patch);
    if (r.ok()) return;
    if (r.status().code() != Code::kNotFound) {
      LOG(WARNING) << "event " << s.name << ": " << r.status().ToString();
      return;
    }
    lock.lock();
    seen_.erase(dedup);  // expired on the server: record afresh
  }
  lock.unlock();

  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%llx", static_cast<unsigned long long>(now_ns));
  std::string ev_name = name + suffix;
  json::object involved_ref{{"kind", kind}, {"name", name}, {"apiVersion", api_version}};
  if (!MetaString(involved, "namespace").empty()) involved_ref["namespace"] = ns;
  if (!uid.empty()) involved_ref["uid"] = uid;
  if (auto rv = MetaString(involved, "resourceVersion"); !rv.empty())
    involved_ref["resourceVersion"] = rv;
  json::object source{{"component", component_}};
  if (!host_.empty()) source["host"] = host_;
  json::object ev{
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", json::object{{"name", ev_name}, {"namespace", ns}}},
      {"involvedObject", std::move(involved_ref)},
      {"reason", reason},
      {"message", message},
      {"type", type},
      {"source", std::move(source)},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1},
      {"reportingComponent", component_},
      {"reportingInstance", host_},
  };
  auto r = client_->Create(resources::kEvents, ns, ev);
  if (!r.ok()) {
    LOG(WARNING) << "recording event " << reason << " for " << kind << " " << ns << "/" << name
                 << ": " << r.status().ToString();
    return;
  }
  lock.lock();
  if (seen_.size() >= kMaxSeen && !order_.empty()) {
    seen_.erase(order_.front());
    order_.pop_front();
  }
  if (seen_.emplace(dedup, Seen{ns, ev_name, 1}).second) order_.push_back(dedup);
}

}  // namespace sampan::client
