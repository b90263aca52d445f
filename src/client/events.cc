#include "client/events.h"

#include <algorithm>
#include <cstdio>

#include "client/informer.h"
#include "util/log.h"

namespace sampan::client {
namespace json = boost::json;

namespace {
constexpr size_t kMaxSeen = 4096;
// client-go's EventAggregator: 10 distinct messages within 10 minutes are combined.
constexpr size_t kMaxSimilarMessages = 10;
constexpr int64_t kSimilarWindowNs = 600LL * 1000000000;
constexpr char kCombinedPrefix[] = "(combined from similar events): ";
}  // namespace

EventRecorder::EventRecorder(RestClient* client, std::string component, std::string host,
                             const Clock* clock)
    : client_(client), component_(std::move(component)), host_(std::move(host)), clock_(clock) {}

std::string EventRecorder::ContainerFieldPath(std::string_view container, bool init) {
  return std::string(init ? "spec.initContainers{" : "spec.containers{") + std::string(container) +
         "}";
}

void EventRecorder::Record(const json::object& involved, std::string_view type,
                           std::string_view reason, std::string message,
                           std::string_view field_path) {
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
  // Similar events: same object (any part of it), type and reason.
  std::string aggregate = kind + "\x1f" + ns + "\x1f" + name + "\x1f" + uid + "\x1f" + api_version +
                          "\x1f" + std::string(type) + "\x1f" + std::string(reason);
  std::string dedup = aggregate + "\x1f" + std::string(field_path) + "\x1f" + message;

  std::unique_lock<std::mutex> lock(mu_);
  {
    auto [sim, inserted] = similar_.try_emplace(aggregate);
    if (inserted) {
      if (similar_order_.size() >= kMaxSeen) {
        similar_.erase(similar_order_.front());
        similar_order_.pop_front();
      }
      similar_order_.push_back(aggregate);
    }
    Similar& rec = sim->second;
    if (now_ns - rec.last_ns > kSimilarWindowNs) rec.messages.clear();
    rec.last_ns = now_ns;
    if (std::find(rec.messages.begin(), rec.messages.end(), message) == rec.messages.end())
      rec.messages.push_back(message);
    if (rec.messages.size() >= kMaxSimilarMessages) {
      rec.messages.pop_front();  // the set never grows past the limit
      message = kCombinedPrefix + message;
      dedup = aggregate;  // every combined event lands on one Event object
    }
  }
  auto it = seen_.find(dedup);
  if (it != seen_.end()) {
    Seen s = it->second;
    s.count++;
    it->second.count = s.count;
    lock.unlock();
    json::object patch{{"count", s.count}, {"lastTimestamp", now}, {"message", message}};
    auto r = client_->Patch(resources::kEvents, s.ns, s.name, PatchType::kMerge, patch);
    if (r.ok()) return;
    if (r.status().code() != Code::kNotFound) {
      LOG(WARNING) << "event " << s.name << ": " << r.status().ToString();
      return;
    }
    lock.lock();
    seen_.erase(dedup);  // expired on the server: record afresh
  }
  int64_t name_nanos = std::max(now_ns, last_name_nanos_ + 1);
  last_name_nanos_ = name_nanos;
  lock.unlock();

  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%llx", static_cast<unsigned long long>(name_nanos));
  std::string ev_name = name + suffix;
  json::object involved_ref{{"kind", kind}, {"name", name}, {"apiVersion", api_version}};
  if (!MetaString(involved, "namespace").empty()) involved_ref["namespace"] = ns;
  if (!uid.empty()) involved_ref["uid"] = uid;
  if (!field_path.empty()) involved_ref["fieldPath"] = field_path;
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
