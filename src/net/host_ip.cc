#include "net/host_ip.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

namespace sampan::net {

std::string FirstHostIpv4(std::string_view skip_bridge) {
  struct ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "";
  std::string out;
  for (auto* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
    if ((a->ifa_flags & IFF_UP) == 0 || (a->ifa_flags & IFF_LOOPBACK)) continue;
    std::string_view name = a->ifa_name;
    if ((!skip_bridge.empty() && name == skip_bridge) || name.starts_with("veth")) continue;
    char buf[INET_ADDRSTRLEN];
    auto* sin = reinterpret_cast<struct sockaddr_in*>(a->ifa_addr);
    if (::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf)) {
      out = buf;
      break;
    }
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace sampan::net
