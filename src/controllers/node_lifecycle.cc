#include "controllers/node_lifecycle.h"

#include <algorithm>
#include <limits>

#include "controllers/util.h"
#include "util/log.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;
namespace res = client::resources;

namespace {

constexpr char kNodeIndex[] = "nodelifecycle/node";
constexpr char kPodPrefix[] = "pod/";
constexpr char kNodePrefix[] = "node/";

const json::object* Condition(const json::object& node, std::string_view type) {
  if (auto* cs = Arr(Obj(&node, "status"), "conditions")) {
    for (const auto& c : *cs)
      if (c.is_object() && Str(&c.as_object(), "type") == type) return &c.as_object();
  }
  return nullptr;
}

bool OurTaint(const json::object& t) {
  std::string key = Str(&t, "key");
  std::string effect = Str(&t, "effect");
  return (key == kTaintNotReady || key == kTaintUnreachable) &&
         (effect == "NoSchedule" || effect == "NoExecute");
}

std::vector<json::object> NoExecuteTaints(const json::object& node) {
  std::vector<json::object> out;
  if (auto* ts = Arr(Obj(&node, "spec"), "taints")) {
    for (const auto& t : *ts)
      if (t.is_object() && Str(&t.as_object(), "effect") == "NoExecute")
        out.push_back(t.as_object());
  }
  return out;
}

// Whether `tol` tolerates `taint` (core/v1 semantics; an empty effect matches every effect,
// an empty key with Exists matches every key).
bool Tolerates(const json::object& tol, const json::object& taint) {
  std::string effect = Str(&tol, "effect");
  if (!effect.empty() && effect != Str(&taint, "effect")) return false;
  std::string key = Str(&tol, "key");
  std::string op = Str(&tol, "operator");
  if (op.empty()) op = "Equal";
  if (key.empty()) return op == "Exists";
  if (key != Str(&taint, "key")) return false;
  if (op == "Exists") return true;
  return op == "Equal" && Str(&tol, "value") == Str(&taint, "value");
}

std::string ZoneOf(const json::object& node) {
  const json::object* labels = client::MetaObject(node, "labels");
  return Str(labels, "topology.kubernetes.io/region") + "/" +
         Str(labels, "topology.kubernetes.io/zone");
}

bool ReadyTrue(const json::object& node) {
  const json::object* c = Condition(node, "Ready");
  return c && Str(c, "status") == "True";
}

std::vector<std::string> PodNode(const json::object& pod) {
  std::string n = Str(Obj(&pod, "spec"), "nodeName");
  if (n.empty()) return {};
  return {n};
}

int64_t ParseTime(const std::string& s, int64_t fallback) {
  int64_t t = 0;
  return ParseRfc3339(s, &t) ? t : fallback;
}

}  // namespace

NodeLifecycleController::NodeLifecycleController(client::SharedInformers* informers,
                                                 client::EventRecorder* recorder,
                                                 NodeLifecycleOptions opts)
    : client_(informers->client()),
      recorder_(recorder),
      opts_(opts),
      nodes_(informers->For(res::kNodes)),
      leases_(informers->For(res::kLeases)),
      pods_(informers->For(res::kPods)),
      queue_(client::WorkQueue::Options{std::chrono::milliseconds(100), std::chrono::seconds(30)}) {
  pods_->AddIndex(kNodeIndex, PodNode);
  auto node_changed = [this](const ObjectPtr& n) {
    queue_.Add(kNodePrefix + MetaString(*n, "name"));
  };
  auto zones_dirty = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    zones_dirty_ = true;
  };
  nodes_->AddEventHandler(
      client::EventHandlers{[node_changed, zones_dirty](const ObjectPtr& n) {
                              zones_dirty();
                              node_changed(n);
                            },
                            [node_changed, zones_dirty](const ObjectPtr& o, const ObjectPtr& n) {
                              if (ReadyTrue(*o) != ReadyTrue(*n) || ZoneOf(*o) != ZoneOf(*n))
                                zones_dirty();
                              node_changed(n);
                            },
                            [this](const ObjectPtr& n) {
                              std::lock_guard<std::mutex> lock(mu_);
                              health_.erase(MetaString(*n, "name"));
                              zones_dirty_ = true;
                            }});
  leases_->AddEventHandler(
      client::EventHandlers{[this](const ObjectPtr& l) { OnLease(l); },
                            [this](const ObjectPtr&, const ObjectPtr& l) { OnLease(l); }, nullptr});
  // A pod newly bound to a tainted node must be judged too.
  auto pod_changed = [this](const ObjectPtr& p) {
    std::string node = Str(Obj(p.get(), "spec"), "nodeName");
    if (node.empty() || IsDeleting(*p)) return;
    ObjectPtr n = nodes_->Get(node);
    if (n && !NoExecuteTaints(*n).empty()) queue_.Add(kPodPrefix + client::KeyOf(*p));
  };
  pods_->AddEventHandler(
      client::EventHandlers{pod_changed,
                            [pod_changed](const ObjectPtr& o, const ObjectPtr& p) {
                              if (o != p) pod_changed(p);
                            },
                            [this](const ObjectPtr& p) {
                              std::lock_guard<std::mutex> lock(mu_);
                              taint_first_seen_.erase(client::KeyOf(*p));
                            }});
}

