#include "hollow/hollow_nodes.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>

#include "api/json_util.h"
#include "client/informer.h"
#include "client/workqueue.h"
#include "hollow/pod_status.h"
#include "util/clock.h"
#include "util/log.h"

namespace sampan::hollow {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;
namespace res = client::resources;

namespace {

using api::Arr;
using api::Int;
using api::Obj;
using api::Str;

std::string NodeNameOf(const json::object& pod) { return Str(Obj(&pod, "spec"), "nodeName"); }

bool ReadyTrue(const json::object& node) {
  const json::object* st = Obj(&node, "status");
  if (!st) return false;
  auto* cs = st->if_contains("conditions");
  if (!cs || !cs->is_array()) return false;
  for (const auto& c : cs->as_array()) {
    if (c.is_object() && Str(&c.as_object(), "type") == "Ready")
      return Str(&c.as_object(), "status") == "True";
  }
  return false;
}

// Runs fn(i) for i in [0, n) on up to `threads` threads.
void ParallelFor(int n, int threads, const std::function<void(int)>& fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, std::min(threads, n)); ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < n; i = next++) fn(i);
    });
  }
  for (auto& th : pool) th.join();
}

// Only hollow nodes are watched (a real cluster's others are none of our business).
client::ListOptions HollowSelector() {
  client::ListOptions o;
  o.label_selector = std::string(kHollowLabel) + "=true";
  return o;
}

// Only pods bound to some node: a pod waiting for the scheduler is nobody's to run yet, and the
// server then sends it once bound (as an ADDED event) instead of every write before that.
client::ListOptions BoundPods() {
  client::ListOptions o;
  o.field_selector = "spec.nodeName!=";
  return o;
}

}  // namespace

class HollowNodes::Impl {
 public:
  Impl(client::RestClient* c, HollowOptions o)
      : client_(c),
        opts_(std::move(o)),
        pods_(c, res::kPods, "", BoundPods()),
        nodes_(c, res::kNodes, "", HollowSelector()),
        queue_(
            client::WorkQueue::Options{std::chrono::milliseconds(50), std::chrono::seconds(10)}) {
    states_.resize(std::max(0, opts_.count));
    for (int i = 0; i < opts_.count; ++i) {
      NodeState& s = states_[i];
      s.index = opts_.first_index + i;
      s.name = opts_.name_prefix + std::to_string(s.index);
      int addr = AddressIndex(opts_.name_prefix, s.index);
      s.ip = NodeIp(addr);
      std::string cidr = PodCidr(addr);
      s.pod_net = cidr.substr(0, cidr.size() - 4);  // "10.a.b."
      by_name_[s.name] = i;
    }
    pods_.AddEventHandler(
        client::EventHandlers{[this](const ObjectPtr& p) { OnPod(p, false); },
                              [this](const ObjectPtr&, const ObjectPtr& p) { OnPod(p, false); },
                              [this](const ObjectPtr& p) { OnPod(p, true); }});
    nodes_.AddEventHandler(client::EventHandlers{
        nullptr, [this](const ObjectPtr&, const ObjectPtr& n) { OnNode(n, false); },
        [this](const ObjectPtr& n) { OnNode(n, true); }});
  }

  ~Impl() { Stop(); }

