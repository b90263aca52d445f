// PodWorker: starting, restarting and stopping containers; images; probes; hooks.
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <sstream>
#include <thread>

#include "agent/pod_worker.h"
#include "api/json_util.h"
#include "podspec/container_spec.h"
#include "util/fs.h"
#include "util/log.h"

namespace sampan::agent {

namespace json = boost::json;
namespace fsys = std::filesystem;

namespace {

std::string NewContainerId() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> l(mu);
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fs", s);
  return buf;
}

}  // namespace

std::string PodWorker::TerminationPath(const std::string& name, const std::string& id) const {
  return PodDir() + "/containers/" + name + "/" + id.substr(0, 8);
}

std::string PodWorker::TerminationMessage(const Container& c, int exit_code) {
  std::string msg;
  if (auto r = fs::ReadFile(TerminationPath(c.name, c.id)); r.ok()) msg = r->substr(0, 4096);
  if (msg.empty() && exit_code != 0 && c.fallback_to_logs) {
    // FallbackToLogsOnError: the last 80 lines of the log, at most 2048 bytes.
    std::ifstream f(LogPath(c.name, c.view.restart_count));
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(f, line)) {
      // CRI format: "<time> <stream> <tag> <content>"
      size_t p = 0;
      for (int i = 0; i < 3 && p != std::string::npos; ++i) p = line.find(' ', p + (i ? 1 : 0));
      lines.push_back(p == std::string::npos ? line : line.substr(p + 1));
      if (lines.size() > 80) lines.erase(lines.begin());
    }
    for (const auto& l : lines) msg += l + "\n";
    if (msg.size() > 2048) msg = msg.substr(msg.size() - 2048);
  }
  return msg;
}

void PodWorker::PublishInfo(const Container& c) {
  ContainerInfo info;
  info.name = c.name;
  info.id = c.id;
  info.running = c.running;
  info.tty = c.tty;
  info.stdin = c.stdin;
  info.stdin_once = c.stdin_once;
  info.restart_count = c.view.restart_count;
  info.log_path = LogPath(c.name, c.view.restart_count);
  if (c.view.restart_count > 0) info.previous_log_path = LogPath(c.name, c.view.restart_count - 1);
  std::lock_guard<std::mutex> l(mu_);
  infos_[(c.init ? "init:" : c.ephemeral ? "ephemeral:" : "") + c.name] = std::move(info);
}

