#include "net/netlink.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "net/netns.h"

namespace sampan::net {
namespace {

Code CodeForErrno(int e) {
  switch (e) {
    case EEXIST:
      return Code::kAlreadyExists;
    case ENODEV:
    case ENOENT:
    case ESRCH:
    case EADDRNOTAVAIL:
      return Code::kNotFound;
    case EPERM:
    case EACCES:
      return Code::kForbidden;
    case EINVAL:
    case ERANGE:
    case EOPNOTSUPP:
      return Code::kInvalid;
    case EBUSY:
      return Code::kConflict;
    default:
      return Code::kInternal;
  }
}

Status NetlinkError(const std::string& op, int e, const std::string& detail = "") {
  std::string msg =
      "netlink " + op + ": " + std::strerror(e) + " (errno " + std::to_string(e) + ")";
  if (!detail.empty()) msg += ": " + detail;
  return Status(CodeForErrno(e), std::move(msg));
}

std::string FormatMac(const unsigned char* p, size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i) out += ':';
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 15];
  }
  return out;
}

// Iterates the attributes in [data, data+len).
template <typename Fn>
void ForEachAttr(const void* data, size_t len, Fn fn) {
  auto* a = static_cast<const struct rtattr*>(data);
  int left = static_cast<int>(len);
  for (; RTA_OK(a, left); a = RTA_NEXT(a, left)) fn(a);
}

uint32_t AttrU32(const struct rtattr* a) {
  uint32_t v = 0;
  std::memcpy(&v, RTA_DATA(a), std::min<size_t>(sizeof v, RTA_PAYLOAD(a)));
  return v;
}

std::string AttrString(const struct rtattr* a) {
  const char* p = static_cast<const char*>(RTA_DATA(a));
  return std::string(p, strnlen(p, RTA_PAYLOAD(a)));
}

}  // namespace

// A request being built: nlmsghdr, the family header, then attributes (nested ones too).
class Netlink::Message {
 public:
  Message(uint16_t type, uint16_t flags, const void* family_hdr, size_t family_len) {
    buf_.resize(NLMSG_HDRLEN);
    Append(family_hdr, family_len);
    auto* h = hdr();
    h->nlmsg_type = type;
    h->nlmsg_flags = NLM_F_REQUEST | flags;
  }
  struct nlmsghdr* hdr() {
    return reinterpret_cast<struct nlmsghdr*>(buf_.data());
  }
  const char* data() const { return buf_.data(); }
  size_t size() const { return buf_.size(); }

  void Put(uint16_t type, const void* payload, size_t len) {
    struct rtattr a;
    a.rta_type = type;
    a.rta_len = RTA_LENGTH(len);
    Append(&a, sizeof a);
    Append(payload, len);
  }
  void PutU32(uint16_t type, uint32_t v) { Put(type, &v, sizeof v); }
  void PutU8(uint16_t type, uint8_t v) { Put(type, &v, sizeof v); }
  void PutString(uint16_t type, const std::string& s) { Put(type, s.c_str(), s.size() + 1); }
  // Opens a nested attribute; EndNested(offset) closes it.
  size_t BeginNested(uint16_t type) {
    size_t off = buf_.size();
    struct rtattr a;
    a.rta_type = type;
    a.rta_len = 0;
    Append(&a, sizeof a);
    return off;
  }
  void EndNested(size_t off) {
    auto len = static_cast<unsigned short>(buf_.size() - off);
    std::memcpy(buf_.data() + off + offsetof(struct rtattr, rta_len), &len, sizeof len);
  }
  // Raw bytes inside a nested attribute (the peer's ifinfomsg of a veth).
  void PutRaw(const void* p, size_t len) { Append(p, len); }

 private:
  void Append(const void* p, size_t len) {
    size_t off = buf_.size();
    buf_.resize(off + NLMSG_ALIGN(len), 0);
    std::memcpy(buf_.data() + off, p, len);
    hdr()->nlmsg_len = static_cast<uint32_t>(buf_.size());
  }
  std::vector<char> buf_;
};

