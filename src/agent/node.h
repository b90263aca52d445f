// The agent's Node: registration (labels the kubelet sets, never removing a user's), the
// Lease in kube-node-lease renewed every 10 s, the status posted when it changes (and at
// least every minute), and the podCIDR that opens the pod network. Runs on its own thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "agent/node_context.h"
#include "agent/node_status.h"

namespace sampan::agent {

struct NodeLoopOptions {
  NodeConfig config;
  std::string cluster_cidr;
  std::string bridge = "sampan0";
  std::string network_state_dir;
  std::string data_dir;
};

class NodeLoop {
 public:
  // `on_network_ready` is called once the pod network is open.
  NodeLoop(NodeContext* ctx, NodeLoopOptions opts, std::function<void()> on_network_ready);
  ~NodeLoop();
  void Start();
  void Stop();
  // Posts the status soon (e.g. after images were removed) instead of at the next tick.
  void RequestStatus();

 private:
  void Run();
  Status Register();
  Status RenewLease();
  Status PostStatus(bool force);
  void CheckPodCidr();
  bool SleepFor(std::chrono::milliseconds d);

  NodeContext* ctx_;
  NodeLoopOptions opts_;
  std::function<void()> on_network_ready_;
  MachineInfo machine_;
  std::string node_uid_;
  boost::json::object last_status_;
  std::chrono::steady_clock::time_point last_post_{};
  bool registered_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool status_requested_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace sampan::agent
