// PodNetwork: bridge + veths + IpPool + the nftables table. Node-side work goes through
// netlink sockets opened in the node's namespace (one per concurrent attach, pooled);
// pod-side work through a socket opened in the pod's namespace; sysctls and nft run on a
// short-lived thread inside the node's namespace. No thread ever stays in a foreign
// namespace.
#include "net/pod_network.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "net/ipam.h"
#include "net/ipv4.h"
#include "net/netlink.h"
#include "net/netns.h"
#include "net/nftables.h"
#include "util/fs.h"
#include "util/log.h"

namespace sampan::net {
namespace {

uint64_t Fnv1a64(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string Hex(uint64_t v, int digits) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf + 16 - digits);
}

std::string TempPeerName(const std::string& pod_uid) { return "tmp" + Hex(Fnv1a64(pod_uid), 11); }

// Writes a sysctl under /proc/sys (in the calling thread's network namespace for net.*).
Status WriteSysctl(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open " + path, errno);
  ssize_t n = ::write(fd, value.data(), value.size());
  int e = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) return ErrnoStatus("write " + path, e);
  return Status::Ok();
}

// A locally administered MAC for the bridge, fixed by its gateway address, so pods' ARP
// entries for the gateway stay valid whatever ports come and go.
std::string BridgeMac(uint32_t gateway) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "02:53:%02x:%02x:%02x:%02x", gateway >> 24, (gateway >> 16) & 255,
                (gateway >> 8) & 255, gateway & 255);
  return buf;
}

bool IsNotFound(const Status& s) { return s.code() == Code::kNotFound; }

Status ValidateHostPort(const HostPort& p) {
  if (p.protocol != "TCP" && p.protocol != "UDP" && p.protocol != "SCTP")
    return Invalid("hostPort protocol must be TCP, UDP or SCTP, not \"" + p.protocol + "\"");
  if (p.host_port < 1 || p.host_port > 65535)
    return Invalid("hostPort " + std::to_string(p.host_port) + " is not in 1-65535");
  if (p.container_port < 1 || p.container_port > 65535)
    return Invalid("containerPort " + std::to_string(p.container_port) + " is not in 1-65535");
  if (!p.host_ip.empty() && p.host_ip != "0.0.0.0") {
    auto ip = ParseIpv4(p.host_ip);
    if (!ip.ok()) return ip.status().WithContext("hostIP");
  }
  return Status::Ok();
}

uint32_t HostIpOf(const HostPort& p) {
  if (p.host_ip.empty() || p.host_ip == "0.0.0.0") return 0;
  return *ParseIpv4(p.host_ip);
}

// hostports/<hash>: the pod UID on the first line, then "PROTO HOSTPORT CONTAINERPORT
// [HOSTIP]" per mapping.
std::string EncodeHostPorts(const std::string& uid, const std::vector<HostPort>& ports) {
  std::string out = uid + "\n";
  for (const HostPort& p : ports) {
    out += p.protocol + " " + std::to_string(p.host_port) + " " + std::to_string(p.container_port);
    if (!p.host_ip.empty()) out += " " + p.host_ip;
    out += "\n";
  }
  return out;
}

bool DecodeHostPorts(const std::string& text, std::string* uid, std::vector<HostPort>* ports) {
  std::istringstream in(text);
  if (!std::getline(in, *uid) || uid->empty()) return false;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream l(line);
    HostPort p;
    if (!(l >> p.protocol >> p.host_port >> p.container_port)) return false;
    l >> p.host_ip;
    if (!ValidateHostPort(p).ok()) return false;
    ports->push_back(p);
  }
  return true;
}

class PodNetworkImpl final : public PodNetwork {
 public:
  PodNetworkImpl(NetworkConfig config, Ipv4Cidr pod_cidr, Ipv4Cidr cluster_cidr, NetnsFd node_ns,
                 std::unique_ptr<Netlink> node, std::unique_ptr<IpPool> pool, int lock_fd)
      : config_(std::move(config)),
        pod_cidr_(pod_cidr),
        cluster_cidr_(cluster_cidr),
        node_ns_(std::move(node_ns)),
        node_(std::move(node)),
        pool_(std::move(pool)),
        lock_fd_(lock_fd) {}
  ~PodNetworkImpl() override {
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the state directory's lock
  }

  Status Setup();
  Status LoadHostPorts();

