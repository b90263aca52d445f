// Resource quantities ("100m", "1.5", "128Mi", "1e3", "2G").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace sampan::api {

class Quantity {
 public:
  Quantity() = default;
  // BadRequest/Invalid "quantities must match the regular expression ..." if malformed.
  static Result<Quantity> Parse(std::string_view text);
  static Quantity FromMilli(int64_t milli);
  int64_t MilliValue() const;  // rounded up, as Kubernetes does
  int64_t Value() const;       // rounded up to an integer
  // Canonical form as Kubernetes prints it ("100m", "128Mi", "1", "1500m"). Like
  // resource.Quantity, text that Parse found already canonical enough is echoed as given
  // ("+1", "1E3", "5." stay as written; "1000m" becomes "1").
  std::string ToString() const;
  int Compare(const Quantity& other) const;

 private:
  // value = mantissa * 10^-9 exactly within range, plus the format to print with.
  __int128 nano_ = 0;
  enum class Format { kDecimalSI, kBinarySI, kDecimalExponent } format_ = Format::kDecimalSI;
  std::string text_;  // the parsed text, when Kubernetes would print it unchanged
  static bool KeepsText(Format format, const std::string& int_part, const std::string& frac_part,
                        int exp10, int exp2);
};

}  // namespace sampan::api
