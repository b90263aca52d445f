#include "scheduler/scheduler.h"

#include "scheduler/json_view.h"
#include "util/clock.h"
#include "util/log.h"

namespace sampan::scheduler {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;
using namespace internal;

namespace {
std::vector<std::string> ByNodeName(const json::object& pod) {
  std::string node = Str(Obj(&pod, "spec"), "nodeName");
  if (node.empty()) return {};
  return {node};
}
// Whether anything other than status and bookkeeping metadata differs.
bool SchedulingRelevantChange(const json::object& a, const json::object& b) {
  auto strip = [](json::object o) {
    o.erase("status");
    if (auto* m = o.if_contains("metadata"); m && m->is_object()) {
      m->as_object().erase("resourceVersion");
      m->as_object().erase("managedFields");
      m->as_object().erase("generation");
    }
    return json::value(std::move(o));
  };
  return strip(a) != strip(b);
}
bool Terminal(const json::object& pod) {
  std::string phase = Str(Obj(&pod, "status"), "phase");
  return phase == "Succeeded" || phase == "Failed";
}
}  // namespace

Scheduler::Scheduler(client::RestClient* client, SchedulerOptions opts)
    : client_(client),
      opts_(std::move(opts)),
      recorder_(client, opts_.scheduler_name),
      framework_(DefaultFramework()),
      pods_(client, client::resources::kPods),
      nodes_(client, client::resources::kNodes),
      queue_(client::WorkQueue::Options{std::chrono::seconds(1), std::chrono::seconds(10)}) {
  pods_.AddIndex("node", ByNodeName);
  pods_.AddEventHandler(client::EventHandlers{
      [this](const ObjectPtr& p) { OnPodEvent(nullptr, p, false); },
      [this](const ObjectPtr& o, const ObjectPtr& p) { OnPodEvent(o, p, false); },
      [this](const ObjectPtr& p) { OnPodEvent(nullptr, p, true); }});
  auto node_changed = [this](const ObjectPtr&) { MoveAllToActive(); };
  nodes_.AddEventHandler(client::EventHandlers{node_changed,
                                               [this](const ObjectPtr& o, const ObjectPtr& n) {
                                                 if (o != n) MoveAllToActive();  // not on resync
                                               },
                                               nullptr});
}

Scheduler::~Scheduler() { Stop(); }

bool Scheduler::Responsible(const json::object& pod) const {
  std::string name = Str(Obj(&pod, "spec"), "schedulerName");
  return name.empty() ? opts_.scheduler_name == "default-scheduler" : name == opts_.scheduler_name;
}

void Scheduler::OnPodEvent(const ObjectPtr& old_pod, const ObjectPtr& pod, bool deleted) {
  std::string key = client::KeyOf(*pod);
  bool assigned = !Str(Obj(pod.get(), "spec"), "nodeName").empty();
  if (deleted || assigned) {
    bool freed = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      assumed_.erase(key);  // the cache has caught up (or the pod is gone)
      unschedulable_.erase(key);
      freed = deleted && assigned;
    }
    // An assigned pod leaving (or finishing) frees room: retry the waiting pods.
    if (freed || (assigned && old_pod && !Terminal(*old_pod) && Terminal(*pod))) MoveAllToActive();
    return;
  }
  if (!Responsible(*pod) || !MetaString(*pod, "deletionTimestamp").empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A pending pod whose spec or labels changed is worth another try; a resync
    // or a status change (e.g. our own PodScheduled condition) is not.
    if (unschedulable_.count(key)) {
      if (old_pod == pod || (old_pod && !SchedulingRelevantChange(*old_pod, *pod))) return;
      unschedulable_.erase(key);
    }
  }
  queue_.Add(key);
}

void Scheduler::MoveAllToActive() {
  std::set<std::string> keys;
  {
    std::lock_guard<std::mutex> lock(mu_);
    keys.swap(unschedulable_);
  }
  for (const auto& k : keys) queue_.Add(k);
}

void Scheduler::Start() {
  if (started_.exchange(true)) return;
  nodes_.Start();
  pods_.Start();
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  if (!started_.load()) return;
  queue_.ShutDown();
  if (thread_.joinable()) thread_.join();
  pods_.Stop();
  nodes_.Stop();
}

void Scheduler::Loop() {
  nodes_.WaitForSync(std::chrono::seconds(30));
  pods_.WaitForSync(std::chrono::seconds(30));
  auto last_flush = std::chrono::steady_clock::now();
  std::string key;
  while (queue_.Get(&key)) {
    Status st = ScheduleOne(key);
    if (st.ok()) {
      queue_.Forget(key);
    } else {
      LOG(WARNING) << "scheduler: " << key << ": " << st.ToString();
      queue_.AddRateLimited(key);
    }
    queue_.Done(key);
    if (std::chrono::steady_clock::now() - last_flush > opts_.unschedulable_flush) {
      last_flush = std::chrono::steady_clock::now();
      MoveAllToActive();
    }
  }
}

