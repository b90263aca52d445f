// What a hollow node does with one pod bound to it, as a pure function of the
// pod and the time: the status it should post next (if any) and when to look at
// the pod again. hollow_nodes.cc applies it; tests check it without a server.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>

namespace sampan::hollow {

struct PodPlan {
  // The whole new pod status to PUT; nullopt when the current one is right.
  std::optional<boost::json::object> status;
  // Seconds until the pod must be looked at again (a scripted exit); -1 = never.
  int64_t recheck_after = -1;
  bool started = false;   // this status turns the pod Running for the first time
  bool finished = false;  // this status turns the pod Succeeded or Failed
};

// `host_ip`: the node's InternalIP; `pod_ip`: the address to give the pod (kept
// from its status when it already has one). `now` in Unix seconds.
// Follows the annotations in hollow_nodes.h (exit-code, run-seconds, ready).
PodPlan PlanPodStatus(const boost::json::object& pod, const std::string& host_ip,
                      const std::string& pod_ip, int64_t now);

}  // namespace sampan::hollow
