#include "agent/adoption.h"

#include <cstdlib>

#include "util/clock.h"

namespace sampan::agent {

namespace {

std::string Anno(const runtime::ContainerState& s, const char* key) {
  auto it = s.annotations.find(key);
  return it == s.annotations.end() ? "" : it->second;
}

}  // namespace

bool FromRuntimeState(const runtime::ContainerState& s, RuntimeContainer* out) {
  RuntimeContainer c;
  c.pod_uid = Anno(s, kAnnoPodUid);
  if (c.pod_uid.empty()) return false;
  c.id = s.id;
  c.pod_name = Anno(s, kAnnoPodName);
  c.pod_namespace = Anno(s, kAnnoPodNamespace);
  c.sandbox = Anno(s, kAnnoContainerType) == "sandbox";
  c.container_name = c.sandbox ? "" : Anno(s, kAnnoContainerName);
  c.init = Anno(s, kAnnoInit) == "true";
  c.restart_count = std::atoi(Anno(s, kAnnoRestartCount).c_str());
  c.status = s.status;
  c.pid = s.pid;
  c.exited = s.exited || s.status == "stopped";
  c.exit_code = s.exit_code;
  c.oom_killed = s.oom_killed;
  c.created_at = std::atoll(Anno(s, kAnnoStartedAt).c_str());
  if (c.created_at == 0) {
    int64_t t = 0;
    if (ParseRfc3339(s.created, &t)) c.created_at = t;
  }
  if (!s.finished_at.empty()) {
    int64_t t = 0;
    if (ParseRfc3339(s.finished_at, &t)) c.finished_at = t;
  }
  c.image = Anno(s, kAnnoImage);
  c.image_id = Anno(s, kAnnoImageId);
  c.stop_signal = Anno(s, kAnnoStopSignal);
  *out = std::move(c);
  return true;
}

std::map<std::string, AdoptedPod> GroupByPod(const std::vector<RuntimeContainer>& all) {
  std::map<std::string, AdoptedPod> pods;
  for (const auto& c : all) {
    AdoptedPod& p = pods[c.pod_uid];
    p.uid = c.pod_uid;
    if (p.name.empty()) p.name = c.pod_name;
    if (p.ns.empty()) p.ns = c.pod_namespace;
    if (c.sandbox) {
      bool alive = !c.exited;
      if (!alive) {
        p.stale.push_back(c);
      } else if (!p.has_sandbox || c.created_at > p.sandbox.created_at) {
        if (p.has_sandbox) p.stale.push_back(p.sandbox);
        p.sandbox = c;
        p.has_sandbox = true;
      } else {
        p.stale.push_back(c);
      }
      continue;
    }
    auto it = p.containers.find(c.container_name);
    if (it == p.containers.end()) {
      p.containers.emplace(c.container_name, c);
    } else if (c.restart_count > it->second.restart_count) {
      p.stale.push_back(it->second);
      it->second = c;
    } else {
      p.stale.push_back(c);
    }
  }
  return pods;
}

}  // namespace sampan::agent
