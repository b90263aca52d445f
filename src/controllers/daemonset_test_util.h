// Test helpers for the DaemonSet and StatefulSet controller tests: Node objects,
// and a stand-in node agent that marks bound pods Running (and Ready when the
// test allows it) and finishes graceful deletions.
#pragma once

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "client/rest_client.h"
#include "controllers/util.h"
#include "util/clock.h"

namespace sampan::controllers::testing {

inline boost::json::object TestNode(const std::string& name, boost::json::object labels = {},
                                    boost::json::array taints = {}, bool unschedulable = false) {
  namespace json = boost::json;
  json::object spec;
  if (!taints.empty()) spec["taints"] = taints;
  if (unschedulable) spec["unschedulable"] = true;
  json::object capacity{{"cpu", "8"}, {"memory", "16Gi"}, {"pods", "110"}};
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata", json::object{{"name", name}, {"labels", labels}}},
      {"spec", spec},
      {"status",
       json::object{{"capacity", capacity},
                    {"allocatable", capacity},
                    {"conditions",
                     json::array{json::object{
                         {"type", "Ready"}, {"status", "True"}, {"reason", "KubeletReady"}}}}}}};
}

// Marks pods bound to a node Running, and Ready when `ready(pod)` says so; deletes
// pods that are being deleted (grace period 0), as a node agent would once their
// containers stop.
class FakeKubelet {
 public:
  explicit FakeKubelet(client::RestClient* c, std::string ns = "default") : client_(c), ns_(ns) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeKubelet() {
    stop_ = true;
    thread_.join();
  }
  void SetReady(std::function<bool(const boost::json::object&)> ready) {
    std::lock_guard<std::mutex> lock(mu_);
    ready_ = std::move(ready);
  }

 private:
  void Loop() {
    namespace json = boost::json;
    while (!stop_) {
      auto l = client_->List(client::resources::kPods, ns_, {});
      if (l.ok()) {
        for (auto& v : l->at("items").as_array()) {
          const json::object& pod = v.as_object();
          std::string name = client::MetaString(pod, "name");
          if (Str(Obj(&pod, "spec"), "nodeName").empty()) continue;
          if (IsDeleting(pod)) {
            const json::array* fins = Arr(Obj(&pod, "metadata"), "finalizers");
            if (fins && !fins->empty()) continue;
            client::DeleteOptions opts;
            opts.grace_period_seconds = 0;
            (void)client_->Delete(client::resources::kPods, ns_, name, opts);
            continue;
          }
          std::string phase = Str(Obj(&pod, "status"), "phase");
          if (phase == "Succeeded" || phase == "Failed") continue;
          bool want_ready;
          {
            std::lock_guard<std::mutex> lock(mu_);
            want_ready = !ready_ || ready_(pod);
          }
          if (phase == "Running" && IsPodReady(pod) == want_ready) continue;
          json::object patch{
              {"status",
               json::object{{"phase", "Running"},
                            {"conditions", json::array{json::object{
                                               {"type", "Ready"},
                                               {"status", want_ready ? "True" : "False"},
                                               {"lastTransitionTime",
                                                FormatRfc3339(Clock::Real().NowUnix())}}}}}}};
          (void)client_->Patch(client::resources::kPods, ns_, name, client::PatchType::kMerge,
                               patch, "status");
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
  }

  client::RestClient* client_;
  const std::string ns_;
  std::mutex mu_;
  std::function<bool(const boost::json::object&)> ready_;  // guarded
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace sampan::controllers::testing