void PodWorker::SyncContainers(const json::object& pod) {
  json::value pod_v(pod);
  std::string policy = api::GetString(pod_v, "spec.restartPolicy", "Always");
  double now = Now();
  auto spec_of = [&](const Container& c) -> const json::object* {
    const json::value* list = api::GetPath(pod_v, c.init        ? "spec.initContainers"
                                                   : c.ephemeral ? "spec.ephemeralContainers"
                                                                 : "spec.containers");
    if (!list || !list->is_array()) return nullptr;
    for (const auto& s : list->as_array())
      if (s.is_object() && api::GetString(s, "name") == c.name) return &s.as_object();
    return nullptr;
  };
  // Probe results that arrived since the last sync.
  std::map<std::string, ProbeState> probes;
  {
    std::lock_guard<std::mutex> l(mu_);
    probes = probe_states_;
  }

  // Restarts `c` now, or reports CrashLoopBackOff while its back-off lasts.
  auto restart_or_wait = [&](Container& c, const json::object& spec) {
    std::string key = c.name;
    if (backoff_.InBackoffSince(key, static_cast<double>(c.finished_at), now)) {
      std::string msg = "back-off " + std::to_string(static_cast<int>(backoff_.Delay(key))) +
                        "s restarting failed container=" + c.name +
                        " pod=" + client::MetaString(pod, "name") + "_" +
                        client::MetaString(pod, "namespace") + "(" + uid_ + ")";
      // The kubelet repeats the event at each pod sync while the back-off lasts (its pod
      // worker retries every ~10 s); the recorder folds the repeats into one counted event.
      double& last_event = backoff_event_at_[c.name];
      if (c.view.state != ContainerView::State::kWaiting ||
          c.view.waiting_reason != "CrashLoopBackOff" || now - last_event >= 10) {
        last_event = now;
        Event(pod, "Warning", "BackOff",
              "Back-off restarting failed container " + c.name + " in pod " +
                  client::MetaString(pod, "name") + "_" + client::MetaString(pod, "namespace") +
                  "(" + uid_ + ")",
              FieldPath(c));
      }
      if (c.view.state == ContainerView::State::kTerminated) c.view.last = c.view.terminated;
      c.view.state = ContainerView::State::kWaiting;
      c.view.waiting_reason = "CrashLoopBackOff";
      c.view.waiting_message = msg;
      return;
    }
    backoff_.Next(key, static_cast<double>(c.finished_at));
    StartContainer(pod, spec, c);
  };

  // Ephemeral containers run whatever the state of the others (as the kubelet starts them
  // before init containers, so that a pod stuck in initialization can be debugged).
  SyncEphemeralContainers(pod);

  bool init_done = true;
  for (auto& cp : containers_) {
    Container& c = *cp;
    if (!c.init) continue;
    const json::object* spec = spec_of(c);
    if (!spec) continue;
    if (c.running) {
      init_done = false;
      break;
    }
    if (c.exited) {
      if (c.view.terminated.exit_code == 0) continue;
      init_done = false;
      if (policy != "Never") restart_or_wait(c, *spec);
      break;
    }
    init_done = false;
    StartContainer(pod, *spec, c);
    break;
  }
  for (auto& cp : containers_) {
    Container& c = *cp;
    if (c.init || c.ephemeral) continue;
    if (!init_done) {
      if (c.id.empty() && !c.exited) {
        c.view.state = ContainerView::State::kWaiting;
        c.view.waiting_reason = "PodInitializing";
        c.view.waiting_message.clear();
      }
      continue;
    }
    const json::object* spec = spec_of(c);
    if (!spec) continue;
    if (c.running) {
      ProbeState ps = probes[c.name];
      if (!c.probers_started) {
        // An adopted container without a startup probe counts as started at once.
        if (!spec->contains("startupProbe")) c.started_probe_done = true;
        StartProbers(pod, *spec, c);
      }
      // Startup gates the other probes; without a startup probe the container counts as
      // started once running.
      if (!c.started_probe_done && ps.startup == podspec::ProbeResult::kSuccess) {
        c.started_probe_done = true;
        StartProbers(pod, *spec, c);
      }
      c.view.started = c.started_probe_done;
      bool has_readiness = spec->contains("readinessProbe");
      c.view.ready =
          c.view.started && (!has_readiness || ps.readiness == podspec::ProbeResult::kSuccess);
      std::string kill_reason;
      bool changed =
          !c.spec_image.empty() && api::GetString(json::value(*spec), "image") != c.spec_image;
      if (changed) kill_reason = "Container " + c.name + " definition changed, will be restarted";
      if (ps.liveness == podspec::ProbeResult::kFailure)
        kill_reason = "Container " + c.name + " failed liveness probe, will be restarted";
      if (ps.startup == podspec::ProbeResult::kFailure)
        kill_reason = "Container " + c.name + " failed startup probe, will be restarted";
      if (!kill_reason.empty()) {
        KillContainer(pod, c,
                      api::GetInt(json::value(pod), "spec.terminationGracePeriodSeconds", 30),
                      kill_reason, true);
        if (changed && c.exited) {  // a new definition starts at once, without back-off
          StartContainer(pod, *spec, c);
          continue;
        }
      } else {
        PublishInfo(c);
        continue;
      }
    }
    if (c.exited) {
      if (!ShouldRestart(policy, c.view.terminated.exit_code) &&
          c.view.state != ContainerView::State::kWaiting)
        continue;
      if (!ShouldRestart(policy, c.view.state == ContainerView::State::kWaiting && c.view.last
                                     ? c.view.last->exit_code
                                     : c.view.terminated.exit_code))
        continue;
      restart_or_wait(c, *spec);
      continue;
    }
    StartContainer(pod, *spec, c);
  }
}

void PodWorker::SyncEphemeralContainers(const json::object& pod) {
  json::value pod_v(pod);
  const json::value* list = api::GetPath(pod_v, "spec.ephemeralContainers");
  if (!list || !list->is_array()) return;
  for (const auto& s : list->as_array()) {
    if (!s.is_object()) continue;
    std::string name = api::GetString(s, "name");
    Container* c = Find(name);
    if (!c) {  // added through pods/ephemeralcontainers since the worker started
      auto fresh = std::make_unique<Container>();
      fresh->name = name;
      fresh->ephemeral = true;
      fresh->view.name = name;
      fresh->view.image = api::GetString(s, "image");
      c = fresh.get();
      containers_.push_back(std::move(fresh));
      PublishInfo(*c);
    }
    if (!c->ephemeral) continue;
    if (c->running) {
      PublishInfo(*c);
      continue;
    }
    // Started once: an instance that ended stays ended. One that never started (image or
    // configuration trouble) is tried again.
    if (c->exited || !c->id.empty()) continue;
    StartContainer(pod, s.as_object(), *c);
    c->view.ready = false;  // ephemeral containers are never ready (no probes)
  }
}

