#include "util/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <ctime>

namespace sampan::log {
namespace {
std::atomic<int> g_level{INFO};
}  // namespace

void SetLevel(Level level) { g_level = level; }
Level GetLevel() { return static_cast<Level>(g_level.load()); }

Line::Line(Level level, const char* file, int line) : level_(level) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  localtime_r(&tv.tv_sec, &t);
  char buf[64];
  std::strftime(buf, sizeof buf, "%m%d %H:%M:%S", &t);
  const char* base = std::strrchr(file, '/');
  static const char kLetters[] = "DIWE";
  os_ << kLetters[level] << buf << '.' << (tv.tv_usec / 1000) << ' ' << (base ? base + 1 : file)
      << ':' << line << "] ";
}

Line::~Line() {
  os_ << '\n';
  std::string s = os_.str();
  // One write(2) so concurrent lines do not interleave.
  ssize_t r = ::write(STDERR_FILENO, s.data(), s.size());
  (void)r;
}

}  // namespace sampan::log