bool ValidLinkName(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == "..") return false;
  for (char c : name)
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\0') return false;
  return true;
}

Result<std::unique_ptr<Netlink>> Netlink::Open() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return ErrnoStatus("netlink socket", errno);
  int one = 1;
  // Extended acks carry the kernel's own explanation of an error; capped acks keep them short.
  ::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  ::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  struct sockaddr_nl sa {};
  sa.nl_family = AF_NETLINK;
  if (::bind(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) != 0) {
    int e = errno;
    ::close(fd);
    return ErrnoStatus("netlink bind", e);
  }
  return std::unique_ptr<Netlink>(new Netlink(fd));
}

Result<std::unique_ptr<Netlink>> Netlink::OpenInNetns(int netns_fd) {
  std::unique_ptr<Netlink> nl;
  RETURN_IF_ERROR(RunInNetns(netns_fd, [&]() -> Status {
    ASSIGN_OR_RETURN(nl, Open());
    return Status::Ok();
  }));
  return nl;
}

Result<std::unique_ptr<Netlink>> Netlink::OpenInNetns(const std::string& netns_path) {
  ASSIGN_OR_RETURN(NetnsFd ns, OpenNetns(netns_path));
  auto r = OpenInNetns(ns.get());
  if (!r.ok()) return r.status().WithContext(netns_path);
  return r;
}

Netlink::~Netlink() { ::close(fd_); }

Status Netlink::Send(const std::string& op, Message& msg) {
  msg.hdr()->nlmsg_seq = ++seq_;
  struct sockaddr_nl kernel {};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n = ::sendto(fd_, msg.data(), msg.size(), 0,
                         reinterpret_cast<struct sockaddr*>(&kernel), sizeof kernel);
    if (n >= 0) return Status::Ok();
    if (errno != EINTR) return NetlinkError(op + " (send)", errno);
  }
}

// Reads replies to the last request until its ack (or NLMSG_DONE for dumps).
Status Netlink::Query(const std::string& op, Message& msg,
                      const std::function<void(const struct nlmsghdr*)>& on_msg) {
  RETURN_IF_ERROR(Send(op, msg));
  const uint32_t seq = seq_;
  const bool dump = (msg.hdr()->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    // Peek at the datagram's size first so a large one is never truncated.
    ssize_t need = ::recv(fd_, buf.data(), 0, MSG_PEEK | MSG_TRUNC);
    if (need < 0) {
      if (errno == EINTR) continue;
      return NetlinkError(op + " (receive)", errno);
    }
    if (static_cast<size_t>(need) > buf.size()) buf.resize(need);
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return NetlinkError(op + " (receive)", errno);
    }
    int left = static_cast<int>(n);
    for (auto* h = reinterpret_cast<const struct nlmsghdr*>(buf.data()); NLMSG_OK(h, left);
         h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_seq != seq) continue;  // a late reply to an earlier, abandoned request
      if (h->nlmsg_type == NLMSG_DONE) return Status::Ok();
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* err = static_cast<const struct nlmsgerr*>(NLMSG_DATA(h));
        if (err->error == 0) {
          if (!dump) return Status::Ok();
          continue;
        }
        std::string detail;
        if (h->nlmsg_flags & NLM_F_ACK_TLVS) {
          // With NETLINK_CAP_ACK the echoed request is only its header.
          size_t off = NLMSG_HDRLEN + sizeof(struct nlmsgerr);
          if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += err->msg.nlmsg_len - NLMSG_HDRLEN;
          if (off < h->nlmsg_len) {
            ForEachAttr(reinterpret_cast<const char*>(h) + off, h->nlmsg_len - off,
                        [&](const struct rtattr* a) {
                          if (a->rta_type == NLMSGERR_ATTR_MSG) detail = AttrString(a);
                        });
          }
        }
        return NetlinkError(op, -err->error, detail);
      }
      on_msg(h);
      if (!dump && !(h->nlmsg_flags & NLM_F_MULTI)) {
        // A get answers with one message and no ack unless NLM_F_ACK was asked for.
        if (!(msg.hdr()->nlmsg_flags & NLM_F_ACK)) return Status::Ok();
      }
    }
  }
}

