#include "controllers/cron_schedule.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace sampan::controllers {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}
void CivilFromDays(int64_t z, int64_t* y, int64_t* m, int64_t* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp + (mp < 10 ? 3 : -9);
  *y = yoe + era * 400 + (*m <= 2);
}
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

uint32_t Be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}
int64_t Be64(const std::string& s, size_t at) {
  return static_cast<int64_t>((uint64_t(Be32(s, at)) << 32) | Be32(s, at + 4));
}

struct Field {
  int min, max;
  const char* const* names;  // nullptr or names for min..max
};
const char* const kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                               "jul", "aug", "sep", "oct", "nov", "dec"};
const char* const kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

Result<int> ParseValue(std::string_view s, const Field& f) {
  if (f.names) {
    std::string lower;
    for (char c : s)
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    for (int i = 0; i <= f.max - f.min; ++i)
      if (lower == f.names[i]) return f.min + i;
  }
  if (s.empty() || s.size() > 4 || s.find_first_not_of("0123456789") != std::string_view::npos)
    return Invalid("failed to parse int from " + std::string(s));
  return std::stoi(std::string(s));
}

// One comma-separated field into a bit set; `star` when it is `*`/`?` without a step > 1.
Result<uint64_t> ParseField(std::string_view text, const Field& f, bool* star) {
  uint64_t bits = 0;
  *star = false;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string_view part = text.substr(pos, comma == text.npos ? text.npos : comma - pos);
    pos = comma == text.npos ? text.size() + 1 : comma + 1;
    std::string_view range = part, step_text;
    if (size_t slash = part.find('/'); slash != part.npos) {
      range = part.substr(0, slash);
      step_text = part.substr(slash + 1);
      if (step_text.find('/') != step_text.npos)
        return Invalid("too many slashes: " + std::string(part));
    }
    int lo = 0, hi = 0;
    bool is_star = false;
    if (range == "*" || range == "?") {
      lo = f.min;
      hi = f.max;
      is_star = true;
    } else {
      size_t dash = range.find('-');
      ASSIGN_OR_RETURN(lo, ParseValue(range.substr(0, dash), f));
      if (dash == range.npos) {
        hi = step_text.empty() ? lo : f.max;
      } else {
        ASSIGN_OR_RETURN(hi, ParseValue(range.substr(dash + 1), f));
      }
    }
    int step = 1;
    if (!step_text.empty() || part.find('/') != part.npos) {
      auto s = ParseValue(step_text, Field{0, 0, nullptr});
      if (!s.ok() || *s == 0)
        return Invalid("step of range should be a positive number: " + std::string(part));
      step = *s;
    }
    if (lo < f.min || hi > f.max || lo > hi)
      return Invalid("value out of range (" + std::to_string(f.min) + "-" + std::to_string(f.max) +
                     "): " + std::string(part));
    if (is_star && step == 1) *star = true;
    for (int v = lo; v <= hi; v += step) bits |= uint64_t{1} << v;
  }
  return bits;
}

Result<int64_t> ParseDuration(std::string_view s) {
  if (s.empty()) return Invalid("empty duration");
  int64_t total_ms = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
    if (j == i || j - i > 9) return Invalid("invalid duration " + std::string(s));
    int64_t n = std::stoll(std::string(s.substr(i, j - i)));
    size_t k = j;
    while (k < s.size() && std::isalpha(static_cast<unsigned char>(s[k]))) ++k;
    std::string_view unit = s.substr(j, k - j);
    if (unit == "h")
      total_ms += n * 3600000;
    else if (unit == "m")
      total_ms += n * 60000;
    else if (unit == "s")
      total_ms += n * 1000;
    else if (unit == "ms")
      total_ms += n;
    else
      return Invalid("invalid duration " + std::string(s));
    i = k;
  }
  return std::max<int64_t>(1, (total_ms + 999) / 1000);
}

}  // namespace

std::shared_ptr<const TimeZone> TimeZone::Utc() {
  static const std::shared_ptr<const TimeZone> utc = [] {
    auto z = std::make_shared<TimeZone>();
    z->name_ = "UTC";
    return z;
  }();
  return utc;
}

Result<std::shared_ptr<const TimeZone>> TimeZone::Load(std::string_view name) {
  std::string path;
  if (name.empty()) {
    path = "/etc/localtime";
  } else {
    if (name == "UTC" || name == "Etc/UTC") return Utc();
    if (name.find("..") != name.npos || name.front() == '/' ||
        name.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_+-") != name.npos)
      return Invalid("invalid time zone name " + std::string(name));
    path = "/usr/share/zoneinfo/" + std::string(name);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (name.empty()) return Utc();
    return NotFound("unknown time zone " + std::string(name));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  std::string d = buf.str();
  if (d.size() < 44 || d.compare(0, 4, "TZif") != 0)
    return Invalid("time zone file " + path + " is not TZif");
  auto counts = [&](size_t at, uint32_t c[6]) {
    for (int i = 0; i < 6; ++i) c[i] = Be32(d, at + 20 + 4 * i);
  };
  uint32_t c[6];  // isutcnt isstdcnt leapcnt timecnt typecnt charcnt
  counts(0, c);
  size_t at = 44;
  int time_size = 4;
  if (d[4] >= '2') {  // skip the 32-bit block, read the 64-bit one
    at += c[3] * 4 + c[3] + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    if (d.size() < at + 44) return Invalid("truncated time zone file " + path);
    counts(at, c);
    at += 44;
    time_size = 8;
  }
  size_t need = at + c[3] * time_size + c[3] + c[4] * 6;
  if (d.size() < need || c[4] == 0) return Invalid("truncated time zone file " + path);
  auto z = std::make_shared<TimeZone>();
  z->name_ = name.empty() ? "Local" : std::string(name);
  const size_t types_at = at + c[3] * time_size + c[3];
  auto type_offset = [&](size_t i) {
    return static_cast<int64_t>(static_cast<int32_t>(Be32(d, types_at + 6 * i)));
  };
  z->initial_offset_ = type_offset(0);
  for (uint32_t i = 0; i < c[3]; ++i) {
    int64_t t = time_size == 8 ? Be64(d, at + 8 * i)
                               : static_cast<int64_t>(static_cast<int32_t>(Be32(d, at + 4 * i)));
    size_t type = static_cast<uint8_t>(d[at + c[3] * time_size + i]);
    if (type >= c[4]) return Invalid("corrupt time zone file " + path);
    z->transitions_.push_back(t);
    z->offsets_.push_back(type_offset(type));
  }
  return std::shared_ptr<const TimeZone>(std::move(z));
}

int64_t TimeZone::OffsetAt(int64_t unix) const {
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), unix);
  if (it == transitions_.begin()) return initial_offset_;
  return offsets_[static_cast<size_t>(it - transitions_.begin() - 1)];
}