NodeLifecycleController::~NodeLifecycleController() { Stop(); }

void NodeLifecycleController::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      nodes_->WaitForSync(std::chrono::seconds(60));
      leases_->WaitForSync(std::chrono::seconds(60));
      pods_->WaitForSync(std::chrono::seconds(60));
      queue_.Process("node-lifecycle", [this](const std::string& key) { return Sync(key); });
    });
  }
  monitor_ = std::thread([this] { MonitorLoop(); });
}

void NodeLifecycleController::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  queue_.ShutDown();
  if (monitor_.joinable()) monitor_.join();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

void NodeLifecycleController::MonitorLoop() {
  nodes_->WaitForSync(std::chrono::seconds(60));
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    UpdateZones();
    for (const ObjectPtr& n : nodes_->List()) queue_.Add(kNodePrefix + MetaString(*n, "name"));
    lock.lock();
    cv_.wait_for(lock, opts_.monitor_period, [this] { return stopping_; });
  }
}

void NodeLifecycleController::UpdateZones() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    zones_dirty_ = false;  // first: a change while we count marks it again
  }
  std::map<std::string, std::pair<int, int>> counts;  // zone → (nodes, not ready)
  for (const ObjectPtr& n : nodes_->List()) {
    auto& c = counts[ZoneOf(*n)];
    ++c.first;
    if (!ReadyTrue(*n)) ++c.second;
  }
  std::lock_guard<std::mutex> lock(mu_);
  bool all_down = !counts.empty();
  for (auto it = zones_.begin(); it != zones_.end();) {
    it = counts.count(it->first) ? std::next(it) : zones_.erase(it);
  }
  for (const auto& [zone, c] : counts) {
    auto [total, not_ready] = c;
    Zone& z = zones_[zone];
    z.nodes = total;
    ZoneState before = z.state;
    if (not_ready == total) {
      z.state = ZoneState::kFull;
    } else if (not_ready > 2 &&
               static_cast<double>(not_ready) / total >= opts_.unhealthy_zone_threshold) {
      z.state = ZoneState::kPartial;
      all_down = false;
    } else {
      z.state = ZoneState::kNormal;
      all_down = false;
    }
    if (z.state != before) {
      LOG(INFO) << "node-lifecycle: zone \"" << zone << "\" is now "
                << (z.state == ZoneState::kFull      ? "fully disrupted"
                    : z.state == ZoneState::kPartial ? "partially disrupted"
                                                     : "normal");
    }
  }
  if (all_down != all_down_) {
    LOG(INFO) << "node-lifecycle: "
              << (all_down ? "every node is not Ready: no evictions until some node is back"
                           : "some node is Ready again: evictions resume");
  }
  all_down_ = all_down;
}