bool PodWorker::EnsureImage(const json::object& pod, const json::object& spec, Container& c,
                            image::ImageInfo* info) {
  json::value spec_v(spec);
  std::string image = api::GetString(spec_v, "image");
  auto ref = image::ParseReference(image);
  auto waiting = [&](const std::string& reason, const std::string& msg) {
    c.view.state = ContainerView::State::kWaiting;
    c.view.waiting_reason = reason;
    c.view.waiting_message = msg;
    return false;
  };
  if (!ref.ok()) {
    std::string msg = "Failed to apply default image tag " + Quoted(image) +
                      ": couldn't parse image name " + Quoted(image) + ": " +
                      ref.status().message();
    Event(pod, "Warning", "InspectFailed", msg, FieldPath(c));
    return waiting("InvalidImageName", msg);
  }
  std::string policy = api::GetString(spec_v, "imagePullPolicy");
  if (policy.empty()) policy = ref->tag == "latest" ? "Always" : "IfNotPresent";
  auto present = ctx_->images->Inspect(ref->String());
  if (policy == "Never" && !present.ok()) {
    std::string msg =
        "Container image " + Quoted(image) + " is not present with pull policy of Never";
    Event(pod, "Warning", "ErrImageNeverPull", msg, FieldPath(c));
    return waiting("ErrImageNeverPull", msg);
  }
  if (policy != "Always" && present.ok()) {
    Event(pod, "Normal", "Pulled",
          "Container image " + Quoted(image) + " already present on machine", FieldPath(c));
  } else {
    std::string key = "pull/" + c.name;
    double now = Now();
    auto failed = pull_failed_at_.find(c.name);
    if (failed != pull_failed_at_.end() && backoff_.InBackoffSince(key, failed->second, now)) {
      std::string msg = "Back-off pulling image " + Quoted(image);
      if (c.view.waiting_reason != "ImagePullBackOff") {
        Event(pod, "Normal", "BackOff", msg, FieldPath(c));
        Event(pod, "Warning", "Failed", "Error: ImagePullBackOff", FieldPath(c));
      }
      return waiting("ImagePullBackOff", msg);
    }
    Event(pod, "Normal", "Pulling", "Pulling image " + Quoted(image), FieldPath(c));
    auto t0 = std::chrono::steady_clock::now();
    auto pulled = ctx_->images->Pull(ref->String(), ctx_->registries);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!pulled.ok()) {
      backoff_.Next(key, now);
      pull_failed_at_[c.name] = now;
      std::string msg = "Failed to pull image " + Quoted(image) + ": " + pulled.status().message();
      Event(pod, "Warning", "Failed", msg, FieldPath(c));
      Event(pod, "Warning", "Failed", "Error: ErrImagePull", FieldPath(c));
      return waiting("ErrImagePull", msg);
    }
    pull_failed_at_.erase(c.name);
    backoff_.Reset(key);
    Event(pod, "Normal", "Pulled",
          "Successfully pulled image " + Quoted(image) + " in " + Seconds(took) + " (" +
              Seconds(took) + " including waiting). Image size: " + std::to_string(pulled->size) +
              " bytes.",
          FieldPath(c));
  }
  auto inspected = ctx_->images->Inspect(ref->String());
  if (!inspected.ok()) {
    std::string msg =
        "Failed to inspect image " + Quoted(image) + ": " + inspected.status().message();
    Event(pod, "Warning", "InspectFailed", msg, FieldPath(c));
    return waiting("ImageInspectError", msg);
  }
  *info = std::move(*inspected);
  c.image_ref = ref->String();
  c.view.image = ref->String();
  c.view.image_id = ref->Name() + "@" + info->record.manifest_digest;
  return true;
}

