#include "streaming/websocket.h"

#include <gtest/gtest.h>

namespace sampan::streaming::ws {
namespace {

TEST(WebSocket, AcceptKeyMatchesRfc6455Example) {
  // RFC 6455 §1.3's worked example.
  EXPECT_EQ(AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocket, EncodesLengthForms) {
  EXPECT_EQ(EncodeFrame(kBinary, "ab"), std::string("\x82\x02"
                                                    "ab",
                                                    4));
  std::string mid(300, 'x');
  std::string f = EncodeFrame(kBinary, mid);
  ASSERT_EQ(f.size(), 4 + mid.size());
  EXPECT_EQ(static_cast<uint8_t>(f[1]), 126);
  EXPECT_EQ((static_cast<uint8_t>(f[2]) << 8) | static_cast<uint8_t>(f[3]), 300);
  std::string big(70000, 'y');
  f = EncodeFrame(kText, big, false);
  EXPECT_EQ(static_cast<uint8_t>(f[0]), 0x01);  // FIN clear
  EXPECT_EQ(static_cast<uint8_t>(f[1]), 127);
  EXPECT_EQ(f.size(), 10 + big.size());
}

TEST(WebSocket, ServerParsesMaskedClientFramesInPieces) {
  Parser p(true);
  std::string wire = EncodeFrame(kBinary, std::string("\x00hello", 6), true, 0x11223344u) +
                     EncodeFrame(kPing, "p", true, 0x01020304u);
  // Byte by byte: nothing is returned before a frame is complete.
  for (size_t i = 0; i + 1 < wire.size(); ++i) {
    p.Feed(wire.substr(i, 1));
    auto m = p.Next();
    ASSERT_TRUE(m.ok());
    if (i < 11) EXPECT_FALSE(m->has_value()) << i;
    if (m->has_value()) {
      EXPECT_EQ((*m)->op, kBinary);
      EXPECT_EQ((*m)->payload, std::string("\x00hello", 6));
    }
  }
  p.Feed(wire.substr(wire.size() - 1));
  auto m = p.Next();
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->op, kPing);
  EXPECT_EQ((*m)->payload, "p");
}

TEST(WebSocket, JoinsFragmentsAroundControlFrames) {
  Parser p(true);
  p.Feed(EncodeFrame(kText, "hel", false, 7u));
  p.Feed(EncodeFrame(kPing, "", true, 8u));
  p.Feed(EncodeFrame(kContinuation, "lo ", false, 9u));
  p.Feed(EncodeFrame(kContinuation, "there", true, 10u));
  auto a = p.Next();
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->op, kPing);
  auto b = p.Next();
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->op, kText);
  EXPECT_EQ((*b)->payload, "hello there");
  auto c = p.Next();
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->has_value());
}

TEST(WebSocket, RejectsProtocolErrors) {
  {
    Parser p(true);
    p.Feed(EncodeFrame(kBinary, "x"));  // unmasked from a client
    EXPECT_FALSE(p.Next().ok());
  }
  {
    Parser p(false);
    p.Feed(EncodeFrame(kBinary, "x", true, 5u));  // masked from a server
    EXPECT_FALSE(p.Next().ok());
  }
  {
    Parser p(true);
    p.Feed(EncodeFrame(kContinuation, "x", true, 5u));  // continuation with nothing to continue
    EXPECT_FALSE(p.Next().ok());
  }
  {
    Parser p(true);
    p.Feed(EncodeFrame(kPing, "x", false, 5u));  // fragmented control frame
    EXPECT_FALSE(p.Next().ok());
  }
}

TEST(WebSocket, CloseCarriesCode) {
  Parser p(false);
  p.Feed(EncodeClose(1000, "bye"));
  auto m = p.Next();
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->op, kClose);
  EXPECT_EQ((*m)->payload, std::string("\x03\xe8"
                                       "bye",
                                       5));
}

}  // namespace
}  // namespace sampan::streaming::ws
