#include "controllers/cron_schedule.h"

#include <gtest/gtest.h>

#include "util/clock.h"

namespace sampan::controllers {
namespace {

int64_t T(const char* rfc3339) {
  int64_t t = 0;
  EXPECT_TRUE(ParseRfc3339(rfc3339, &t)) << rfc3339;
  return t;
}

std::string NextUtc(const char* schedule, const char* after) {
  auto s = CronSchedule::Parse(schedule);
  EXPECT_TRUE(s.ok()) << schedule << ": " << s.status().ToString();
  if (!s.ok()) return "";
  int64_t n = s->Next(T(after), *TimeZone::Utc());
  return n < 0 ? "none" : FormatRfc3339(n);
}

TEST(CronScheduleTest, FieldsRangesStepsListsAndNames) {
  EXPECT_EQ(NextUtc("*/15 * * * *", "2026-01-01T00:07:00Z"), "2026-01-01T00:15:00Z");
  EXPECT_EQ(NextUtc("*/1 * * * *", "2026-01-01T00:07:30Z"), "2026-01-01T00:08:00Z");
  EXPECT_EQ(NextUtc("* * * * *", "2026-01-01T00:07:00Z"), "2026-01-01T00:08:00Z");
  EXPECT_EQ(NextUtc("5 * * * *", "2026-01-01T00:05:00Z"), "2026-01-01T01:05:00Z");
  EXPECT_EQ(NextUtc("10-20/5 3 * * *", "2026-01-01T03:16:00Z"), "2026-01-01T03:20:00Z");
  EXPECT_EQ(NextUtc("10-20/5 3 * * *", "2026-01-01T03:20:00Z"), "2026-01-02T03:10:00Z");
  EXPECT_EQ(NextUtc("50/5 * * * *", "2026-01-01T00:56:00Z"), "2026-01-01T01:50:00Z");
  EXPECT_EQ(NextUtc("0 9 * * MON-FRI", "2026-01-02T10:00:00Z"), "2026-01-05T09:00:00Z");
  EXPECT_EQ(NextUtc("0 12 * jan,Jul sun", "2026-01-05T00:00:00Z"), "2026-01-11T12:00:00Z");
  EXPECT_EQ(NextUtc("0 12 * jan,Jul sun", "2026-02-01T00:00:00Z"), "2026-07-05T12:00:00Z");
  EXPECT_EQ(NextUtc("0 0 29 2 *", "2026-01-01T00:00:00Z"), "2028-02-29T00:00:00Z");
  EXPECT_EQ(NextUtc("0,30 8-9 * * ?", "2026-01-01T08:45:00Z"), "2026-01-01T09:00:00Z");
}

TEST(CronScheduleTest, DayOfMonthAndWeekdayCombine) {
  // Both restricted: either matches (Friday Jan 2 comes before the 15th).
  EXPECT_EQ(NextUtc("0 0 1,15 * 5", "2026-01-01T00:00:00Z"), "2026-01-02T00:00:00Z");
  // One is `*`: both must match (the 13th that is a Friday).
  EXPECT_EQ(NextUtc("0 0 13 * *", "2026-01-01T00:00:00Z"), "2026-01-13T00:00:00Z");
  EXPECT_EQ(NextUtc("0 0 13 * fri", "2026-01-01T00:00:00Z"), "2026-01-02T00:00:00Z");
  // `*/2` is a restriction, not a star: odd days AND any weekday.
  EXPECT_EQ(NextUtc("0 0 */2 * *", "2026-01-01T00:00:00Z"), "2026-01-03T00:00:00Z");
}

TEST(CronScheduleTest, Macros) {
  EXPECT_EQ(NextUtc("@hourly", "2026-01-01T10:30:00Z"), "2026-01-01T11:00:00Z");
  EXPECT_EQ(NextUtc("@daily", "2026-01-01T10:30:00Z"), "2026-01-02T00:00:00Z");
  EXPECT_EQ(NextUtc("@midnight", "2026-01-01T10:30:00Z"), "2026-01-02T00:00:00Z");
  EXPECT_EQ(NextUtc("@weekly", "2026-01-01T10:30:00Z"), "2026-01-04T00:00:00Z");
  EXPECT_EQ(NextUtc("@monthly", "2026-01-01T10:30:00Z"), "2026-02-01T00:00:00Z");
  EXPECT_EQ(NextUtc("@yearly", "2026-01-01T10:30:00Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(NextUtc("@annually", "2026-01-01T10:30:00Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(NextUtc("@every 90s", "2026-01-01T10:30:00Z"), "2026-01-01T10:31:30Z");
  EXPECT_EQ(NextUtc("@every 1h30m", "2026-01-01T10:30:00Z"), "2026-01-01T12:00:00Z");
}

TEST(CronScheduleTest, RejectsBadSchedules) {
  for (const char* bad : {"60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 7",
                          "* * * *", "* * * * * *", "*/0 * * * *", "5-2 * * * *", "a * * * *",
                          "TZ=UTC * * * * *", "CRON_TZ=UTC 0 * * * *", "@reboot", "@every",
                          "@every 5x", "1,,2 * * * *", "", "1/2/3 * * * *"}) {
    EXPECT_FALSE(CronSchedule::Parse(bad).ok()) << bad;
  }
}

TEST(CronScheduleTest, TimeZones) {
  auto berlin = TimeZone::Load("Europe/Berlin");
  ASSERT_TRUE(berlin.ok()) << berlin.status().ToString();
  auto nine = CronSchedule::Parse("0 9 * * *");
  ASSERT_TRUE(nine.ok());
  EXPECT_EQ(FormatRfc3339(nine->Next(T("2026-01-01T00:00:00Z"), **berlin)), "2026-01-01T08:00:00Z");
  EXPECT_EQ(FormatRfc3339(nine->Next(T("2026-07-01T00:00:00Z"), **berlin)), "2026-07-01T07:00:00Z");

  auto ny = TimeZone::Load("America/New_York");
  ASSERT_TRUE(ny.ok()) << ny.status().ToString();
  EXPECT_EQ((*ny)->OffsetAt(T("2026-01-15T00:00:00Z")), -5 * 3600);
  EXPECT_EQ((*ny)->OffsetAt(T("2026-07-15T00:00:00Z")), -4 * 3600);
  // 02:30 does not exist on 2026-03-08: it runs at 03:30 EDT (07:30Z).
  auto half_two = CronSchedule::Parse("30 2 * * *");
  ASSERT_TRUE(half_two.ok());
  EXPECT_EQ(FormatRfc3339(half_two->Next(T("2026-03-08T05:00:00Z"), **ny)), "2026-03-08T07:30:00Z");
  // 01:30 happens twice on 2026-11-01: it runs once, at the first (EDT).
  auto half_one = CronSchedule::Parse("30 1 * * *");
  ASSERT_TRUE(half_one.ok());
  EXPECT_EQ(FormatRfc3339(half_one->Next(T("2026-11-01T04:00:00Z"), **ny)), "2026-11-01T05:30:00Z");
  EXPECT_EQ(FormatRfc3339(half_one->Next(T("2026-11-01T05:30:00Z"), **ny)), "2026-11-02T06:30:00Z");

  EXPECT_FALSE(TimeZone::Load("Mars/Olympus_Mons").ok());
  EXPECT_FALSE(TimeZone::Load("../../etc/passwd").ok());
  EXPECT_TRUE(TimeZone::Load("UTC").ok());
  EXPECT_TRUE(TimeZone::Load("").ok());  // the machine's zone
}

}  // namespace
}  // namespace sampan::controllers
