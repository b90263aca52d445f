#include "scheduler/cache.h"

#include <algorithm>

#include "scheduler/json_view.h"

namespace sampan::scheduler {
using namespace internal;

NodeInfo& Cache::NodeLocked(const std::string& name) {
  auto& slot = nodes_[name];
  if (!slot) {
    slot = std::make_unique<NodeInfo>();
    slot->name = name;
  }
  return *slot;
}

void Cache::UpsertNode(const ObjectPtr& node) {
  std::string name = client::MetaString(*node, "name");
  std::lock_guard<std::mutex> lock(mu_);
  NodeInfo& info = NodeLocked(name);
  if (!info.node) list_dirty_ = true;
  info.SetNode(node);
}

void Cache::RemoveNode(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return;
  list_dirty_ = true;
  if (it->second->pods.empty()) {
    nodes_.erase(it);
  } else {
    it->second->node.reset();  // keep its pods until they go (as Kubernetes' cache does)
  }
}

void Cache::AddPodLocked(const ObjectPtr& pod, bool assumed) {
  AddPodLocked(std::make_shared<const PodInfo>(pod), Str(Obj(pod.get(), "spec"), "nodeName"),
               assumed);
}

void Cache::AddPodLocked(PodInfoPtr info, const std::string& node, bool assumed) {
  const std::string key = info->key;
  RemovePodLocked(key);
  nominated_.erase(key);  // bound (or assumed): it holds its room as a pod of the node now
  if (info->HasAffinity()) ++pods_with_affinity_;
  NodeLocked(node).AddPod(std::move(info));
  pods_[key] = PodEntry{node, assumed};
}

void Cache::RemovePodLocked(const std::string& key) {
  auto it = pods_.find(key);
  if (it == pods_.end()) return;
  auto n = nodes_.find(it->second.node);
  if (n != nodes_.end()) {
    auto p = n->second->pods.find(key);
    if (p != n->second->pods.end() && p->second->HasAffinity()) --pods_with_affinity_;
    n->second->RemovePod(key);
    if (!n->second->node && n->second->pods.empty()) nodes_.erase(n);
  }
  pods_.erase(it);
}

void Cache::UpsertPod(const ObjectPtr& pod) {
  std::lock_guard<std::mutex> lock(mu_);
  AddPodLocked(pod, false);
}

void Cache::RemovePod(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  RemovePodLocked(key);
}

void Cache::AssumePod(const ObjectPtr& pod) {
  std::lock_guard<std::mutex> lock(mu_);
  AddPodLocked(pod, true);
}

void Cache::AssumePod(PodInfoPtr pod, const std::string& node) {
  std::lock_guard<std::mutex> lock(mu_);
  AddPodLocked(std::move(pod), node, true);
}

void Cache::ForgetPod(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pods_.find(key);
  if (it != pods_.end() && it->second.assumed) RemovePodLocked(key);
}

bool Cache::IsAssumed(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pods_.find(key);
  return it != pods_.end() && it->second.assumed;
}

void Cache::UpdateNomination(const ObjectPtr& pod) {
  std::string key = client::KeyOf(*pod);
  std::string node = Str(Obj(pod.get(), "status"), "nominatedNodeName");
  bool bound = !Str(Obj(pod.get(), "spec"), "nodeName").empty();
  std::lock_guard<std::mutex> lock(mu_);
  // An informer event older than the nomination we wrote must not undo it.
  auto rv = [](const ObjectPtr& p) {
    std::string v = client::MetaString(*p, "resourceVersion");
    return v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos
               ? int64_t{-1}
               : std::stoll(v);
  };
  if (auto it = nominated_.find(key);
      it != nominated_.end() && rv(pod) >= 0 && rv(pod) < rv(it->second->pod))
    return;
  if (node.empty() || bound) {
    nominated_.erase(key);
  } else {
    nominated_[key] = std::make_shared<const PodInfo>(pod);
  }
}

void Cache::RemoveNomination(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  nominated_.erase(key);
}

std::vector<std::string> Cache::LowerPriorityNominated(const std::string& node,
                                                       int64_t priority) const {
  std::vector<std::string> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, info] : nominated_)
    if (Str(Obj(info->pod.get(), "status"), "nominatedNodeName") == node &&
        PodPriority(*info) < priority)
      out.push_back(key);
  return out;
}

void Cache::UpsertNamespace(const ObjectPtr& ns) {
  std::lock_guard<std::mutex> lock(mu_);
  namespaces_[client::MetaString(*ns, "name")] = ns;
}

void Cache::RemoveNamespace(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  namespaces_.erase(name);
}

ScheduleResult Cache::Schedule(Framework& fw, const PodInfo& pod, PreemptionResult* preemption) {
  std::lock_guard<std::mutex> lock(mu_);
  if (list_dirty_) {
    list_.clear();
    for (const auto& [name, info] : nodes_)
      if (info->node) list_.push_back(info.get());
    // A stable order, so the framework's rotating start walks every node in turn.
    std::sort(list_.begin(), list_.end(),
              [](const NodeInfo* a, const NodeInfo* b) { return a->name < b->name; });
    list_dirty_ = false;
  }
  NamespaceLabels labels = [this](const std::string& ns) -> const boost::json::value* {
    auto it = namespaces_.find(ns);
    if (it == namespaces_.end()) return nullptr;
    const boost::json::object* m = Obj(it->second.get(), "metadata");
    return m ? m->if_contains("labels") : nullptr;
  };
  NominatedPods by_node;
  for (const auto& [key, info] : nominated_)
    by_node[Str(Obj(info->pod.get(), "status"), "nominatedNodeName")].push_back(info);
  const NominatedPods* nominated = by_node.empty() ? nullptr : &by_node;
  ScheduleResult result = fw.Schedule(pod, list_, labels, pods_with_affinity_, nominated);
  if (result.node.empty() && preemption && !list_.empty())
    *preemption = Preempt(fw, pod, list_, result, std::move(labels), nominated);
  return result;
}

size_t Cache::node_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return nodes_.size();
}

size_t Cache::pod_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pods_.size();
}

}  // namespace sampan::scheduler
