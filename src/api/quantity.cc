#include "api/quantity.h"

#include <cstdlib>

namespace sampan::api {

namespace {

constexpr __int128 kNano = 1'000'000'000;
constexpr char kFormatError[] =
    "quantities must match the regular expression "
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

bool MulOverflow(__int128 a, __int128 b, __int128* out) {
  return __builtin_mul_overflow(a, b, out);
}

// 10^n for 0 <= n <= 38, or false if it does not fit.
bool Pow10(int n, __int128* out) {
  __int128 v = 1;
  for (int i = 0; i < n; ++i) {
    if (MulOverflow(v, 10, &v)) return false;
  }
  *out = v;
  return true;
}

// Decimal text of a non-negative 128-bit integer.
std::string ToDecimal(__int128 v) {
  if (v == 0) return "0";
  std::string s;
  while (v > 0) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return s;
}

__int128 Abs(__int128 v) { return v < 0 ? -v : v; }

// Divides by `d` (> 0), rounding away from zero, as resource.Quantity rounds up.
__int128 DivAwayFromZero(__int128 n, __int128 d) {
  __int128 q = n / d;
  if (n % d != 0) q += n < 0 ? -1 : 1;
  return q;
}

int64_t Saturate(__int128 v) {
  if (v > INT64_MAX) return INT64_MAX;
  if (v < INT64_MIN) return INT64_MIN;
  return static_cast<int64_t>(v);
}

}  // namespace

// Mirrors the conditions of resource.ParseQuantity's fast path under which it keeps the
// original string: at most 18 digits, a scale of at least nano, and either a decimal
// value whose scale is a multiple of 3 with no leading zero and no trailing "000", or a
// binary value (Ki..Ei, whole) not divisible by 8.
bool Quantity::KeepsText(Format format, const std::string& int_part, const std::string& frac_part,
                         int exp10, int exp2) {
  const std::string shifted = int_part + frac_part;
  if (shifted.empty() || shifted.size() > 18) return false;
  uint64_t value = std::stoull(shifted);
  if (format == Format::kBinarySI) {
    if (!frac_part.empty()) return false;
    int precision = 15 - static_cast<int>(int_part.size()) - static_cast<int>(exp2 * 3.0f / 10) - 1;
    if (precision < 0 || exp2 >= 63 || value > (static_cast<uint64_t>(INT64_MAX) >> exp2))
      return false;
    return (value & 7) != 0;
  }
  int scale = exp10 - static_cast<int>(frac_part.size());
  if (scale < -9) return false;
  bool ends_000 = shifted.size() >= 3 && shifted.compare(shifted.size() - 3, 3, "000") == 0;
  return scale % 3 == 0 && !ends_000 && shifted[0] != '0';
}

Result<Quantity> Quantity::Parse(std::string_view text) {
  auto bad = [] { return Status(BadRequest(kFormatError)); };
  std::string_view s = text;
  if (s.empty()) return bad();
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  // Number part: digits with at most one '.', at least one digit.
  std::string digits;  // integer and fraction digits together
  int fraction_digits = 0;
  bool seen_dot = false, seen_digit = false;
  size_t i = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      seen_digit = true;
      digits.push_back(c);
      if (seen_dot) ++fraction_digits;
    } else if (c == '.') {
      if (seen_dot) return bad();
      seen_dot = true;
    } else {
      break;
    }
  }
  if (!seen_digit) return bad();
  std::string_view suffix = s.substr(i);

  // Suffix: a decimal SI prefix, a binary prefix, or a decimal exponent.
  Quantity q;
  int exp10 = 0, exp2 = 0;
  static constexpr std::pair<std::string_view, int> kDecimal[] = {
      {"n", -9}, {"u", -6}, {"m", -3}, {"", 0},   {"k", 3},
      {"M", 6},  {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
  static constexpr std::pair<std::string_view, int> kBinary[] = {
      {"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60}};
  bool matched = false;
  for (auto [name, e] : kDecimal) {
    if (suffix == name) exp10 = e, matched = true, q.format_ = Format::kDecimalSI;
  }
  for (auto [name, e] : kBinary) {
    if (suffix == name) exp2 = e, matched = true, q.format_ = Format::kBinarySI;
  }
  if (!matched && suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    std::string_view e = suffix.substr(1);
    bool neg_exp = false;
    if (e[0] == '+' || e[0] == '-') neg_exp = e[0] == '-', e.remove_prefix(1);
    if (e.empty() || e.size() > 6) return bad();
    int v = 0;
    for (char c : e) {
      if (c < '0' || c > '9') return bad();
      v = v * 10 + (c - '0');
    }
    exp10 = neg_exp ? -v : v;
    matched = true;
    q.format_ = Format::kDecimalExponent;
  }
  if (!matched) return bad();

  // resource.Quantity keeps the caller's text when its int64 fast path sees a value that
  // is already in canonical shape; ToString then echoes it.
  std::string int_part = digits.substr(0, digits.size() - fraction_digits);
  std::string frac_part = digits.substr(digits.size() - fraction_digits);
  if (KeepsText(q.format_, int_part, frac_part, exp10, exp2)) q.text_ = std::string(text);

  // Exact value in nano units: digits * 2^exp2 * 10^(exp10 + 9 - fraction_digits).
  size_t lead = digits.find_first_not_of('0');
  if (lead == std::string::npos) {  // zero, any suffix
    Quantity zero;
    if (text == "0") zero.text_ = "0";
    return zero;
  }
  digits.erase(0, lead);
  int k = exp10 + 9 - fraction_digits;
  while (k < 0 && digits.size() > 1 && digits.back() == '0') digits.pop_back(), ++k;
  if (digits.size() > 38) return Status(BadRequest("quantity is too large: " + std::string(text)));
  __int128 m = 0;
  for (char c : digits) m = m * 10 + (c - '0');
  if (exp2 > 0 && MulOverflow(m, static_cast<__int128>(1) << exp2, &m))
    return Status(BadRequest("quantity is too large: " + std::string(text)));
  if (k >= 0) {
    __int128 p;
    if (!Pow10(k, &p) || MulOverflow(m, p, &m))
      return Status(BadRequest("quantity is too large: " + std::string(text)));
  } else {
    __int128 p;
    // Anything below one nano rounds up to one nano.
    m = Pow10(-k, &p) ? DivAwayFromZero(m, p) : 1;
  }
  q.nano_ = negative ? -m : m;
  return q;
}

Quantity Quantity::FromMilli(int64_t milli) {
  Quantity q;
  q.nano_ = static_cast<__int128>(milli) * 1'000'000;
  return q;
}

int64_t Quantity::MilliValue() const { return Saturate(DivAwayFromZero(nano_, 1'000'000)); }

int64_t Quantity::Value() const { return Saturate(DivAwayFromZero(nano_, kNano)); }

int Quantity::Compare(const Quantity& other) const {
  return nano_ < other.nano_ ? -1 : nano_ > other.nano_ ? 1 : 0;
}

std::string Quantity::ToString() const {
  if (!text_.empty()) return text_;
  if (nano_ == 0) return "0";
  const std::string sign = nano_ < 0 ? "-" : "";
  __int128 mag = Abs(nano_);
  // Binary form only for whole numbers of at least 1024; otherwise decimal.
  if (format_ == Format::kBinarySI && mag % kNano == 0 && mag / kNano >= 1024) {
    static constexpr std::string_view kSuffix[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    __int128 v = mag / kNano;
    int i = 0;
    while (i < 6 && v % 1024 == 0) v /= 1024, ++i;
    return sign + ToDecimal(v) + std::string(kSuffix[i]);
  }
  // Decimal: mantissa * 10^exp with exp a multiple of 3 and no fraction.
  __int128 m = mag;
  int exp = -9;
  const int max_exp = format_ == Format::kDecimalExponent ? 1 << 20 : 18;
  while (m % 1000 == 0 && exp < max_exp) m /= 1000, exp += 3;
  std::string suffix;
  if (format_ == Format::kDecimalExponent) {
    if (exp != 0) suffix = "e" + std::to_string(exp);
  } else {
    switch (exp) {
      case -9:
        suffix = "n";
        break;
      case -6:
        suffix = "u";
        break;
      case -3:
        suffix = "m";
        break;
      case 3:
        suffix = "k";
        break;
      case 6:
        suffix = "M";
        break;
      case 9:
        suffix = "G";
        break;
      case 12:
        suffix = "T";
        break;
      case 15:
        suffix = "P";
        break;
      case 18:
        suffix = "E";
        break;
      default:
        break;
    }
  }
  return sign + ToDecimal(m) + suffix;
}

}  // namespace sampan::api
