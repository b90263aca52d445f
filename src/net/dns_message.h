// DNS messages (RFC 1035) as the cluster DNS needs them: a query's header and question in,
// an answer with A, AAAA-less NODATA, CNAME, SRV, PTR, TXT and SOA records out. Names are
// compared and answered case-insensitively in lower case.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sampan::net::dns {

enum Type : uint16_t {
  kA = 1,
  kNs = 2,
  kCname = 5,
  kSoa = 6,
  kPtr = 12,
  kTxt = 16,
  kAaaa = 28,
  kSrv = 33,
  kOpt = 41,
  kAny = 255,
};

enum Rcode : uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
};

struct Question {
  std::string name;  // lower case, no trailing dot ("web.default.svc.cluster.local")
  uint16_t type = 0;
  uint16_t klass = 1;
};

struct Query {
  uint16_t id = 0;
  uint16_t flags = 0;  // as received (opcode, RD)
  Question question;
  uint16_t edns_size = 0;  // the client's UDP payload size from an OPT record; 0: none
};

// Parses a query with exactly one question. nullopt for anything else (the server answers
// FORMERR when at least the header could be read, see ParseId).
std::optional<Query> ParseQuery(std::string_view packet);
// The id of a packet of at least 12 bytes.
std::optional<uint16_t> ParseId(std::string_view packet);

struct Record {
  std::string name;
  uint16_t type = 0;
  uint32_t ttl = 5;
  // Exactly one of these is used, by type: A (ipv4, host order), CNAME/PTR (target),
  // SRV (priority, weight, port, target), TXT (text), SOA (target = mname, text = rname,
  // serial/refresh/... fixed).
  uint32_t ipv4 = 0;
  std::string target;
  uint16_t priority = 0, weight = 0, port = 0;
  std::string text;
};

struct Answer {
  Rcode rcode = kNoError;
  bool authoritative = true;
  std::vector<Record> answers;
  std::vector<Record> authority;  // the zone's SOA for NXDOMAIN and NODATA
  std::vector<Record> additional;
};

// The response to `q`; when it would exceed `max_size` (512 over UDP without EDNS), records
// are left out and TC is set so the client retries over TCP.
std::string BuildResponse(const Query& q, const Answer& a, size_t max_size);
// A response carrying only `rcode` (FORMERR, SERVFAIL, REFUSED, NOTIMP), for a packet whose
// question may not be readable.
std::string BuildError(uint16_t id, uint16_t query_flags, Rcode rcode);

}  // namespace sampan::net::dns