bool NodeLifecycleController::TakeEvictionToken(const std::string& zone,
                                                std::chrono::milliseconds* wait) {
  std::lock_guard<std::mutex> lock(mu_);
  *wait = std::chrono::milliseconds(-1);
  if (all_down_) return false;
  Zone& z = zones_[zone];
  double rate = opts_.eviction_rate;
  if (z.state == ZoneState::kPartial)
    rate = z.nodes > opts_.large_cluster_size_threshold ? opts_.secondary_eviction_rate : 0;
  if (rate <= 0) return false;
  auto now = std::chrono::steady_clock::now();
  if (now < z.next_token) {
    *wait = std::chrono::duration_cast<std::chrono::milliseconds>(z.next_token - now) +
            std::chrono::milliseconds(1);
    return false;
  }
  z.next_token = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(1.0 / rate));
  return true;
}

void NodeLifecycleController::OnLease(const ObjectPtr& lease) {
  if (MetaString(*lease, "namespace") != "kube-node-lease") return;
  std::string node = MetaString(*lease, "name");
  std::string renew = Str(Obj(lease.get(), "spec"), "renewTime");
  bool revived = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Health& h = health_[node];
    if (h.lease_renew != renew) {
      h.lease_renew = renew;
      h.probe_nanos = opts_.clock->NowUnixNanos();
      revived = true;
    }
  }
  if (revived) {
    // Only worth a sync when the node is marked unhealthy (the monitor covers the rest).
    ObjectPtr n = nodes_->Get(node);
    const json::object* ready = n ? Condition(*n, "Ready") : nullptr;
    if (n && (!ready || Str(ready, "status") != "True")) queue_.Add(kNodePrefix + node);
  }
}

int64_t NodeLifecycleController::ProbeTime(const std::string& name, const json::object& node) {
  std::string heartbeat = Str(Condition(node, "Ready"), "lastHeartbeatTime");
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = health_.try_emplace(name);
  Health& h = it->second;
  // First sight (e.g. after a controller restart) counts as a sign of life: the node
  // gets a full grace period.
  if (inserted || h.probe_nanos == 0) h.probe_nanos = opts_.clock->NowUnixNanos();
  if (!heartbeat.empty() && heartbeat != h.heartbeat) {
    if (!h.heartbeat.empty()) h.probe_nanos = opts_.clock->NowUnixNanos();
    h.heartbeat = heartbeat;
  }
  return h.probe_nanos;
}

Status NodeLifecycleController::Sync(const std::string& key) {
  if (key.rfind(kNodePrefix, 0) == 0) return SyncNode(key.substr(sizeof(kNodePrefix) - 1));
  if (key.rfind(kPodPrefix, 0) == 0) return SyncPod(key.substr(sizeof(kPodPrefix) - 1));
  return Status::Ok();
}

Status NodeLifecycleController::SyncNode(const std::string& name) {
  ObjectPtr node = nodes_->Get(name);
  if (!node) return Status::Ok();
  const int64_t probe = ProbeTime(name, *node);
  const int64_t now = opts_.clock->NowUnixNanos();
  const json::object* ready = Condition(*node, "Ready");
  auto grace = ready ? opts_.grace_period : opts_.startup_grace_period;
  int64_t grace_nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(grace).count();
  if (now - probe > grace_nanos && (!ready || Str(ready, "status") != "Unknown")) {
    RETURN_IF_ERROR(MarkUnknown(*node));
    return Status::Ok();  // the update comes back as an event; taints follow then
  }
  RETURN_IF_ERROR(ReconcileTaints(*node));
  if (!NoExecuteTaints(*node).empty()) EnqueuePodsOf(name);
  return Status::Ok();
}

