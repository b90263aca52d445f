#include "streaming/spdy.h"

#include <gtest/gtest.h>
#include <zlib.h>

namespace sampan::streaming::spdy {
namespace {

std::string Unhex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string ControlHeader(uint16_t type, uint8_t flags, size_t len) {
  std::string h;
  h.push_back(static_cast<char>(0x80));
  h.push_back(3);
  h.push_back(static_cast<char>(type >> 8));
  h.push_back(static_cast<char>(type));
  h.push_back(static_cast<char>(flags));
  h.push_back(static_cast<char>(len >> 16));
  h.push_back(static_cast<char>(len >> 8));
  h.push_back(static_cast<char>(len));
  return h;
}

TEST(Spdy, DictionaryIsTheSpdy3One) {
  const std::string& d = Dictionary();
  EXPECT_EQ(d.size(), 1423u);
  // zlib's dictionary id (Adler-32) of the SPDY/3 dictionary, as found in the FDICT header of
  // every SPDY/3 header stream.
  EXPECT_EQ(adler32(1, reinterpret_cast<const Bytef*>(d.data()), d.size()), 0xe3c6a7c2u);
}

// Two SYN_STREAMs as kubectl sends them for one forwarded connection, compressed by an
// independent zlib (Python's, with the SPDY/3 dictionary, one context, sync flushes).
TEST(Spdy, DecodesIndependentlyCompressedSynStreams) {
  std::string b1 = Unhex(
      "78bbe3c6a7c202253a703a2b294a4dcc851625aca9a0808614cb45e01c6061606100a4398b20d198094ade8c06"
      "00000000ffff");
  std::string b2 = Unhex("c2aa19540e2512d60b000000ffff");
  auto syn = [](uint32_t id, const std::string& block) {
    std::string body;
    for (int s : {24, 16, 8, 0}) body.push_back(static_cast<char>(id >> s));
    body += std::string(4, '\0');
    body += std::string(2, '\0');
    body += block;
    return ControlHeader(kSynStream, 0, body.size()) + body;
  };
  Codec c;
  std::string wire = syn(1, b1) + syn(3, b2);
  // Arbitrary chunking, as when the bytes arrive inside WebSocket messages.
  c.Feed(wire.substr(0, 5));
  auto none = c.Next();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  c.Feed(wire.substr(5));
  auto f1 = c.Next();
  ASSERT_TRUE(f1.ok()) << f1.status().ToString();
  ASSERT_TRUE(f1->has_value());
  EXPECT_EQ((*f1)->type, kSynStream);
  EXPECT_EQ((*f1)->stream_id, 1u);
  EXPECT_EQ(HeaderValue((*f1)->headers, "streamtype"), "error");
  EXPECT_EQ(HeaderValue((*f1)->headers, "port"), "8080");
  EXPECT_EQ(HeaderValue((*f1)->headers, "requestid"), "0");
  auto f2 = c.Next();
  ASSERT_TRUE(f2.ok() && f2->has_value());
  EXPECT_EQ((*f2)->stream_id, 3u);
  EXPECT_EQ(HeaderValue((*f2)->headers, "streamtype"), "data");
}

TEST(Spdy, RoundTripsEveryFrameKindBetweenTwoCodecs) {
  Codec client, server;
  // One statement per compressed frame: the compression context must see them in wire order.
  std::string wire = client.SynStream(1, {{"streamtype", "stdout"}}, false);
  wire += client.SynStream(3, {{"streamtype", "stdin"}, {"x", std::string("a\0b", 3)}}, true);
  wire += Codec::Data(1, "payload", true) + Codec::RstStream(3, kCancel) + Codec::Ping(7) +
          Codec::WindowUpdate(1, 65536) + Codec::GoAway(3, 0) + Codec::Settings({{4, 100}});
  wire += client.HeadersFrame(1, {{"k", "v"}}, false);
  server.Feed(wire);
  std::vector<Frame> got;
  for (;;) {
    auto f = server.Next();
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    if (!*f) break;
    got.push_back(std::move(**f));
  }
  ASSERT_EQ(got.size(), 9u);
  EXPECT_EQ(got[0].type, kSynStream);
  EXPECT_FALSE(got[0].fin());
  EXPECT_EQ(got[1].stream_id, 3u);
  EXPECT_TRUE(got[1].fin());
  EXPECT_EQ(HeaderValue(got[1].headers, "x"), std::string("a\0b", 3));
  EXPECT_EQ(got[2].type, kData);
  EXPECT_EQ(got[2].data, "payload");
  EXPECT_TRUE(got[2].fin());
  EXPECT_EQ(got[3].type, kRstStream);
  EXPECT_EQ(got[3].value, kCancel);
  EXPECT_EQ(got[4].type, kPing);
  EXPECT_EQ(got[4].value, 7u);
  EXPECT_EQ(got[5].type, kWindowUpdate);
  EXPECT_EQ(got[5].value, 65536u);
  EXPECT_EQ(got[6].type, kGoAway);
  EXPECT_EQ(got[6].stream_id, 3u);
  EXPECT_EQ(got[7].type, kSettings);
  EXPECT_EQ(got[8].type, kHeaders);
  EXPECT_EQ(HeaderValue(got[8].headers, "k"), "v");

  // The reply direction uses its own context: a SYN_REPLY with no headers still decodes.
  client.Feed(server.SynReply(1, {}, false));
  auto r = client.Next();
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->type, kSynReply);
  EXPECT_TRUE((*r)->headers.empty());
}

// Many large frames fed in small pieces: payloads stay intact and in order while the codec
// recycles its input buffer.
TEST(Spdy, LongDataStreamsKeepTheirBytes) {
  Codec c;
  std::string wire, want;
  for (int i = 0; i < 40; ++i) {
    std::string chunk(32768, static_cast<char>('a' + i % 26));
    chunk += std::to_string(i);
    want += chunk;
    wire += Codec::Data(3, chunk, i == 39);
  }
  std::string got;
  bool fin = false;
  for (size_t off = 0; off < wire.size(); off += 10000) {
    c.Feed(std::string_view(wire).substr(off, 10000));
    for (;;) {
      auto f = c.Next();
      ASSERT_TRUE(f.ok());
      if (!*f) break;
      got += (*f)->data;
      fin = (*f)->fin();
    }
  }
  EXPECT_TRUE(fin);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want);
}

TEST(Spdy, RejectsGarbage) {
  Codec c;
  std::string body = std::string("\0\0\0\1\0\0\0\0\0\0", 10) + "not zlib at all";
  c.Feed(ControlHeader(kSynStream, 0, body.size()) + body);
  EXPECT_FALSE(c.Next().ok());
  Codec v2;
  std::string frame = ControlHeader(kPing, 0, 4) + std::string(4, '\0');
  frame[1] = 2;  // SPDY/2
  v2.Feed(frame);
  EXPECT_FALSE(v2.Next().ok());
}

}  // namespace
}  // namespace sampan::streaming::spdy
