#include "controllers/deployment.h"

#include <algorithm>
#include <cmath>

#include "api/json_util.h"
#include "api/labels.h"
#include "controllers/util.h"
#include "util/clock.h"
#include "util/log.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;

namespace {

constexpr const char* kRevision = "deployment.kubernetes.io/revision";
constexpr const char* kDesired = "deployment.kubernetes.io/desired-replicas";
constexpr const char* kMaxReplicas = "deployment.kubernetes.io/max-replicas";
constexpr const char* kHashLabel = "pod-template-hash";

int64_t Revision(const json::object& rs) {
  std::string v = Str(client::MetaObject(rs, "annotations"), kRevision);
  try {
    return v.empty() ? 0 : std::stoll(v);
  } catch (...) {
    return 0;
  }
}

// The template with the pod-template-hash label removed, for comparisons.
json::object TemplateWithoutHash(const json::object* tmpl) {
  json::object t = tmpl ? *tmpl : json::object();
  if (auto* m = t.if_contains("metadata"); m && m->is_object()) {
    if (auto* l = m->as_object().if_contains("labels"); l && l->is_object()) {
      l->as_object().erase(kHashLabel);
      if (l->as_object().empty()) m->as_object().erase("labels");
    }
    if (m->as_object().empty()) t.erase("metadata");
  }
  return t;
}

int64_t SpecReplicas(const json::object& o) { return Int(Obj(&o, "spec"), "replicas", 1); }
int64_t StatusInt(const json::object& o, const char* k) { return Int(Obj(&o, "status"), k); }

json::object Condition(const std::string& type, const std::string& status,
                       const std::string& reason, const std::string& message,
                       const json::object* prev) {
  std::string now = FormatRfc3339(Clock::Real().NowUnix());
  std::string transition = now;
  if (prev && Str(prev, "status") == status) transition = Str(prev, "lastTransitionTime");
  std::string update = now;
  if (prev && Str(prev, "status") == status && Str(prev, "reason") == reason)
    update = Str(prev, "lastUpdateTime");
  return json::object{
      {"type", type},       {"status", status},         {"reason", reason},
      {"message", message}, {"lastUpdateTime", update}, {"lastTransitionTime", transition}};
}

const json::object* FindCondition(const json::object& d, const std::string& type) {
  if (const json::array* cs = Arr(Obj(&d, "status"), "conditions")) {
    for (const auto& c : *cs)
      if (c.is_object() && Str(&c.as_object(), "type") == type) return &c.as_object();
  }
  return nullptr;
}

}  // namespace

std::string PodTemplateHash(const json::object& pod_template, int64_t collision_count) {
  std::string text = api::SerializeSorted(json::value(pod_template));
  uint32_t h = 2166136261u;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 16777619u;
  };
  for (unsigned char c : text) mix(c);
  if (collision_count > 0) {
    uint32_t cc = static_cast<uint32_t>(collision_count);
    for (int i = 0; i < 4; ++i) mix(static_cast<unsigned char>((cc >> (8 * i)) & 0xff));
    for (int i = 0; i < 4; ++i) mix(0);
  }
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string dec = std::to_string(h), out;
  for (char c : dec) out.push_back(kAlphabet[static_cast<unsigned char>(c) % 27]);
  return out.substr(0, 10);
}

int64_t ResolveIntOrPercent(const json::value* v, int64_t total, bool round_up, int64_t fallback) {
  if (!v) return fallback;
  if (v->is_int64()) return v->as_int64();
  if (!v->is_string()) return fallback;
  std::string s(v->as_string());
  if (s.empty() || s.back() != '%') {
    try {
      return std::stoll(s);
    } catch (...) {
      return fallback;
    }
  }
  int64_t pct = 0;
  try {
    pct = std::stoll(s.substr(0, s.size() - 1));
  } catch (...) {
    return fallback;
  }
  double x = static_cast<double>(pct) * static_cast<double>(total) / 100.0;
  return static_cast<int64_t>(round_up ? std::ceil(x) : std::floor(x));
}

