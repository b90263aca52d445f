#include "agent/cluster_dns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "agent/object_view.h"
#include "util/log.h"
#include "util/thread_name.h"

namespace sampan::agent {

namespace json = boost::json;
namespace dns = net::dns;

namespace {

using view::Arr;
using view::Int;
using view::LabelOf;
using view::Meta;
using view::Obj;
using view::ProtocolOf;
using view::Str;

constexpr uint32_t kTtl = 5;

std::vector<std::string> Split(std::string_view name) {
  std::vector<std::string> out;
  while (!name.empty()) {
    size_t dot = name.find('.');
    out.emplace_back(name.substr(0, dot));
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Dashed(uint32_t ip) {
  std::string s = net::FormatIpv4(ip);
  std::replace(s.begin(), s.end(), '.', '-');
  return s;
}

struct Endpoint {
  uint32_t ip = 0;
  std::string hostname;                            // the endpoint's, else the dashed IP
  std::vector<std::pair<std::string, int>> ports;  // (name, port) of "proto/name" keys
  std::vector<std::string> port_protocols;
};

// The ready endpoints of a headless Service, from its slices.
std::vector<Endpoint> ReadyEndpoints(const DnsData& d, std::string_view ns, std::string_view svc) {
  std::vector<Endpoint> out;
  std::set<uint32_t> seen;
  for (const client::ObjectPtr& s : d.slices) {
    if (Meta(*s, "namespace") != ns || LabelOf(*s, "kubernetes.io/service-name") != svc) continue;
    if (Str(*s, "addressType") != "IPv4") continue;
    std::vector<std::pair<std::string, int>> ports;
    std::vector<std::string> protocols;
    if (const json::array* ps = Arr(*s, "ports")) {
      for (const json::value& p : *ps) {
        if (!p.is_object()) continue;
        const json::value* n = p.as_object().if_contains("port");
        std::string_view proto = Str(p.as_object(), "protocol");
        ports.emplace_back(std::string(Str(p.as_object(), "name")),
                           n && n->is_int64() ? static_cast<int>(n->as_int64()) : 0);
        protocols.push_back(Lower(proto.empty() ? "TCP" : proto));
      }
    }
    const json::array* eps = Arr(*s, "endpoints");
    if (!eps) continue;
    for (const json::value& ev : *eps) {
      if (!ev.is_object()) continue;
      const json::object& e = ev.as_object();
      if (!view::EndpointReady(e)) continue;
      const json::array* addrs = Arr(e, "addresses");
      if (!addrs || addrs->empty() || !(*addrs)[0].is_string()) continue;
      auto ip = net::ParseIpv4((*addrs)[0].as_string());
      if (!ip.ok() || !seen.insert(*ip).second) continue;
      Endpoint ep;
      ep.ip = *ip;
      ep.hostname = Lower(Str(e, "hostname"));
      if (ep.hostname.empty()) ep.hostname = Dashed(*ip);
      ep.ports = ports;
      ep.port_protocols = protocols;
      out.push_back(std::move(ep));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Endpoint& a, const Endpoint& b) { return a.ip < b.ip; });
  return out;
}

const json::object* FindService(const DnsData& d, std::string_view ns, std::string_view name) {
  for (const client::ObjectPtr& s : d.services) {
    if (Meta(*s, "namespace") == ns && Meta(*s, "name") == name) return s.get();
  }
  return nullptr;
}

dns::Record A(std::string name, uint32_t ip) {
  dns::Record r;
  r.name = std::move(name);
  r.type = dns::kA;
  r.ttl = kTtl;
  r.ipv4 = ip;
  return r;
}

}  // namespace

dns::Answer ResolveCluster(const dns::Question& q, const DnsData& data, const std::string& zone,
                           const std::vector<net::Ipv4Cidr>& owned, bool* forward) {
  *forward = false;
  dns::Answer a;
  const std::string& name = q.name;
  auto soa = [&] {
    dns::Record r;
    r.name = zone;
    r.type = dns::kSoa;
    r.ttl = kTtl;
    r.target = "ns.dns." + zone;
    r.text = "hostmaster." + zone;
    return r;
  };
  auto nxdomain = [&] {
    a.rcode = dns::kNxDomain;
    a.authority = {soa()};
    return a;
  };
  auto nodata = [&] {
    a.authority = {soa()};
    return a;
  };
  const bool want_a = q.type == dns::kA || q.type == dns::kAny;

  // Reverse names of the ranges this cluster owns.
  constexpr std::string_view kArpa = ".in-addr.arpa";
  if (name.size() > kArpa.size() && name.ends_with(kArpa)) {
    std::vector<std::string> parts = Split(name.substr(0, name.size() - kArpa.size()));
    std::optional<uint32_t> ip;
    if (parts.size() == 4) {
      auto parsed = net::ParseIpv4(parts[3] + "." + parts[2] + "." + parts[1] + "." + parts[0]);
      if (parsed.ok()) ip = *parsed;
    }
    bool ours = ip && std::any_of(owned.begin(), owned.end(),
                                  [&](const net::Ipv4Cidr& c) { return c.Contains(*ip); });
    if (!ours) {
      *forward = true;
      return a;
    }
    std::string target;
    for (const client::ObjectPtr& s : data.services) {
      const json::object* spec = Obj(*s, "spec");
      if (!spec) continue;
      auto cip = net::ParseIpv4(Str(*spec, "clusterIP"));
      const std::string fqdn =
          std::string(Meta(*s, "name")) + "." + std::string(Meta(*s, "namespace")) + ".svc." + zone;
      if (cip.ok() && *cip == *ip) {
        target = fqdn;
        break;
      }
      if (Str(*spec, "clusterIP") == "None") {
        for (const Endpoint& e : ReadyEndpoints(data, Meta(*s, "namespace"), Meta(*s, "name"))) {
          if (e.ip == *ip) target = e.hostname + "." + fqdn;
        }
        if (!target.empty()) break;
      }
    }
    if (target.empty()) return nxdomain();
    if (q.type != dns::kPtr && q.type != dns::kAny) return nodata();
    dns::Record r;
    r.name = name;
    r.type = dns::kPtr;
    r.ttl = kTtl;
    r.target = target;
    a.answers.push_back(std::move(r));
    return a;
  }

  if (name != zone && !name.ends_with("." + zone)) {
    *forward = true;
    return a;
  }
  std::vector<std::string> labels = name == zone
                                        ? std::vector<std::string>{}
                                        : Split(name.substr(0, name.size() - zone.size() - 1));
  if (labels.empty()) {
    if (q.type == dns::kSoa || q.type == dns::kAny) {
      a.answers.push_back(soa());
      return a;
    }
    return nodata();
  }
  if (labels.size() == 1 && labels[0] == "dns-version") {
    if (q.type != dns::kTxt && q.type != dns::kAny) return nodata();
    dns::Record r;
    r.name = name;
    r.type = dns::kTxt;
    r.ttl = kTtl;
    r.text = "1.1.0";
    a.answers.push_back(std::move(r));
    return a;
  }
  const std::string& kind = labels.back();
  if (kind == "pod") {
    if (labels.size() == 1) return nodata();
    if (labels.size() != 3) return nxdomain();
    std::string dotted = labels[0];
    std::replace(dotted.begin(), dotted.end(), '-', '.');
    auto ip = net::ParseIpv4(dotted);
    if (!ip.ok()) return nxdomain();
    if (!want_a) return nodata();
    a.answers.push_back(A(name, *ip));
    return a;
  }
  if (kind != "svc") return nxdomain();
  if (labels.size() == 1) return nodata();
  const std::string& ns = labels[labels.size() - 2];
  if (labels.size() == 2) {
    for (const client::ObjectPtr& s : data.services) {
      if (Meta(*s, "namespace") == ns) return nodata();
    }
    return nxdomain();
  }
  const std::string& svc_name = labels[labels.size() - 3];
  const json::object* svc = FindService(data, ns, svc_name);
  if (!svc) return nxdomain();
  const json::object* spec = Obj(*svc, "spec");
  if (!spec) return nxdomain();
  const std::string fqdn = svc_name + "." + ns + ".svc." + zone;
  const bool headless = Str(*spec, "clusterIP") == "None";
  const bool external = Str(*spec, "type") == "ExternalName";

  if (labels.size() == 3) {  // <svc>.<ns>.svc.<zone>
    if (external) {
      dns::Record r;
      r.name = name;
      r.type = dns::kCname;
      r.ttl = kTtl;
      std::string target = Lower(Str(*spec, "externalName"));
      if (target.ends_with(".")) target.pop_back();
      r.target = target;
      a.answers.push_back(std::move(r));
      return a;
    }
    if (headless) {
      std::vector<Endpoint> eps = ReadyEndpoints(data, ns, svc_name);
      if (eps.empty()) return nxdomain();
      if (!want_a) return nodata();
      for (const Endpoint& e : eps) a.answers.push_back(A(name, e.ip));
      return a;
    }
    auto ip = net::ParseIpv4(Str(*spec, "clusterIP"));
    if (!ip.ok()) return nxdomain();
    if (!want_a) return nodata();
    a.answers.push_back(A(name, *ip));
    return a;
  }
  if (labels.size() == 4) {  // <host>.<svc>.<ns>.svc.<zone> of a headless Service
    if (!headless) return nxdomain();
    for (const Endpoint& e : ReadyEndpoints(data, ns, svc_name)) {
      if (e.hostname != labels[0]) continue;
      if (!want_a) return nodata();
      a.answers.push_back(A(name, e.ip));
      return a;
    }
    return nxdomain();
  }
  if (labels.size() == 5 && labels[0].starts_with("_") && labels[1].starts_with("_")) {
    const std::string port_name = labels[0].substr(1), proto = labels[1].substr(1);
    if (external) return nxdomain();
    std::vector<dns::Record> srv;
    auto add = [&](const std::string& target, int port, uint32_t ip, uint16_t weight) {
      dns::Record r;
      r.name = name;
      r.type = dns::kSrv;
      r.ttl = kTtl;
      r.priority = 0;
      r.weight = weight;
      r.port = static_cast<uint16_t>(port);
      r.target = target;
      srv.push_back(std::move(r));
      a.additional.push_back(A(target, ip));
    };
    if (headless) {
      std::vector<Endpoint> eps = ReadyEndpoints(data, ns, svc_name);
      for (const Endpoint& e : eps) {
        for (size_t i = 0; i < e.ports.size(); ++i) {
          if (e.ports[i].first == port_name && e.port_protocols[i] == proto && e.ports[i].second) {
            add(e.hostname + "." + fqdn, e.ports[i].second, e.ip,
                static_cast<uint16_t>(100 / std::max<size_t>(1, eps.size())));
          }
        }
      }
    } else if (auto ip = net::ParseIpv4(Str(*spec, "clusterIP")); ip.ok()) {
      if (const json::array* ports = Arr(*spec, "ports")) {
        for (const json::value& pv : *ports) {
          if (!pv.is_object()) continue;
          const json::object& p = pv.as_object();
          std::string_view pproto = Str(p, "protocol");
          const json::value* num = p.if_contains("port");
          if (Str(p, "name") == port_name && Lower(pproto.empty() ? "TCP" : pproto) == proto &&
              num && num->is_int64()) {
            add(fqdn, static_cast<int>(num->as_int64()), *ip, 100);
          }
        }
      }
    }
    if (srv.empty()) return nxdomain();
    if (q.type != dns::kSrv && q.type != dns::kAny) {
      a.additional.clear();
      return nodata();
    }
    a.answers = std::move(srv);
    return a;
  }
  return nxdomain();
}

// ---- the server ------------------------------------------------------------------------------

ClusterDns::ClusterDns(ClusterDnsOptions options,
                       std::function<std::shared_ptr<const DnsData>()> data)
    : opts_(std::move(options)), data_(std::move(data)) {}

ClusterDns::~ClusterDns() { Stop(); }

Status ClusterDns::Start() {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(opts_.port));
  addr.sin_addr.s_addr = htonl(opts_.listen_ip);
  const std::string where = net::FormatIpv4(opts_.listen_ip) + ":" + std::to_string(opts_.port);
  udp_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  tcp_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (udp_ < 0 || tcp_ < 0) return ErrnoStatus("cluster DNS socket", errno);
  int one = 1;
  ::setsockopt(tcp_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(udp_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return ErrnoStatus("cluster DNS: bind udp " + where, errno);
  }
  if (::bind(tcp_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(tcp_, 64) != 0) {
    return ErrnoStatus("cluster DNS: bind tcp " + where, errno);
  }
  if (::pipe2(wake_, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  threads_.emplace_back([this] {
    util::NameThisThread("dns-udp");
    UdpLoop();
  });
  threads_.emplace_back([this] {
    util::NameThisThread("dns-tcp");
    TcpLoop();
  });
  if (!opts_.upstreams.empty()) {
    for (int i = 0; i < 2; ++i) {
      threads_.emplace_back([this] {
        util::NameThisThread("dns-forward");
        ForwardLoop();
      });
    }
  }
  LOG(INFO) << "cluster DNS for " << opts_.zone << " on " << where;
  return Status::Ok();
}

void ClusterDns::Stop() {
  if (stopping_.exchange(true)) return;
  if (wake_[1] >= 0) (void)!::write(wake_[1], "x", 1);
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  for (int* fd : {&udp_, &tcp_, &wake_[0], &wake_[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

std::string ClusterDns::Answer(std::string_view packet, bool tcp) {
  auto q = dns::ParseQuery(packet);
  if (!q) {
    auto id = dns::ParseId(packet);
    if (!id || (packet.size() > 2 && (static_cast<uint8_t>(packet[2]) & 0x80))) return "";
    return dns::BuildError(*id, 0, dns::kFormErr);
  }
  if (((q->flags >> 11) & 0xf) != 0) return dns::BuildError(q->id, q->flags, dns::kNotImp);
  const size_t max = tcp ? 65535 : std::clamp<size_t>(q->edns_size, 512, 4096);
  if (q->question.klass != 1) {
    dns::Answer refused;
    refused.rcode = dns::kRefused;
    refused.authoritative = false;
    return dns::BuildResponse(*q, refused, max);
  }
  bool forward = false;
  dns::Answer a = ResolveCluster(q->question, *data_(), opts_.zone, opts_.reverse_zones, &forward);
  if (forward) {
    if (!opts_.upstreams.empty()) return "";  // the caller forwards the packet
    dns::Answer refused;
    refused.rcode = dns::kRefused;
    refused.authoritative = false;
    return dns::BuildResponse(*q, refused, max);
  }
  return dns::BuildResponse(*q, a, max);
}

void ClusterDns::UdpLoop() {
  char buf[4096];
  while (!stopping_) {
    pollfd fds[2] = {{udp_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n = ::recvfrom(udp_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0) continue;
    std::string_view packet(buf, static_cast<size_t>(n));
    std::string reply = Answer(packet, false);
    if (!reply.empty()) {
      ::sendto(udp_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
      continue;
    }
    if (opts_.upstreams.empty()) continue;
    std::lock_guard<std::mutex> l(mu_);
    if (forward_queue_.size() < 1024) {
      forward_queue_.emplace_back(std::string(reinterpret_cast<char*>(&from), len),
                                  std::string(packet));
      cv_.notify_one();
    }
  }
}

void ClusterDns::ForwardLoop() {
  for (;;) {
    std::pair<std::string, std::string> item;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stopping_ || !forward_queue_.empty(); });
      if (stopping_) return;
      item = std::move(forward_queue_.front());
      forward_queue_.pop_front();
    }
    std::string reply = Forward(item.second, false);
    if (reply.empty()) continue;
    ::sendto(udp_, reply.data(), reply.size(), 0,
             reinterpret_cast<const sockaddr*>(item.first.data()),
             static_cast<socklen_t>(item.first.size()));
  }
}

namespace {

bool WaitFd(int fd, short events, int ms) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, ms) == 1 && (p.revents & events);
}

bool ReadFull(int fd, char* out, size_t n, int ms) {
  size_t got = 0;
  while (got < n) {
    if (!WaitFd(fd, POLLIN, ms)) return false;
    ssize_t r = ::read(fd, out + got, n - got);
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

bool WriteFull(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t w = ::write(fd, data.data() + off, data.size() - off);
    if (w <= 0) return false;
    off += static_cast<size_t>(w);
  }
  return true;
}

std::string Framed(const std::string& msg) {
  std::string out;
  out.push_back(static_cast<char>(msg.size() >> 8));
  out.push_back(static_cast<char>(msg.size() & 0xff));
  return out + msg;
}

}  // namespace

std::string ClusterDns::Forward(std::string_view packet, bool tcp) {
  auto id = dns::ParseId(packet);
  if (!id) return "";
  for (const std::string& up : opts_.upstreams) {
    std::string host = up;
    int port = 53;
    if (auto colon = up.find(':'); colon != std::string::npos) {
      host = up.substr(0, colon);
      port = std::atoi(up.c_str() + colon + 1);
    }
    auto ip = net::ParseIpv4(host);
    if (!ip.ok()) continue;
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    to.sin_addr.s_addr = htonl(*ip);
    int fd = ::socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    std::string reply;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) {
      if (tcp) {
        char len[2];
        if (WriteFull(fd, Framed(std::string(packet))) && ReadFull(fd, len, 2, 2000)) {
          size_t n = (static_cast<uint8_t>(len[0]) << 8) | static_cast<uint8_t>(len[1]);
          reply.resize(n);
          if (!ReadFull(fd, reply.data(), n, 2000)) reply.clear();
        }
      } else if (::send(fd, packet.data(), packet.size(), 0) ==
                     static_cast<ssize_t>(packet.size()) &&
                 WaitFd(fd, POLLIN, 2000)) {
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) reply.assign(buf, static_cast<size_t>(n));
      }
    }
    ::close(fd);
    if (dns::ParseId(reply) == id) return reply;
  }
  auto q = dns::ParseQuery(packet);
  if (!q) return dns::BuildError(*id, 0, dns::kServFail);
  dns::Answer fail;
  fail.rcode = dns::kServFail;
  fail.authoritative = false;
  return dns::BuildResponse(*q, fail, tcp ? 65535 : 512);
}

void ClusterDns::TcpLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{tcp_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    int c = ::accept4(tcp_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    // One connection at a time: TCP is the fallback for truncated answers, rare and short.
    for (;;) {
      char len[2];
      if (!ReadFull(c, len, 2, 5000)) break;
      size_t n = (static_cast<uint8_t>(len[0]) << 8) | static_cast<uint8_t>(len[1]);
      std::string msg(n, '\0');
      if (!ReadFull(c, msg.data(), n, 5000)) break;
      std::string reply = Answer(msg, true);
      if (reply.empty()) reply = Forward(msg, true);
      if (reply.empty() || !WriteFull(c, Framed(reply))) break;
    }
    ::close(c);
  }
}

}  // namespace sampan::agent
