#include "scheduler/framework.h"

#include <algorithm>
#include <optional>

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

void Resources::Sub(const Resources& o) {
  milli_cpu -= o.milli_cpu;
  memory -= o.memory;
  ephemeral_storage -= o.ephemeral_storage;
  for (const auto& [k, v] : o.scalar) scalar[k] -= v;
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

namespace {

std::vector<HostPort> ReadHostPorts(const json::object& pod) {
  std::vector<HostPort> out;
  const json::array* cs = Arr(Obj(&pod, "spec"), "containers");
  if (!cs) return out;
  for (const auto& c : *cs) {
    if (!c.is_object()) continue;
    const json::array* ports = Arr(&c.as_object(), "ports");
    if (!ports) continue;
    for (const auto& p : *ports) {
      if (!p.is_object()) continue;
      int64_t hp = Int(&p.as_object(), "hostPort");
      if (hp <= 0) continue;
      std::string proto = Str(&p.as_object(), "protocol");
      std::string ip = Str(&p.as_object(), "hostIP");
      out.push_back({ip.empty() ? "0.0.0.0" : ip, proto.empty() ? "TCP" : proto, hp});
    }
  }
  return out;
}

// A PodAffinityTerm (optionally inside a WeightedPodAffinityTerm).
bool ReadTerm(const json::object& term, int64_t weight, AffinityTerm* out) {
  out->weight = weight;
  out->topology_key = Str(&term, "topologyKey");
  if (const json::value* sel = term.if_contains("labelSelector"); sel && sel->is_object()) {
    auto parsed = api::LabelSelector::FromJson(*sel);
    if (!parsed.ok()) return false;
    out->selector = std::move(*parsed);
    out->selector_set = true;
  }
  if (const json::array* nss = Arr(&term, "namespaces")) {
    for (const auto& n : *nss)
      if (n.is_string()) out->namespaces.emplace_back(n.as_string());
  }
  if (const json::value* nsel = term.if_contains("namespaceSelector"); nsel && nsel->is_object()) {
    auto parsed = api::LabelSelector::FromJson(*nsel);
    if (!parsed.ok()) return false;
    out->namespace_selector = std::move(*parsed);
    out->has_namespace_selector = true;
  }
  return true;
}

void ReadTerms(const json::object* aff, std::vector<AffinityTerm>* required,
               std::vector<AffinityTerm>* preferred) {
  if (!aff) return;
  if (const json::array* req = Arr(aff, "requiredDuringSchedulingIgnoredDuringExecution")) {
    for (const auto& t : *req) {
      AffinityTerm term;
      if (t.is_object() && ReadTerm(t.as_object(), 0, &term)) required->push_back(std::move(term));
    }
  }
  if (const json::array* pref = Arr(aff, "preferredDuringSchedulingIgnoredDuringExecution")) {
    for (const auto& w : *pref) {
      if (!w.is_object()) continue;
      const json::object* t = Obj(&w.as_object(), "podAffinityTerm");
      AffinityTerm term;
      if (t && ReadTerm(*t, Int(&w.as_object(), "weight"), &term))
        preferred->push_back(std::move(term));
    }
  }
}

}  // namespace

bool Toleration::Tolerates(const Taint& t) const {
  if (!effect.empty() && effect != t.effect) return false;
  if (key.empty()) return op == "Exists";  // empty key + Exists tolerates everything
  if (key != t.key) return false;
  if (op == "Exists") return true;
  return op == "Equal" && value == t.value;
}

PodInfo::PodInfo(ObjectPtr p)
    : pod(std::move(p)), requests(PodRequests(*pod)), non_zero_requests(PodRequests(*pod, true)) {
  key = client::KeyOf(*pod);
  ns = client::MetaString(*pod, "namespace");
  host_ports = ReadHostPorts(*pod);
  const json::object* spec = Obj(pod.get(), "spec");
  node_name = Str(spec, "nodeName");
  if (const json::array* tols = Arr(spec, "tolerations")) {
    for (const auto& t : *tols) {
      if (!t.is_object()) continue;
      const json::object* o = &t.as_object();
      Toleration tol{Str(o, "key"), Str(o, "operator"), Str(o, "value"), Str(o, "effect")};
      if (tol.op.empty()) tol.op = "Equal";
      tolerations.push_back(std::move(tol));
    }
  }
  if (const json::object* sel = Obj(spec, "nodeSelector")) {
    for (const auto& [k, v] : *sel)
      node_selector.emplace_back(std::string(k), v.is_string() ? std::string(v.as_string()) : "");
  }
  required_node_affinity = Obj(Obj(Obj(spec, "affinity"), "nodeAffinity"),
                               "requiredDuringSchedulingIgnoredDuringExecution");
  preferred_node_affinity = Arr(Obj(Obj(spec, "affinity"), "nodeAffinity"),
                                "preferredDuringSchedulingIgnoredDuringExecution");
  has_spread_constraints = Arr(spec, "topologySpreadConstraints") != nullptr;
  const json::object* aff = Obj(spec, "affinity");
  ReadTerms(Obj(aff, "podAffinity"), &required_affinity, &preferred_affinity);
  ReadTerms(Obj(aff, "podAntiAffinity"), &required_anti_affinity, &preferred_anti_affinity);
}

bool PodInfo::Tolerates(const Taint& t) const {
  for (const auto& tol : tolerations)
    if (tol.Tolerates(t)) return true;
  return false;
}

const json::value* PodInfo::labels() const {
  const json::object* m = Obj(pod.get(), "metadata");
  return m ? m->if_contains("labels") : nullptr;
}

NodeInfo::NodeInfo(ObjectPtr n) { SetNode(std::move(n)); }

void NodeInfo::SetNode(ObjectPtr n) {
  node = std::move(n);
  name = client::MetaString(*node, "name");
  labels = client::MetaObject(*node, "labels");
  const json::object* spec = Obj(node.get(), "spec");
  unschedulable = Bool(spec, "unschedulable");
  taints.clear();
  if (const json::array* ts = Arr(spec, "taints")) {
    for (const auto& t : *ts) {
      if (!t.is_object()) continue;
      const json::object* o = &t.as_object();
      taints.push_back(Taint{Str(o, "key"), Str(o, "value"), Str(o, "effect")});
    }
  }
  const json::object* status = Obj(node.get(), "status");
  const json::object* alloc = Obj(status, "allocatable");
  if (!alloc) alloc = Obj(status, "capacity");
  allocatable = ReadList(alloc);
  allowed_pods = 0;
  if (alloc) {
    if (auto* p = alloc->if_contains("pods")) allowed_pods = QuantityValue(*p, false);
  }
}

const json::string* NodeInfo::LabelValue(std::string_view key) const {
  if (!node || !labels) return nullptr;
  const json::value* v = labels->if_contains(key);
  return v && v->is_string() ? &v->as_string() : nullptr;
}

bool NodeInfo::Label(const std::string& key, std::string* value) const {
  const json::string* v = LabelValue(key);
  if (!v) return false;
  if (value) value->assign(v->data(), v->size());
  return true;
}

void NodeInfo::AddPod(const ObjectPtr& pod) { AddPod(std::make_shared<const PodInfo>(pod)); }

void NodeInfo::AddPod(PodInfoPtr pod) {
  RemovePod(pod->key);
  requested.Add(pod->requests);
  non_zero_requested.Add(pod->non_zero_requests);
  ++pod_count;
  if (pod->HasAffinity()) ++pods_with_affinity;
  pods[pod->key] = std::move(pod);
}

void NodeInfo::RemovePod(const std::string& key) {
  auto it = pods.find(key);
  if (it == pods.end()) return;
  requested.Sub(it->second->requests);
  non_zero_requested.Sub(it->second->non_zero_requests);
  --pod_count;
  if (it->second->HasAffinity()) --pods_with_affinity;
  pods.erase(it);
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

int Framework::NumFeasibleNodesToFind(int n) const {
  constexpr int kMinFeasible = 100;
  if (n < kMinFeasible || percentage_ >= 100) return n;
  int pct = percentage_;
  if (pct <= 0) pct = std::max(5, 50 - n / 125);
  return std::max(kMinFeasible, n * pct / 100);
}

int64_t PodPriority(const PodInfo& pod) { return Int(Obj(pod.pod.get(), "spec"), "priority", 0); }

std::vector<std::string> Framework::RunFilters(const PodInfo& pod, const NodeInfo& node,
                                               const CycleState& state,
                                               const NominatedPods* nominated) const {
  std::vector<const FilterPlugin*> all;
  all.reserve(filters_.size());
  for (const auto& f : filters_) all.push_back(f.get());
  return RunFiltersWith(pod, node, state, nominated, all);
}

std::vector<std::string> Framework::RunFiltersWith(
    const PodInfo& pod, const NodeInfo& node, const CycleState& state,
    const NominatedPods* nominated, const std::vector<const FilterPlugin*>& active) const {
  if (nominated && !nominated->empty()) {
    auto it = nominated->find(node.name);
    if (it != nominated->end()) {
      const int64_t priority = PodPriority(pod);
      std::optional<NodeInfo> with;
      std::optional<CycleState> with_state;
      for (const PodInfoPtr& other : it->second) {
        if (other->key == pod.key || PodPriority(*other) < priority) continue;
        if (node.pods.count(other->key)) continue;  // already bound there
        if (!with) {
          with.emplace(node);
          with_state.emplace(state.Clone());
        }
        AddPodToView(pod, other, *with, *with_state);
      }
      // The node must pass with the nominated pods (their room, their anti-affinity, their
      // weight in the spread) and without them (a pod affinity they alone would satisfy does
      // not count: they may never arrive).
      if (with) {
        for (const auto& f : filters_) {
          auto why = f->Filter(pod, *with, *with_state);
          if (!why.empty()) return why;
        }
      }
    }
  }
  for (const FilterPlugin* f : active) {
    auto why = f->Filter(pod, node, state);
    if (!why.empty()) return why;
  }
  return {};
}

void Framework::AddPodToView(const PodInfo& pod, const PodInfoPtr& other, NodeInfo& node,
                             CycleState& state) const {
  node.AddPod(other);
  for (const auto& f : filters_) f->AddPod(pod, *other, node, state);
}

void Framework::RemovePodFromView(const PodInfo& pod, const PodInfoPtr& other, NodeInfo& node,
                                  CycleState& state) const {
  node.RemovePod(other->key);
  for (const auto& f : filters_) f->RemovePod(pod, *other, node, state);
}

ScheduleResult Framework::Schedule(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes,
                                   NamespaceLabels namespace_labels, int64_t pods_with_affinity,
                                   const NominatedPods* nominated) {
  ScheduleResult result;
  const int n = static_cast<int>(nodes.size());
  if (n == 0) {
    result.message = FailureMessage(0, {});
    return result;
  }
  ClusterView cluster{nodes, std::move(namespace_labels), pods_with_affinity};
  CycleState state;
  state.namespace_labels = cluster.namespace_labels;
  for (const auto& f : filters_) {
    std::string why = f->PreFilter(pod, cluster, state);
    if (!why.empty()) {
      // As kube-scheduler words it: the PreFilter message once, not counted per node.
      result.evaluated = n;
      result.message = "0/" + std::to_string(n) + " nodes are available: " + why + ".";
      return result;
    }
  }
  std::vector<const FilterPlugin*> active;
  active.reserve(filters_.size());
  for (const auto& f : filters_)
    if (!f->SkipFilter(pod, state)) active.push_back(f.get());
  // A preemptor goes to the node it was nominated for when it fits there now.
  if (const std::string nominated_node = Str(Obj(pod.pod.get(), "status"), "nominatedNodeName");
      !nominated_node.empty()) {
    for (const NodeInfo* node : nodes) {
      if (node->name != nominated_node) continue;
      if (RunFiltersWith(pod, *node, state, nominated, active).empty()) {
        result.node = node->name;
        result.evaluated = 1;
        result.feasible = 1;
        return result;
      }
      break;
    }
  }
  std::map<std::string, int> reasons;
  std::vector<const NodeInfo*> feasible;
  const int want = NumFeasibleNodesToFind(n);
  feasible.reserve(want);
  const size_t start = next_start_ % nodes.size();
  constexpr int kPrefetchAhead = 4;
  int processed = 0;
  for (int i = 0; i < n && static_cast<int>(feasible.size()) < want; ++i) {
    const NodeInfo* node = nodes[(start + i) % nodes.size()];
    if (i + kPrefetchAhead < n)
      PrefetchNodeInfo(nodes[(start + i + kPrefetchAhead) % nodes.size()]);
    ++processed;
    auto why = RunFiltersWith(pod, *node, state, nominated, active);
    if (!why.empty()) {
      for (auto& w : why) reasons[w]++;
      result.failures.emplace_back(node, why.front());
      continue;
    }
    feasible.push_back(node);
  }
  next_start_ = (start + processed) % nodes.size();
  result.evaluated = processed;
  result.feasible = static_cast<int>(feasible.size());
  if (feasible.empty()) {
    result.message = FailureMessage(n, reasons);
    return result;
  }
  result.failures.clear();
  if (feasible.size() == 1) {
    result.node = feasible[0]->name;
    return result;
  }
  std::vector<int64_t> total(feasible.size(), 0);
  std::vector<int64_t> raw(feasible.size());
  for (const auto& s : scores_) {
    s->PreScore(pod, feasible, cluster, state);
    if (s->SkipScore(pod, state)) continue;  // 0 on every node
    for (size_t i = 0; i < feasible.size(); ++i) raw[i] = s->Score(pod, *feasible[i], state);
    s->Normalize(pod, feasible, state, raw);
    const int64_t weight = s->weight();
    for (size_t i = 0; i < feasible.size(); ++i) total[i] += raw[i] * weight;
  }
  // Highest total wins; ties are broken uniformly at random (one draw among the tied nodes).
  const int64_t best = *std::max_element(total.begin(), total.end());
  const int ties = static_cast<int>(std::count(total.begin(), total.end(), best));
  int nth = ties == 1 ? 0 : std::uniform_int_distribution<int>(0, ties - 1)(rng_);
  size_t pick = 0;
  for (size_t i = 0; i < feasible.size(); ++i) {
    if (total[i] == best && nth-- == 0) {
      pick = i;
      break;
    }
  }
  result.node = feasible[pick]->name;
  return result;
}

}  // namespace sampan::scheduler