DeploymentController::DeploymentController(client::SharedInformers* informers,
                                           client::EventRecorder* recorder)
    : client_(informers->client()),
      recorder_(recorder),
      deployments_(informers->For(client::resources::kDeployments)),
      replicasets_(informers->For(client::resources::kReplicaSets)),
      pods_(informers->For(client::resources::kPods)),
      queue_(client::WorkQueue::Options{std::chrono::milliseconds(5), std::chrono::seconds(60)}) {
  replicasets_->AddIndex("deployment-owner",
                         [](const json::object& rs) -> std::vector<std::string> {
                           const json::object* ref = ControllerRef(rs);
                           if (!ref || Str(ref, "kind") != "Deployment") return {};
                           return {Str(ref, "uid")};
                         });
  pods_->AddIndex("rs-owner", [](const json::object& p) -> std::vector<std::string> {
    const json::object* ref = ControllerRef(p);
    if (!ref || Str(ref, "kind") != "ReplicaSet") return {};
    return {Str(ref, "uid")};
  });
  auto enqueue = [this](const ObjectPtr& d) { queue_.Add(client::KeyOf(*d)); };
  deployments_->AddEventHandler(client::EventHandlers{
      enqueue, [enqueue](const ObjectPtr&, const ObjectPtr& d) { enqueue(d); }, enqueue});
  replicasets_->AddEventHandler(
      client::EventHandlers{[this](const ObjectPtr& rs) { EnqueueOwnerOf(*rs); },
                            [this](const ObjectPtr& old_rs, const ObjectPtr& rs) {
                              if (old_rs != rs) EnqueueOwnerOf(*rs);
                            },
                            [this](const ObjectPtr& rs) { EnqueueOwnerOf(*rs); }});
  // Recreate waits for old pods to go: their deletion wakes the deployment.
  pods_->AddEventHandler(client::EventHandlers{
      nullptr, nullptr, [this](const ObjectPtr& p) {
        const json::object* ref = ControllerRef(*p);
        if (!ref || Str(ref, "kind") != "ReplicaSet") return;
        if (ObjectPtr rs = replicasets_->Get(MetaString(*p, "namespace") + "/" + Str(ref, "name")))
          EnqueueOwnerOf(*rs);
      }});
}

DeploymentController::~DeploymentController() { Stop(); }

void DeploymentController::EnqueueOwnerOf(const json::object& rs) {
  const json::object* ref = ControllerRef(rs);
  if (!ref || Str(ref, "kind") != "Deployment") return;
  queue_.Add(MetaString(rs, "namespace") + "/" + Str(ref, "name"));
}

void DeploymentController::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      deployments_->WaitForSync(std::chrono::seconds(60));
      replicasets_->WaitForSync(std::chrono::seconds(60));
      pods_->WaitForSync(std::chrono::seconds(60));
      queue_.Process("deployment", [this](const std::string& key) { return Sync(key); });
    });
  }
}

void DeploymentController::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

Status DeploymentController::ScaleReplicaSet(const json::object& d, const json::object& rs,
                                             int64_t to, int64_t max_surge) {
  int64_t from = SpecReplicas(rs);
  int64_t replicas = SpecReplicas(d);
  std::string desired = std::to_string(replicas), max = std::to_string(replicas + max_surge);
  const json::object* ann = client::MetaObject(rs, "annotations");
  if (from == to && Str(ann, kDesired) == desired && Str(ann, kMaxReplicas) == max)
    return Status::Ok();
  json::object patch{
      {"metadata",
       json::object{{"annotations", json::object{{kDesired, desired}, {kMaxReplicas, max}}}}},
      {"spec", json::object{{"replicas", to}}}};
  auto [ns, name] = client::SplitKey(client::KeyOf(rs));
  auto r =
      client_->Patch(client::resources::kReplicaSets, ns, name, client::PatchType::kMerge, patch);
  if (!r.ok()) return r.status();
  if (from != to) {
    recorder_->Record(d, "Normal", "ScalingReplicaSet",
                      std::string(to > from ? "Scaled up" : "Scaled down") + " replica set " +
                          name + " to " + std::to_string(to) + " from " + std::to_string(from));
  }
  return Status::Ok();
}

