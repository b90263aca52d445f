// PodWorker: the loop, the sync steps and the status. Starting and stopping containers is
// in pod_containers.cc, the sandbox in pod_sandbox.cc.
#include "agent/pod_worker.h"

#include <signal.h>

#include <filesystem>
#include <map>
#include <thread>

#include "agent/static_pods.h"
#include "api/json_util.h"
#include "podspec/container_spec.h"
#include "util/clock.h"
#include "util/log.h"

namespace sampan::agent {

namespace json = boost::json;

namespace {

const json::array* Array(const json::value& v, std::string_view path) {
  const json::value* p = api::GetPath(v, path);
  return p && p->is_array() ? &p->as_array() : nullptr;
}

// A terminated state from a status entry's lastState/state.
std::optional<Terminated> TerminatedFromJson(const json::value* t) {
  if (!t || !t->is_object()) return std::nullopt;
  Terminated out;
  out.exit_code = static_cast<int>(api::GetInt(*t, "exitCode"));
  out.signal = static_cast<int>(api::GetInt(*t, "signal"));
  out.reason = api::GetString(*t, "reason");
  out.message = api::GetString(*t, "message");
  out.container_id = api::GetString(*t, "containerID");
  if (auto r = api::ParseRfc3339(api::GetString(*t, "startedAt")); r.ok()) out.started_at = *r;
  if (auto r = api::ParseRfc3339(api::GetString(*t, "finishedAt")); r.ok()) out.finished_at = *r;
  return out;
}

}  // namespace

PodWorker::PodWorker(NodeContext* ctx, std::string uid, AdoptedPod adopted)
    : ctx_(ctx), uid_(std::move(uid)), adopted_(std::move(adopted)) {
  thread_ = std::thread([this] { Loop(); });
}

PodWorker::~PodWorker() { Stop(); }

void PodWorker::Update(client::ObjectPtr pod) {
  std::lock_guard<std::mutex> l(mu_);
  pod_ = std::move(pod);
  wake_ = true;
  cv_.notify_all();
}

void PodWorker::MarkDeleted() {
  std::lock_guard<std::mutex> l(mu_);
  deleted_ = true;
  wake_ = true;
  cv_.notify_all();
}

void PodWorker::Wake() {
  std::lock_guard<std::mutex> l(mu_);
  wake_ = true;
  cv_.notify_all();
}

void PodWorker::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  for (auto& c : containers_) StopProbers(*c);
}

bool PodWorker::Finished() const {
  std::lock_guard<std::mutex> l(mu_);
  return finished_;
}

std::string PodWorker::ns() const {
  std::lock_guard<std::mutex> l(mu_);
  if (pod_) return client::MetaString(*pod_, "namespace");
  return adopted_.ns;
}

std::string PodWorker::name() const {
  std::lock_guard<std::mutex> l(mu_);
  if (pod_) return client::MetaString(*pod_, "name");
  return adopted_.name;
}

std::optional<ContainerInfo> PodWorker::FindContainer(const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = infos_.find(name);
  if (it == infos_.end()) it = infos_.find("init:" + name);
  if (it == infos_.end()) it = infos_.find("ephemeral:" + name);
  if (it == infos_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> PodWorker::ContainerNames() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  for (const auto& [n, info] : infos_)  // app containers (not "init:" or "ephemeral:" ones)
    if (n.find(':') == std::string::npos) out.push_back(info.name);
  return out;
}

pid_t PodWorker::SandboxPid() const {
  std::lock_guard<std::mutex> l(mu_);
  return sandbox_pid_;
}

double PodWorker::Now() const {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string PodWorker::PodDir() const { return ctx_->pods_dir + "/" + uid_; }

std::string PodWorker::LogPath(const std::string& name, int restart) const {
  return PodDir() + "/logs/" + name + "/" + std::to_string(restart) + ".log";
}

PodWorker::Container* PodWorker::Find(const std::string& name) {
  for (auto& c : containers_)
    if (c->name == name) return c.get();
  return nullptr;
}

void PodWorker::Event(const json::object& pod, const std::string& type, const std::string& reason,
                      const std::string& message, const std::string& field_path) {
  json::object involved{
      {"kind", "Pod"},
      {"apiVersion", "v1"},
      {"metadata", json::object{{"name", client::MetaString(pod, "name")},
                                {"namespace", client::MetaString(pod, "namespace")},
                                {"uid", uid_}}}};
  if (ctx_->events) {
    client::EventRecorder* recorder = ctx_->recorder;
    ctx_->events->Post(
        [recorder, involved = std::move(involved), type, reason, message, field_path] {
          recorder->Record(involved, type, reason, message, field_path);
        });
    return;
  }
  ctx_->recorder->Record(involved, type, reason, message, field_path);
}

void PodWorker::Loop() {
  while (true) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait_for(l, std::chrono::seconds(1), [this] { return wake_ || stop_; });
      if (stop_) return;
      wake_ = false;
    }
    Sync();
    std::lock_guard<std::mutex> l(mu_);
    if (finished_) return;
  }
}