  Result<PodAddress> Attach(const std::string& pod_uid, const std::string& netns_path,
                            const std::string& ifname) override;
  Status SetHostPorts(const std::string& pod_uid, const std::vector<HostPort>& ports) override;
  Status Detach(const std::string& pod_uid) override;
  std::optional<PodAddress> AddressOf(const std::string& pod_uid) const override;
  std::vector<std::string> Pods() const override;
  uint32_t Gateway() const override { return pool_->gateway(); }
  Status SetServices(const std::vector<ServicePortRule>& ports,
                     const Ipv4Cidr& service_cidr) override;
  Status SetNodeRoutes(const std::vector<std::pair<Ipv4Cidr, uint32_t>>& routes) override;
  Status Teardown() override;

 private:
  PodAddress AddressFor(const std::string& pod_uid, uint32_t ip) const;
  Status ConfigurePodSide(Netlink& pod, const std::string& ifname, uint32_t ip);
  Status ConfigureHostSide(Netlink& node, const std::string& host_veth);
  // A netlink socket in the node's namespace for one call (from a small pool).
  Result<std::unique_ptr<Netlink>> TakeNodeSocket();
  void GiveBackNodeSocket(std::unique_ptr<Netlink> nl);
  // Serialises the calls for one pod (calls for different pods run side by side).
  class PodGuard {
   public:
    PodGuard(PodNetworkImpl* net, std::string uid);
    ~PodGuard();
    PodGuard(const PodGuard&) = delete;
    PodGuard& operator=(const PodGuard&) = delete;

   private:
    PodNetworkImpl* net_;
    std::string uid_;
  };
  static constexpr size_t kMaxSpareNodeSockets = 8;
  Status ApplyNat();
  std::string HostPortsPath(const std::string& uid) const {
    return config_.state_dir + "/hostports/" + Hex(Fnv1a64(uid), 16);
  }

  const NetworkConfig config_;
  const Ipv4Cidr pod_cidr_, cluster_cidr_;
  const NetnsFd node_ns_;
  mutable std::mutex mu_;
  std::unique_ptr<Netlink> node_;                             // guarded by mu_
  std::unique_ptr<IpPool> pool_;                              // guarded by mu_
  std::map<std::string, std::vector<HostPort>> host_ports_;   // guarded by mu_
  std::set<std::string> busy_pods_;                           // guarded by mu_
  std::condition_variable busy_cv_;                           // busy_pods_ shrank
  std::vector<std::unique_ptr<Netlink>> spare_node_sockets_;  // guarded by mu_
  int lock_fd_;
};

Status PodNetworkImpl::Setup() {
  const uint32_t gateway = pool_->gateway();
  const std::string& br = config_.bridge;
  auto link = node_->GetLink(br);
  if (!link.ok()) {
    if (!IsNotFound(link.status())) return link.status();
    RETURN_IF_ERROR(node_->CreateBridge(br, config_.mtu));
    link = node_->GetLink(br);
    if (!link.ok()) return link.status();
  } else if (link->kind != "bridge") {
    return Status(Code::kAlreadyExists,
                  "pod network: " + br + " exists and is a " +
                      (link->kind.empty() ? std::string("plain device") : link->kind) +
                      ", not a bridge");
  }
  if (link->mtu != config_.mtu) RETURN_IF_ERROR(node_->SetMtu(br, config_.mtu));
  RETURN_IF_ERROR(node_->SetMac(br, BridgeMac(gateway)));
  // The bridge is ours: it carries exactly the gateway address of the current range.
  ASSIGN_OR_RETURN(auto addrs, node_->ListAddresses(br));
  bool have = false;
  for (const AddressInfo& a : addrs) {
    if (a.address == gateway && a.prefix_len == pod_cidr_.prefix_len) {
      have = true;
    } else {
      LOG(INFO) << "pod network: removing stale address " << FormatIpv4(a.address) << "/"
                << a.prefix_len << " from " << br;
      RETURN_IF_ERROR(node_->DeleteAddress(br, a.address, a.prefix_len));
    }
  }
  if (!have) RETURN_IF_ERROR(node_->AddAddress(br, gateway, pod_cidr_.prefix_len));
  RETURN_IF_ERROR(node_->SetUp(br));

  RETURN_IF_ERROR(RunInNetns(node_ns_.get(), [&]() -> Status {
    RETURN_IF_ERROR(WriteSysctl("/proc/sys/net/ipv4/ip_forward", "1"));
    // 127.0.0.1:hostPort DNATed to a pod leaves through the bridge with a loopback source
    // until postrouting masquerades it; the kernel drops such packets unless allowed here.
    RETURN_IF_ERROR(WriteSysctl("/proc/sys/net/ipv4/conf/" + br + "/route_localnet", "1"));
    // Bridged pod-to-pod traffic passes the IP hooks, so NAT (hostPorts, Services) is undone
    // on replies that never leave the bridge. Absent when br_netfilter is not loaded.
    const char* bridge_nf = "/proc/sys/net/bridge/bridge-nf-call-iptables";
    if (::access(bridge_nf, F_OK) == 0) {
      RETURN_IF_ERROR(WriteSysctl(bridge_nf, "1"));
    } else {
      LOG(WARNING) << "pod network: " << bridge_nf
                   << " is absent (br_netfilter not loaded); hostPorts reached from pods of "
                      "this node rely on the hairpin masquerade only";
    }
    return Status::Ok();
  }));
  return ApplyNat();
}