void PodWorker::StartContainer(const json::object& api_pod, const json::object& spec,
                               Container& c) {
  // The downward API (env fieldRef status.podIP, ...) sees the addresses this node gave the
  // pod even before its status says so.
  const json::object pod = WithAddresses(api_pod);
  json::value spec_v(spec);
  c.tty = api::GetBool(spec_v, "tty");
  c.stdin = api::GetBool(spec_v, "stdin");
  c.stdin_once = api::GetBool(spec_v, "stdinOnce");
  c.fallback_to_logs =
      api::GetString(spec_v, "terminationMessagePolicy") == "FallbackToLogsOnError";
  auto config_error = [&](const std::string& reason, const std::string& msg) {
    c.view.state = ContainerView::State::kWaiting;
    c.view.waiting_reason = reason;
    c.view.waiting_message = msg;
    Event(pod, "Warning", "Failed", "Error: " + msg, FieldPath(c));
  };
  auto t0 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
  };
  image::ImageInfo info;
  if (!EnsureImage(pod, spec, c, &info)) return;
  auto t_image = std::chrono::steady_clock::now();
  std::vector<std::string> warnings;
  std::vector<std::string> service_env;
  if (ctx_->services) service_env = volume::ServiceLinkEnv(pod, ctx_->services());
  auto env = volume::ContainerEnv(pod, spec, service_env, ctx_->getter, ctx_->volume_options,
                                  &warnings);
  if (!env.ok()) return config_error("CreateContainerConfigError", env.status().message());
  for (const auto& w : warnings) Event(pod, "Warning", "InvalidEnvironmentVariableNames", w);
  auto mounts = ctx_->volumes->MountsFor(pod, spec, volume_map_, *env);
  if (!mounts.ok()) return config_error("CreateContainerConfigError", mounts.status().message());

  bool had_instance = !c.id.empty() || c.exited || c.view.last.has_value();
  int restart = c.view.restart_count + (had_instance && (!c.id.empty() || c.exited) ? 1 : 0);
  std::string id = NewContainerId();
  std::string bundle = ctx_->bundles_dir + "/" + id;
  std::string rootfs = bundle + "/rootfs";
  auto cleanup = [&] {
    ::umount2(rootfs.c_str(), MNT_DETACH);
    (void)ctx_->images->RemoveRootfs(id);
    std::error_code ec;
    fsys::remove_all(bundle, ec);
  };
  if (Status st = fs::MakeDirs(rootfs, 0755); !st.ok())
    return config_error("CreateContainerError", st.message());
  auto t_env = std::chrono::steady_clock::now();
  auto mount = ctx_->images->PrepareRootfs(c.image_ref, id);
  if (!mount.ok()) {
    cleanup();
    return config_error("CreateContainerError", mount.status().message());
  }
  auto t_prepared = std::chrono::steady_clock::now();
  if (Status st = image::ImageStore::MountRootfs(*mount, rootfs); !st.ok()) {
    cleanup();
    return config_error("CreateContainerError", st.message());
  }
  std::string term_path = PodDir() + "/containers/" + c.name + "/" + id.substr(0, 8);
  (void)fs::MakeDirs(PodDir() + "/containers/" + c.name, 0755);
  (void)fs::WriteFileAtomic(term_path, "", 0666);

  podspec::ContainerInputs in;
  in.pod = &pod;
  in.container = &spec;
  in.image = &info.config;
  in.rootfs = rootfs;
  in.env = std::move(*env);
  in.mounts = std::move(*mounts);
  in.sandbox = SandboxInfoFor(pod);
  in.termination_message_path = term_path;
  in.container_id = id;
  in.node_memory_capacity = ctx_->node_memory_capacity;
  auto config = podspec::ContainerConfigJson(in);
  if (!config.ok()) {
    cleanup();
    return config_error("CreateContainerConfigError", config.status().message());
  }
  boost::system::error_code ec;
  json::value cfg = json::parse(*config, ec);
  if (ec || !cfg.is_object()) {
    cleanup();
    return config_error("CreateContainerError", "bad container configuration");
  }
  // An ephemeral container with a target shares the target's process namespace.
  if (std::string target = api::GetString(spec_v, "targetContainerName");
      c.ephemeral && !target.empty()) {
    Container* t = Find(target);
    auto st = t && t->running && !t->id.empty() ? ctx_->runtime->State(t->id)
                                                : Result<runtime::ContainerState>(NotFound(""));
    if (!st.ok() || st->pid <= 0) {
      cleanup();
      return config_error("CreateContainerConfigError",
                          "target container \"" + target + "\" is not running");
    }
    if (auto* linux = cfg.as_object().if_contains("linux"); linux && linux->is_object()) {
      if (auto* nss = linux->as_object().if_contains("namespaces"); nss && nss->is_array()) {
        for (auto& n : nss->as_array()) {
          if (n.is_object() && api::GetString(n, "type") == "pid")
            n.as_object()["path"] = "/proc/" + std::to_string(st->pid) + "/ns/pid";
        }
      }
    }
  }
  json::object& anno = cfg.as_object()["annotations"].emplace_object();
  anno[kAnnoPodUid] = uid_;
  anno[kAnnoPodName] = client::MetaString(pod, "name");
  anno[kAnnoPodNamespace] = client::MetaString(pod, "namespace");
  anno[kAnnoContainerName] = c.name;
  anno[kAnnoRestartCount] = std::to_string(restart);
  anno[kAnnoContainerType] = c.ephemeral ? "ephemeral" : "container";
  if (c.init) anno[kAnnoInit] = "true";
  anno[kAnnoImage] = c.view.image;
  anno[kAnnoImageId] = c.view.image_id;
  anno[kAnnoStopSignal] = info.config.stop_signal;
  anno[kAnnoStartedAt] = std::to_string(static_cast<int64_t>(Now()));
  if (Status st = fs::WriteFileAtomic(bundle + "/config.json", api::SerializeJson(cfg), 0600);
      !st.ok()) {
    cleanup();
    return config_error("CreateContainerError", st.message());
  }
  std::string log = LogPath(c.name, restart);
  (void)fs::MakeDirs(fsys::path(log).parent_path().string(), 0755);

  auto t_config = std::chrono::steady_clock::now();
  runtime::CreateOptions co;
  co.id = id;
  co.bundle = bundle;
  co.log_path = log;
  // Containers can be attached to: the monitor serves their stdio, or with `tty: true` keeps
  // their terminal's master (output logged as stdout, input and resizes from attach clients).
  co.attach = true;
  if (Status st = ctx_->runtime->Create(co); !st.ok()) {
    cleanup();
    return config_error("CreateContainerError", st.message());
  }
  // The new instance replaces the previous one, whose state becomes lastState.
  if (!c.id.empty() || c.exited) {
    if (c.view.state == ContainerView::State::kTerminated) c.view.last = c.view.terminated;
    if (!c.id.empty()) RemoveInstance(c.id);
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    probe_states_.erase(c.name);
  }
  c.id = id;
  c.spec_image = api::GetString(spec_v, "image");
  c.view.restart_count = restart;
  c.view.container_id = "sampan://" + id;
  c.stop_signal = info.config.stop_signal;
  c.exited = false;
  c.running = true;
  c.started_probe_done = !spec.contains("startupProbe");
  c.probers_started = false;
  auto t_create = std::chrono::steady_clock::now();
  Event(pod, "Normal", "Created", "Created container: " + c.name, FieldPath(c));
  if (Status st = ctx_->runtime->Start(id); !st.ok()) {
    Event(pod, "Warning", "Failed", "Error: " + st.message(), FieldPath(c));
    (void)ctx_->runtime->Delete(id, true);
    c.running = false;
    c.exited = true;
    c.finished_at = static_cast<int64_t>(Now());
    c.view.state = ContainerView::State::kTerminated;
    c.view.terminated =
        Terminated{128, 0, "StartError", st.message(), c.view.container_id, 0, c.finished_at};
    PublishInfo(c);
    return;
  }
  if (co.attach && !c.stdin) {
    // Without `stdin: true` the process reads end-of-file, as from /dev/null: close the
    // stdin pipe the monitor holds with an empty stdin frame.
    if (auto fd = ctx_->runtime->ConnectAttach(id); fd.ok()) {
      const char frame[5] = {0, 0, 0, 0, 0};
      (void)!::write(*fd, frame, sizeof frame);
      ::close(*fd);
    }
  }
  c.view.state = ContainerView::State::kRunning;
  c.view.started_at = static_cast<int64_t>(Now());
  c.view.started = c.started_probe_done;
  // Without startup and readiness probes a running container is ready at once (as in the
  // kubelet): the first status write then says so, instead of a second write one sync later.
  c.view.ready = c.view.started && !spec.contains("readinessProbe");
  auto t_start = std::chrono::steady_clock::now();
  Event(pod, "Normal", "Started", "Started container " + c.name, FieldPath(c));
  PublishInfo(c);
  LOG(DEBUG) << "pod " << client::KeyOf(pod) << ": container " << c.name << " started in "
             << ms(t0, t_start) << " ms (image " << ms(t0, t_image) << ", rootfs+config "
             << ms(t_image, t_config) << " [env+mounts " << ms(t_image, t_env) << ", snapshot "
             << ms(t_env, t_prepared) << "], create " << ms(t_config, t_create) << ", start "
             << ms(t_create, t_start) << ")";

  if (const json::value* post = api::GetPath(spec_v, "lifecycle.postStart")) {
    std::string msg;
    if (!RunHandler(pod, c, *post, 30, &msg)) {
      Event(pod, "Warning", "FailedPostStartHook", msg, FieldPath(c));
      KillContainer(pod, c, api::GetInt(json::value(pod), "spec.terminationGracePeriodSeconds", 30),
                    "FailedPostStartHook", false);
    }
  }
}