Status NodeLifecycleController::MarkUnknown(const json::object& node) {
  const std::string name = MetaString(node, "name");
  const int64_t now = opts_.clock->NowUnix();
  const bool never = Condition(node, "Ready") == nullptr;
  json::object next = node;
  json::object& status =
      next["status"].is_object() ? next["status"].as_object() : next["status"].emplace_object();
  json::array conds;
  if (auto* cs = status.if_contains("conditions"); cs && cs->is_array()) conds = cs->as_array();
  for (const char* type : {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}) {
    json::object* found = nullptr;
    for (auto& c : conds)
      if (c.is_object() && Str(&c.as_object(), "type") == type) found = &c.as_object();
    if (!found) {
      conds.push_back(json::object{{"type", type}, {"lastHeartbeatTime", FormatRfc3339(now)}});
      found = &conds.back().as_object();
    }
    if (Str(found, "status") != "Unknown") (*found)["lastTransitionTime"] = FormatRfc3339(now);
    (*found)["status"] = "Unknown";
    (*found)["reason"] = never ? "NodeStatusNeverUpdated" : "NodeStatusUnknown";
    (*found)["message"] =
        never ? "Kubelet never posted node status." : "Kubelet stopped posting node status.";
  }
  status["conditions"] = std::move(conds);
  auto r = client_->UpdateStatus(res::kNodes, "", next);
  if (!r.ok()) return r.status().code() == Code::kNotFound ? Status::Ok() : r.status();
  LOG(INFO) << "node-lifecycle: node " << name << " stopped posting status: Ready=Unknown";
  recorder_->Record(node, "Normal", "NodeNotReady",
                    "Node " + name + " status is now: NodeNotReady");
  return MarkPodsNotReady(name);
}

Status NodeLifecycleController::MarkPodsNotReady(const std::string& node) {
  const std::string now = FormatRfc3339(opts_.clock->NowUnix());
  Status first;
  for (const ObjectPtr& pod : pods_->ByIndex(kNodeIndex, node)) {
    if (!IsPodReady(*pod)) continue;
    json::object cond{{"type", "Ready"},
                      {"status", "False"},
                      {"lastProbeTime", nullptr},
                      {"lastTransitionTime", now}};
    json::object patch{{"status", json::object{{"conditions", json::array{cond}}}}};
    auto r = client_->Patch(res::kPods, MetaString(*pod, "namespace"), MetaString(*pod, "name"),
                            client::PatchType::kStrategicMerge, patch, "status");
    if (!r.ok() && r.status().code() != Code::kNotFound && first.ok()) first = r.status();
  }
  return first;
}

Status NodeLifecycleController::ReconcileTaints(const json::object& node) {
  const json::object* ready = Condition(node, "Ready");
  std::string status = ready ? Str(ready, "status") : "";
  std::string want_key;
  if (status == "False") want_key = kTaintNotReady;
  if (status == "Unknown") want_key = kTaintUnreachable;

  json::array have;
  if (auto* ts = Arr(Obj(&node, "spec"), "taints")) have = *ts;
  json::array next;
  bool has_noschedule = false, has_noexecute = false;
  for (const auto& t : have) {
    if (!t.is_object() || !OurTaint(t.as_object())) {
      next.push_back(t);
      continue;
    }
    if (Str(&t.as_object(), "key") != want_key) continue;  // dropped
    if (Str(&t.as_object(), "effect") == "NoSchedule") has_noschedule = true;
    if (Str(&t.as_object(), "effect") == "NoExecute") has_noexecute = true;
    next.push_back(t);
  }
  // About to add a NoExecute taint: judge the zones on the current view first (the monitor's
  // last pass may predate this node's change).
  if (!want_key.empty() && !has_noexecute) {
    bool stale;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stale = zones_dirty_;
    }
    if (stale) UpdateZones();  // only after some node's readiness changed
  }
  bool all_down;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all_down = all_down_;
  }
  if (all_down && has_noexecute) {
    // Every node is down: more likely our own view than the nodes. Evict nothing.
    json::array kept;
    for (auto& t : next) {
      bool ours =
          t.is_object() && OurTaint(t.as_object()) && Str(&t.as_object(), "effect") == "NoExecute";
      if (!ours) kept.push_back(t);
    }
    next = std::move(kept);
  }
  if (!want_key.empty()) {
    if (!has_noschedule) next.push_back(json::object{{"key", want_key}, {"effect", "NoSchedule"}});
    std::chrono::milliseconds wait;
    if (!has_noexecute && !all_down) {
      if (TakeEvictionToken(ZoneOf(node), &wait)) {
        next.push_back(json::object{{"key", want_key},
                                    {"effect", "NoExecute"},
                                    {"timeAdded", FormatRfc3339(opts_.clock->NowUnix())}});
      } else if (wait.count() >= 0) {
        queue_.AddAfter(kNodePrefix + MetaString(node, "name"), wait);
      }
    }
  }
  if (next == have) return Status::Ok();
  json::object updated = node;
  json::value& spec = updated["spec"];
  if (!spec.is_object()) spec.emplace_object();
  if (next.empty()) {
    spec.as_object().erase("taints");
  } else {
    spec.as_object()["taints"] = std::move(next);
  }
  auto r = client_->Update(res::kNodes, "", updated);
  if (!r.ok()) return r.status().code() == Code::kNotFound ? Status::Ok() : r.status();
  LOG(INFO) << "node-lifecycle: node " << MetaString(node, "name") << " taints "
            << (want_key.empty() ? std::string("cleared") : "now " + want_key);
  return Status::Ok();
}