Status PodNetworkImpl::LoadHostPorts() {
  std::string dir = config_.state_dir + "/hostports";
  RETURN_IF_ERROR(fs::MakeDirs(dir, 0700));
  for (const auto& [uid, ip] : pool_->All()) {
    auto text = fs::ReadFile(HostPortsPath(uid));
    if (!text.ok()) {
      if (IsNotFound(text.status())) continue;
      return text.status();
    }
    std::string file_uid;
    std::vector<HostPort> ports;
    if (!DecodeHostPorts(*text, &file_uid, &ports) || file_uid != uid) {
      LOG(WARNING) << "pod network: ignoring unreadable " << HostPortsPath(uid);
      continue;
    }
    if (!ports.empty()) host_ports_[uid] = std::move(ports);
  }
  return Status::Ok();
}

Status PodNetworkImpl::ApplyNat() {
  NatRules rules;
  rules.pod_cidr = pod_cidr_;
  rules.cluster_cidr = cluster_cidr_;
  rules.masquerade = config_.masquerade;
  for (const auto& [uid, ports] : host_ports_) {
    auto ip = pool_->Lookup(uid);
    if (!ip) continue;
    for (const HostPort& p : ports) {
      rules.host_ports.push_back(
          HostPortRule{uid, p.protocol, p.host_port, HostIpOf(p), *ip, p.container_port});
    }
  }
  std::string script = RenderNatScript(rules);
  return RunInNetns(node_ns_.get(), [&] { return RunNftScript(script); });
}

PodAddress PodNetworkImpl::AddressFor(const std::string& pod_uid, uint32_t ip) const {
  PodAddress a;
  a.ip = FormatIpv4(ip);
  a.prefix_len = pod_cidr_.prefix_len;
  a.gateway = FormatIpv4(pool_->gateway());
  a.host_veth = HostVethName(pod_uid);
  return a;
}

Status PodNetworkImpl::ConfigurePodSide(Netlink& pod, const std::string& ifname, uint32_t ip) {
  RETURN_IF_ERROR(pod.SetMtu(ifname, config_.mtu));
  Status st = pod.AddAddress(ifname, ip, pod_cidr_.prefix_len);
  if (!st.ok() && st.code() != Code::kAlreadyExists) return st;
  RETURN_IF_ERROR(pod.SetUp(ifname));
  RETURN_IF_ERROR(pod.SetUp("lo"));
  return pod.ReplaceRoute(Ipv4Cidr{0, 0}, pool_->gateway(), ifname);
}

Status PodNetworkImpl::ConfigureHostSide(Netlink& node, const std::string& host_veth) {
  RETURN_IF_ERROR(node.SetMaster(host_veth, config_.bridge));
  RETURN_IF_ERROR(node.SetHairpin(host_veth, true));
  return node.SetUp(host_veth);
}

