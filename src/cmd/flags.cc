#include "cmd/flags.h"

#include <cstdio>
#include <stdexcept>

namespace sampan::cmd {

bool ParseInt(const std::string& s, int* out) {
  try {
    size_t pos = 0;
    int v = std::stoi(s, &pos);
    if (pos != s.size()) return false;
    *out = v;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool FlagCursor::Next() {
  if (++i_ >= argc_) return false;
  name_ = argv_[i_];
  has_inline_ = false;
  inline_value_.clear();
  if (auto eq = name_.find('='); name_.rfind("--", 0) == 0 && eq != std::string::npos) {
    inline_value_ = name_.substr(eq + 1);
    name_.resize(eq);
    has_inline_ = true;
  }
  return true;
}

bool FlagCursor::Value(std::string* out) {
  if (has_inline_) {
    *out = inline_value_;
    return true;
  }
  if (i_ + 1 >= argc_) {
    std::fprintf(stderr, "%s: flag %s needs a value\n", command_.c_str(), name_.c_str());
    return false;
  }
  *out = argv_[++i_];
  return true;
}

bool FlagCursor::Int(int* out, int min, int max, const char* why) {
  std::string s;
  if (!Value(&s)) return false;
  if (!ParseInt(s, out) || *out < min || *out > max) {
    std::fprintf(stderr, "%s: invalid value \"%s\" for %s%s%s\n", command_.c_str(), s.c_str(),
                 name_.c_str(), why ? ": " : "", why ? why : "");
    return false;
  }
  return true;
}

bool FlagCursor::Bool(bool* out) {
  if (!has_inline_ || inline_value_ == "true" || inline_value_ == "1") {
    *out = true;
    return true;
  }
  if (inline_value_ == "false" || inline_value_ == "0") {
    *out = false;
    return true;
  }
  std::fprintf(stderr, "%s: invalid value \"%s\" for %s: want true or false\n", command_.c_str(),
               inline_value_.c_str(), name_.c_str());
  return false;
}

}  // namespace sampan::cmd