Status Netlink::Transact(const std::string& op, Message& msg) {
  msg.hdr()->nlmsg_flags |= NLM_F_ACK;
  return Query(op, msg, [](const struct nlmsghdr*) {});
}

namespace {

LinkInfo ParseLink(const struct nlmsghdr* h) {
  auto* ifi = static_cast<const struct ifinfomsg*>(NLMSG_DATA(h));
  LinkInfo link;
  link.index = ifi->ifi_index;
  link.up = (ifi->ifi_flags & IFF_UP) != 0;
  ForEachAttr(IFLA_RTA(ifi), IFLA_PAYLOAD(h), [&](const struct rtattr* a) {
    switch (a->rta_type) {
      case IFLA_IFNAME:
        link.name = AttrString(a);
        break;
      case IFLA_MTU:
        link.mtu = static_cast<int>(AttrU32(a));
        break;
      case IFLA_MASTER:
        link.master = static_cast<int>(AttrU32(a));
        break;
      case IFLA_ADDRESS:
        link.mac = FormatMac(static_cast<const unsigned char*>(RTA_DATA(a)), RTA_PAYLOAD(a));
        break;
      case IFLA_LINKINFO:
        ForEachAttr(RTA_DATA(a), RTA_PAYLOAD(a), [&](const struct rtattr* b) {
          if (b->rta_type == IFLA_INFO_KIND) link.kind = AttrString(b);
        });
        break;
    }
  });
  return link;
}

struct ifinfomsg LinkHeader(int index = 0, unsigned char family = AF_UNSPEC) {
  struct ifinfomsg ifi {};
  ifi.ifi_family = family;
  ifi.ifi_index = index;
  return ifi;
}

}  // namespace

Result<std::vector<LinkInfo>> Netlink::ListLinks() {
  auto ifi = LinkHeader();
  Message msg(RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof ifi);
  std::vector<LinkInfo> out;
  RETURN_IF_ERROR(Query("list links", msg, [&](const struct nlmsghdr* h) {
    if (h->nlmsg_type == RTM_NEWLINK) out.push_back(ParseLink(h));
  }));
  return out;
}

Result<LinkInfo> Netlink::GetLink(const std::string& name) {
  if (!ValidLinkName(name)) return Invalid("invalid interface name \"" + name + "\"");
  auto ifi = LinkHeader();
  Message msg(RTM_GETLINK, 0, &ifi, sizeof ifi);
  msg.PutString(IFLA_IFNAME, name);
  LinkInfo link;
  bool found = false;
  RETURN_IF_ERROR(Query("get link " + name, msg, [&](const struct nlmsghdr* h) {
    if (h->nlmsg_type == RTM_NEWLINK) {
      link = ParseLink(h);
      found = true;
    }
  }));
  if (!found) return NotFound("netlink get link " + name + ": no reply");
  return link;
}

Result<int> Netlink::IndexOf(const std::string& name) {
  ASSIGN_OR_RETURN(LinkInfo link, GetLink(name));
  return link.index;
}

Status Netlink::CreateBridge(const std::string& name, int mtu) {
  if (!ValidLinkName(name)) return Invalid("invalid interface name \"" + name + "\"");
  auto ifi = LinkHeader();
  Message msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
  msg.PutString(IFLA_IFNAME, name);
  if (mtu > 0) msg.PutU32(IFLA_MTU, mtu);
  size_t info = msg.BeginNested(IFLA_LINKINFO);
  msg.PutString(IFLA_INFO_KIND, "bridge");
  msg.EndNested(info);
  return Transact("create bridge " + name, msg);
}

