#include "controllers/podgc.h"

#include <algorithm>
#include <set>
#include <vector>

#include "controllers/util.h"
#include "util/log.h"

namespace sampan::controllers {
namespace json = boost::json;
namespace res = client::resources;
using client::MetaString;

namespace {

std::string Phase(const json::object& pod) { return Str(Obj(&pod, "status"), "phase"); }

bool IsTerminated(const json::object& pod) {
  std::string phase = Phase(pod);
  return phase != "Pending" && phase != "Running" && phase != "Unknown";
}

// The kubelet's eviction marks a pod Failed with reason Evicted.
bool IsEvicted(const json::object& pod) {
  return Phase(pod) == "Failed" && Str(Obj(&pod, "status"), "reason") == "Evicted";
}

bool NodeReady(const json::object& node) {
  const json::array* conds = Arr(Obj(&node, "status"), "conditions");
  if (!conds) return false;
  for (const auto& c : *conds)
    if (c.is_object() && Str(&c.as_object(), "type") == "Ready")
      return Str(&c.as_object(), "status") == "True";
  return false;
}

bool HasTaint(const json::object& node, std::string_view key) {
  const json::array* taints = Arr(Obj(&node, "spec"), "taints");
  if (!taints) return false;
  for (const auto& t : *taints)
    if (t.is_object() && Str(&t.as_object(), "key") == key) return true;
  return false;
}

std::string NodeName(const json::object& pod) { return Str(Obj(&pod, "spec"), "nodeName"); }

}  // namespace

PodGcController::PodGcController(client::SharedInformers* informers, PodGcOptions opts)
    : client_(informers->client()),
      opts_(opts),
      pods_(informers->For(res::kPods)),
      nodes_(informers->For(res::kNodes)) {}

PodGcController::~PodGcController() { Stop(); }

void PodGcController::Run() {
  std::lock_guard<std::mutex> l(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void PodGcController::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void PodGcController::Loop() {
  while (true) {
    {
      std::unique_lock<std::mutex> l(mu_);
      if (cv_.wait_for(l, opts_.period, [this] { return stopping_; })) return;
    }
    Counts c = RunOnce();
    if (c.terminated + c.terminating + c.orphaned + c.unscheduled > 0)
      LOG(INFO) << "podgc: deleted " << c.terminated << " terminated, " << c.terminating
                << " terminating on out-of-service nodes, " << c.orphaned << " orphaned and "
                << c.unscheduled << " unscheduled terminating pod(s)";
  }
}

bool PodGcController::FailAndDelete(const json::object& pod, const json::object* condition) {
  std::string ns = MetaString(pod, "namespace"), name = MetaString(pod, "name");
  std::string phase = Phase(pod);
  if (phase != "Succeeded" && phase != "Failed") {
    json::object status{{"phase", "Failed"}};
    if (condition) status["conditions"] = json::array{*condition};
    json::object patch{{"status", std::move(status)}};
    auto r =
        client_->Patch(res::kPods, ns, name, client::PatchType::kStrategicMerge, patch, "status");
    if (!r.ok()) {
      if (r.status().code() == Code::kNotFound) return true;
      LOG(WARNING) << "podgc: marking pod " << ns << "/" << name
                   << " failed: " << r.status().ToString();
      return false;
    }
  }
  client::DeleteOptions d;
  d.grace_period_seconds = 0;
  d.precondition_uid = MetaString(pod, "uid");
  Status st = client_->Delete(res::kPods, ns, name, d);
  if (st.ok() || st.code() == Code::kNotFound) {
    LOG(INFO) << "podgc: force-deleted pod " << ns << "/" << name;
    return true;
  }
  LOG(WARNING) << "podgc: deleting pod " << ns << "/" << name << ": " << st.ToString();
  return false;
}

PodGcController::Counts PodGcController::RunOnce() {
  Counts counts;
  if (!pods_->HasSynced() || !nodes_->HasSynced()) return counts;
  std::set<std::string> done;  // uids handled in this pass (a pod may fit two rules)
  auto gc = [&](const json::object& pod, const json::object* condition) {
    if (!done.insert(MetaString(pod, "uid")).second) return false;
    return FailAndDelete(pod, condition);
  };
  std::vector<client::ObjectPtr> pods = pods_->List();
  std::map<std::string, client::ObjectPtr> nodes;
  for (const auto& n : nodes_->List()) nodes[MetaString(*n, "name")] = n;

  // Terminated pods beyond the threshold.
  if (opts_.terminated_pod_threshold > 0) {
    std::vector<client::ObjectPtr> terminated;
    for (const auto& p : pods)
      if (IsTerminated(*p)) terminated.push_back(p);
    int excess = static_cast<int>(terminated.size()) - opts_.terminated_pod_threshold;
    if (excess > 0) {
      std::sort(terminated.begin(), terminated.end(),
                [](const client::ObjectPtr& a, const client::ObjectPtr& b) {
                  bool ea = IsEvicted(*a), eb = IsEvicted(*b);
                  if (ea != eb) return ea;
                  int64_t ta = 0, tb = 0;
                  ParseRfc3339(MetaString(*a, "creationTimestamp"), &ta);
                  ParseRfc3339(MetaString(*b, "creationTimestamp"), &tb);
                  if (ta != tb) return ta < tb;
                  return MetaString(*a, "name") < MetaString(*b, "name");
                });
      for (int i = 0; i < excess; ++i)
        if (gc(*terminated[i], nullptr)) ++counts.terminated;
    }
  }

  // Terminating pods on out-of-service nodes.
  for (const auto& p : pods) {
    if (!IsDeleting(*p)) continue;
    auto n = nodes.find(NodeName(*p));
    if (n == nodes.end()) continue;
    if (!NodeReady(*n->second) && HasTaint(*n->second, kTaintOutOfService) && gc(*p, nullptr))
      ++counts.terminating;
  }

  // Orphans: quarantine the missing nodes, then make sure with a GET.
  int64_t now = opts_.clock->NowUnixNanos();
  std::set<std::string> referenced;
  for (const auto& p : pods) {
    std::string node = NodeName(*p);
    if (node.empty() || nodes.count(node)) continue;
    referenced.insert(node);
    missing_since_.try_emplace(node, now);
  }
  std::set<std::string> deleted_nodes;
  for (auto it = missing_since_.begin(); it != missing_since_.end();) {
    const std::string& node = it->first;
    if (!referenced.count(node)) {  // it appeared, or its pods went
      it = missing_since_.erase(it);
      continue;
    }
    if (now - it->second < static_cast<int64_t>(opts_.quarantine.count()) * 1000000) {
      ++it;
      continue;
    }
    auto got = client_->Get(res::kNodes, "", node);
    if (got.ok()) {
      it = missing_since_.erase(it);  // the informer was behind
    } else if (got.status().code() == Code::kNotFound) {
      deleted_nodes.insert(node);
      it = missing_since_.erase(it);
    } else {
      LOG(WARNING) << "podgc: checking node " << node << ": " << got.status().ToString();
      ++it;
    }
  }
  if (!deleted_nodes.empty()) {
    json::object condition{
        {"type", "DisruptionTarget"},  {"status", "True"},
        {"reason", "DeletionByPodGC"}, {"message", "PodGC: node no longer exists"},
        {"lastProbeTime", nullptr},    {"lastTransitionTime", FormatRfc3339(now / 1000000000)}};
    for (const auto& p : pods) {
      if (!deleted_nodes.count(NodeName(*p))) continue;
      LOG(INFO) << "podgc: pod " << client::KeyOf(*p) << " is bound to node " << NodeName(*p)
                << ", which no longer exists";
      if (gc(*p, &condition)) ++counts.orphaned;
    }
  }

  // Terminating pods that were never scheduled.
  for (const auto& p : pods) {
    if (IsDeleting(*p) && NodeName(*p).empty() && gc(*p, nullptr)) ++counts.unscheduled;
  }
  return counts;
}

}  // namespace sampan::controllers