void NodeLifecycleController::EnqueuePodsOf(const std::string& node) {
  for (const ObjectPtr& pod : pods_->ByIndex(kNodeIndex, node))
    if (!IsDeleting(*pod)) queue_.Add(kPodPrefix + client::KeyOf(*pod));
}

int64_t NodeLifecycleController::EvictionTime(const json::object& pod,
                                              const std::vector<json::object>& taints,
                                              int64_t first_seen) {
  if (taints.empty()) return -1;
  const json::array* tols = Arr(Obj(&pod, "spec"), "tolerations");
  int64_t min_seconds = -1;  // -1: every toleration used is forever
  int64_t start = 0;
  for (const auto& taint : taints) {
    bool tolerated = false;
    if (tols) {
      for (const auto& t : *tols) {
        if (!t.is_object() || !Tolerates(t.as_object(), taint)) continue;
        tolerated = true;
        auto* secs = t.as_object().if_contains("tolerationSeconds");
        if (secs && secs->is_int64()) {
          int64_t s = std::max<int64_t>(0, secs->as_int64());
          min_seconds = min_seconds < 0 ? s : std::min(min_seconds, s);
        }
      }
    }
    if (!tolerated) return 0;
    start = std::max(start, ParseTime(Str(&taint, "timeAdded"), first_seen));
  }
  if (min_seconds < 0) return -1;
  return std::max<int64_t>(1, start + min_seconds);
}

Status NodeLifecycleController::SyncPod(const std::string& key) {
  ObjectPtr pod = pods_->Get(key);
  if (!pod || IsDeleting(*pod)) return Status::Ok();
  std::string node_name = Str(Obj(pod.get(), "spec"), "nodeName");
  ObjectPtr node = node_name.empty() ? nullptr : nodes_->Get(node_name);
  std::vector<json::object> taints = node ? NoExecuteTaints(*node) : std::vector<json::object>{};
  const int64_t now = opts_.clock->NowUnix();
  int64_t first_seen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (taints.empty()) {
      taint_first_seen_.erase(key);
      return Status::Ok();
    }
    first_seen = taint_first_seen_.try_emplace(key, now).first->second;
  }
  int64_t when = EvictionTime(*pod, taints, first_seen);
  if (when < 0) return Status::Ok();
  if (when > now) {
    queue_.AddAfter(kPodPrefix + key, std::chrono::seconds(when - now));
    return Status::Ok();
  }
  auto [ns, name] = client::SplitKey(key);
  json::object cond{{"type", "DisruptionTarget"},
                    {"status", "True"},
                    {"reason", "DeletionByTaintManager"},
                    {"message", "Taint manager: deleting due to NoExecute taint"},
                    {"lastProbeTime", nullptr},
                    {"lastTransitionTime", FormatRfc3339(now)}};
  json::object patch{{"status", json::object{{"conditions", json::array{cond}}}}};
  auto patched =
      client_->Patch(res::kPods, ns, name, client::PatchType::kStrategicMerge, patch, "status");
  if (!patched.ok() && patched.status().code() == Code::kNotFound) return Status::Ok();
  recorder_->Record(*pod, "Normal", "TaintManagerEviction", "Marking for deletion Pod " + key);
  client::DeleteOptions d;
  d.precondition_uid = MetaString(*pod, "uid");
  Status st = client_->Delete(res::kPods, ns, name, d);
  if (!st.ok() && st.code() != Code::kNotFound && st.code() != Code::kConflict) return st;
  LOG(INFO) << "node-lifecycle: evicted pod " << key << " from node " << node_name;
  return Status::Ok();
}

}  // namespace sampan::controllers