Result<PodAddress> PodNetworkImpl::Attach(const std::string& pod_uid, const std::string& netns_path,
                                          const std::string& ifname) {
  if (pod_uid.empty()) return Invalid("pod network: empty pod UID");
  if (!ValidLinkName(ifname)) return Invalid("pod network: invalid interface name " + ifname);
  PodGuard guard(this, pod_uid);
  ASSIGN_OR_RETURN(NetnsFd pod_ns, OpenNetns(netns_path));
  bool had_ip;
  uint32_t ip;
  {
    std::lock_guard<std::mutex> lock(mu_);
    had_ip = pool_->Lookup(pod_uid).has_value();
    ASSIGN_OR_RETURN(ip, pool_->Allocate(pod_uid));
  }
  const std::string host = HostVethName(pod_uid);
  const std::string tmp = TempPeerName(pod_uid);
  // The links are made outside mu_, on a node socket of this call's own: attaches of
  // different pods overlap (the kernel still serialises each request under its RTNL lock).
  auto node_or = TakeNodeSocket();
  if (!node_or.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!had_ip) (void)pool_->Release(pod_uid);
    return node_or.status().WithContext("pod network: attach pod " + pod_uid);
  }
  std::unique_ptr<Netlink> node = std::move(*node_or);

  auto attach = [&]() -> Status {
    ASSIGN_OR_RETURN(auto pod, Netlink::OpenInNetns(pod_ns.get()));
    auto host_link = node->GetLink(host);
    if (!host_link.ok() && !IsNotFound(host_link.status())) return host_link.status();
    auto pod_link = pod->GetLink(ifname);
    if (!pod_link.ok() && !IsNotFound(pod_link.status())) return pod_link.status();

    if (host_link.ok() && pod_link.ok() && pod_link->kind == "veth") {
      // Attached before (an agent restart, or a retry): adopt, making sure it is complete.
      RETURN_IF_ERROR(ConfigurePodSide(*pod, ifname, ip));
      return ConfigureHostSide(*node, host);
    }
    if (host_link.ok()) {
      // A leftover of an earlier attempt whose pod end is elsewhere (or gone): start over.
      RETURN_IF_ERROR(node->DeleteLink(host));
      pod_link = pod->GetLink(ifname);  // deleting one end of a veth deletes both
    }
    if (pod_link.ok()) {
      return Status(Code::kAlreadyExists, "pod network: the pod's namespace " + netns_path +
                                              " already has an interface " + ifname);
    }
    // Earlier agents made the pod's end under a temporary name in the node's namespace.
    if (auto stale = node->GetLink(tmp); stale.ok()) RETURN_IF_ERROR(node->DeleteLink(tmp));

    // The pod's end is created inside its namespace under its final name: moving a link
    // between namespaces waits for an RCU grace period under the RTNL lock (~15 ms on a busy
    // machine, while every other netlink request of the machine waits).
    RETURN_IF_ERROR(node->CreateVeth(host, ifname, config_.mtu, pod_ns.get()));
    RETURN_IF_ERROR(ConfigurePodSide(*pod, ifname, ip));
    return ConfigureHostSide(*node, host);
  };
  Status st = attach();
  if (!st.ok()) {
    // Leave nothing half-made: the veth pair goes (with its pod end), a new IP is freed.
    if (auto l = node->GetLink(host); l.ok()) (void)node->DeleteLink(host);
    if (auto l = node->GetLink(tmp); l.ok()) (void)node->DeleteLink(tmp);
    GiveBackNodeSocket(std::move(node));
    std::lock_guard<std::mutex> lock(mu_);
    if (!had_ip) (void)pool_->Release(pod_uid);
    return st.WithContext("pod network: attach pod " + pod_uid);
  }
  GiveBackNodeSocket(std::move(node));
  std::lock_guard<std::mutex> lock(mu_);
  return AddressFor(pod_uid, ip);
}

Result<std::unique_ptr<Netlink>> PodNetworkImpl::TakeNodeSocket() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!spare_node_sockets_.empty()) {
      auto nl = std::move(spare_node_sockets_.back());
      spare_node_sockets_.pop_back();
      return nl;
    }
  }
  return Netlink::OpenInNetns(node_ns_.get());
}

void PodNetworkImpl::GiveBackNodeSocket(std::unique_ptr<Netlink> nl) {
  std::lock_guard<std::mutex> lock(mu_);
  if (spare_node_sockets_.size() < kMaxSpareNodeSockets)
    spare_node_sockets_.push_back(std::move(nl));
}

PodNetworkImpl::PodGuard::PodGuard(PodNetworkImpl* net, std::string uid)
    : net_(net), uid_(std::move(uid)) {
  std::unique_lock<std::mutex> lock(net_->mu_);
  net_->busy_cv_.wait(lock, [&] { return net_->busy_pods_.count(uid_) == 0; });
  net_->busy_pods_.insert(uid_);
}

PodNetworkImpl::PodGuard::~PodGuard() {
  std::lock_guard<std::mutex> lock(net_->mu_);
  net_->busy_pods_.erase(uid_);
  net_->busy_cv_.notify_all();
}