Status Netlink::CreateVeth(const std::string& name, const std::string& peer, int mtu,
                           int peer_netns_fd) {
  if (!ValidLinkName(name)) return Invalid("invalid interface name \"" + name + "\"");
  if (!ValidLinkName(peer)) return Invalid("invalid interface name \"" + peer + "\"");
  auto ifi = LinkHeader();
  Message msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
  msg.PutString(IFLA_IFNAME, name);
  if (mtu > 0) msg.PutU32(IFLA_MTU, mtu);
  size_t info = msg.BeginNested(IFLA_LINKINFO);
  msg.PutString(IFLA_INFO_KIND, "veth");
  size_t data = msg.BeginNested(IFLA_INFO_DATA);
  size_t peer_attr = msg.BeginNested(VETH_INFO_PEER);
  auto peer_ifi = LinkHeader();
  msg.PutRaw(&peer_ifi, sizeof peer_ifi);
  msg.PutString(IFLA_IFNAME, peer);
  if (mtu > 0) msg.PutU32(IFLA_MTU, mtu);
  if (peer_netns_fd >= 0) msg.PutU32(IFLA_NET_NS_FD, peer_netns_fd);
  msg.EndNested(peer_attr);
  msg.EndNested(data);
  msg.EndNested(info);
  return Transact("create veth " + name + " (peer " + peer + ")", msg);
}

Status Netlink::DeleteLink(const std::string& name) {
  ASSIGN_OR_RETURN(int index, IndexOf(name));
  auto ifi = LinkHeader(index);
  Message msg(RTM_DELLINK, 0, &ifi, sizeof ifi);
  return Transact("delete link " + name, msg);
}

Status Netlink::SetLink(const std::string& op, const std::string& name, Message& msg) {
  return Transact(op + " " + name, msg);
}

Status Netlink::SetUp(const std::string& name) {
  ASSIGN_OR_RETURN(int index, IndexOf(name));
  auto ifi = LinkHeader(index);
  ifi.ifi_flags = IFF_UP;
  ifi.ifi_change = IFF_UP;
  Message msg(RTM_NEWLINK, 0, &ifi, sizeof ifi);
  return SetLink("set up", name, msg);
}

Status Netlink::SetDown(const std::string& name) {
  ASSIGN_OR_RETURN(int index, IndexOf(name));
  auto ifi = LinkHeader(index);
  ifi.ifi_change = IFF_UP;
  Message msg(RTM_NEWLINK, 0, &ifi, sizeof ifi);
  return SetLink("set down", name, msg);
}

Status Netlink::SetMtu(const std::string& name, int mtu) {
  ASSIGN_OR_RETURN(int index, IndexOf(name));
  auto ifi = LinkHeader(index);
  Message msg(RTM_NEWLINK, 0, &ifi, sizeof ifi);
  msg.PutU32(IFLA_MTU, mtu);
  return SetLink("set mtu " + std::to_string(mtu) + " on", name, msg);
}

Status Netlink::SetMaster(const std::string& name, const std::string& master) {
  ASSIGN_OR_RETURN(int index, IndexOf(name));
  int master_index = 0;
  if (!master.empty()) {
    ASSIGN_OR_RETURN(master_index, IndexOf(master));
  }
  auto ifi = LinkHeader(index);
  Message msg(RTM_NEWLINK, 0, &ifi, sizeof ifi);
  msg.PutU32(IFLA_MASTER, master_index);
  return SetLink("set master " + (master.empty() ? "none" : master) + " of", name, msg);
}

Status Netlink::SetNetns(const std::string& name, int netns_fd) {
  ASSIGN_OR_RETURN(int index, IndexOf(name));
  auto ifi = LinkHeader(index);
  Message msg(RTM_NEWLINK, 0, &ifi, sizeof ifi);
  msg.PutU32(IFLA_NET_NS_FD, netns_fd);
  return SetLink("move to network namespace", name, msg);
}

Status Netlink::Rename(const std::string& name, const std::string& new_name) {
  if (!ValidLinkName(new_name)) return Invalid("invalid interface name \"" + new_name + "\"");
  ASSIGN_OR_RETURN(int index, IndexOf(name));
  auto ifi = LinkHeader(index);
  Message msg(RTM_NEWLINK, 0, &ifi, sizeof ifi);
  msg.PutString(IFLA_IFNAME, new_name);
  return SetLink("rename to " + new_name + ":", name, msg);
}