Status DeploymentController::Sync(const std::string& key) {
  ObjectPtr d = deployments_->Get(key);
  if (!d || IsDeleting(*d)) return Status::Ok();
  auto [ns, name] = client::SplitKey(key);
  const json::object* spec = Obj(d.get(), "spec");
  const json::object* tmpl = Obj(spec, "template");
  const int64_t replicas = SpecReplicas(*d);
  const bool paused = spec && spec->if_contains("paused") && spec->at("paused").is_bool() &&
                      spec->at("paused").as_bool();
  const int64_t collision = StatusInt(*d, "collisionCount");

  // The ReplicaSets this Deployment controls, oldest revision first.
  std::vector<ObjectPtr> all = replicasets_->ByIndex("deployment-owner", MetaString(*d, "uid"));
  std::sort(all.begin(), all.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    int64_t ra = Revision(*a), rb = Revision(*b);
    if (ra != rb) return ra < rb;
    return MetaString(*a, "creationTimestamp") < MetaString(*b, "creationTimestamp");
  });
  json::object want_tmpl = TemplateWithoutHash(tmpl);
  ObjectPtr new_rs;
  std::vector<ObjectPtr> old;
  int64_t max_old_revision = 0;
  for (const auto& rs : all) {
    if (!new_rs &&
        api::JsonEqual(json::value(TemplateWithoutHash(Obj(Obj(rs.get(), "spec"), "template"))),
                       json::value(want_tmpl))) {
      new_rs = rs;
    } else {
      old.push_back(rs);
      max_old_revision = std::max(max_old_revision, Revision(*rs));
    }
  }

  // Strategy parameters.
  const json::object* strategy = Obj(spec, "strategy");
  const bool recreate = Str(strategy, "type") == "Recreate";
  const json::object* ru = Obj(strategy, "rollingUpdate");
  int64_t max_surge = recreate ? 0
                               : ResolveIntOrPercent(ru ? ru->if_contains("maxSurge") : nullptr,
                                                     replicas, true, (replicas * 25 + 99) / 100);
  int64_t max_unavailable =
      recreate ? 0
               : ResolveIntOrPercent(ru ? ru->if_contains("maxUnavailable") : nullptr, replicas,
                                     false, replicas * 25 / 100);
  if (!recreate && max_surge == 0 && max_unavailable == 0) max_unavailable = 1;

  std::string progress_reason, progress_message;
  if (!new_rs && !paused) {
    // A new ReplicaSet for the current template.
    std::string hash = PodTemplateHash(want_tmpl, collision);
    json::object rs_tmpl = want_tmpl;
    json::value& md = rs_tmpl["metadata"];
    if (!md.is_object()) md = json::object();
    json::value& labels = md.as_object()["labels"];
    if (!labels.is_object()) labels = json::object();
    labels.as_object()[kHashLabel] = hash;
    json::object selector = Obj(spec, "selector") ? *Obj(spec, "selector") : json::object();
    json::value& ml = selector["matchLabels"];
    if (!ml.is_object()) ml = json::object();
    ml.as_object()[kHashLabel] = hash;
    json::object annotations;
    if (const json::object* da = client::MetaObject(*d, "annotations")) {
      for (const auto& [k, v] : *da) {
        if (k == "kubectl.kubernetes.io/last-applied-configuration" || k == kRevision) continue;
        annotations[k] = v;
      }
    }
    annotations[kRevision] = std::to_string(max_old_revision + 1);
    annotations[kDesired] = std::to_string(replicas);
    annotations[kMaxReplicas] = std::to_string(replicas + max_surge);
    json::object rs_labels = labels.as_object();
    json::object rs{
        {"apiVersion", "apps/v1"},
        {"kind", "ReplicaSet"},
        {"metadata", json::object{{"name", name + "-" + hash},
                                  {"namespace", ns},
                                  {"labels", rs_labels},
                                  {"annotations", annotations},
                                  {"ownerReferences", json::array{MakeControllerRef(*d)}}}},
        {"spec", json::object{{"replicas", 0},
                              {"minReadySeconds", Int(spec, "minReadySeconds")},
                              {"selector", selector},
                              {"template", rs_tmpl}}}};
    auto created = client_->Create(client::resources::kReplicaSets, ns, rs);
    if (!created.ok()) {
      if (created.status().code() == Code::kAlreadyExists) {
        // Our own ReplicaSet that the cache has not shown yet (an earlier sync made it): wait
        // for it rather than take it for a collision.
        auto existing = client_->Get(client::resources::kReplicaSets, ns, name + "-" + hash);
        if (existing.ok()) {
          const json::object* ref = ControllerRef(*existing);
          bool ours = ref && Str(ref, "uid") == MetaString(*d, "uid");
          if (ours && api::JsonEqual(json::value(TemplateWithoutHash(
                                         Obj(Obj(&*existing, "spec"), "template"))),
                                     json::value(want_tmpl))) {
            return Conflict("replica set " + name + "-" + hash + " exists but is not cached yet");
          }
        }
        // A different template hashed to the same name: bump collisionCount and retry.
        json::object patch{{"status", json::object{{"collisionCount", collision + 1}}}};
        auto r = client_->Patch(client::resources::kDeployments, ns, name,
                                client::PatchType::kMerge, patch, "status");
        if (!r.ok()) return r.status();
        return Conflict("replica set name collision; retrying with collisionCount " +
                        std::to_string(collision + 1));
      }
      recorder_->Record(*d, "Warning", "FailedCreate", created.status().message());
      return created.status();
    }
    recorder_->Record(*d, "Normal", "ScalingReplicaSet",
                      "Scaled up replica set " + name + "-" + hash + " to 0 from 0");
    new_rs = std::make_shared<const json::object>(std::move(*created));
    progress_reason = "NewReplicaSetCreated";
    progress_message = "Created new replica set \"" + MetaString(*new_rs, "name") + "\"";
  } else if (new_rs && Revision(*new_rs) <= max_old_revision && !paused) {
    // An old template came back (rollback): it becomes the newest revision.
    json::object patch{
        {"metadata",
         json::object{
             {"annotations", json::object{{kRevision, std::to_string(max_old_revision + 1)}}}}}};
    auto r = client_->Patch(client::resources::kReplicaSets, ns, MetaString(*new_rs, "name"),
                            client::PatchType::kMerge, patch);
    if (!r.ok()) return r.status();
    new_rs = std::make_shared<const json::object>(std::move(*r));
  }
  // The Deployment carries its current revision.
  if (new_rs) {
    std::string rev = std::to_string(Revision(*new_rs));
    if (Str(client::MetaObject(*d, "annotations"), kRevision) != rev) {
      json::object patch{
          {"metadata", json::object{{"annotations", json::object{{kRevision, rev}}}}}};
      auto r = client_->Patch(client::resources::kDeployments, ns, name, client::PatchType::kMerge,
                              patch);
      if (!r.ok()) return r.status();
    }
  }

  // Roll.
  if (paused) {
    // Only scaling: the newest active ReplicaSet takes the replica count.
    if (new_rs) RETURN_IF_ERROR(ScaleReplicaSet(*d, *new_rs, replicas, max_surge));
  } else if (recreate) {
    bool old_running = false;
    for (const auto& rs : old) {
      if (SpecReplicas(*rs) > 0) RETURN_IF_ERROR(ScaleReplicaSet(*d, *rs, 0, 0));
      for (const auto& p : pods_->ByIndex("rs-owner", MetaString(*rs, "uid"))) {
        std::string phase = Str(Obj(p.get(), "status"), "phase");
        if (phase != "Succeeded" && phase != "Failed") old_running = true;
      }
    }
    if (!old_running) RETURN_IF_ERROR(ScaleReplicaSet(*d, *new_rs, replicas, 0));
  } else {
    int64_t total = 0;
    for (const auto& rs : all) total += SpecReplicas(*rs);
    if (new_rs && std::find(all.begin(), all.end(), new_rs) == all.end())
      total += SpecReplicas(*new_rs);
    int64_t new_spec = SpecReplicas(*new_rs);
    bool scaled = false;
    if (new_spec > replicas) {
      RETURN_IF_ERROR(ScaleReplicaSet(*d, *new_rs, replicas, max_surge));
      scaled = true;
    } else if (total < replicas + max_surge && new_spec < replicas) {
      int64_t to = new_spec + std::min(replicas + max_surge - total, replicas - new_spec);
      RETURN_IF_ERROR(ScaleReplicaSet(*d, *new_rs, to, max_surge));
      scaled = true;
    }
    if (!scaled) {
      int64_t min_available = replicas - max_unavailable;
      int64_t new_unavailable = new_spec - StatusInt(*new_rs, "availableReplicas");
      int64_t max_down = total - min_available - new_unavailable;
      std::map<std::string, int64_t> target;
      for (const auto& rs : old) target[MetaString(*rs, "uid")] = SpecReplicas(*rs);
      if (max_down > 0) {
        // First the old pods that are not available anyway, oldest ReplicaSet first.
        for (const auto& rs : old) {
          if (max_down <= 0) break;
          int64_t& t = target[MetaString(*rs, "uid")];
          int64_t unhealthy = t - StatusInt(*rs, "availableReplicas");
          int64_t cut = std::min(max_down, std::max<int64_t>(0, unhealthy));
          t -= cut;
          max_down -= cut;
        }
        // Then available ones, while the total available stays at or above the minimum.
        int64_t available = 0;
        for (const auto& rs : all) available += StatusInt(*rs, "availableReplicas");
        int64_t can_remove = std::min(max_down, available - min_available);
        for (const auto& rs : old) {
          if (can_remove <= 0) break;
          int64_t& t = target[MetaString(*rs, "uid")];
          int64_t cut = std::min(can_remove, t);
          t -= cut;
          can_remove -= cut;
        }
      }
      for (const auto& rs : old) {
        int64_t t = target[MetaString(*rs, "uid")];
        if (t != SpecReplicas(*rs)) RETURN_IF_ERROR(ScaleReplicaSet(*d, *rs, t, max_surge));
      }
    }
  }

  // Cleanup: fully scaled-down old ReplicaSets beyond revisionHistoryLimit, oldest first.
  int64_t limit = Int(spec, "revisionHistoryLimit", 10);
  std::vector<ObjectPtr> dead;
  for (const auto& rs : old)
    if (SpecReplicas(*rs) == 0 && StatusInt(*rs, "replicas") == 0 && !IsDeleting(*rs))
      dead.push_back(rs);
  for (size_t i = 0; i + limit < dead.size(); ++i) {
    client::DeleteOptions opts;
    opts.precondition_uid = MetaString(*dead[i], "uid");
    Status st =
        client_->Delete(client::resources::kReplicaSets, ns, MetaString(*dead[i], "name"), opts);
    if (!st.ok() && st.code() != Code::kNotFound) return st;
  }

  // Status.
  int64_t st_replicas = 0, ready = 0, available = 0, spec_total = 0;
  for (const auto& rs : all) {
    st_replicas += StatusInt(*rs, "replicas");
    ready += StatusInt(*rs, "readyReplicas");
    available += StatusInt(*rs, "availableReplicas");
    spec_total += SpecReplicas(*rs);
  }
  int64_t updated = new_rs ? StatusInt(*new_rs, "replicas") : 0;
  json::object old_status = Obj(d.get(), "status") ? *Obj(d.get(), "status") : json::object();
  json::object status = old_status;
  if (auto* g = Obj(d.get(), "metadata")->if_contains("generation"))
    status["observedGeneration"] = *g;
  status["replicas"] = st_replicas;
  status["updatedReplicas"] = updated;
  status["readyReplicas"] = ready;
  status["availableReplicas"] = available;
  status["unavailableReplicas"] = std::max<int64_t>(0, spec_total - available);
  bool min_available = available >= replicas - max_unavailable;
  json::array conds;
  conds.push_back(min_available ? Condition("Available", "True", "MinimumReplicasAvailable",
                                            "Deployment has minimum availability.",
                                            FindCondition(*d, "Available"))
                                : Condition("Available", "False", "MinimumReplicasUnavailable",
                                            "Deployment does not have minimum availability.",
                                            FindCondition(*d, "Available")));
  const json::object* prev_progress = FindCondition(*d, "Progressing");
  std::string rs_name = new_rs ? MetaString(*new_rs, "name") : "";
  bool complete = new_rs && updated == replicas && st_replicas == replicas &&
                  available == replicas && SpecReplicas(*new_rs) == replicas;
  if (paused) {
    conds.push_back(Condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused",
                              prev_progress));
  } else if (!progress_reason.empty()) {
    conds.push_back(
        Condition("Progressing", "True", progress_reason, progress_message, prev_progress));
  } else if (complete) {
    conds.push_back(Condition("Progressing", "True", "NewReplicaSetAvailable",
                              "ReplicaSet \"" + rs_name + "\" has successfully progressed.",
                              prev_progress));
  } else if (new_rs) {
    conds.push_back(Condition("Progressing", "True", "ReplicaSetUpdated",
                              "ReplicaSet \"" + rs_name + "\" is progressing.", prev_progress));
  }
  status["conditions"] = conds;
  if (status == old_status) return Status::Ok();
  json::object next = *d;
  next["status"] = status;
  auto r = client_->UpdateStatus(client::resources::kDeployments, ns, next);
  if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
  return Status::Ok();
}

}  // namespace sampan::controllers
