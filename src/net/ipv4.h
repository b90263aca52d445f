// IPv4 addresses and CIDR ranges as plain numbers (host byte order), with strict parsing.
// Shared by the pod network (node side) and the node IPAM controller (cluster side).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace sampan::net {

// "10.244.1.7" → 0x0AF40107. Invalid for anything else (no leading zeros, no spaces).
Result<uint32_t> ParseIpv4(std::string_view text);
std::string FormatIpv4(uint32_t addr);

// A range such as 10.244.1.0/24.
struct Ipv4Cidr {
  uint32_t network = 0;  // host bits are zero
  int prefix_len = 0;    // 0..32

  uint32_t mask() const { return prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len); }
  uint32_t broadcast() const { return network | ~mask(); }
  // Number of addresses in the range (2^(32-prefix_len)).
  uint64_t size() const { return uint64_t{1} << (32 - prefix_len); }
  bool Contains(uint32_t addr) const { return (addr & mask()) == network; }
  // True when `other` lies wholly inside this range.
  bool Contains(const Ipv4Cidr& other) const {
    return other.prefix_len >= prefix_len && Contains(other.network);
  }
  bool Overlaps(const Ipv4Cidr& other) const { return Contains(other) || other.Contains(*this); }
  std::string ToString() const;  // "10.244.1.0/24"
  bool operator==(const Ipv4Cidr&) const = default;
};

// Parses "a.b.c.d/n". Invalid when malformed or when host bits are set ("10.244.1.5/24"):
// a range is named by its network address.
Result<Ipv4Cidr> ParseCidr(std::string_view text);

}  // namespace sampan::net