void PodWorker::Sync() {
  client::ObjectPtr pod_ptr;
  bool deleted;
  {
    std::lock_guard<std::mutex> l(mu_);
    pod_ptr = pod_;
    deleted = deleted_;
  }
  if (!pod_ptr) {
    if (deleted) {  // a pod the agent found in the runtime that no longer exists
      TearDownAll();
      std::lock_guard<std::mutex> l(mu_);
      finished_ = true;
    }
    return;
  }
  const json::object& pod = *pod_ptr;
  json::value pod_v(pod);
  if (!initialized_) {
    initialized_ = true;
    start_time_ = static_cast<int64_t>(Now());
    if (auto r = api::ParseRfc3339(api::GetString(pod_v, "status.startTime")); r.ok())
      start_time_ = *r;
    // One Container per spec entry, seeded from the status already in the API (restart
    // counts, last states, completed init containers) and from the runtime (adoption).
    // container name -> (containerID, running.startedAt) as the status in the API has them.
    std::map<std::string, std::pair<std::string, int64_t>> published_started;
    for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
      const json::array* specs = Array(pod_v, std::string("spec.") + list);
      const json::array* statuses =
          Array(pod_v, list[0] == 'i'   ? "status.initContainerStatuses"
                       : list[0] == 'e' ? "status.ephemeralContainerStatuses"
                                        : "status.containerStatuses");
      if (!specs) continue;
      for (const auto& s : *specs) {
        auto c = std::make_unique<Container>();
        c->name = api::GetString(s, "name");
        c->init = list[0] == 'i';
        c->ephemeral = list[0] == 'e';
        c->view.name = c->name;
        c->view.image = api::GetString(s, "image");
        c->view.waiting_reason = c->init ? "PodInitializing" : "ContainerCreating";
        if (statuses) {
          for (const auto& st : *statuses) {
            if (api::GetString(st, "name") != c->name) continue;
            c->view.restart_count = static_cast<int>(api::GetInt(st, "restartCount"));
            c->view.last = TerminatedFromJson(api::GetPath(st, "lastState.terminated"));
            if (auto t = TerminatedFromJson(api::GetPath(st, "state.terminated"))) {
              c->view.state = ContainerView::State::kTerminated;
              c->view.terminated = *t;
              c->exited = true;
              c->finished_at = t->finished_at;
            }
            c->view.image = api::GetString(st, "image", c->view.image);
            c->view.image_id = api::GetString(st, "imageID");
            if (auto r = api::ParseRfc3339(api::GetString(st, "state.running.startedAt"));
                r.ok()) {
              published_started[c->name] = {api::GetString(st, "containerID"), *r};
            }
          }
        }
        if (auto it = adopted_.containers.find(c->name); it != adopted_.containers.end()) {
          const RuntimeContainer& rc = it->second;
          c->id = rc.id;
          c->view.container_id = "sampan://" + rc.id;
          c->view.restart_count = std::max(c->view.restart_count, rc.restart_count);
          if (!rc.image.empty()) c->view.image = rc.image;
          if (!rc.image_id.empty()) c->view.image_id = rc.image_id;
          c->stop_signal = rc.stop_signal;
          c->spec_image = api::GetString(s, "image");
          // The start time already published for this very container, so a restarted agent
          // reports what it reported before; else the runtime's record.
          auto pub = published_started.find(c->name);
          c->view.started_at = pub != published_started.end() &&
                                       pub->second.first == c->view.container_id
                                   ? pub->second.second
                                   : rc.created_at;
          c->running = !rc.exited;
          c->exited = rc.exited;
          if (c->running) {
            c->view.state = ContainerView::State::kRunning;
          }
          // An exited instance's state is filled in by RefreshContainers.
          if (c->exited) c->running = true, c->exited = false;
          adopted_.containers.erase(it);
        }
        containers_.push_back(std::move(c));
      }
    }
    for (const auto& c : containers_) PublishInfo(*c);  // known to streaming from the start
    for (auto& [name, rc] : adopted_.containers) adopted_.stale.push_back(rc);
    for (const auto& rc : adopted_.stale) RemoveInstance(rc.id);
    adopted_.stale.clear();
    adopted_.containers.clear();
    if (adopted_.has_sandbox) {
      sandbox_id_ = adopted_.sandbox.id;
      std::lock_guard<std::mutex> l(mu_);
      sandbox_pid_ = adopted_.sandbox.pid;
    }
  }

  if (deleted) {  // gone from the API without us: stop everything now
    KillPod(pod, 0);
    TearDownAll();
    std::lock_guard<std::mutex> l(mu_);
    finished_ = true;
    return;
  }

  RefreshContainers();

  if (!api::GetString(pod_v, "metadata.deletionTimestamp").empty()) {
    if (!terminated_) {
      int64_t grace = api::GetInt(pod_v, "metadata.deletionGracePeriodSeconds",
                                  api::GetInt(pod_v, "spec.terminationGracePeriodSeconds", 30));
      KillPod(pod, grace);
      TearDownSandbox();
      terminated_ = true;
      WriteStatus(pod);
    }
    if (!deleting_done_ && IsStaticPodView(pod, uid_)) {
      // A static pod whose file is gone: nothing to delete in the API (its mirror pod is
      // static_pods.cc's), the worker is done.
      TearDownAll();
      deleting_done_ = true;
      std::lock_guard<std::mutex> l(mu_);
      finished_ = true;
    }
    if (!deleting_done_) {
      TearDownAll();
      client::DeleteOptions opts;
      opts.grace_period_seconds = 0;
      opts.precondition_uid = uid_;
      Status st =
          ctx_->client->Delete(client::resources::kPods, client::MetaString(pod, "namespace"),
                               client::MetaString(pod, "name"), opts);
      if (st.ok() || st.code() == Code::kNotFound || st.code() == Code::kConflict) {
        deleting_done_ = true;
      } else {
        LOG(WARNING) << "deleting pod " << client::KeyOf(pod) << ": " << st.ToString();
      }
    }
    return;
  }

  std::string old_phase = api::GetString(pod_v, "status.phase");
  if (old_phase == "Succeeded" || old_phase == "Failed") {
    if (!terminated_) {
      KillPod(pod, 0);
      TearDownSandbox();
      terminated_ = true;
    }
    return;
  }

  // activeDeadlineSeconds: the pod fails once it has been active that long.
  int64_t deadline = api::GetInt(pod_v, "spec.activeDeadlineSeconds", 0);
  if (deadline > 0 && failed_reason_.empty() && Now() >= start_time_ + deadline) {
    failed_reason_ = "DeadlineExceeded";
    failed_message_ = "Pod was active on the node longer than the specified deadline";
    Event(pod, "Normal", "DeadlineExceeded", failed_message_);
  }
  if (!failed_reason_.empty()) {
    if (!terminated_) {
      KillPod(pod, api::GetInt(pod_v, "spec.terminationGracePeriodSeconds", 30));
      TearDownSandbox();
      terminated_ = true;
    }
    WriteStatus(pod);
    return;
  }

  auto t0 = std::chrono::steady_clock::now();
  if (EnsureSandbox(pod) && EnsureVolumes(pod)) {
    pod_error_.clear();
    SyncContainers(pod);
  }
  auto t1 = std::chrono::steady_clock::now();
  WriteStatus(pod);
  auto t2 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
  };
  if (ms(t0, t2) > 5)
    LOG(DEBUG) << "pod " << client::KeyOf(pod) << ": sync " << ms(t0, t2) << " ms (status write "
               << ms(t1, t2) << ")";

  // A pod that reached Succeeded/Failed releases its sandbox and network at once.
  std::string phase = api::GetString(json::value(last_status_), "phase");
  if ((phase == "Succeeded" || phase == "Failed") && !terminated_) {
    KillPod(pod, 0);
    TearDownSandbox();
    terminated_ = true;
  }
}