Status Netlink::SetMac(const std::string& name, const std::string& mac) {
  unsigned char bytes[6];
  unsigned vals[6];
  char tail;
  if (std::sscanf(mac.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &vals[0], &vals[1], &vals[2], &vals[3],
                  &vals[4], &vals[5], &tail) != 6)
    return Invalid("invalid MAC address \"" + mac + "\"");
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(vals[i]);
  ASSIGN_OR_RETURN(int index, IndexOf(name));
  auto ifi = LinkHeader(index);
  Message msg(RTM_NEWLINK, 0, &ifi, sizeof ifi);
  msg.Put(IFLA_ADDRESS, bytes, sizeof bytes);
  return SetLink("set mac " + mac + " on", name, msg);
}

Status Netlink::SetHairpin(const std::string& name, bool on) {
  ASSIGN_OR_RETURN(int index, IndexOf(name));
  // Bridge-port flags are set through the bridge family with a nested IFLA_PROTINFO.
  auto ifi = LinkHeader(index, AF_BRIDGE);
  Message msg(RTM_SETLINK, 0, &ifi, sizeof ifi);
  size_t prot = msg.BeginNested(IFLA_PROTINFO | NLA_F_NESTED);
  msg.PutU8(IFLA_BRPORT_MODE, on ? 1 : 0);  // BR_HAIRPIN_MODE
  msg.EndNested(prot);
  return SetLink(std::string("set hairpin ") + (on ? "on" : "off") + " on", name, msg);
}

Result<std::vector<AddressInfo>> Netlink::ListAddresses(const std::string& name) {
  int index = 0;
  if (!name.empty()) {
    ASSIGN_OR_RETURN(index, IndexOf(name));
  }
  struct ifaddrmsg ifa {};
  ifa.ifa_family = AF_INET;
  Message msg(RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof ifa);
  std::vector<AddressInfo> out;
  RETURN_IF_ERROR(Query("list addresses", msg, [&](const struct nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWADDR) return;
    auto* m = static_cast<const struct ifaddrmsg*>(NLMSG_DATA(h));
    if (m->ifa_family != AF_INET) return;
    if (index != 0 && static_cast<int>(m->ifa_index) != index) return;
    AddressInfo info;
    info.index = static_cast<int>(m->ifa_index);
    info.prefix_len = m->ifa_prefixlen;
    bool have_local = false;
    ForEachAttr(IFA_RTA(m), IFA_PAYLOAD(h), [&](const struct rtattr* a) {
      if (a->rta_type == IFA_LOCAL || (a->rta_type == IFA_ADDRESS && !have_local)) {
        info.address = ntohl(AttrU32(a));
        if (a->rta_type == IFA_LOCAL) have_local = true;
      }
    });
    out.push_back(info);
  }));
  return out;
}

namespace {
struct ifaddrmsg AddrHeader(int index, int prefix_len) {
  struct ifaddrmsg ifa {};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = static_cast<unsigned char>(prefix_len);
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = static_cast<unsigned>(index);
  return ifa;
}
}  // namespace

Status Netlink::AddAddress(const std::string& name, uint32_t address, int prefix_len) {
  if (prefix_len < 0 || prefix_len > 32) return Invalid("bad prefix length");
  ASSIGN_OR_RETURN(int index, IndexOf(name));
  auto ifa = AddrHeader(index, prefix_len);
  Message msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof ifa);
  uint32_t be = htonl(address);
  msg.PutU32(IFA_LOCAL, be);
  msg.PutU32(IFA_ADDRESS, be);
  if (prefix_len < 31) {
    Ipv4Cidr net{address & Ipv4Cidr{0, prefix_len}.mask(), prefix_len};
    msg.PutU32(IFA_BROADCAST, htonl(net.broadcast()));
  }
  return Transact(
      "add address " + FormatIpv4(address) + "/" + std::to_string(prefix_len) + " to " + name, msg);
}

