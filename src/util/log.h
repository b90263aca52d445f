// Minimal leveled logging to stderr: LOG(INFO) << "started on " << port;
// One line per statement, written atomically. The level threshold is global.
#pragma once

#include <sstream>

namespace sampan::log {

enum Level { DEBUG = 0, INFO = 1, WARNING = 2, ERROR = 3 };

void SetLevel(Level level);
Level GetLevel();

class Line {
 public:
  Line(Level level, const char* file, int line);
  ~Line();
  template <typename T>
  Line& operator<<(const T& v) {
    os_ << v;
    return *this;
  }

 private:
  Level level_;
  std::ostringstream os_;
};

// Turns `Line(...) << a << b` into a void expression for LOG's conditional.
struct Voidify {
  void operator&(const Line&) {}
};

}  // namespace sampan::log

// An expression, not an if-statement, so `if (x) LOG(INFO) << y; else ...` is safe.
#define LOG(level)                                        \
  (::sampan::log::level < ::sampan::log::GetLevel())      \
      ? (void)0                                           \
      : ::sampan::log::Voidify() & ::sampan::log::Line(::sampan::log::level, __FILE__, __LINE__)