void PodWorker::RefreshContainers() {
  for (auto& cp : containers_) {
    Container& c = *cp;
    if (c.id.empty() || !c.running) continue;
    auto st = ctx_->runtime->State(c.id);
    bool gone = !st.ok();
    if (!gone && st->status != "stopped" && !st->exited) {
      if (st->status == "running" && c.view.state != ContainerView::State::kRunning) {
        c.view.state = ContainerView::State::kRunning;
      }
      continue;
    }
    c.running = false;
    c.exited = true;
    StopProbers(c);
    Terminated t;
    t.container_id = "sampan://" + c.id;
    t.started_at = c.view.started_at;
    if (gone) {
      t.exit_code = 137;
      t.reason = "ContainerStatusUnknown";
      t.message = "The container could not be located when the pod was terminated";
      t.finished_at = static_cast<int64_t>(Now());
    } else {
      t.exit_code = st->exit_code;
      t.reason = st->oom_killed ? "OOMKilled" : t.exit_code == 0 ? "Completed" : "Error";
      int64_t fin = 0;
      t.finished_at = ParseRfc3339(st->finished_at, &fin) ? fin : static_cast<int64_t>(Now());
      t.message = TerminationMessage(c, t.exit_code);
    }
    c.finished_at = t.finished_at;
    c.view.terminated = t;
    c.view.state = ContainerView::State::kTerminated;
    c.view.ready = false;
    c.view.started = false;
    PublishInfo(c);
  }
}

}  // namespace sampan::agent
