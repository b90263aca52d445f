#include "streaming/websocket.h"

#include <openssl/sha.h>

#include "util/base64.h"

namespace sampan::streaming::ws {

namespace {
// The GUID RFC 6455 §1.3 appends to the client's key.
constexpr std::string_view kHandshakeGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
}  // namespace

std::string AcceptKey(std::string_view client_key) {
  std::string in(client_key);
  in += kHandshakeGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string EncodeFrame(Opcode op, std::string_view payload, bool fin,
                        std::optional<uint32_t> mask) {
  std::string out;
  out.reserve(payload.size() + 14);
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | op));
  uint8_t mask_bit = mask ? 0x80 : 0;
  size_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(mask_bit | n));
  } else if (n <= 0xffff) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((uint64_t(n) >> (8 * i)) & 0xff));
  }
  if (!mask) {
    out.append(payload);
    return out;
  }
  uint8_t key[4] = {uint8_t(*mask >> 24), uint8_t(*mask >> 16), uint8_t(*mask >> 8),
                    uint8_t(*mask)};
  out.append(reinterpret_cast<const char*>(key), 4);
  size_t start = out.size();
  out.append(payload);
  for (size_t i = 0; i < n; ++i) out[start + i] = static_cast<char>(out[start + i] ^ key[i % 4]);
  return out;
}

std::string EncodeClose(uint16_t code, std::string_view reason, std::optional<uint32_t> mask) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xff));
  p.append(reason.substr(0, 123));
  return EncodeFrame(kClose, p, true, mask);
}

Result<std::optional<Message>> Parser::Next() {
  for (;;) {
    size_t avail = buf_.size() - pos_;
    if (avail < 2) break;
    const auto* p = reinterpret_cast<const uint8_t*>(buf_.data() + pos_);
    bool fin = p[0] & 0x80;
    if (p[0] & 0x70)
      return BadRequest("websocket: reserved bits set (no extension was negotiated)");
    auto op = static_cast<Opcode>(p[0] & 0x0f);
    bool masked = p[1] & 0x80;
    uint64_t len = p[1] & 0x7f;
    size_t hdr = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = (uint64_t(p[2]) << 8) | p[3];
      hdr = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      hdr = 10;
    }
    if (masked != from_client_) {
      return BadRequest(from_client_ ? "websocket: client frames must be masked"
                                     : "websocket: server frames must not be masked");
    }
    if (len > max_message_) return BadRequest("websocket: frame too large");
    size_t need = hdr + (masked ? 4 : 0) + len;
    if (avail < need) break;
    std::string payload(buf_.data() + pos_ + hdr + (masked ? 4 : 0), len);
    if (masked) {
      const uint8_t* key = p + hdr;
      for (size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(payload[i] ^ key[i % 4]);
    }
    pos_ += need;
    if (pos_ > (1 << 16) && pos_ * 2 > buf_.size()) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    bool control = op & 0x8;
    if (control) {
      if (!fin || len > 125) return BadRequest("websocket: bad control frame");
      if (op != kClose && op != kPing && op != kPong)
        return BadRequest("websocket: unknown opcode");
      return std::optional<Message>(Message{op, std::move(payload)});
    }
    if (op == kContinuation) {
      if (!in_fragmented_) return BadRequest("websocket: continuation without a first fragment");
      if (frag_.size() + payload.size() > max_message_)
        return BadRequest("websocket: message too large");
      frag_ += payload;
      if (fin) {
        in_fragmented_ = false;
        return std::optional<Message>(Message{frag_op_, std::move(frag_)});
      }
      continue;
    }
    if (op != kText && op != kBinary) return BadRequest("websocket: unknown opcode");
    if (in_fragmented_) return BadRequest("websocket: new message inside a fragmented one");
    if (fin) return std::optional<Message>(Message{op, std::move(payload)});
    in_fragmented_ = true;
    frag_op_ = op;
    frag_ = std::move(payload);
  }
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return std::optional<Message>();
}

}  // namespace sampan::streaming::ws