Status Netlink::DeleteAddress(const std::string& name, uint32_t address, int prefix_len) {
  ASSIGN_OR_RETURN(int index, IndexOf(name));
  auto ifa = AddrHeader(index, prefix_len);
  Message msg(RTM_DELADDR, 0, &ifa, sizeof ifa);
  uint32_t be = htonl(address);
  msg.PutU32(IFA_LOCAL, be);
  msg.PutU32(IFA_ADDRESS, be);
  return Transact(
      "delete address " + FormatIpv4(address) + "/" + std::to_string(prefix_len) + " from " + name,
      msg);
}

Result<std::vector<RouteInfo>> Netlink::ListRoutes() {
  struct rtmsg rtm {};
  rtm.rtm_family = AF_INET;
  Message msg(RTM_GETROUTE, NLM_F_DUMP, &rtm, sizeof rtm);
  std::vector<RouteInfo> out;
  RETURN_IF_ERROR(Query("list routes", msg, [&](const struct nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWROUTE) return;
    auto* m = static_cast<const struct rtmsg*>(NLMSG_DATA(h));
    if (m->rtm_family != AF_INET || m->rtm_type != RTN_UNICAST) return;
    uint32_t table = m->rtm_table;
    RouteInfo r;
    r.destination.prefix_len = m->rtm_dst_len;
    ForEachAttr(RTM_RTA(m), RTM_PAYLOAD(h), [&](const struct rtattr* a) {
      switch (a->rta_type) {
        case RTA_TABLE:
          table = AttrU32(a);
          break;
        case RTA_DST:
          r.destination.network = ntohl(AttrU32(a));
          break;
        case RTA_GATEWAY:
          r.gateway = ntohl(AttrU32(a));
          break;
        case RTA_OIF:
          r.oif = static_cast<int>(AttrU32(a));
          break;
      }
    });
    if (table == RT_TABLE_MAIN) out.push_back(r);
  }));
  return out;
}

namespace {
struct rtmsg RouteHeader(const Ipv4Cidr& dst, uint32_t gateway) {
  struct rtmsg rtm {};
  rtm.rtm_family = AF_INET;
  rtm.rtm_dst_len = static_cast<unsigned char>(dst.prefix_len);
  rtm.rtm_table = RT_TABLE_MAIN;
  rtm.rtm_protocol = RTPROT_BOOT;
  rtm.rtm_scope = gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  rtm.rtm_type = RTN_UNICAST;
  return rtm;
}
}  // namespace

Status Netlink::ReplaceRoute(const Ipv4Cidr& destination, uint32_t gateway,
                             const std::string& dev) {
  int index = 0;
  if (!dev.empty()) {
    ASSIGN_OR_RETURN(index, IndexOf(dev));
  }
  auto rtm = RouteHeader(destination, gateway);
  Message msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, &rtm, sizeof rtm);
  if (destination.prefix_len > 0) msg.PutU32(RTA_DST, htonl(destination.network));
  if (gateway) msg.PutU32(RTA_GATEWAY, htonl(gateway));
  if (index) msg.PutU32(RTA_OIF, index);
  return Transact("replace route " + destination.ToString() +
                      (gateway ? " via " + FormatIpv4(gateway) : "") +
                      (dev.empty() ? "" : " dev " + dev),
                  msg);
}

Status Netlink::DeleteRoute(const Ipv4Cidr& destination, uint32_t gateway, const std::string& dev) {
  int index = 0;
  if (!dev.empty()) {
    ASSIGN_OR_RETURN(index, IndexOf(dev));
  }
  auto rtm = RouteHeader(destination, gateway);
  rtm.rtm_scope = RT_SCOPE_NOWHERE;  // match any scope
  Message msg(RTM_DELROUTE, 0, &rtm, sizeof rtm);
  if (destination.prefix_len > 0) msg.PutU32(RTA_DST, htonl(destination.network));
  if (gateway) msg.PutU32(RTA_GATEWAY, htonl(gateway));
  if (index) msg.PutU32(RTA_OIF, index);
  return Transact("delete route " + destination.ToString() + (dev.empty() ? "" : " dev " + dev),
                  msg);
}

}  // namespace sampan::net
