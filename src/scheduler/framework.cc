#include "scheduler/framework.h"

#include <algorithm>

#include "api/quantity.h"
#include "scheduler/json_view.h"

namespace sampan::scheduler {
namespace json = boost::json;
using namespace internal;

namespace {

constexpr int64_t kDefaultMilliCpu = 100;
constexpr int64_t kDefaultMemory = 200 * 1024 * 1024;

int64_t QuantityValue(const json::value& v, bool milli) {
  if (v.is_int64()) return milli ? v.as_int64() * 1000 : v.as_int64();
  if (v.is_double()) return static_cast<int64_t>(milli ? v.as_double() * 1000 : v.as_double());
  if (!v.is_string()) return 0;
  auto q = api::Quantity::Parse(std::string_view(v.as_string()));
  if (!q.ok()) return 0;
  return milli ? q->MilliValue() : q->Value();
}

// Reads a ResourceList ({"cpu": "100m", "memory": "1Gi", ...}).
Resources ReadList(const json::object* list) {
  Resources r;
  if (!list) return r;
  for (const auto& [k, v] : *list) {
    if (k == "cpu") {
      r.milli_cpu = QuantityValue(v, true);
    } else if (k == "memory") {
      r.memory = QuantityValue(v, false);
    } else if (k == "ephemeral-storage") {
      r.ephemeral_storage = QuantityValue(v, false);
    } else if (k != "pods") {
      r.scalar[std::string(k)] = QuantityValue(v, false);
    }
  }
  return r;
}

void MaxInto(Resources& a, const Resources& b) {
  a.milli_cpu = std::max(a.milli_cpu, b.milli_cpu);
  a.memory = std::max(a.memory, b.memory);
  a.ephemeral_storage = std::max(a.ephemeral_storage, b.ephemeral_storage);
  for (const auto& [k, v] : b.scalar) a.scalar[k] = std::max(a.scalar[k], v);
}

}  // namespace

void Resources::Add(const Resources& o) {
  milli_cpu += o.milli_cpu;
  memory += o.memory;
  ephemeral_storage += o.ephemeral_storage;
  for (const auto& [k, v] : o.scalar) scalar[k] += v;
}

Resources PodRequests(const json::object& pod, bool non_zero) {
  const json::object* spec = Obj(&pod, "spec");
  Resources sum;
  if (auto* cs = Arr(spec, "containers")) {
    for (const auto& c : *cs) {
      if (!c.is_object()) continue;
      Resources r = ReadList(Obj(Obj(&c.as_object(), "resources"), "requests"));
      if (non_zero) {
        const json::object* req = Obj(Obj(&c.as_object(), "resources"), "requests");
        if (!req || !req->contains("cpu")) r.milli_cpu = kDefaultMilliCpu;
        if (!req || !req->contains("memory")) r.memory = kDefaultMemory;
      }
      sum.Add(r);
    }
  }
  if (auto* ics = Arr(spec, "initContainers")) {
    for (const auto& c : *ics) {
      if (!c.is_object()) continue;
      Resources r = ReadList(Obj(Obj(&c.as_object(), "resources"), "requests"));
      // A restartable (sidecar) init container keeps running: it adds to the total.
      if (Str(&c.as_object(), "restartPolicy") == "Always") {
        sum.Add(r);
      } else {
        MaxInto(sum, r);
      }
    }
  }
  sum.Add(ReadList(Obj(spec, "overhead")));
  return sum;
}

PodInfo::PodInfo(ObjectPtr p)
    : pod(std::move(p)), requests(PodRequests(*pod)), non_zero_requests(PodRequests(*pod, true)) {}

NodeInfo::NodeInfo(ObjectPtr n) : node(std::move(n)) {
  name = client::MetaString(*node, "name");
  const json::object* status = Obj(node.get(), "status");
  const json::object* alloc = Obj(status, "allocatable");
  if (!alloc) alloc = Obj(status, "capacity");
  allocatable = ReadList(alloc);
  if (alloc) {
    if (auto* p = alloc->if_contains("pods")) allowed_pods = QuantityValue(*p, false);
  }
}

void NodeInfo::AddPod(const ObjectPtr& pod) {
  requested.Add(PodRequests(*pod));
  non_zero_requested.Add(PodRequests(*pod, true));
  ++pod_count;
  pods.push_back(pod);
}

std::string FailureMessage(int total_nodes, const std::map<std::string, int>& reason_counts) {
  if (total_nodes == 0) return "no nodes available to schedule pods";
  std::vector<std::string> parts;
  for (const auto& [reason, count] : reason_counts)
    parts.push_back(std::to_string(count) + " " + reason);
  std::sort(parts.begin(), parts.end());
  std::string msg = "0/" + std::to_string(total_nodes) + " nodes are available";
  for (size_t i = 0; i < parts.size(); ++i) msg += (i == 0 ? ": " : ", ") + parts[i];
  msg += ".";
  return msg;
}

ScheduleResult Framework::Schedule(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes) {
  ScheduleResult result;
  std::map<std::string, int> reasons;
  std::vector<const NodeInfo*> feasible;
  for (const NodeInfo* n : nodes) {
    ++result.evaluated;
    bool ok = true;
    for (const auto& f : filters_) {
      auto why = f->Filter(pod, *n);
      if (!why.empty()) {
        for (auto& w : why) reasons[w]++;
        ok = false;
        break;
      }
    }
    if (ok) feasible.push_back(n);
  }
  result.feasible = static_cast<int>(feasible.size());
  if (feasible.empty()) {
    result.message = FailureMessage(static_cast<int>(nodes.size()), reasons);
    return result;
  }
  if (feasible.size() == 1) {
    result.node = feasible[0]->name;
    return result;
  }
  std::vector<int64_t> total(feasible.size(), 0);
  for (const auto& s : scores_) {
    std::vector<int64_t> raw(feasible.size());
    for (size_t i = 0; i < feasible.size(); ++i) raw[i] = s->Score(pod, *feasible[i]);
    s->Normalize(pod, raw);
    for (size_t i = 0; i < feasible.size(); ++i) total[i] += raw[i] * s->weight();
  }
  // Highest total wins; ties are broken uniformly at random (reservoir sampling).
  int64_t best = total[0];
  size_t pick = 0;
  int ties = 1;
  for (size_t i = 1; i < feasible.size(); ++i) {
    if (total[i] > best) {
      best = total[i];
      pick = i;
      ties = 1;
    } else if (total[i] == best) {
      ++ties;
      if (std::uniform_int_distribution<int>(0, ties - 1)(rng_) == 0) pick = i;
    }
  }
  result.node = feasible[pick]->name;
  return result;
}

}  // namespace sampan::scheduler