Status Scheduler::RecordFailure(const json::object& pod, const std::string& reason,
                                const std::string& message) {
  recorder_.Record(pod, "Warning", "FailedScheduling", message);
  // Leave the condition alone when it already says this.
  if (const json::array* conds = Arr(Obj(&pod, "status"), "conditions")) {
    for (const auto& c : *conds) {
      if (c.is_object() && Str(&c.as_object(), "type") == "PodScheduled" &&
          Str(&c.as_object(), "status") == "False" && Str(&c.as_object(), "reason") == reason &&
          Str(&c.as_object(), "message") == message)
        return Status::Ok();
    }
  }
  json::object cond{
      {"type", "PodScheduled"},   {"status", "False"},
      {"reason", reason},         {"message", message},
      {"lastProbeTime", nullptr}, {"lastTransitionTime", FormatRfc3339(Clock::Real().NowUnix())}};
  // Strategic merge: conditions merge by type.
  json::object patch{{"status", json::object{{"conditions", json::array{cond}}}}};
  auto r =
      client_->Patch(client::resources::kPods, MetaString(pod, "namespace"),
                     MetaString(pod, "name"), client::PatchType::kStrategicMerge, patch, "status");
  if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
  return Status::Ok();
}

Status Scheduler::ScheduleOne(const std::string& key) {
  ObjectPtr pod = pods_.Get(key);
  if (!pod) return Status::Ok();  // deleted meanwhile
  if (!Str(Obj(pod.get(), "spec"), "nodeName").empty()) return Status::Ok();
  if (!MetaString(*pod, "deletionTimestamp").empty() || !Responsible(*pod)) return Status::Ok();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (assumed_.count(key)) return Status::Ok();  // bound, not yet observed
  }
  // Snapshot: every node with the pods the cache and our assumptions put on it.
  std::vector<std::unique_ptr<NodeInfo>> infos;
  std::map<std::string, NodeInfo*> by_name;
  for (const ObjectPtr& n : nodes_.List()) {
    infos.push_back(std::make_unique<NodeInfo>(n));
    by_name[infos.back()->name] = infos.back().get();
  }
  for (auto& info : infos) {
    for (const ObjectPtr& p : pods_.ByIndex("node", info->name)) {
      if (!Terminal(*p)) info->AddPod(p);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [k, p] : assumed_) {
      auto it = by_name.find(Str(Obj(p.get(), "spec"), "nodeName"));
      if (it != by_name.end()) it->second->AddPod(p);
    }
  }
  std::vector<const NodeInfo*> nodes;
  nodes.reserve(infos.size());
  for (auto& i : infos) nodes.push_back(i.get());

  ScheduleResult result = framework_->Schedule(PodInfo(pod), nodes);
  if (result.node.empty()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      unschedulable_.insert(key);
    }
    return RecordFailure(*pod, "Unschedulable", result.message);
  }
  std::string ns = MetaString(*pod, "namespace");
  std::string name = MetaString(*pod, "name");
  json::object binding{
      {"apiVersion", "v1"},
      {"kind", "Binding"},
      {"metadata",
       json::object{{"name", name}, {"namespace", ns}, {"uid", MetaString(*pod, "uid")}}},
      {"target", json::object{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", result.node}}}};
  // Assume first, so the next pod already sees this one's resources.
  auto assumed = std::make_shared<json::object>(*pod);
  (*assumed)["spec"].as_object()["nodeName"] = result.node;
  {
    std::lock_guard<std::mutex> lock(mu_);
    assumed_[key] = assumed;
  }
  auto bound = client_->CreateSubresource(client::resources::kPods, ns, name, "binding", binding);
  if (!bound.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      assumed_.erase(key);
    }
    if (bound.status().code() == Code::kNotFound) return Status::Ok();
    if (bound.status().code() == Code::kConflict) {
      // Already bound by someone else, or being deleted: the informer will tell.
      return Status::Ok();
    }
    recorder_.Record(*pod, "Warning", "FailedScheduling",
                     "Binding rejected: " + bound.status().message());
    return bound.status();
  }
  recorder_.Record(*pod, "Normal", "Scheduled",
                   "Successfully assigned " + ns + "/" + name + " to " + result.node);
  return Status::Ok();
}

}  // namespace sampan::scheduler
