#include "hollow/pod_status.h"

#include <algorithm>

#include "hollow/hollow_nodes.h"
#include "api/json_util.h"
#include "util/clock.h"

namespace sampan::hollow {
namespace json = boost::json;

namespace {

using api::Arr;
using api::Int;
using api::Obj;
using api::Str;

std::optional<int64_t> ParseInt(const std::string& s) {
  if (s.empty()) return std::nullopt;
  try {
    size_t pos = 0;
    long long v = std::stoll(s, &pos);
    if (pos != s.size()) return std::nullopt;
    return v;
  } catch (...) {
    return std::nullopt;
  }
}
int64_t ParseTime(const std::string& s, int64_t fallback) {
  int64_t t = 0;
  return ParseRfc3339(s, &t) ? t : fallback;
}

// Everything the pod's status says now that the plan needs to keep.
struct Previous {
  std::string phase;
  int64_t start_time = 0;                               // status.startTime (0 = none)
  std::map<std::string, const json::object*> conds;     // by type
  std::map<std::string, const json::object*> statuses;  // containerStatuses by name
};

Previous ReadPrevious(const json::object& pod) {
  Previous p;
  const json::object* st = Obj(&pod, "status");
  p.phase = Str(st, "phase");
  p.start_time = ParseTime(Str(st, "startTime"), 0);
  if (auto* cs = Arr(st, "conditions")) {
    for (const auto& c : *cs)
      if (c.is_object()) p.conds[Str(&c.as_object(), "type")] = &c.as_object();
  }
  if (auto* cs = Arr(st, "containerStatuses")) {
    for (const auto& c : *cs)
      if (c.is_object()) p.statuses[Str(&c.as_object(), "name")] = &c.as_object();
  }
  return p;
}

// A pod condition; its lastTransitionTime is kept when the status did not change.
json::object Condition(const Previous& prev, const std::string& type, bool status,
                       const std::string& reason, int64_t now) {
  json::object c{{"type", type}, {"status", status ? "True" : "False"}, {"lastProbeTime", nullptr}};
  if (!reason.empty()) c["reason"] = reason;
  std::string transition = FormatRfc3339(now);
  auto it = prev.conds.find(type);
  if (it != prev.conds.end() && Str(it->second, "status") == (status ? "True" : "False")) {
    std::string t = Str(it->second, "lastTransitionTime");
    if (!t.empty()) transition = t;
  }
  c["lastTransitionTime"] = transition;
  return c;
}

std::string ContainerId(const json::object& pod, const std::string& name, int64_t restarts) {
  std::string uid;
  if (auto* m = Obj(&pod, "metadata")) uid = Str(m, "uid");
  return std::string("hollow://") + uid + "/" + name + "/" + std::to_string(restarts);
}

json::object Terminated(int64_t code, int64_t started, int64_t finished, const std::string& id) {
  return json::object{{"exitCode", code},
                      {"reason", code == 0 ? "Completed" : "Error"},
                      {"startedAt", FormatRfc3339(started)},
                      {"finishedAt", FormatRfc3339(finished)},
                      {"containerID", id}};
}

}  // namespace

PodPlan PlanPodStatus(const json::object& pod, const std::string& host_ip,
                      const std::string& pod_ip, int64_t now) {
  PodPlan plan;
  const Previous prev = ReadPrevious(pod);
  if (prev.phase == "Succeeded" || prev.phase == "Failed") return plan;
  const json::object* spec = Obj(&pod, "spec");
  const json::object* ann = Obj(Obj(&pod, "metadata"), "annotations");
  const std::optional<int64_t> exit_code = ParseInt(Str(ann, kExitCodeAnnotation));
  const int64_t run_seconds =
      std::max<int64_t>(0, ParseInt(Str(ann, kRunSecondsAnnotation)).value_or(0));
  const bool ready = Str(ann, kReadyAnnotation) != "false";
  std::string restart_policy = Str(spec, "restartPolicy");
  if (restart_policy.empty()) restart_policy = "Always";
  const bool running_before = prev.phase == "Running";
  const int64_t start_time = running_before && prev.start_time > 0 ? prev.start_time : now;

  // Per container: when its current run started and how often it restarted.
  struct Run {
    std::string name, image;
    int64_t started = 0;
    int64_t restarts = 0;
    json::value last_state = json::object();
  };
  std::vector<Run> runs;
  if (auto* cs = Arr(spec, "containers")) {
    for (const auto& c : *cs) {
      if (!c.is_object()) continue;
      Run r;
      r.name = Str(&c.as_object(), "name");
      r.image = Str(&c.as_object(), "image");
      r.started = start_time;
      auto it = prev.statuses.find(r.name);
      if (running_before && it != prev.statuses.end()) {
        r.restarts = Int(it->second, "restartCount", 0);
        r.started =
            ParseTime(Str(Obj(Obj(it->second, "state"), "running"), "startedAt"), start_time);
        if (auto* ls = Obj(it->second, "lastState")) r.last_state = *ls;
      }
      runs.push_back(std::move(r));
    }
  }

  // A scripted exit: every container ends together, run_seconds after its run started.
  bool terminal = false;
  if (exit_code) {
    int64_t started = runs.empty() ? start_time : runs.front().started;
    int64_t end = started + run_seconds;
    if (!running_before || now < end) {
      plan.recheck_after = running_before ? end - now : run_seconds;
    } else {
      bool restart =
          restart_policy == "Always" || (restart_policy == "OnFailure" && *exit_code != 0);
      if (restart) {
        for (auto& r : runs) {
          r.last_state =
              json::object{{"terminated", Terminated(*exit_code, r.started, now,
                                                     ContainerId(pod, r.name, r.restarts))}};
          ++r.restarts;
          r.started = now;
        }
        plan.recheck_after = run_seconds;
      } else {
        terminal = true;
      }
    }
  }

  json::object status;
  if (auto* st = Obj(&pod, "status")) status = *st;
  status["phase"] = terminal ? (*exit_code == 0 ? "Succeeded" : "Failed") : "Running";
  status["hostIP"] = host_ip;
  status["hostIPs"] = json::array{json::object{{"ip", host_ip}}};
  status["podIP"] = pod_ip;
  status["podIPs"] = json::array{json::object{{"ip", pod_ip}}};
  status["startTime"] = FormatRfc3339(start_time);
  const bool pod_ready = !terminal && ready;
  std::string not_ready_reason = terminal ? "PodCompleted" : "ContainersNotReady";
  json::array conds;
  conds.push_back(Condition(prev, "PodReadyToStartContainers", !terminal, "", now));
  conds.push_back(Condition(prev, "Initialized", true, terminal ? "PodCompleted" : "", now));
  conds.push_back(Condition(prev, "Ready", pod_ready, pod_ready ? "" : not_ready_reason, now));
  conds.push_back(
      Condition(prev, "ContainersReady", pod_ready, pod_ready ? "" : not_ready_reason, now));
  conds.push_back(Condition(prev, "PodScheduled", true, "", now));
  status["conditions"] = std::move(conds);

  json::array statuses;
  for (const auto& r : runs) {
    json::object cs{{"name", r.name},
                    {"image", r.image},
                    {"imageID", ""},
                    {"containerID", ContainerId(pod, r.name, r.restarts)},
                    {"restartCount", r.restarts},
                    {"lastState", r.last_state}};
    if (terminal) {
      cs["state"] = json::object{{"terminated", Terminated(*exit_code, r.started, now,
                                                           ContainerId(pod, r.name, r.restarts))}};
      cs["ready"] = false;
      cs["started"] = false;
    } else {
      cs["state"] =
          json::object{{"running", json::object{{"startedAt", FormatRfc3339(r.started)}}}};
      cs["ready"] = ready;
      cs["started"] = true;
    }
    statuses.push_back(std::move(cs));
  }
  status["containerStatuses"] = std::move(statuses);

  // Init containers ran to completion before the main ones (sidecars keep running).
  if (auto* ics = Arr(spec, "initContainers")) {
    json::array init;
    for (const auto& c : *ics) {
      if (!c.is_object()) continue;
      std::string name = Str(&c.as_object(), "name");
      json::object cs{{"name", name},      {"image", Str(&c.as_object(), "image")},
                      {"imageID", ""},     {"containerID", ContainerId(pod, name, 0)},
                      {"restartCount", 0}, {"lastState", json::object()}};
      if (Str(&c.as_object(), "restartPolicy") == "Always" && !terminal) {
        cs["state"] =
            json::object{{"running", json::object{{"startedAt", FormatRfc3339(start_time)}}}};
        cs["ready"] = true;
        cs["started"] = true;
      } else {
        cs["state"] = json::object{
            {"terminated", Terminated(0, start_time, start_time, ContainerId(pod, name, 0))}};
        cs["ready"] = false;
        cs["started"] = false;
      }
      init.push_back(std::move(cs));
    }
    status["initContainerStatuses"] = std::move(init);
  }

  const json::object* current = Obj(&pod, "status");
  if (!current || *current != status) {
    plan.started = !running_before && !terminal;
    plan.finished = terminal;
    plan.status = std::move(status);
  }
  return plan;
}

}  // namespace sampan::hollow
