#include "agent/node.h"

#include <map>

#include "api/json_util.h"
#include "client/informer.h"
#include "util/clock.h"
#include "util/log.h"

namespace sampan::agent {

namespace json = boost::json;
using client::resources::kLeases;
using client::resources::kNodes;

NodeLoop::NodeLoop(NodeContext* ctx, NodeLoopOptions opts, std::function<void()> on_network_ready)
    : ctx_(ctx), opts_(std::move(opts)), on_network_ready_(std::move(on_network_ready)) {}

NodeLoop::~NodeLoop() { Stop(); }

void NodeLoop::Start() {
  machine_ = ReadMachineInfo(opts_.data_dir);
  thread_ = std::thread([this] { Run(); });
}

void NodeLoop::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void NodeLoop::RequestStatus() {
  std::lock_guard<std::mutex> l(mu_);
  status_requested_ = true;
  cv_.notify_all();
}

bool NodeLoop::SleepFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait_for(l, d, [this] { return stop_ || status_requested_; });
  status_requested_ = false;
  return !stop_;
}

void NodeLoop::Run() {
  auto last_lease = std::chrono::steady_clock::time_point{};
  while (true) {
    auto now = std::chrono::steady_clock::now();
    if (!registered_) {
      Status st = Register();
      if (!st.ok()) {
        LOG(WARNING) << "registering node " << opts_.config.node_name << ": " << st.ToString();
        if (!SleepFor(std::chrono::seconds(1))) return;
        continue;
      }
      registered_ = true;
      LOG(INFO) << "node " << opts_.config.node_name << " registered";
    }
    if (!ctx_->network()) CheckPodCidr();
    if (now - last_lease >= std::chrono::seconds(10)) {
      Status st = RenewLease();
      if (st.ok())
        last_lease = now;
      else
        LOG(WARNING) << "renewing node lease: " << st.ToString();
    }
    if (Status st = PostStatus(false); !st.ok()) {
      LOG(WARNING) << "posting node status: " << st.ToString();
      if (st.code() == Code::kNotFound) registered_ = false;  // deleted: register again
    }
    // Poll quickly until the network is up, then every few seconds.
    if (!SleepFor(ctx_->network() ? std::chrono::seconds(5) : std::chrono::milliseconds(500)))
      return;
  }
}

Status NodeLoop::Register() {
  json::object labels = DefaultNodeLabels(opts_.config, machine_);
  json::object node{
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata", json::object{{"name", opts_.config.node_name}, {"labels", labels}}},
      {"spec", json::object{}}};
  auto created = ctx_->client->Create(kNodes, "", node);
  json::object current;
  if (created.ok()) {
    current = std::move(*created);
  } else if (created.status().code() == Code::kAlreadyExists) {
    ASSIGN_OR_RETURN(current, ctx_->client->Get(kNodes, "", opts_.config.node_name));
    // Add the kubelet's labels that are missing; never touch the others.
    json::object missing;
    const json::object* have = client::MetaObject(current, "labels");
    for (const auto& [k, v] : labels)
      if (!have || !have->contains(k)) missing[k] = v;
    if (!missing.empty()) {
      json::object patch{{"metadata", json::object{{"labels", missing}}}};
      ASSIGN_OR_RETURN(current, ctx_->client->Patch(kNodes, "", opts_.config.node_name,
                                                    client::PatchType::kMerge, patch));
    }
  } else {
    return created.status();
  }
  node_uid_ = client::MetaString(current, "uid");
  if (auto it = current.find("status"); it != current.end() && it->value().is_object())
    last_status_ = it->value().as_object();
  return PostStatus(true);
}

Status NodeLoop::RenewLease() {
  int64_t now = Clock::Real().NowUnixNanos();
  json::object lease = BuildLease(opts_.config.node_name, node_uid_, now);
  auto got = ctx_->client->Get(kLeases, "kube-node-lease", opts_.config.node_name);
  if (!got.ok()) {
    if (got.status().code() != Code::kNotFound) return got.status();
    return ctx_->client->Create(kLeases, "kube-node-lease", lease).status();
  }
  json::object updated = *got;
  updated["spec"] = lease["spec"];
  return ctx_->client->Update(kLeases, "kube-node-lease", updated).status();
}

Status NodeLoop::PostStatus(bool force) {
  NodeConfig cfg = opts_.config;
  cfg.network_ready = ctx_->network() != nullptr;
  cfg.network_message = ctx_->network_error();
  MachineInfo m = ReadMachineInfo(opts_.data_dir);
  machine_ = m;
  std::vector<NodeImage> images;
  if (auto list = ctx_->images->List(); list.ok()) {
    std::map<std::string, NodeImage> by_id;
    for (const auto& r : *list) {
      NodeImage& img = by_id[r.config_digest];
      img.size = r.size;
      std::string name = r.name;
      // The kubelet lists repo@digest and repo:tag forms.
      if (auto at = name.find('@'); at == std::string::npos) {
        auto colon = name.rfind(':');
        std::string repo =
            colon != std::string::npos && colon > name.rfind('/') ? name.substr(0, colon) : name;
        std::string digest_form = repo + "@" + r.manifest_digest;
        if (std::find(img.names.begin(), img.names.end(), digest_form) == img.names.end())
          img.names.push_back(digest_form);
      }
      if (std::find(img.names.begin(), img.names.end(), name) == img.names.end())
        img.names.push_back(name);
    }
    for (auto& [id, img] : by_id) images.push_back(std::move(img));
    std::sort(images.begin(), images.end(),
              [](const NodeImage& a, const NodeImage& b) { return a.size > b.size; });
  }
  json::object st = BuildNodeStatus(cfg, m, images, last_status_, Clock::Real().NowUnix());
  auto now = std::chrono::steady_clock::now();
  if (!force && !NodeStatusChanged(st, last_status_) && now - last_post_ < std::chrono::minutes(1))
    return Status::Ok();
  json::array patch{json::object{{"op", "add"}, {"path", "/status"}, {"value", st}}};
  auto r = ctx_->client->Patch(kNodes, "", opts_.config.node_name, client::PatchType::kJson, patch,
                               "status");
  if (!r.ok()) return r.status();
  last_status_ = std::move(st);
  last_post_ = now;
  return Status::Ok();
}

void NodeLoop::CheckPodCidr() {
  auto node = ctx_->client->Get(kNodes, "", opts_.config.node_name);
  if (!node.ok()) return;
  json::value v(*node);
  std::string cidr = api::GetString(v, "spec.podCIDR");
  if (cidr.empty()) {
    ctx_->set_network_error("waiting for the node's podCIDR");
    return;
  }
  net::NetworkConfig nc;
  nc.bridge = opts_.bridge;
  nc.pod_cidr = cidr;
  nc.cluster_cidr = opts_.cluster_cidr;
  nc.state_dir = opts_.network_state_dir;
  auto opened = net::PodNetwork::Open(nc);
  if (!opened.ok()) {
    ctx_->set_network_error("setting up the pod network for " + cidr + ": " +
                            opened.status().message());
    LOG(WARNING) << "pod network: " << opened.status().ToString();
    return;
  }
  LOG(INFO) << "pod network ready: bridge " << opts_.bridge << ", podCIDR " << cidr;
  ctx_->set_network_error("");
  ctx_->set_network(std::move(*opened));
  (void)PostStatus(true);
  if (on_network_ready_) on_network_ready_();
}

}  // namespace sampan::agent
