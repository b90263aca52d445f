// Time and identifiers: an injectable clock, RFC 3339 formatting, UUIDs.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace sampan {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowUnixNanos() const = 0;
  int64_t NowUnix() const { return NowUnixNanos() / 1000000000; }
  static const Clock& Real();
};

// A clock that moves only when told (tests of timed behaviour: back-offs, deadlines, schedules).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t unix_seconds = 1700000000) : nanos_(unix_seconds * kNanos) {}
  int64_t NowUnixNanos() const override { return nanos_.load(); }
  void Set(int64_t unix_seconds) { nanos_ = unix_seconds * kNanos; }
  void Advance(int64_t seconds) { nanos_ += seconds * kNanos; }

 private:
  static constexpr int64_t kNanos = 1000000000;
  std::atomic<int64_t> nanos_;
};

// "2026-11-25T13:44:45Z" (UTC, whole seconds) as Kubernetes' metav1.Time prints.
std::string FormatRfc3339(int64_t unix_seconds);
// "2026-11-25T13:44:45.123456Z" as metav1.MicroTime prints.
std::string FormatRfc3339Micro(int64_t unix_seconds, int32_t nanos);
// Parses RFC 3339 (optional fraction; Z or ±hh:mm) into Unix seconds and, if asked, the
// fraction's nanoseconds. False if malformed.
bool ParseRfc3339(std::string_view text, int64_t* unix_seconds, int32_t* nanos = nullptr);

// A random (version 4) UUID: "3f1e0c4a-9b1d-4c55-8a3e-2f6d9b7c1e20".
std::string NewUuid();
// `n` random characters from Kubernetes' generateName alphabet (no vowels, no 0/1/3).
std::string RandomSuffix(int n);

}  // namespace sampan
