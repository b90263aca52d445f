#include "controllers/node_ipam.h"

#include "controllers/util.h"
#include "util/log.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;

namespace {

// The node's podCIDRs (spec.podCIDRs, else spec.podCIDR), as written.
std::vector<std::string> PodCidrsOf(const json::object& node) {
  std::vector<std::string> out;
  const json::object* spec = Obj(&node, "spec");
  if (const json::array* list = Arr(spec, "podCIDRs")) {
    for (const json::value& v : *list)
      if (v.is_string()) out.emplace_back(v.as_string());
  }
  if (out.empty()) {
    std::string one = Str(spec, "podCIDR");
    if (!one.empty()) out.push_back(one);
  }
  return out;
}

// The IPv4 blocks among them (IPv6 ones are not ours to track); bad ones are logged.
std::vector<net::Ipv4Cidr> Ipv4CidrsOf(const json::object& node) {
  std::vector<net::Ipv4Cidr> out;
  for (const std::string& text : PodCidrsOf(node)) {
    if (text.find(':') != std::string::npos) continue;
    auto cidr = net::ParseCidr(text);
    if (!cidr.ok()) {
      LOG(WARNING) << "node ipam: node " << MetaString(node, "name") << ": "
                   << cidr.status().ToString();
      continue;
    }
    out.push_back(*cidr);
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<NodeIpamController>> NodeIpamController::New(
    client::SharedInformers* informers, client::EventRecorder* recorder,
    const NodeIpamOptions& options) {
  auto cluster = net::ParseCidr(options.cluster_cidr);
  if (!cluster.ok()) return cluster.status().WithContext("--cluster-cidr");
  auto set = net::CidrSet::New(*cluster, options.node_cidr_mask_size);
  if (!set.ok()) return set.status().WithContext("--node-cidr-mask-size");
  return std::unique_ptr<NodeIpamController>(
      new NodeIpamController(informers, recorder, std::move(*set)));
}

NodeIpamController::NodeIpamController(client::SharedInformers* informers,
                                       client::EventRecorder* recorder, net::CidrSet cidrs)
    : client_(informers->client()),
      recorder_(recorder),
      nodes_(informers->For(client::resources::kNodes)),
      cidrs_(std::move(cidrs)) {
  auto enqueue = [this](const ObjectPtr& n) { queue_.Add(MetaString(*n, "name")); };
  nodes_->AddEventHandler(client::EventHandlers{
      enqueue,
      [this](const ObjectPtr& old_node, const ObjectPtr& node) {
        // Only a change of the podCIDRs matters (heartbeats update nodes all the time).
        if (!old_node || PodCidrsOf(*old_node) != PodCidrsOf(*node) || PodCidrsOf(*node).empty())
          queue_.Add(MetaString(*node, "name"));
      },
      enqueue});
}

NodeIpamController::~NodeIpamController() { Stop(); }

void NodeIpamController::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      nodes_->WaitForSync(std::chrono::seconds(60));
      std::call_once(rebuilt_, [this] { Rebuild(); });
      queue_.Process("node-ipam", [this](const std::string& name) { return Sync(name); });
    });
  }
}

void NodeIpamController::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

void NodeIpamController::Rebuild() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const ObjectPtr& node : nodes_->List()) {
    for (const net::Ipv4Cidr& cidr : Ipv4CidrsOf(*node)) {
      if (!cidrs_.cluster().Contains(cidr)) {
        LOG(WARNING) << "node ipam: node " << MetaString(*node, "name") << " has podCIDR "
                     << cidr.ToString() << " outside the cluster CIDR "
                     << cidrs_.cluster().ToString();
        continue;
      }
      RecordLocked(MetaString(*node, "name"), cidr);
    }
  }
  LOG(INFO) << "node ipam: " << cidrs_.taken() << " of " << cidrs_.capacity() << " node ranges of "
            << cidrs_.cluster().ToString() << " in use";
}

void NodeIpamController::RecordLocked(const std::string& node, const net::Ipv4Cidr& cidr) {
  auto& held = by_node_[node];
  for (const net::Ipv4Cidr& c : held)
    if (c == cidr) return;
  (void)cidrs_.Occupy(cidr);
  held.push_back(cidr);
}

void NodeIpamController::ForgetLocked(const std::string& node) {
  auto it = by_node_.find(node);
  if (it == by_node_.end()) return;
  for (const net::Ipv4Cidr& c : it->second) (void)cidrs_.Release(c);
  by_node_.erase(it);
  // Blocks another node still holds (overlapping, set by hand) stay taken.
  for (const auto& [name, held] : by_node_)
    for (const net::Ipv4Cidr& c : held) (void)cidrs_.Occupy(c);
}

Status NodeIpamController::Sync(const std::string& node_name) {
  ObjectPtr node = nodes_->Get(node_name);
  if (!node) {
    std::lock_guard<std::mutex> lock(mu_);
    if (by_node_.count(node_name)) {
      LOG(INFO) << "node ipam: node " << node_name << " is gone; freeing its pod CIDR";
      ForgetLocked(node_name);
    }
    return Status::Ok();
  }
  std::vector<net::Ipv4Cidr> have = Ipv4CidrsOf(*node);
  if (!PodCidrsOf(*node).empty()) {
    // Set already (by us, by hand, or by an earlier server): keep it, record it as taken.
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<net::Ipv4Cidr> inside;
    for (const net::Ipv4Cidr& c : have)
      if (cidrs_.cluster().Contains(c)) inside.push_back(c);
    auto it = by_node_.find(node_name);
    if (it == by_node_.end() || it->second != inside) {
      ForgetLocked(node_name);
      for (const net::Ipv4Cidr& c : inside) RecordLocked(node_name, c);
    }
    return Status::Ok();
  }
  if (IsDeleting(*node)) return Status::Ok();

  net::Ipv4Cidr cidr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_node_.find(node_name);
    if (it != by_node_.end() && !it->second.empty()) {
      // Recorded for this name but not on the object (a write that failed, or a node
      // deleted and re-created with the same name before we saw the deletion): reuse it.
      cidr = it->second.front();
    } else {
      auto next = cidrs_.AllocateNext();
      if (!next.ok()) {
        recorder_->Record(*node, "Normal", "CIDRNotAvailable",
                          "Node " + node_name + " status is now: CIDRNotAvailable");
        return next.status().WithContext("node ipam: node " + node_name);
      }
      cidr = *next;
      by_node_[node_name] = {cidr};
    }
  }
  // A PUT of the cached object: if the Node changed meanwhile (someone set a podCIDR), the
  // write fails with Conflict and the next sync sees the new state.
  json::object updated = *node;
  json::object& spec =
      updated["spec"].is_object() ? updated["spec"].as_object() : updated["spec"].emplace_object();
  spec["podCIDR"] = cidr.ToString();
  spec["podCIDRs"] = json::array{json::value(cidr.ToString())};
  auto r = client_->Update(client::resources::kNodes, "", updated);
  if (!r.ok()) {
    if (r.status().code() == Code::kNotFound) {
      std::lock_guard<std::mutex> lock(mu_);
      ForgetLocked(node_name);
      return Status::Ok();
    }
    if (r.status().code() != Code::kConflict) {
      recorder_->Record(*node, "Warning", "CIDRAssignmentFailed",
                        "Node " + node_name + " could not be given pod CIDR " + cidr.ToString() +
                            ": " + r.status().message());
    }
    // Keep the block recorded for this name: a retry reuses it.
    return r.status();
  }
  LOG(INFO) << "node ipam: node " << node_name << " gets pod CIDR " << cidr.ToString();
  return Status::Ok();
}

}  // namespace sampan::controllers
