// What every pod worker shares: the API client, the event recorder, the runtime, the image
// store, volumes, the pod network (once the node has a podCIDR) and the node's paths and
// settings. Everything here is thread-safe; the context outlives the workers.
#pragma once

#include <atomic>
#include <memory>
#include <functional>
#include <mutex>
#include <string>

#include "agent/task_queue.h"
#include "client/events.h"
#include "client/rest_client.h"
#include "image/image_store.h"
#include "image/registry_config.h"
#include "net/pod_network.h"
#include "runtime/runtime.h"
#include "volume/volumes.h"

namespace sampan::agent {

struct NodeContext {
  client::RestClient* client = nullptr;
  client::EventRecorder* recorder = nullptr;
  // Where pod workers post their Events (recorded in order on the queue's thread);
  // nullptr: recorded synchronously.
  TaskQueue* events = nullptr;
  runtime::Runtime* runtime = nullptr;
  image::ImageStore* images = nullptr;
  image::RegistryConfig registries;
  volume::VolumeManager* volumes = nullptr;
  volume::VolumeOptions volume_options;
  volume::ObjectGetter getter;

  std::string node_name, node_ip, node_hostname;
  std::string agent_dir;     // DATA_DIR/agent
  std::string pods_dir;      // DATA_DIR/agent/pods
  std::string bundles_dir;   // DATA_DIR/agent/containers
  std::string pause_rootfs;  // DATA_DIR/agent/pause/rootfs
  std::string cluster_dns, cluster_domain;
  // The cluster's Services, for the variables of enableServiceLinks (empty when unset).
  std::function<std::vector<std::shared_ptr<const boost::json::object>>()> services;
  int64_t node_memory_capacity = 0;

  // The pod network, set once the node has a podCIDR; nullptr before.
  net::PodNetwork* network() const {
    std::lock_guard<std::mutex> l(net_mu);
    return net.get();
  }
  void set_network(std::unique_ptr<net::PodNetwork> n) {
    std::lock_guard<std::mutex> l(net_mu);
    net = std::move(n);
  }
  std::string network_error() const {
    std::lock_guard<std::mutex> l(net_mu);
    return net_error;
  }
  void set_network_error(std::string e) {
    std::lock_guard<std::mutex> l(net_mu);
    net_error = std::move(e);
  }

  mutable std::mutex net_mu;
  std::unique_ptr<net::PodNetwork> net;  // guarded by net_mu
  std::string net_error;                 // guarded by net_mu
};

}  // namespace sampan::agent
