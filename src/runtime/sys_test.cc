#include "runtime/sys.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <string>

namespace sampan::runtime {
namespace {

// The reference: glibc's calendar conversion.
std::string ViaGmtime(const struct timespec& ts) {
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
  return buf;
}

TEST(Rfc3339Nano, KnownInstants) {
  EXPECT_EQ(Rfc3339Nano({0, 0}), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(Rfc3339Nano({951782400, 5}), "2000-02-29T00:00:00.000000005Z");  // leap day
  EXPECT_EQ(Rfc3339Nano({4107542399, 999999999}), "2100-02-28T23:59:59.999999999Z");
  EXPECT_EQ(Rfc3339Nano({-1, 0}), "1969-12-31T23:59:59.000000000Z");
}

TEST(Rfc3339Nano, MatchesGmtime) {
  // Every ~1.3 days from 1900 to 2400, and one odd second per day, against gmtime_r.
  for (long long t = -2208988800LL; t < 13569465600LL; t += 112771) {
    struct timespec ts = {static_cast<time_t>(t), 123};
    ASSERT_EQ(Rfc3339Nano(ts), ViaGmtime(ts)) << t;
  }
}

}  // namespace
}  // namespace sampan::runtime
