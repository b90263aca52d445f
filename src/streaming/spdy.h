// SPDY/3.1 framing as Kubernetes' streaming clients speak it (exec, attach and
// port-forward over `Upgrade: SPDY/3.1`, also tunnelled inside a WebSocket):
// control and data frames, header blocks compressed with zlib and the SPDY/3
// dictionary (one compression context per direction for the whole connection).
// No I/O; one Codec per connection, not thread-safe.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"

namespace sampan::streaming::spdy {

enum FrameType : uint16_t {
  kData = 0,  // not a control type: a data frame
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};
constexpr uint8_t kFlagFin = 0x01;
constexpr uint8_t kFlagUnidirectional = 0x02;
// RST_STREAM status codes used here.
constexpr uint32_t kProtocolError = 1;
constexpr uint32_t kRefusedStream = 3;
constexpr uint32_t kCancel = 5;

// Header names are lower-case; a value with several entries has them separated by NUL.
using Headers = std::vector<std::pair<std::string, std::string>>;
std::string_view HeaderValue(const Headers& h, std::string_view name);

struct Frame {
  FrameType type = kData;
  uint8_t flags = 0;
  uint32_t stream_id = 0;   // data, SYN_*, RST_STREAM, HEADERS, WINDOW_UPDATE; GOAWAY: last good
  uint32_t associated = 0;  // SYN_STREAM
  uint8_t priority = 0;     // SYN_STREAM
  uint32_t value = 0;       // RST_STREAM/GOAWAY status, PING id, WINDOW_UPDATE delta
  Headers headers;          // SYN_STREAM, SYN_REPLY, HEADERS
  std::string data;         // data frames
  bool fin() const { return flags & kFlagFin; }
};

// The fixed SPDY/3 header compression dictionary (1,423 bytes).
const std::string& Dictionary();

class Codec {
 public:
  Codec();
  ~Codec();
  Codec(const Codec&) = delete;
  Codec& operator=(const Codec&) = delete;

  // Incoming bytes; then Next() until nullopt. BadRequest on a malformed frame or header
  // block (the connection is then unusable).
  void Feed(std::string_view bytes) { in_.append(bytes); }
  Result<std::optional<Frame>> Next();

  // Encoders (they advance the outgoing compression context, so send what they return,
  // in order).
  std::string SynStream(uint32_t id, const Headers& h, bool fin);
  std::string SynReply(uint32_t id, const Headers& h, bool fin);
  std::string HeadersFrame(uint32_t id, const Headers& h, bool fin);
  static std::string Data(uint32_t id, std::string_view data, bool fin);
  static std::string RstStream(uint32_t id, uint32_t status);
  static std::string Ping(uint32_t id);
  static std::string GoAway(uint32_t last_good, uint32_t status);
  static std::string WindowUpdate(uint32_t id, uint32_t delta);
  static std::string Settings(const std::vector<std::pair<uint32_t, uint32_t>>& id_values);

 private:
  std::string CompressHeaders(const Headers& h);
  Result<Headers> DecompressHeaders(std::string_view block);
  static std::string Control(FrameType type, uint8_t flags, std::string_view body);

  std::string in_;
  size_t pos_ = 0;
  z_stream deflate_{}, inflate_{};
};

}  // namespace sampan::streaming::spdy
