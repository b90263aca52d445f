// The machine's own IPv4 address, as other machines (and pods) would reach it.
#pragma once

#include <string>
#include <string_view>

namespace sampan::net {

// The first IPv4 address of an interface that is up and not loopback, skipping the pod
// bridge `skip_bridge` and veth pairs; "" when there is none.
std::string FirstHostIpv4(std::string_view skip_bridge = "");

}  // namespace sampan::net