void PodWorker::KillContainer(const json::object& pod, Container& c, int64_t grace_s,
                              const std::string& message, bool run_pre_stop) {
  if (c.id.empty() || !c.running) return;
  Event(pod, "Normal", "Killing", message, FieldPath(c));
  StopProbers(c);
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(std::max<int64_t>(grace_s, 0));
  json::value pod_v(pod);
  if (run_pre_stop && grace_s > 0) {
    const json::value* list =
        api::GetPath(pod_v, c.init ? "spec.initContainers" : "spec.containers");
    if (list && list->is_array()) {
      for (const auto& s : list->as_array()) {
        if (api::GetString(s, "name") != c.name) continue;
        if (const json::value* pre = api::GetPath(s, "lifecycle.preStop")) {
          std::string msg;
          if (!RunHandler(pod, c, *pre, static_cast<int>(grace_s), &msg))
            Event(pod, "Warning", "FailedPreStopHook", msg, FieldPath(c));
        }
      }
    }
  }
  auto exited = [&] {
    auto st = ctx_->runtime->State(c.id);
    return !st.ok() || st->exited || st->status == "stopped";
  };
  int sig = SIGTERM;
  if (auto s = runtime::ParseSignal(c.stop_signal); s && !c.stop_signal.empty()) sig = *s;
  if (grace_s > 0 && !exited()) {
    (void)ctx_->runtime->Kill(c.id, sig, false);
    while (std::chrono::steady_clock::now() < deadline && !exited())
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!exited()) {
    (void)ctx_->runtime->Kill(c.id, SIGKILL, true);
    auto hard = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < hard && !exited())
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  RefreshContainers();
}

