// The kubelet's restart and image-pull back-off (client-go's flowcontrol.Backoff as the
// kubelet uses it): the first failure is retried at once and sets a 10 s delay; each later
// retry doubles it up to 5 minutes. The delay counts from the event that failed (a
// container's finish time), and an entry whose last retry is more than 10 minutes (twice
// the cap) older than the event has expired, so a container that ran for 10 minutes
// starts over at 10 s. Times are seconds passed in by the caller, so the rules are
// unit-tested without sleeping. Not thread-safe (each pod worker owns its own).
#pragma once

#include <map>
#include <string>

namespace sampan::agent {

class Backoff {
 public:
  explicit Backoff(double initial_s = 10, double max_s = 300) : initial_(initial_s), max_(max_s) {}

  // Whether a retry of `key` for a failure at `event_time` must still wait at `now`.
  bool InBackoffSince(const std::string& key, double event_time, double now) const;
  // Records a retry for the failure at `event_time`: the delay becomes 10 s, then doubles.
  void Next(const std::string& key, double event_time);
  // The current delay of `key` (0 if none).
  double Delay(const std::string& key) const;
  void Reset(const std::string& key);

 private:
  struct Entry {
    double delay = 0, last_update = 0;
  };
  bool Expired(const Entry& e, double event_time) const {
    return event_time - e.last_update > 2 * max_;
  }
  double initial_, max_;
  std::map<std::string, Entry> entries_;
};

}  // namespace sampan::agent
