#include "net/ipv4.h"

#include <charconv>

namespace sampan::net {

Result<uint32_t> ParseIpv4(std::string_view text) {
  auto bad = [&] { return Invalid("invalid IPv4 address \"" + std::string(text) + "\""); };
  uint32_t addr = 0;
  size_t pos = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (pos >= text.size() || text[pos] != '.') return bad();
      ++pos;
    }
    size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    size_t len = pos - start;
    if (len == 0 || len > 3 || (len > 1 && text[start] == '0')) return bad();
    unsigned v = 0;
    std::from_chars(text.data() + start, text.data() + pos, v);
    if (v > 255) return bad();
    addr = (addr << 8) | v;
  }
  if (pos != text.size()) return bad();
  return addr;
}

std::string FormatIpv4(uint32_t addr) {
  return std::to_string(addr >> 24) + "." + std::to_string((addr >> 16) & 0xff) + "." +
         std::to_string((addr >> 8) & 0xff) + "." + std::to_string(addr & 0xff);
}

std::string Ipv4Cidr::ToString() const {
  return FormatIpv4(network) + "/" + std::to_string(prefix_len);
}

Result<Ipv4Cidr> ParseCidr(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Invalid("invalid CIDR \"" + std::string(text) + "\": " + std::string(why));
  };
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return bad("expected address/prefix-length");
  auto addr = ParseIpv4(text.substr(0, slash));
  if (!addr.ok()) return bad("bad address");
  std::string_view len_text = text.substr(slash + 1);
  int len = -1;
  auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (len_text.empty() || ec != std::errc() || end != len_text.data() + len_text.size() ||
      len < 0 || len > 32 || (len_text.size() > 1 && len_text[0] == '0'))
    return bad("prefix length must be 0-32");
  Ipv4Cidr cidr{*addr, len};
  if ((*addr & cidr.mask()) != *addr)
    return bad("host bits are set (the range is " + Ipv4Cidr{*addr & cidr.mask(), len}.ToString() +
               ")");
  return cidr;
}

}  // namespace sampan::net
