// A small rtnetlink client (NETLINK_ROUTE, no libnl): links (bridge, veth), addresses and
// IPv4 routes of one network namespace — the one the socket was opened in.
//
//   ASSIGN_OR_RETURN(auto nl, Netlink::Open());
//   RETURN_IF_ERROR(nl->CreateBridge("sampan0", 1500));
//   RETURN_IF_ERROR(nl->SetUp("sampan0"));
//
// Every error names the operation and the object and carries the kernel's errno (and its
// extended-ack text when there is one): "netlink create bridge sampan0: File exists (errno
// 17)". errno maps to a code: EEXIST → AlreadyExists, ENODEV/ENOENT/ESRCH → NotFound,
// EPERM/EACCES → Forbidden, EINVAL/ERANGE/EOPNOTSUPP → Invalid, EBUSY → Conflict,
// anything else → Internal.
//
// Not thread-safe: one Netlink per thread, or a lock around it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/ipv4.h"
#include "util/status.h"

struct nlmsghdr;  // <linux/netlink.h>

namespace sampan::net {

struct LinkInfo {
  int index = 0;
  std::string name;
  std::string kind;  // "bridge", "veth", ... ; "" for devices without link info (lo)
  int mtu = 0;
  bool up = false;  // administratively up (IFF_UP)
  int master = 0;   // ifindex of the bridge it is attached to; 0 = none
  std::string mac;  // "02:42:ac:11:00:02"; "" when the link has none
};

struct AddressInfo {
  int index = 0;  // ifindex
  uint32_t address = 0;
  int prefix_len = 0;
};

struct RouteInfo {
  Ipv4Cidr destination;  // 0.0.0.0/0 for the default route
  uint32_t gateway = 0;  // 0 = directly connected
  int oif = 0;           // output ifindex; 0 = unknown
};

class Netlink {
 public:
  // A socket in the calling thread's network namespace.
  static Result<std::unique_ptr<Netlink>> Open();
  // A socket in the namespace `netns_fd` (opened there on a short-lived thread); the
  // calling thread stays where it is.
  static Result<std::unique_ptr<Netlink>> OpenInNetns(int netns_fd);
  // The same by path (/proc/PID/ns/net, /run/netns/NAME).
  static Result<std::unique_ptr<Netlink>> OpenInNetns(const std::string& netns_path);
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  // --- links ---
  Result<std::vector<LinkInfo>> ListLinks();
  Result<LinkInfo> GetLink(const std::string& name);  // NotFound when absent
  // AlreadyExists when a link of that name exists.
  Status CreateBridge(const std::string& name, int mtu);
  // A veth pair `name` <-> `peer`. With `peer_netns_fd` >= 0 the peer is created directly
  // inside that namespace.
  Status CreateVeth(const std::string& name, const std::string& peer, int mtu,
                    int peer_netns_fd = -1);
  Status DeleteLink(const std::string& name);  // NotFound when absent
  Status SetUp(const std::string& name);
  Status SetDown(const std::string& name);
  Status SetMtu(const std::string& name, int mtu);
  // Attaches the link to bridge `master` ("" detaches it).
  Status SetMaster(const std::string& name, const std::string& master);
  // Moves the link into the network namespace `netns_fd`; it keeps its name there.
  Status SetNetns(const std::string& name, int netns_fd);
  Status Rename(const std::string& name, const std::string& new_name);
  // Sets the link's MAC address ("02:53:0a:f4:01:01"). A bridge given an address keeps it
  // instead of following the lowest MAC of its ports.
  Status SetMac(const std::string& name, const std::string& mac);
  // Hairpin mode of a bridge port (frames may leave by the port they came in on).
  Status SetHairpin(const std::string& name, bool on);

  // --- IPv4 addresses ---
  // All IPv4 addresses, or those of one link (`name` non-empty).
  Result<std::vector<AddressInfo>> ListAddresses(const std::string& name = "");
  // AlreadyExists when the link already has that address.
  Status AddAddress(const std::string& name, uint32_t address, int prefix_len);
  Status DeleteAddress(const std::string& name, uint32_t address, int prefix_len);

  // --- IPv4 routes (main table) ---
  Result<std::vector<RouteInfo>> ListRoutes();
  // Adds or replaces the route to `destination` via `gateway` (0: on-link) out of `dev`
  // ("" with a gateway: the interface the kernel finds for the gateway).
  Status ReplaceRoute(const Ipv4Cidr& destination, uint32_t gateway, const std::string& dev);
  Status DeleteRoute(const Ipv4Cidr& destination, uint32_t gateway, const std::string& dev);

 private:
  class Message;
  explicit Netlink(int fd) : fd_(fd) {}
  Result<int> IndexOf(const std::string& name);
  Status SetLink(const std::string& op, const std::string& name, Message& msg);
  // Sends `msg` and waits for the kernel's acknowledgement.
  Status Transact(const std::string& op, Message& msg);
  // Sends a request (a dump, or a get) and hands each reply message to `on_msg`.
  Status Query(const std::string& op, Message& msg,
               const std::function<void(const ::nlmsghdr*)>& on_msg);
  Status Send(const std::string& op, Message& msg);

  int fd_;
  uint32_t seq_ = 0;
};

// Whether `name` is usable as a Linux interface name (1-15 bytes, no '/', ':' or spaces).
bool ValidLinkName(const std::string& name);

}  // namespace sampan::net
