// Cron schedules as Kubernetes' CronJob understands them (robfig/cron's standard
// parser): five fields — minute hour day-of-month month day-of-week — each `*`
// (or `?`), numbers, ranges `a-b`, steps `*/n` `a-b/n` `a/n`, lists `a,b`,
// month names JAN–DEC and weekday names SUN–SAT (any case); the macros @yearly,
// @annually, @monthly, @weekly, @daily, @midnight, @hourly; and `@every <dur>`
// (e.g. 90s, 5m, 1h30m). When both day fields are restricted a day matches
// either; when one is `*` (without a step) both must match.
//
// Times are evaluated in an IANA time zone read from /usr/share/zoneinfo (TZif),
// "" = the machine's /etc/localtime ("UTC" if unreadable). Beyond a zone file's
// last transition its last offset is used (Debian's files list transitions to 2037).
// A local time skipped by a DST jump fires shifted by the jump (02:30 → 03:30); a
// repeated local time fires once, at its first occurrence.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace sampan::controllers {

class TimeZone {
 public:
  // "UTC", "Etc/UTC", "Europe/Berlin", …; "" = local. NotFound/Invalid on a bad name or file.
  static Result<std::shared_ptr<const TimeZone>> Load(std::string_view name);
  static std::shared_ptr<const TimeZone> Utc();
  // Seconds east of UTC at instant `unix`.
  int64_t OffsetAt(int64_t unix) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::vector<int64_t> transitions_;  // ascending instants
  std::vector<int64_t> offsets_;      // offset in effect from transitions_[i]
  int64_t initial_offset_ = 0;        // before the first transition
};

class CronSchedule {
 public:
  static Result<CronSchedule> Parse(std::string_view spec);
  // The first scheduled instant strictly after `unix` (Unix seconds), or -1 if none within
  // five years.
  int64_t Next(int64_t unix, const TimeZone& tz) const;

 private:
  uint64_t minute_ = 0, hour_ = 0, dom_ = 0, month_ = 0, dow_ = 0;
  bool dom_star_ = false, dow_star_ = false;
  int64_t every_ = 0;  // seconds, for @every
};

}  // namespace sampan::controllers
