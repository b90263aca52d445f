#include "net/dns_message.h"

#include <cctype>

namespace sampan::net::dns {
namespace {

uint16_t Get16(std::string_view p, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(p[at]) << 8) |
                               static_cast<uint8_t>(p[at + 1]));
}

void Put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

void Put32(std::string& out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v >> 16));
  Put16(out, static_cast<uint16_t>(v & 0xffff));
}

// Reads a (possibly compressed) name at *at; advances *at past it in the packet.
std::optional<std::string> ReadName(std::string_view p, size_t* at) {
  std::string name;
  size_t pos = *at;
  bool jumped = false;
  int hops = 0;
  for (;;) {
    if (pos >= p.size()) return std::nullopt;
    uint8_t len = static_cast<uint8_t>(p[pos]);
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= p.size() || ++hops > 16) return std::nullopt;
      size_t target = ((len & 0x3f) << 8) | static_cast<uint8_t>(p[pos + 1]);
      if (!jumped) *at = pos + 2;
      jumped = true;
      pos = target;
      continue;
    }
    if (len & 0xc0) return std::nullopt;  // extended label types are not supported
    ++pos;
    if (len == 0) break;
    if (pos + len > p.size()) return std::nullopt;
    if (!name.empty()) name.push_back('.');
    for (size_t i = 0; i < len; ++i) {
      name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(p[pos + i]))));
    }
    pos += len;
    if (name.size() > 253) return std::nullopt;
  }
  if (!jumped) *at = pos;
  return name;
}

// Writes `name` uncompressed ("" is the root).
void PutName(std::string& out, std::string_view name) {
  while (!name.empty()) {
    size_t dot = name.find('.');
    std::string_view label = name.substr(0, dot);
    out.push_back(static_cast<char>(label.size()));
    out.append(label);
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  out.push_back('\0');
}

void PutRecord(std::string& out, const Record& r) {
  PutName(out, r.name);
  Put16(out, r.type);
  Put16(out, 1);  // IN
  Put32(out, r.ttl);
  std::string data;
  switch (r.type) {
    case kA:
      Put32(data, r.ipv4);
      break;
    case kCname:
    case kPtr:
    case kNs:
      PutName(data, r.target);
      break;
    case kSrv:
      Put16(data, r.priority);
      Put16(data, r.weight);
      Put16(data, r.port);
      PutName(data, r.target);
      break;
    case kTxt:
      for (size_t i = 0; i < r.text.size() || i == 0; i += 255) {
        std::string_view chunk = std::string_view(r.text).substr(i, 255);
        data.push_back(static_cast<char>(chunk.size()));
        data.append(chunk);
      }
      break;
    case kSoa:
      PutName(data, r.target);
      PutName(data, r.text);
      Put32(data, 1);      // serial
      Put32(data, 7200);   // refresh
      Put32(data, 1800);   // retry
      Put32(data, 86400);  // expire
      Put32(data, r.ttl);  // minimum: the negative-caching TTL
      break;
    default:
      break;
  }
  Put16(out, static_cast<uint16_t>(data.size()));
  out.append(data);
}

std::string Header(uint16_t id, uint16_t query_flags, Rcode rcode, bool aa, bool tc) {
  std::string out;
  Put16(out, id);
  // QR, the query's opcode and RD; AA, TC; RA (we answer recursive queries by forwarding).
  uint16_t flags = 0x8000 | (query_flags & 0x7800) | (query_flags & 0x0100) | 0x0080;
  if (aa) flags |= 0x0400;
  if (tc) flags |= 0x0200;
  flags |= rcode & 0xf;
  Put16(out, flags);
  return out;
}

}  // namespace

std::optional<uint16_t> ParseId(std::string_view packet) {
  if (packet.size() < 12) return std::nullopt;
  return Get16(packet, 0);
}

std::optional<Query> ParseQuery(std::string_view p) {
  if (p.size() < 12) return std::nullopt;
  Query q;
  q.id = Get16(p, 0);
  q.flags = Get16(p, 2);
  if (q.flags & 0x8000) return std::nullopt;  // a response, not a query
  const uint16_t qd = Get16(p, 4), an = Get16(p, 6), ns = Get16(p, 8), ar = Get16(p, 10);
  if (qd != 1 || an != 0 || ns != 0) return std::nullopt;
  size_t at = 12;
  auto name = ReadName(p, &at);
  if (!name || at + 4 > p.size()) return std::nullopt;
  q.question.name = *name;
  q.question.type = Get16(p, at);
  q.question.klass = Get16(p, at + 2);
  at += 4;
  // An OPT record in the additional section tells the client's UDP payload size.
  for (uint16_t i = 0; i < ar; ++i) {
    auto rname = ReadName(p, &at);
    if (!rname || at + 10 > p.size()) return std::nullopt;
    uint16_t type = Get16(p, at), klass = Get16(p, at + 2), len = Get16(p, at + 8);
    if (type == kOpt) q.edns_size = klass;
    at += 10 + len;
    if (at > p.size()) return std::nullopt;
  }
  return q;
}

std::string BuildResponse(const Query& q, const Answer& a, size_t max_size) {
  std::string question;
  PutName(question, q.question.name);
  Put16(question, q.question.type);
  Put16(question, q.question.klass);
  auto assemble = [&](size_t an, size_t ns, size_t ar, bool tc) {
    std::string out = Header(q.id, q.flags, a.rcode, a.authoritative, tc);
    Put16(out, 1);
    Put16(out, static_cast<uint16_t>(an));
    Put16(out, static_cast<uint16_t>(ns));
    Put16(out, static_cast<uint16_t>(ar));
    out += question;
    for (size_t i = 0; i < an; ++i) PutRecord(out, a.answers[i]);
    for (size_t i = 0; i < ns; ++i) PutRecord(out, a.authority[i]);
    for (size_t i = 0; i < ar; ++i) PutRecord(out, a.additional[i]);
    return out;
  };
  std::string full = assemble(a.answers.size(), a.authority.size(), a.additional.size(), false);
  if (full.size() <= max_size) return full;
  // Without the additional records first; then as many answers as fit, truncated.
  std::string no_extra = assemble(a.answers.size(), a.authority.size(), 0, false);
  if (no_extra.size() <= max_size) return no_extra;
  for (size_t n = a.answers.size(); n-- > 0;) {
    std::string part = assemble(n, 0, 0, true);
    if (part.size() <= max_size) return part;
  }
  return assemble(0, 0, 0, true);
}

std::string BuildError(uint16_t id, uint16_t query_flags, Rcode rcode) {
  std::string out = Header(id, query_flags, rcode, false, false);
  for (int i = 0; i < 4; ++i) Put16(out, 0);
  return out;
}

}  // namespace sampan::net::dns