Status PodNetworkImpl::SetHostPorts(const std::string& pod_uid,
                                    const std::vector<HostPort>& ports) {
  std::vector<HostPort> wanted;
  for (const HostPort& p : ports) {
    if (p.host_port == 0) continue;  // no host port: nothing to map
    RETURN_IF_ERROR(ValidateHostPort(p));
    wanted.push_back(p);
  }
  PodGuard guard(this, pod_uid);
  std::lock_guard<std::mutex> lock(mu_);
  if (!pool_->Lookup(pod_uid)) {
    if (wanted.empty()) return Status::Ok();
    return NotFound("pod network: pod " + pod_uid + " has no address (not attached)");
  }
  // Two mappings clash when protocol and port match and either listens on every address.
  auto clash = [](const HostPort& a, const HostPort& b) {
    return a.protocol == b.protocol && a.host_port == b.host_port &&
           (HostIpOf(a) == 0 || HostIpOf(b) == 0 || HostIpOf(a) == HostIpOf(b));
  };
  for (size_t i = 0; i < wanted.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (clash(wanted[i], wanted[j]))
        return Invalid("pod network: hostPort " + std::to_string(wanted[i].host_port) + "/" +
                       wanted[i].protocol + " is listed twice");
    }
    for (const auto& [uid, theirs] : host_ports_) {
      if (uid == pod_uid) continue;
      for (const HostPort& q : theirs) {
        if (clash(wanted[i], q))
          return Conflict("pod network: hostPort " + std::to_string(q.host_port) + "/" +
                          q.protocol + " is already mapped to pod " + uid);
      }
    }
  }
  auto previous = host_ports_.find(pod_uid) == host_ports_.end()
                      ? std::optional<std::vector<HostPort>>()
                      : std::optional<std::vector<HostPort>>(host_ports_[pod_uid]);
  if (wanted.empty()) {
    host_ports_.erase(pod_uid);
  } else {
    host_ports_[pod_uid] = wanted;
  }
  Status st = ApplyNat();
  if (st.ok()) {
    if (wanted.empty()) {
      if (::unlink(HostPortsPath(pod_uid).c_str()) != 0 && errno != ENOENT)
        st = ErrnoStatus("remove " + HostPortsPath(pod_uid), errno);
    } else {
      st = fs::WriteFileAtomic(HostPortsPath(pod_uid), EncodeHostPorts(pod_uid, wanted), 0600);
    }
    if (st.ok()) return st;
  }
  // Roll back to what the table held before.
  if (previous) {
    host_ports_[pod_uid] = *previous;
  } else {
    host_ports_.erase(pod_uid);
  }
  Status restore = ApplyNat();
  if (!restore.ok()) LOG(ERROR) << "pod network: restoring the NAT table: " << restore.ToString();
  return st;
}

Status PodNetworkImpl::Detach(const std::string& pod_uid) {
  PodGuard guard(this, pod_uid);
  std::lock_guard<std::mutex> lock(mu_);
  const std::string host = HostVethName(pod_uid);
  // Deleting the host end deletes the pod end too; if the pod's namespace is already gone,
  // so is the pair.
  Status st = node_->DeleteLink(host);
  if (!st.ok() && !IsNotFound(st)) return st.WithContext("pod network: detach pod " + pod_uid);
  if (host_ports_.erase(pod_uid) > 0) {
    RETURN_IF_ERROR(ApplyNat());
  }
  if (::unlink(HostPortsPath(pod_uid).c_str()) != 0 && errno != ENOENT)
    return ErrnoStatus("remove " + HostPortsPath(pod_uid), errno);
  return pool_->Release(pod_uid);
}

std::optional<PodAddress> PodNetworkImpl::AddressOf(const std::string& pod_uid) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto ip = pool_->Lookup(pod_uid);
  if (!ip) return std::nullopt;
  return AddressFor(pod_uid, *ip);
}

std::vector<std::string> PodNetworkImpl::Pods() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [uid, ip] : pool_->All()) out.push_back(uid);
  return out;
}

Status PodNetworkImpl::SetServices(const std::vector<ServicePortRule>& ports,
                                   const Ipv4Cidr& service_cidr) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(node_->ReplaceRoute(service_cidr, 0, config_.bridge)
                      .WithContext("route for the service range " + service_cidr.ToString()));
  std::string script = RenderServicesScript(ports, cluster_cidr_);
  return RunInNetns(node_ns_.get(), [&] { return RunNftScript(script); });
}