void PodWorker::KillPod(const json::object& pod, int64_t grace_s) {
  std::vector<std::thread> threads;
  for (auto& cp : containers_) {
    Container* c = cp.get();
    if (!c->running || c->id.empty()) continue;
    threads.emplace_back([this, &pod, c, grace_s] {
      KillContainer(pod, *c, grace_s, "Stopping container " + c->name, true);
    });
  }
  for (auto& t : threads) t.join();
}

void PodWorker::RemoveInstance(const std::string& id) {
  (void)ctx_->runtime->Delete(id, true);
  std::string bundle = ctx_->bundles_dir + "/" + id;
  ::umount2((bundle + "/rootfs").c_str(), MNT_DETACH);
  (void)ctx_->images->RemoveRootfs(id);
  std::error_code ec;
  fsys::remove_all(bundle, ec);
}

Result<int> PodWorker::ExecIn(const std::string& id, const std::vector<std::string>& cmd,
                              std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(runtime::Spec spec, ctx_->runtime->ContainerSpec(id));
  runtime::ExecOptions o;
  o.id = id;
  o.process = spec.process;
  o.process.args = cmd;
  o.process.terminal = false;
  ASSIGN_OR_RETURN(runtime::ExecProcess p, ctx_->runtime->StartExec(o));
  auto r = ctx_->runtime->WaitExec(p, static_cast<int>(timeout.count()));
  if (r.ok() || r.status().code() != Code::kTimeout) return r;
  // Timed out: stop the command and reap its waiter.
  ::kill(p.pid, SIGKILL);
  (void)ctx_->runtime->WaitExec(p);
  return Status(Code::kTimeout,
                "command timed out after " + std::to_string(timeout.count()) + "ms");
}

