#include "streaming/cri_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace sampan::streaming {
namespace {

TEST(CriLog, ParsesAndFormatsTimes) {
  auto t = ParseRfc3339("2016-10-06T00:17:09.669794202Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 1475713029669794202LL);
  EXPECT_EQ(FormatRfc3339Nano(*t), "2016-10-06T00:17:09.669794202Z");
  EXPECT_EQ(FormatRfc3339Nano(1475713029500000000LL), "2016-10-06T00:17:09.5Z");
  EXPECT_EQ(FormatRfc3339Nano(1475713029000000000LL), "2016-10-06T00:17:09Z");
  auto off = ParseRfc3339("2016-10-06T02:17:09+02:00");
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(*off, 1475713029000000000LL);
  EXPECT_FALSE(ParseRfc3339("yesterday").ok());
  EXPECT_FALSE(ParseRfc3339("2016-10-06T00:17:09").ok());
}

TEST(CriLog, ParsesLines) {
  auto e = ParseCriLine("2016-10-06T00:17:09.669794202Z stderr P half a line ");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->stream, "stderr");
  EXPECT_TRUE(e->partial);
  EXPECT_EQ(e->text, "half a line ");
  auto empty = ParseCriLine("2016-10-06T00:17:09Z stdout F");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->text, "");
  EXPECT_FALSE(ParseCriLine("2016-10-06T00:17:09Z stdweird F x").ok());
  EXPECT_EQ(FormatCriLine(1475713029500000000LL, "stdout", false, "hi"),
            "2016-10-06T00:17:09.5Z stdout F hi\n");
}

class CriLogFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/crilogXXXXXX";
    int fd = mkstemp(tmpl);
    close(fd);
    path_ = tmpl;
    std::ofstream f(path_);
    // Seconds 1..5 of 2020-01-01; line 3 arrives in two parts.
    f << "2020-01-01T00:00:01Z stdout F one\n"
      << "2020-01-01T00:00:02Z stderr F two\n"
      << "2020-01-01T00:00:03Z stdout P thr\n"
      << "2020-01-01T00:00:03.5Z stdout F ee\n"
      << "not a cri line\n"
      << "2020-01-01T00:00:05Z stdout F five\n";
  }
  void TearDown() override { unlink(path_.c_str()); }

  std::string Read(LogReadOptions o) {
    std::string out;
    Status st = StreamCriLog(
        path_, o,
        [&](std::string_view c) {
          out.append(c);
          return true;
        },
        [] { return false; }, nullptr);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  std::string path_;
};

TEST_F(CriLogFile, All) { EXPECT_EQ(Read({}), "one\ntwo\nthree\nfive\n"); }

TEST_F(CriLogFile, Timestamps) {
  LogReadOptions o;
  o.timestamps = true;
  o.tail_lines = 1;
  EXPECT_EQ(Read(o), "2020-01-01T00:00:05Z five\n");
}

TEST_F(CriLogFile, TailCountsFileLines) {
  LogReadOptions o;
  o.tail_lines = 3;  // "ee", the non-CRI line, "five"
  EXPECT_EQ(Read(o), "ee\nfive\n");
  o.tail_lines = 0;
  EXPECT_EQ(Read(o), "");
  o.tail_lines = 100;
  EXPECT_EQ(Read(o), "one\ntwo\nthree\nfive\n");
}

TEST_F(CriLogFile, SinceAndLimit) {
  LogReadOptions o;
  o.since_ns = *ParseRfc3339("2020-01-01T00:00:02Z");
  EXPECT_EQ(Read(o), "two\nthree\nfive\n");
  o = {};
  o.limit_bytes = 6;
  EXPECT_EQ(Read(o), "one\ntw");
}

TEST_F(CriLogFile, FollowSeesAppendedLinesUntilTheContainerStops) {
  LogReadOptions o;
  o.follow = true;
  std::string out;
  int polls = 0;
  auto running = [&] {
    if (++polls == 2) {
      std::ofstream f(path_, std::ios::app);
      f << "2020-01-01T00:00:06Z stdout F six\n";
    }
    return polls < 4;
  };
  Status st = StreamCriLog(
      path_, o,
      [&](std::string_view c) {
        out.append(c);
        return true;
      },
      running, [] { return false; });
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(out, "one\ntwo\nthree\nfive\nsix\n");
}

TEST(CriLog, MissingFileIsNotFound) {
  Status st = StreamCriLog(
      "/nonexistent/x.log", {}, [](std::string_view) { return true; }, [] { return false; },
      nullptr);
  EXPECT_EQ(st.code(), Code::kNotFound);
}

}  // namespace
}  // namespace sampan::streaming
