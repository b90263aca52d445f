#include "streaming/spdy.h"

#include <cstring>

namespace sampan::streaming::spdy {

namespace {

constexpr uint16_t kVersion = 3;
constexpr size_t kMaxFrame = 16 << 20;

void Put32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

uint32_t Get32(const char* p) {
  auto u = reinterpret_cast<const uint8_t*>(p);
  return (uint32_t(u[0]) << 24) | (uint32_t(u[1]) << 16) | (uint32_t(u[2]) << 8) | u[3];
}

std::string BuildDictionary() {
  // The SPDY/3 draft's dictionary: length-prefixed header names and common values,
  // followed by one run of status codes, reason phrases, dates and media types.
  static const char* const kWords[] = {"options",
                                       "head",
                                       "post",
                                       "put",
                                       "delete",
                                       "trace",
                                       "accept",
                                       "accept-charset",
                                       "accept-encoding",
                                       "accept-language",
                                       "accept-ranges",
                                       "age",
                                       "allow",
                                       "authorization",
                                       "cache-control",
                                       "connection",
                                       "content-base",
                                       "content-encoding",
                                       "content-language",
                                       "content-length",
                                       "content-location",
                                       "content-md5",
                                       "content-range",
                                       "content-type",
                                       "date",
                                       "etag",
                                       "expect",
                                       "expires",
                                       "from",
                                       "host",
                                       "if-match",
                                       "if-modified-since",
                                       "if-none-match",
                                       "if-range",
                                       "if-unmodified-since",
                                       "last-modified",
                                       "location",
                                       "max-forwards",
                                       "pragma",
                                       "proxy-authenticate",
                                       "proxy-authorization",
                                       "range",
                                       "referer",
                                       "retry-after",
                                       "server",
                                       "te",
                                       "trailer",
                                       "transfer-encoding",
                                       "upgrade",
                                       "user-agent",
                                       "vary",
                                       "via",
                                       "warning",
                                       "www-authenticate",
                                       "method",
                                       "get",
                                       "status",
                                       "200 OK",
                                       "version",
                                       "HTTP/1.1",
                                       "url",
                                       "public",
                                       "set-cookie",
                                       "keep-alive",
                                       "origin"};
  std::string d;
  for (const char* w : kWords) {
    Put32(d, static_cast<uint32_t>(std::strlen(w)));
    d += w;
  }
  d += "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
       "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 "
       "Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 "
       "Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, "
       "Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
       "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
       "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
  return d;
}

}  // namespace

const std::string& Dictionary() {
  static const std::string* d = new std::string(BuildDictionary());
  return *d;
}

std::string_view HeaderValue(const Headers& h, std::string_view name) {
  for (const auto& [k, v] : h)
    if (k == name) return v;
  return {};
}

Codec::Codec() {
  deflateInit(&deflate_, Z_DEFAULT_COMPRESSION);
  const std::string& d = Dictionary();
  deflateSetDictionary(&deflate_, reinterpret_cast<const Bytef*>(d.data()),
                       static_cast<uInt>(d.size()));
  inflateInit(&inflate_);
}

Codec::~Codec() {
  deflateEnd(&deflate_);
  inflateEnd(&inflate_);
}

std::string Codec::CompressHeaders(const Headers& h) {
  std::string plain;
  Put32(plain, static_cast<uint32_t>(h.size()));
  for (const auto& [k, v] : h) {
    Put32(plain, static_cast<uint32_t>(k.size()));
    plain += k;
    Put32(plain, static_cast<uint32_t>(v.size()));
    plain += v;
  }
  std::string out;
  deflate_.next_in = reinterpret_cast<Bytef*>(plain.data());
  deflate_.avail_in = static_cast<uInt>(plain.size());
  char buf[4096];
  do {
    deflate_.next_out = reinterpret_cast<Bytef*>(buf);
    deflate_.avail_out = sizeof buf;
    deflate(&deflate_, Z_SYNC_FLUSH);
    out.append(buf, sizeof buf - deflate_.avail_out);
  } while (deflate_.avail_out == 0);
  return out;
}

Result<Headers> Codec::DecompressHeaders(std::string_view block) {
  std::string plain;
  inflate_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
  inflate_.avail_in = static_cast<uInt>(block.size());
  char buf[4096];
  for (;;) {
    inflate_.next_out = reinterpret_cast<Bytef*>(buf);
    inflate_.avail_out = sizeof buf;
    int rc = inflate(&inflate_, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      const std::string& d = Dictionary();
      if (inflateSetDictionary(&inflate_, reinterpret_cast<const Bytef*>(d.data()),
                               static_cast<uInt>(d.size())) != Z_OK)
        return BadRequest("spdy: header block uses an unknown dictionary");
      continue;
    }
    plain.append(buf, sizeof buf - inflate_.avail_out);
    if (rc == Z_BUF_ERROR && inflate_.avail_in == 0) break;  // all input used
    if (rc != Z_OK) return BadRequest("spdy: bad compressed header block");
    if (inflate_.avail_in == 0 && inflate_.avail_out != 0) break;
    if (plain.size() > (1 << 20)) return BadRequest("spdy: header block too large");
  }
  Headers h;
  size_t p = 0;
  auto need = [&](size_t n) { return p + n <= plain.size(); };
  if (!need(4)) return BadRequest("spdy: truncated header block");
  uint32_t count = Get32(plain.data());
  p = 4;
  for (uint32_t i = 0; i < count; ++i) {
    if (!need(4)) return BadRequest("spdy: truncated header block");
    uint32_t nl = Get32(plain.data() + p);
    p += 4;
    if (!need(nl + 4)) return BadRequest("spdy: truncated header block");
    std::string name = plain.substr(p, nl);
    p += nl;
    uint32_t vl = Get32(plain.data() + p);
    p += 4;
    if (!need(vl)) return BadRequest("spdy: truncated header block");
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    h.emplace_back(std::move(name), plain.substr(p, vl));
    p += vl;
  }
  return h;
}

Result<std::optional<Frame>> Codec::Next() {
  // Drop consumed bytes now and then (never while a frame's view into in_ is alive).
  if (pos_ > (1 << 16) && pos_ * 2 > in_.size()) {
    in_.erase(0, pos_);
    pos_ = 0;
  }
  size_t avail = in_.size() - pos_;
  if (avail < 8) {
    if (avail == 0) {
      in_.clear();
      pos_ = 0;
    }
    return std::optional<Frame>();
  }
  const char* p = in_.data() + pos_;
  uint32_t w0 = Get32(p), w1 = Get32(p + 4);
  uint32_t len = w1 & 0xffffff;
  if (len > kMaxFrame) return BadRequest("spdy: frame too large");
  if (avail < 8 + len) return std::optional<Frame>();
  std::string_view body(p + 8, len);
  pos_ += 8 + len;
  Frame f;
  f.flags = static_cast<uint8_t>(w1 >> 24);
  if (!(w0 & 0x80000000u)) {
    f.type = kData;
    f.stream_id = w0 & 0x7fffffff;
    f.data.assign(body);
    return std::optional<Frame>(std::move(f));
  }
  uint16_t version = (w0 >> 16) & 0x7fff;
  if (version != kVersion)
    return BadRequest("spdy: unsupported version " + std::to_string(version));
  f.type = static_cast<FrameType>(w0 & 0xffff);
  auto short_body = [&](size_t n) { return body.size() < n; };
  switch (f.type) {
    case kSynStream: {
      if (short_body(10)) return BadRequest("spdy: short SYN_STREAM");
      f.stream_id = Get32(body.data()) & 0x7fffffff;
      f.associated = Get32(body.data() + 4) & 0x7fffffff;
      f.priority = static_cast<uint8_t>(body[8]) >> 5;
      auto h = DecompressHeaders(body.substr(10));
      if (!h.ok()) return h.status();
      f.headers = std::move(*h);
      if (f.stream_id == 0) return BadRequest("spdy: SYN_STREAM with stream id 0");
      break;
    }
    case kSynReply:
    case kHeaders: {
      if (short_body(4)) return BadRequest("spdy: short SYN_REPLY/HEADERS");
      f.stream_id = Get32(body.data()) & 0x7fffffff;
      auto h = DecompressHeaders(body.substr(4));
      if (!h.ok()) return h.status();
      f.headers = std::move(*h);
      break;
    }
    case kRstStream:
    case kGoAway:
    case kWindowUpdate:
      if (short_body(8)) return BadRequest("spdy: short control frame");
      f.stream_id = Get32(body.data()) & 0x7fffffff;
      f.value = Get32(body.data() + 4) & (f.type == kWindowUpdate ? 0x7fffffff : 0xffffffff);
      break;
    case kPing:
      if (short_body(4)) return BadRequest("spdy: short PING");
      f.value = Get32(body.data());
      break;
    default:
      break;  // SETTINGS and unknown control frames: nothing we act on
  }
  return std::optional<Frame>(std::move(f));
}

std::string Codec::Control(FrameType type, uint8_t flags, std::string_view body) {
  std::string out;
  Put32(out, 0x80000000u | (uint32_t(kVersion) << 16) | type);
  Put32(out, (uint32_t(flags) << 24) | static_cast<uint32_t>(body.size()));
  out.append(body);
  return out;
}

std::string Codec::SynStream(uint32_t id, const Headers& h, bool fin) {
  std::string body;
  Put32(body, id);
  Put32(body, 0);
  body.push_back(0);  // priority 0
  body.push_back(0);  // slot
  body += CompressHeaders(h);
  return Control(kSynStream, fin ? kFlagFin : 0, body);
}

std::string Codec::SynReply(uint32_t id, const Headers& h, bool fin) {
  std::string body;
  Put32(body, id);
  body += CompressHeaders(h);
  return Control(kSynReply, fin ? kFlagFin : 0, body);
}

std::string Codec::HeadersFrame(uint32_t id, const Headers& h, bool fin) {
  std::string body;
  Put32(body, id);
  body += CompressHeaders(h);
  return Control(kHeaders, fin ? kFlagFin : 0, body);
}

std::string Codec::Data(uint32_t id, std::string_view data, bool fin) {
  std::string out;
  Put32(out, id & 0x7fffffff);
  Put32(out, (uint32_t(fin ? kFlagFin : 0) << 24) | static_cast<uint32_t>(data.size()));
  out.append(data);
  return out;
}

std::string Codec::RstStream(uint32_t id, uint32_t status) {
  std::string body;
  Put32(body, id);
  Put32(body, status);
  return Control(kRstStream, 0, body);
}

std::string Codec::Ping(uint32_t id) {
  std::string body;
  Put32(body, id);
  return Control(kPing, 0, body);
}

std::string Codec::GoAway(uint32_t last_good, uint32_t status) {
  std::string body;
  Put32(body, last_good);
  Put32(body, status);
  return Control(kGoAway, 0, body);
}

std::string Codec::WindowUpdate(uint32_t id, uint32_t delta) {
  std::string body;
  Put32(body, id);
  Put32(body, delta & 0x7fffffff);
  return Control(kWindowUpdate, 0, body);
}

std::string Codec::Settings(const std::vector<std::pair<uint32_t, uint32_t>>& id_values) {
  std::string body;
  Put32(body, static_cast<uint32_t>(id_values.size()));
  for (auto [id, v] : id_values) {
    Put32(body, id & 0xffffff);
    Put32(body, v);
  }
  return Control(kSettings, 0, body);
}

}  // namespace sampan::streaming::spdy
