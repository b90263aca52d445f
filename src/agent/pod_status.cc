#include "agent/pod_status.h"

#include <algorithm>

#include "api/json_util.h"

namespace sampan::agent {

namespace json = boost::json;

namespace {

std::string Time(int64_t t) { return api::FormatRfc3339(t); }

const json::object* SpecOf(const json::object& pod) {
  auto it = pod.find("spec");
  return it != pod.end() && it->value().is_object() ? &it->value().as_object() : nullptr;
}

std::string RestartPolicy(const json::object& pod) {
  const json::object* spec = SpecOf(pod);
  std::string p = spec ? api::GetString(json::value(*spec), "restartPolicy") : "";
  return p.empty() ? "Always" : p;
}

std::string OldPhase(const json::object& pod) {
  auto it = pod.find("status");
  if (it == pod.end() || !it->value().is_object()) return "";
  return api::GetString(it->value(), "phase");
}

json::object TerminatedJson(const Terminated& t) {
  json::object o;
  o["exitCode"] = t.exit_code;
  if (t.signal) o["signal"] = t.signal;
  if (!t.reason.empty()) o["reason"] = t.reason;
  if (!t.message.empty()) o["message"] = t.message;
  o["startedAt"] = t.started_at ? json::value(Time(t.started_at)) : json::value(nullptr);
  o["finishedAt"] = t.finished_at ? json::value(Time(t.finished_at)) : json::value(nullptr);
  if (!t.container_id.empty()) o["containerID"] = t.container_id;
  return o;
}

bool InitDone(const ContainerView& c) {
  return c.state == ContainerView::State::kTerminated && c.terminated.exit_code == 0;
}

// Names of `views` for which `pred` holds, as "[a b]".
template <typename Pred>
std::string NamesWhere(const std::vector<ContainerView>& views, Pred pred) {
  std::string out;
  for (const auto& v : views) {
    if (!pred(v)) continue;
    if (!out.empty()) out += " ";
    out += v.name;
  }
  return "[" + out + "]";
}

struct Cond {
  std::string type, status, reason, message;
};

}  // namespace

bool ShouldRestart(const std::string& restart_policy, int exit_code) {
  if (restart_policy == "Never") return false;
  if (restart_policy == "OnFailure") return exit_code != 0;
  return true;
}

std::string ComputePhase(const PodStatusInputs& in) {
  const json::object& pod = *in.pod;
  std::string old = OldPhase(pod);
  if (old == "Succeeded" || old == "Failed") return old;
  if (!in.failed_reason.empty()) return "Failed";
  std::string policy = RestartPolicy(pod);

  // Init containers: a failed one with restartPolicy Never fails the pod; unfinished ones
  // keep it Pending.
  bool init_pending = false;
  for (const auto& c : in.init_containers) {
    if (InitDone(c)) continue;
    if (policy == "Never" && c.state == ContainerView::State::kTerminated) return "Failed";
    if (policy == "Never" && c.state == ContainerView::State::kWaiting && c.last &&
        c.last->exit_code != 0)
      return "Failed";
    init_pending = true;
  }
  if (init_pending) return "Pending";

  int running = 0, waiting = 0, stopped = 0, succeeded = 0;
  for (const auto& c : in.containers) {
    switch (c.state) {
      case ContainerView::State::kRunning:
        ++running;
        break;
      case ContainerView::State::kTerminated:
        ++stopped;
        if (c.terminated.exit_code == 0) ++succeeded;
        break;
      case ContainerView::State::kWaiting:
        if (c.last) {
          ++stopped;
          if (c.last->exit_code == 0) ++succeeded;
        } else {
          ++waiting;
        }
        break;
    }
  }
  if (waiting > 0) return "Pending";
  if (running > 0) return "Running";
  if (stopped > 0) {
    if (policy == "Always") return "Running";
    if (stopped == succeeded) return "Succeeded";
    if (policy == "Never") return "Failed";
    return "Running";
  }
  return "Pending";
}

json::object ContainerStatusJson(const ContainerView& c) {
  json::object o;
  o["name"] = c.name;
  json::object state;
  switch (c.state) {
    case ContainerView::State::kWaiting: {
      json::object w;
      if (!c.waiting_reason.empty()) w["reason"] = c.waiting_reason;
      if (!c.waiting_message.empty()) w["message"] = c.waiting_message;
      state["waiting"] = std::move(w);
      break;
    }
    case ContainerView::State::kRunning:
      state["running"] = json::object{{"startedAt", Time(c.started_at)}};
      break;
    case ContainerView::State::kTerminated:
      state["terminated"] = TerminatedJson(c.terminated);
      break;
  }
  o["state"] = std::move(state);
  json::object last;
  if (c.last) last["terminated"] = TerminatedJson(*c.last);
  o["lastState"] = std::move(last);
  o["ready"] = c.ready;
  o["restartCount"] = c.restart_count;
  o["image"] = c.image;
  o["imageID"] = c.image_id;
  if (!c.container_id.empty()) o["containerID"] = c.container_id;
  o["started"] = c.started;
  return o;
}

json::object ComputePodStatus(const PodStatusInputs& in) {
  const json::object& pod = *in.pod;
  json::object old;
  if (auto it = pod.find("status"); it != pod.end() && it->value().is_object())
    old = it->value().as_object();
  const json::object* spec = SpecOf(pod);
  json::value spec_v = spec ? json::value(*spec) : json::value(json::object());

  json::object st;
  std::string phase = ComputePhase(in);
  st["phase"] = phase;
  bool terminal = phase == "Succeeded" || phase == "Failed";

  // Conditions we own; the others (DisruptionTarget, readiness gates, ...) are kept.
  bool init_done = std::all_of(in.init_containers.begin(), in.init_containers.end(), InitDone);
  bool all_ready =
      !in.containers.empty() && std::all_of(in.containers.begin(), in.containers.end(),
                                            [](const ContainerView& c) { return c.ready; });
  std::vector<Cond> ours;
  // A pod on a node is scheduled: the kubelet reports PodScheduled True too.
  ours.push_back({"PodScheduled", "True", "", ""});
  ours.push_back(
      {"PodReadyToStartContainers", in.sandbox_ready && !terminal ? "True" : "False", "", ""});
  if (init_done || phase == "Succeeded") {
    ours.push_back({"Initialized", "True", phase == "Succeeded" ? "PodCompleted" : "", ""});
  } else {
    ours.push_back(
        {"Initialized", "False", "ContainersNotInitialized",
         "containers with incomplete status: " +
             NamesWhere(in.init_containers, [](const ContainerView& c) { return !InitDone(c); })});
  }
  Cond containers_ready{"ContainersReady", "True", "", ""};
  if (terminal) {
    containers_ready = {"ContainersReady", "False", "PodCompleted", ""};
  } else if (!init_done) {
    containers_ready = {"ContainersReady", "False", "ContainersNotReady",
                        "containers with unready status: " +
                            NamesWhere(in.containers, [](const ContainerView&) { return true; })};
  } else if (!all_ready) {
    containers_ready = {
        "ContainersReady", "False", "ContainersNotReady",
        "containers with unready status: " +
            NamesWhere(in.containers, [](const ContainerView& c) { return !c.ready; })};
  }
  ours.push_back(containers_ready);
  Cond ready = containers_ready;
  ready.type = "Ready";
  if (!terminal && init_done && !all_ready) ready.reason = "ContainersNotReady";
  // Readiness gates: each named condition must be True.
  if (ready.status == "True") {
    if (const json::value* gates = api::GetPath(spec_v, "readinessGates");
        gates && gates->is_array()) {
      for (const auto& g : gates->as_array()) {
        std::string type = api::GetString(g, "conditionType");
        bool ok = false, found = false;
        if (auto it = old.find("conditions"); it != old.end() && it->value().is_array()) {
          for (const auto& c : it->value().as_array()) {
            if (api::GetString(c, "type") != type) continue;
            found = true;
            ok = api::GetString(c, "status") == "True";
          }
        }
        if (!ok) {
          ready = {
              "Ready", "False", "ReadinessGatesNotReady",
              found ? "the status of pod readiness gate \"" + type + "\" is not \"True\", but False"
                    : "corresponding condition of pod readiness gate \"" + type +
                          "\" does not exist."};
          break;
        }
      }
    }
  }
  ours.push_back(ready);

  json::array conditions;
  json::array old_conditions;
  if (auto it = old.find("conditions"); it != old.end() && it->value().is_array())
    old_conditions = it->value().as_array();
  auto old_of = [&](const std::string& type) -> const json::object* {
    for (const auto& c : old_conditions)
      if (c.is_object() && api::GetString(c, "type") == type) return &c.as_object();
    return nullptr;
  };
  for (const auto& c : old_conditions) {
    std::string type = api::GetString(c, "type");
    if (std::none_of(ours.begin(), ours.end(), [&](const Cond& o) { return o.type == type; }))
      conditions.push_back(c);
  }
  for (const Cond& c : ours) {
    json::object o;
    o["type"] = c.type;
    o["status"] = c.status;
    const json::object* prev = old_of(c.type);
    std::string transition = Time(in.now);
    if (prev && api::GetString(json::value(*prev), "status") == c.status)
      transition = api::GetString(json::value(*prev), "lastTransitionTime", transition);
    o["lastProbeTime"] = nullptr;
    o["lastTransitionTime"] = transition;
    if (!c.reason.empty()) o["reason"] = c.reason;
    if (!c.message.empty()) o["message"] = c.message;
    conditions.push_back(std::move(o));
  }
  st["conditions"] = std::move(conditions);

  if (!in.failed_reason.empty() && phase == "Failed") {
    st["reason"] = in.failed_reason;
    st["message"] = in.failed_message;
  } else if (old.contains("reason") && terminal) {
    st["reason"] = old["reason"];
    if (old.contains("message")) st["message"] = old["message"];
  }
  if (!in.host_ip.empty()) {
    st["hostIP"] = in.host_ip;
    st["hostIPs"] = json::array{json::object{{"ip", in.host_ip}}};
  }
  if (!in.pod_ip.empty()) {
    st["podIP"] = in.pod_ip;
    st["podIPs"] = json::array{json::object{{"ip", in.pod_ip}}};
  }
  std::string start = api::GetString(json::value(old), "startTime");
  if (start.empty() && in.start_time) start = Time(in.start_time);
  if (!start.empty()) st["startTime"] = start;

  if (!in.init_containers.empty()) {
    json::array a;
    for (const auto& c : in.init_containers) a.push_back(ContainerStatusJson(c));
    st["initContainerStatuses"] = std::move(a);
  }
  std::vector<const ContainerView*> sorted;
  for (const auto& c : in.containers) sorted.push_back(&c);
  std::sort(sorted.begin(), sorted.end(),
            [](const ContainerView* a, const ContainerView* b) { return a->name < b->name; });
  json::array a;
  for (const auto* c : sorted) a.push_back(ContainerStatusJson(*c));
  st["containerStatuses"] = std::move(a);
  if (!in.ephemeral_containers.empty()) {
    json::array e;
    for (const auto& c : in.ephemeral_containers) e.push_back(ContainerStatusJson(c));
    st["ephemeralContainerStatuses"] = std::move(e);
  }
  if (!in.qos_class.empty()) st["qosClass"] = in.qos_class;
  // Fields others own that the kubelet leaves alone.
  if (old.contains("nominatedNodeName")) st["nominatedNodeName"] = old["nominatedNodeName"];
  return st;
}

bool SameStatus(const json::object& a, const json::object& b) {
  return api::SerializeSorted(json::value(a)) == api::SerializeSorted(json::value(b));
}

}  // namespace sampan::agent