Status PodNetworkImpl::SetNodeRoutes(
    const std::vector<std::pair<Ipv4Cidr, uint32_t>>& routes) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::vector<RouteInfo> existing, node_->ListRoutes());
  for (const RouteInfo& r : existing) {
    if (r.gateway == 0 || !cluster_cidr_.Contains(r.destination) || r.destination == pod_cidr_) {
      continue;
    }
    bool wanted = std::any_of(routes.begin(), routes.end(), [&](const auto& w) {
      return w.first == r.destination && w.second == r.gateway;
    });
    if (!wanted) RETURN_IF_ERROR(node_->DeleteRoute(r.destination, r.gateway, ""));
  }
  for (const auto& [cidr, via] : routes) {
    if (cidr == pod_cidr_ || !cluster_cidr_.Contains(cidr)) continue;
    RETURN_IF_ERROR(node_->ReplaceRoute(cidr, via, ""));
  }
  return Status::Ok();
}

Status PodNetworkImpl::Teardown() {
  std::lock_guard<std::mutex> lock(mu_);
  Status first;
  auto note = [&](const Status& st) {
    if (!st.ok() && !IsNotFound(st) && first.ok()) first = st;
  };
  note(RunInNetns(node_ns_.get(), [] { return RunNftScript(RenderDeleteScript()); }));
  note(RunInNetns(node_ns_.get(), [] { return RunNftScript(RenderServicesDeleteScript()); }));
  for (const auto& [uid, ip] : pool_->All()) note(node_->DeleteLink(HostVethName(uid)));
  note(node_->DeleteLink(config_.bridge));
  return first;
}

}  // namespace

std::string HostVethName(const std::string& pod_uid) { return "veth" + Hex(Fnv1a64(pod_uid), 11); }

Result<std::unique_ptr<PodNetwork>> PodNetwork::Open(const NetworkConfig& config) {
  auto pod = ParseCidr(config.pod_cidr);
  if (!pod.ok()) return pod.status().WithContext("pod network: pod_cidr");
  Ipv4Cidr cluster = *pod;
  if (!config.cluster_cidr.empty()) {
    auto c = ParseCidr(config.cluster_cidr);
    if (!c.ok()) return c.status().WithContext("pod network: cluster_cidr");
    cluster = *c;
    if (!cluster.Contains(*pod)) {
      return Invalid("pod network: pod_cidr " + pod->ToString() + " is not inside cluster_cidr " +
                     cluster.ToString());
    }
  }
  if (!ValidLinkName(config.bridge))
    return Invalid("pod network: invalid bridge name \"" + config.bridge + "\"");
  if (config.mtu < 68 || config.mtu > 65535)
    return Invalid("pod network: mtu " + std::to_string(config.mtu) + " is not in 68-65535");
  if (config.state_dir.empty()) return Invalid("pod network: state_dir is required");

  RETURN_IF_ERROR(fs::MakeDirs(config.state_dir, 0700));
  int lock_fd = ::open((config.state_dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return ErrnoStatus("open " + config.state_dir + "/lock", errno);
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    ::close(lock_fd);
    if (e == EWOULDBLOCK)
      return Unavailable("pod network: " + config.state_dir + " is in use by another PodNetwork");
    return ErrnoStatus("lock " + config.state_dir, e);
  }
  auto fail = [&](Status st) {
    ::close(lock_fd);
    return st;
  };

  auto pool = IpPool::Open(*pod, config.state_dir + "/ips");
  if (!pool.ok()) return fail(pool.status().WithContext("pod network"));
  auto node_ns = config.netns_path.empty() ? CurrentNetns() : OpenNetns(config.netns_path);
  if (!node_ns.ok()) return fail(node_ns.status().WithContext("pod network: node namespace"));
  auto node = Netlink::OpenInNetns(node_ns->get());
  if (!node.ok()) return fail(node.status());

  auto impl = std::make_unique<PodNetworkImpl>(config, *pod, cluster, std::move(*node_ns),
                                               std::move(*node), std::move(*pool), lock_fd);
  RETURN_IF_ERROR(impl->LoadHostPorts());
  RETURN_IF_ERROR(impl->Setup());
  return std::unique_ptr<PodNetwork>(std::move(impl));
}

}  // namespace sampan::net
