// RFC 6455 WebSocket framing: the handshake key, a frame encoder and an incremental
// message parser (masking, fragmentation, control frames between fragments).
// Pure functions and value types, no I/O; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/status.h"

namespace sampan::streaming::ws {

enum Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key.
std::string AcceptKey(std::string_view client_key);

// One frame. A server sends unmasked frames (mask = nullopt); a client must mask.
std::string EncodeFrame(Opcode op, std::string_view payload, bool fin = true,
                        std::optional<uint32_t> mask = std::nullopt);
// A close frame with a status code (1000 normal) and a reason.
std::string EncodeClose(uint16_t code, std::string_view reason,
                        std::optional<uint32_t> mask = std::nullopt);

// A complete message (fragments joined) or a control frame.
struct Message {
  Opcode op = kBinary;
  std::string payload;
};

// Incremental parser: Feed bytes as they arrive, then call Next until it returns nullopt.
class Parser {
 public:
  // `from_client`: frames must be masked (a server's parser); otherwise they must not be.
  explicit Parser(bool from_client, size_t max_message = 64 << 20)
      : from_client_(from_client), max_message_(max_message) {}
  void Feed(std::string_view bytes) { buf_.append(bytes); }
  // The next message, nullopt if more bytes are needed; BadRequest on a protocol error
  // (the connection should then be closed with 1002).
  Result<std::optional<Message>> Next();
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  bool from_client_;
  size_t max_message_;
  std::string buf_;
  size_t pos_ = 0;
  bool in_fragmented_ = false;
  Opcode frag_op_ = kBinary;
  std::string frag_;
};

}  // namespace sampan::streaming::ws