  Status Start() {
    std::atomic<int> failed{0};
    Status first_error;
    std::mutex err_mu;
    ParallelFor(opts_.count, 16, [&](int i) {
      Status st = Register(i);
      if (!st.ok()) {
        ++failed;
        std::lock_guard<std::mutex> lock(err_mu);
        if (first_error.ok()) first_error = st.WithContext("registering " + states_[i].name);
      }
    });
    if (failed > 0) return first_error;
    LOG(INFO) << "hollow: registered " << opts_.count << " nodes " << opts_.name_prefix
              << opts_.first_index << ".." << opts_.name_prefix
              << (opts_.first_index + opts_.count - 1);
    pods_.Start();
    nodes_.Start();
    auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> lock(lease_mu_);
      // Renewals spread evenly over one interval.
      for (int i = 0; i < opts_.count; ++i)
        lease_due_.push({now + opts_.renew_interval * i / std::max(1, opts_.count), i});
    }
    for (int t = 0; t < std::max(1, opts_.lease_workers); ++t)
      threads_.emplace_back([this] { LeaseLoop(); });
    for (int t = 0; t < std::max(1, opts_.workers); ++t)
      threads_.emplace_back([this] {
        queue_.Process("hollow-nodes", [this](const std::string& key) { return Sync(key); });
      });
    return Status::Ok();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(lease_mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    lease_cv_.notify_all();
    queue_.ShutDown();
    for (auto& t : threads_) t.join();
    threads_.clear();
    pods_.Stop();
    nodes_.Stop();
    if (opts_.delete_on_exit) {
      ParallelFor(opts_.count, 16, [&](int i) {
        client::DeleteOptions d;
        Status st = client_->Delete(res::kNodes, "", states_[i].name, d);
        if (!st.ok() && st.code() != Code::kNotFound)
          LOG(WARNING) << "hollow: deleting node " << states_[i].name << ": " << st.ToString();
        st = client_->Delete(res::kLeases, "kube-node-lease", states_[i].name, d);
        if (!st.ok() && st.code() != Code::kNotFound)
          LOG(WARNING) << "hollow: deleting lease " << states_[i].name << ": " << st.ToString();
      });
      LOG(INFO) << "hollow: deleted " << opts_.count << " nodes";
    }
  }

  HollowStats stats() const {
    HollowStats s;
    s.nodes_registered = registered_.load();
    s.lease_renewals = renewals_.load();
    s.lease_failures = renew_failures_.load();
    s.pods_started = pods_started_.load();
    s.pods_finished = pods_finished_.load();
    s.pods_deleted = pods_deleted_.load();
    return s;
  }

 private:
  struct NodeState {
    int index = 0;
    std::string name, ip, pod_net;
    std::string uid;
    json::object lease;  // last written Lease; touched by one lease worker at a time
    // Pod addresses .2 … .254 of the node's /24, by pod uid (guarded by ip_mu_).
    std::vector<bool> used = std::vector<bool>(256, false);
    std::unordered_map<std::string, int> ip_of;
    int cursor = 2;
  };

  int IndexOf(const std::string& node) const {
    auto it = by_name_.find(node);
    return it == by_name_.end() ? -1 : it->second;
  }

  // ---- registration ---------------------------------------------------------------------
  Status Register(int i) {
    NodeState& s = states_[i];
    json::object node = MakeNode(opts_, s.index, Clock::Real().NowUnix());
    auto created = client_->Create(res::kNodes, "", node);
    json::object current;
    if (created.ok()) {
      current = std::move(*created);
    } else if (created.status().code() == Code::kAlreadyExists) {
      // Taking over a node of an earlier run: post a fresh status.
      ASSIGN_OR_RETURN(current, client_->Get(res::kNodes, "", s.name));
      ASSIGN_OR_RETURN(current, PostStatus(current));
    } else {
      return created.status();
    }
    s.uid = MetaString(current, "uid");
    RETURN_IF_ERROR(RenewLease(s));
    ++registered_;
    return Status::Ok();
  }

  // Writes the node's status as a freshly started kubelet would (Ready, capacity, nodeInfo).
  Result<json::object> PostStatus(const json::object& current) {
    int i = IndexOf(MetaString(current, "name"));
    json::object fresh = MakeNode(opts_, states_[i].index, Clock::Real().NowUnix());
    json::object next = current;
    next["status"] = fresh["status"];
    return client_->UpdateStatus(res::kNodes, "", next);
  }

  // ---- leases ---------------------------------------------------------------------------
  json::object LeaseSpec(const NodeState& s) const {
    auto nanos = Clock::Real().NowUnixNanos();
    return json::object{
        {"holderIdentity", s.name},
        {"leaseDurationSeconds",
         std::chrono::duration_cast<std::chrono::seconds>(opts_.lease_duration).count()},
        {"renewTime",
         FormatRfc3339Micro(nanos / 1000000000, static_cast<int32_t>(nanos % 1000000000))}};
  }

