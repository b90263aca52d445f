#include "util/clock.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>

namespace sampan {
namespace {

class RealClock final : public Clock {
 public:
  int64_t NowUnixNanos() const override {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  }
};

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

// Writes `v` as exactly `width` decimal digits (zero-padded) at `out`; returns the end.
char* PutDigits(char* out, uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return out + width;
}

// "YYYY-MM-DDTHH:MM:SS" into `out` (at least 32 bytes); returns the end. Written by hand rather
// than with snprintf: every create formats a timestamp or two, and snprintf cost more than the
// rest of the formatting together. A year outside 0..9999 is printed as "%04lld" would print it.
char* PutBase(char* out, int64_t secs) {
  int64_t days = secs / 86400, rem = secs % 86400;
  if (rem < 0) rem += 86400, --days;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  if (y >= 0 && y <= 9999) {
    out = PutDigits(out, static_cast<uint64_t>(y), 4);
  } else {
    uint64_t mag = y < 0 ? 0 - static_cast<uint64_t>(y) : static_cast<uint64_t>(y);
    if (y < 0) *out++ = '-';
    int width = 1;
    for (uint64_t t = mag; t >= 10; t /= 10) ++width;
    // "%04lld" pads to four characters in all, the sign included.
    int pad = (y < 0 ? 3 : 4) - width;
    for (; pad > 0; --pad) *out++ = '0';
    out = PutDigits(out, mag, width);
  }
  *out++ = '-';
  out = PutDigits(out, m, 2);
  *out++ = '-';
  out = PutDigits(out, d, 2);
  *out++ = 'T';
  out = PutDigits(out, static_cast<uint64_t>(rem / 3600), 2);
  *out++ = ':';
  out = PutDigits(out, static_cast<uint64_t>(rem / 60 % 60), 2);
  *out++ = ':';
  out = PutDigits(out, static_cast<uint64_t>(rem % 60), 2);
  return out;
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

const Clock& Clock::Real() {
  static const RealClock kClock;
  return kClock;
}

std::string FormatRfc3339(int64_t unix_seconds) {
  char buf[48];
  char* end = PutBase(buf, unix_seconds);
  *end++ = 'Z';
  return std::string(buf, end);
}

std::string FormatRfc3339Micro(int64_t unix_seconds, int32_t nanos) {
  char buf[64];
  char* end = PutBase(buf, unix_seconds);
  int micros = static_cast<int>(nanos / 1000);
  if (micros >= 0 && micros <= 999999) {
    *end++ = '.';
    end = PutDigits(end, static_cast<uint64_t>(micros), 6);
  } else {  // outside a second's range: as "%06d" prints it
    char frac[24];
    int n = std::snprintf(frac, sizeof frac, ".%06d", micros);
    end = std::copy(frac, frac + n, end);
  }
  *end++ = 'Z';
  return std::string(buf, end);
}

bool ParseRfc3339(std::string_view s, int64_t* unix_seconds, int32_t* nanos) {
  auto bad = [] { return false; };
  int y, mo, d, h, mi, se;
  if (!Digits(s, 0, 4, &y) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
      !Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &se))
    return bad();
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return bad();
  size_t pos = 19;
  int32_t frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int32_t scale = 100000000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad();
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om) || oh > 23 || om > 59)
      return bad();
    offset = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  if (nanos) *nanos = frac;
  *unix_seconds = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
  return true;
}

std::string NewUuid() {
  uint64_t a = Rng()(), b = Rng()();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  // 8-4-4-4-12 lower-case hex digits: a's 16, then b's 16.
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[36];
  char* out = buf;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) *out++ = '-';
    uint64_t word = i < 16 ? a : b;
    *out++ = kHex[(word >> (60 - 4 * (i % 16))) & 0xf];
  }
  return std::string(buf, out);
}

std::string RandomSuffix(int n) {
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::uniform_int_distribution<int> d(0, sizeof(kAlphabet) - 2);
  std::string out;
  for (int i = 0; i < n; ++i) out.push_back(kAlphabet[d(Rng())]);
  return out;
}

}  // namespace sampan