Result<CronSchedule> CronSchedule::Parse(std::string_view spec) {
  std::string s(spec);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(0, 1);
  if (s.starts_with("TZ=") || s.starts_with("CRON_TZ="))
    return Invalid("CRON_TZ or TZ used in schedule is not supported; use spec.timeZone");
  CronSchedule out;
  if (s.starts_with("@every ")) {
    ASSIGN_OR_RETURN(out.every_, ParseDuration(std::string_view(s).substr(7)));
    return out;
  }
  static const std::pair<const char*, const char*> kMacros[] = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"}};
  if (s.starts_with("@")) {
    bool found = false;
    for (const auto& [m, expansion] : kMacros)
      if (s == m) {
        s = expansion;
        found = true;
      }
    if (!found) return Invalid("unrecognized descriptor: " + s);
  }
  std::vector<std::string> fields;
  std::istringstream words(s);
  for (std::string w; words >> w;) fields.push_back(w);
  if (fields.size() != 5)
    return Invalid("expected exactly 5 fields, found " + std::to_string(fields.size()) + ": " + s);
  bool star = false;
  ASSIGN_OR_RETURN(out.minute_, ParseField(fields[0], Field{0, 59, nullptr}, &star));
  ASSIGN_OR_RETURN(out.hour_, ParseField(fields[1], Field{0, 23, nullptr}, &star));
  ASSIGN_OR_RETURN(out.dom_, ParseField(fields[2], Field{1, 31, nullptr}, &out.dom_star_));
  ASSIGN_OR_RETURN(out.month_, ParseField(fields[3], Field{1, 12, kMonths}, &star));
  ASSIGN_OR_RETURN(out.dow_, ParseField(fields[4], Field{0, 6, kDays}, &out.dow_star_));
  return out;
}

int64_t CronSchedule::Next(int64_t unix, const TimeZone& tz) const {
  if (every_ > 0) return unix + every_;
  // Walk local wall-clock minutes, skipping whole months/days/hours that cannot match.
  int64_t local_min = FloorDiv(unix + tz.OffsetAt(unix), 60) + 1;
  const int64_t limit = local_min + 5LL * 366 * 1440;
  while (local_min < limit) {
    int64_t days = FloorDiv(local_min, 1440), rem = local_min - days * 1440;
    int64_t y, m, d;
    CivilFromDays(days, &y, &m, &d);
    int64_t hour = rem / 60, minute = rem % 60;
    int64_t wday = ((days % 7) + 7 + 4) % 7;  // 1970-01-01 was a Thursday
    if (!(month_ >> m & 1)) {
      int64_t ny = m == 12 ? y + 1 : y, nm = m == 12 ? 1 : m + 1;
      local_min = DaysFromCivil(ny, nm, 1) * 1440;
      continue;
    }
    bool dom_ok = dom_ >> d & 1, dow_ok = dow_ >> wday & 1;
    bool day_ok = (dom_star_ || dow_star_) ? (dom_ok && dow_ok) : (dom_ok || dow_ok);
    if (!day_ok) {
      local_min = (days + 1) * 1440;
      continue;
    }
    if (!(hour_ >> hour & 1)) {
      local_min = days * 1440 + (hour + 1) * 60;
      continue;
    }
    if (!(minute_ >> minute & 1)) {
      ++local_min;
      continue;
    }
    // Back to UTC: the offsets in effect around this wall time that reproduce it.
    const int64_t local_sec = local_min * 60;
    int64_t best = -1;
    for (int64_t probe : {local_sec - 86400, local_sec, local_sec + 86400}) {
      int64_t off = tz.OffsetAt(probe);
      int64_t utc = local_sec - off;
      if (tz.OffsetAt(utc) == off && utc > unix && (best < 0 || utc < best)) best = utc;
    }
    if (best < 0) {
      // In a DST gap: keep the offset from before the jump.
      int64_t utc = local_sec - tz.OffsetAt(local_sec - 86400);
      bool in_gap = true;
      for (int64_t probe : {local_sec - 86400, local_sec, local_sec + 86400}) {
        int64_t off = tz.OffsetAt(probe);
        if (tz.OffsetAt(local_sec - off) == off) in_gap = false;
      }
      if (in_gap && utc > unix) best = utc;
    }
    if (best >= 0) return best;
    ++local_min;
  }
  return -1;
}

}  // namespace sampan::controllers
