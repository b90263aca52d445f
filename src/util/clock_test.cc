#include "util/clock.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <set>

namespace sampan {
namespace {

// What the formatting printed when it used gmtime_r and snprintf (the reference).
std::string Reference(int64_t secs) {
  time_t t = static_cast<time_t>(secs);
  tm parts{};
  gmtime_r(&t, &parts);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02dZ",
                static_cast<long long>(parts.tm_year) + 1900, parts.tm_mon + 1, parts.tm_mday,
                parts.tm_hour, parts.tm_min, parts.tm_sec);
  return buf;
}

TEST(ClockTest, FormatRfc3339MatchesTheCalendar) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1700000000), "2023-11-14T22:13:20Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339(951782400), "2000-02-29T00:00:00Z");  // a leap day
  EXPECT_EQ(FormatRfc3339(253402300799), "9999-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339(-62135596800), "0001-01-01T00:00:00Z");
  // Every hour over a few leap cycles, and scattered seconds far from 1970.
  for (int64_t s = -5 * 365 * 86400LL; s < 10 * 365 * 86400LL; s += 3599) {
    ASSERT_EQ(FormatRfc3339(s), Reference(s)) << s;
  }
  for (int64_t s = -62135596800; s < 253402300799; s += 7777777) {
    ASSERT_EQ(FormatRfc3339(s), Reference(s)) << s;
  }
}

TEST(ClockTest, YearsOutsideFourDigitsPrintAsBefore) {
  // Years past 9999 and before year 0 print as "%04lld" did: all digits, sign within the width.
  EXPECT_EQ(FormatRfc3339(253402300800), "10000-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(-62167219200), "0000-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(-62167219201), "-001-12-31T23:59:59Z");
  for (int64_t s : {-62167219200LL - 86400LL * 365 * 1000, -62167219200LL - 86400LL * 40,
                    253402300800LL + 86400LL * 365 * 90000}) {
    EXPECT_EQ(FormatRfc3339(s), Reference(s)) << s;
  }
}

TEST(ClockTest, FormatRfc3339Micro) {
  EXPECT_EQ(FormatRfc3339Micro(1700000000, 0), "2023-11-14T22:13:20.000000Z");
  EXPECT_EQ(FormatRfc3339Micro(1700000000, 123456789), "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(FormatRfc3339Micro(1700000000, 999999999), "2023-11-14T22:13:20.999999Z");
  EXPECT_EQ(FormatRfc3339Micro(1700000000, 1000), "2023-11-14T22:13:20.000001Z");
  // Out of range as "%06d" printed it.
  EXPECT_EQ(FormatRfc3339Micro(0, -5000), "1970-01-01T00:00:00.-00005Z");
  EXPECT_EQ(FormatRfc3339Micro(0, 2000000000), "1970-01-01T00:00:00.2000000Z");
}

TEST(ClockTest, FormatAndParseRoundTrip) {
  for (int64_t s : {0LL, 1LL, 1700000000LL, -86401LL, 4102444800LL}) {
    int64_t back = 0;
    int32_t nanos = -1;
    ASSERT_TRUE(ParseRfc3339(FormatRfc3339(s), &back, &nanos));
    EXPECT_EQ(back, s);
    EXPECT_EQ(nanos, 0);
    ASSERT_TRUE(ParseRfc3339(FormatRfc3339Micro(s, 654321000), &back, &nanos));
    EXPECT_EQ(back, s);
    EXPECT_EQ(nanos, 654321000);
  }
}

TEST(ClockTest, NewUuidIsVersion4) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string u = NewUuid();
    ASSERT_EQ(u.size(), 36u) << u;
    for (size_t j = 0; j < u.size(); ++j) {
      if (j == 8 || j == 13 || j == 18 || j == 23) {
        ASSERT_EQ(u[j], '-') << u;
      } else {
        ASSERT_TRUE((u[j] >= '0' && u[j] <= '9') || (u[j] >= 'a' && u[j] <= 'f')) << u;
      }
    }
    EXPECT_EQ(u[14], '4') << u;                                                      // version 4
    EXPECT_TRUE(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b') << u;  // variant 1
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace sampan