bool PodWorker::RunHandler(const json::object& pod, Container& c, const json::value& handler,
                           int timeout_s, std::string* message) {
  if (const json::value* sleep = api::GetPath(handler, "sleep")) {
    int64_t s = std::min<int64_t>(api::GetInt(*sleep, "seconds"), timeout_s);
    std::this_thread::sleep_for(std::chrono::seconds(std::max<int64_t>(s, 0)));
    return true;
  }
  if (!handler.is_object()) return true;
  json::object probe = handler.as_object();
  probe["timeoutSeconds"] = std::max(timeout_s, 1);
  podspec::ProbeTarget target = ProbeTargetFor(pod, c);
  podspec::ProbeOutcome out = podspec::RunProbeOnce(probe, target);
  if (out.result == podspec::ProbeResult::kSuccess) return true;
  *message = out.message;
  return false;
}

podspec::ProbeTarget PodWorker::ProbeTargetFor(const json::object& pod, const Container& c) {
  podspec::ProbeTarget t;
  t.pod_ip = pod_ip_;
  json::value pod_v(pod);
  for (const char* list : {"spec.initContainers", "spec.containers"}) {
    const json::value* l = api::GetPath(pod_v, list);
    if (!l || !l->is_array()) continue;
    for (const auto& s : l->as_array()) {
      const json::value* ports = api::GetPath(s, "ports");
      if (!ports || !ports->is_array()) continue;
      for (const auto& p : ports->as_array()) {
        std::string name = api::GetString(p, "name");
        if (!name.empty())
          t.named_ports.emplace_back(name, static_cast<int>(api::GetInt(p, "containerPort")));
      }
    }
  }
  std::string id = c.id;
  t.exec = [this, id](const std::vector<std::string>& cmd, std::chrono::milliseconds timeout) {
    return ExecIn(id, cmd, timeout);
  };
  return t;
}

void PodWorker::StartProbers(const json::object& pod, const json::object& spec, Container& c) {
  c.probers_started = true;
  std::string name = c.name;
  auto make = [&](podspec::ProbeKind kind, const char* field) -> std::unique_ptr<podspec::Prober> {
    auto it = spec.find(field);
    if (it == spec.end() || !it->value().is_object()) return nullptr;
    auto p = std::make_unique<podspec::Prober>(
        kind, it->value().as_object(), ProbeTargetFor(pod, c),
        [this, name](podspec::ProbeKind k, podspec::ProbeResult r,
                     const podspec::ProbeOutcome& last) { OnProbe(name, k, r, last); });
    p->Start();
    return p;
  };
  if (!c.started_probe_done) {
    if (!c.startup) c.startup = make(podspec::ProbeKind::kStartup, "startupProbe");
    return;
  }
  if (c.startup) c.startup->Stop();
  if (!c.liveness) c.liveness = make(podspec::ProbeKind::kLiveness, "livenessProbe");
  if (!c.readiness) c.readiness = make(podspec::ProbeKind::kReadiness, "readinessProbe");
}

void PodWorker::StopProbers(Container& c) {
  for (auto* p : {&c.liveness, &c.readiness, &c.startup}) {
    if (*p) (*p)->Stop();
    p->reset();
  }
  c.probers_started = false;
}

void PodWorker::OnProbe(const std::string& name, podspec::ProbeKind kind, podspec::ProbeResult r,
                        const podspec::ProbeOutcome& last) {
  client::ObjectPtr pod;
  {
    std::lock_guard<std::mutex> l(mu_);
    ProbeState& ps = probe_states_[name];
    switch (kind) {
      case podspec::ProbeKind::kLiveness:
        ps.liveness = r;
        break;
      case podspec::ProbeKind::kReadiness:
        ps.readiness = r;
        break;
      case podspec::ProbeKind::kStartup:
        ps.startup = r;
        break;
    }
    pod = pod_;
    wake_ = true;
    cv_.notify_all();
  }
  if (last.result == podspec::ProbeResult::kFailure && pod) {
    const char* what = kind == podspec::ProbeKind::kLiveness    ? "Liveness"
                       : kind == podspec::ProbeKind::kReadiness ? "Readiness"
                                                                : "Startup";
    std::string msg = last.message;
    if (msg.rfind(what, 0) != 0) msg = std::string(what) + " probe failed: " + msg;
    // Probes run for app containers only.
    Event(*pod, "Warning", "Unhealthy", msg, client::EventRecorder::ContainerFieldPath(name));
  }
}

}  // namespace sampan::agent