  Status RenewLease(NodeState& s) {
    if (!s.lease.empty()) {
      json::object next = s.lease;
      next["spec"] = LeaseSpec(s);
      auto r = client_->Update(res::kLeases, "kube-node-lease", next);
      if (r.ok()) {
        s.lease = std::move(*r);
        return Status::Ok();
      }
      if (r.status().code() != Code::kConflict && r.status().code() != Code::kNotFound)
        return r.status();
      s.lease.clear();  // someone else wrote or deleted it: start over from the server's copy
    }
    auto got = client_->Get(res::kLeases, "kube-node-lease", s.name);
    if (got.ok()) {
      json::object next = std::move(*got);
      next["spec"] = LeaseSpec(s);
      ASSIGN_OR_RETURN(s.lease, client_->Update(res::kLeases, "kube-node-lease", next));
      return Status::Ok();
    }
    if (got.status().code() != Code::kNotFound) return got.status();
    json::object meta{{"name", s.name}, {"namespace", "kube-node-lease"}};
    if (!s.uid.empty()) {
      meta["ownerReferences"] = json::array{
          json::object{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", s.name}, {"uid", s.uid}}};
    }
    json::object lease{{"apiVersion", "coordination.k8s.io/v1"},
                       {"kind", "Lease"},
                       {"metadata", std::move(meta)},
                       {"spec", LeaseSpec(s)}};
    ASSIGN_OR_RETURN(s.lease, client_->Create(res::kLeases, "kube-node-lease", lease));
    return Status::Ok();
  }

  void LeaseLoop() {
    std::unique_lock<std::mutex> lock(lease_mu_);
    while (!stopping_) {
      if (lease_due_.empty()) {
        lease_cv_.wait(lock);
        continue;
      }
      auto [due, i] = lease_due_.top();
      if (std::chrono::steady_clock::now() < due) {
        lease_cv_.wait_until(lock, due);
        continue;
      }
      lease_due_.pop();
      lock.unlock();
      Status st = RenewLease(states_[i]);
      if (st.ok()) {
        ++renewals_;
      } else {
        ++renew_failures_;
        LOG(WARNING) << "hollow: renewing the lease of " << states_[i].name << ": "
                     << st.ToString();
      }
      auto now = std::chrono::steady_clock::now();
      auto next = due + opts_.renew_interval;
      if (next < now) next = now + opts_.renew_interval / 10;  // fell far behind: catch up soon
      if (!st.ok()) next = std::min(next, now + std::chrono::seconds(1));
      lock.lock();
      lease_due_.push({next, i});
      lease_cv_.notify_one();
    }
  }

  // ---- pods and nodes -------------------------------------------------------------------
  void OnPod(const ObjectPtr& pod, bool deleted) {
    int i = IndexOf(NodeNameOf(*pod));
    if (i < 0) return;
    if (deleted) {
      ReleaseIp(i, MetaString(*pod, "uid"));
      return;
    }
    queue_.Add("p/" + client::KeyOf(*pod));
  }

  void OnNode(const ObjectPtr& node, bool deleted) {
    std::string name = MetaString(*node, "name");
    if (IndexOf(name) < 0) return;
    if (deleted || !ReadyTrue(*node)) queue_.Add("n/" + name);
  }

  Status Sync(const std::string& key) {
    if (key.rfind("p/", 0) == 0) return SyncPod(key.substr(2));
    if (key.rfind("n/", 0) == 0) return SyncNode(key.substr(2));
    return Status::Ok();
  }

  Status SyncNode(const std::string& name) {
    int i = IndexOf(name);
    if (i < 0) return Status::Ok();
    ObjectPtr node = nodes_.Get(name);
    if (!node) {
      // Deleted behind our back: register again, as a kubelet does.
      LOG(INFO) << "hollow: node " << name << " was deleted; registering it again";
      states_[i].uid.clear();
      auto created = client_->Create(res::kNodes, "",
                                     MakeNode(opts_, states_[i].index, Clock::Real().NowUnix()));
      if (!created.ok() && created.status().code() != Code::kAlreadyExists) return created.status();
      return Status::Ok();
    }
    if (ReadyTrue(*node)) return Status::Ok();
    auto r = PostStatus(*node);
    if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
    return Status::Ok();
  }

  Status SyncPod(const std::string& key) {
    ObjectPtr pod = pods_.Get(key);
    if (!pod) return Status::Ok();
    int i = IndexOf(NodeNameOf(*pod));
    if (i < 0) return Status::Ok();
    auto [ns, name] = client::SplitKey(key);
    std::string uid = MetaString(*pod, "uid");
    if (!MetaString(*pod, "deletionTimestamp").empty()) {
      client::DeleteOptions d;
      d.grace_period_seconds = 0;
      d.precondition_uid = uid;
      Status st = client_->Delete(res::kPods, ns, name, d);
      if (st.ok()) ++pods_deleted_;
      if (!st.ok() && st.code() != Code::kNotFound && st.code() != Code::kConflict) return st;
      return Status::Ok();
    }
    std::string ip = PodIp(i, uid, Str(Obj(pod.get(), "status"), "podIP"));
    PodPlan plan = PlanPodStatus(*pod, states_[i].ip, ip, Clock::Real().NowUnix());
    if (plan.status) {
      json::object next = *pod;
      next["status"] = std::move(*plan.status);
      auto r = client_->UpdateStatus(res::kPods, ns, next);
      if (!r.ok()) {
        if (r.status().code() == Code::kNotFound) return Status::Ok();
        return r.status();  // a Conflict retries with the cache's newer copy
      }
      if (plan.started) ++pods_started_;
      if (plan.finished) ++pods_finished_;
    }
    if (plan.recheck_after >= 0)
      queue_.AddAfter("p/" + key, std::chrono::seconds(plan.recheck_after));
    return Status::Ok();
  }

  // The pod's address: the one it has (if in the node's range), else the next free one.
  std::string PodIp(int i, const std::string& uid, const std::string& current) {
    NodeState& s = states_[i];
    std::lock_guard<std::mutex> lock(ip_mu_);
    auto it = s.ip_of.find(uid);
    if (it != s.ip_of.end()) return s.pod_net + std::to_string(it->second);
    int octet = -1;
    if (current.rfind(s.pod_net, 0) == 0) {
      try {
        octet = std::stoi(current.substr(s.pod_net.size()));
      } catch (...) {
        octet = -1;
      }
      if (octet < 2 || octet > 254) octet = -1;
    }
    if (octet < 0) {
      for (int tries = 0; tries < 253; ++tries) {
        int c = s.cursor;
        s.cursor = s.cursor >= 254 ? 2 : s.cursor + 1;
        if (!s.used[c]) {
          octet = c;
          break;
        }
      }
      if (octet < 0) octet = s.cursor;  // more pods than addresses: share one
    }
    s.used[octet] = true;
    s.ip_of[uid] = octet;
    return s.pod_net + std::to_string(octet);
  }

  void ReleaseIp(int i, const std::string& uid) {
    NodeState& s = states_[i];
    std::lock_guard<std::mutex> lock(ip_mu_);
    auto it = s.ip_of.find(uid);
    if (it == s.ip_of.end()) return;
    s.used[it->second] = false;
    s.ip_of.erase(it);
  }

  client::RestClient* client_;
  const HollowOptions opts_;
  std::vector<NodeState> states_;
  std::unordered_map<std::string, int> by_name_;  // fixed after construction
  client::Informer pods_, nodes_;
  client::WorkQueue queue_;
  std::vector<std::thread> threads_;

  using Due = std::pair<std::chrono::steady_clock::time_point, int>;
  std::mutex lease_mu_;
  std::condition_variable lease_cv_;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> lease_due_;  // guarded
  bool stopping_ = false;                                                    // guarded

  std::mutex ip_mu_;
  std::atomic<int64_t> registered_{0}, renewals_{0}, renew_failures_{0}, pods_started_{0},
      pods_finished_{0}, pods_deleted_{0};
};

HollowNodes::HollowNodes(client::RestClient* client, HollowOptions opts)
    : impl_(std::make_unique<Impl>(client, std::move(opts))) {}
HollowNodes::~HollowNodes() { Stop(); }
Status HollowNodes::Start() { return impl_->Start(); }
void HollowNodes::Stop() { impl_->Stop(); }
HollowStats HollowNodes::stats() const { return impl_->stats(); }

}  // namespace sampan::hollow
