#include "agent/backoff.h"

#include <algorithm>

namespace sampan::agent {

bool Backoff::InBackoffSince(const std::string& key, double event_time, double now) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || Expired(it->second, event_time)) return false;
  return now - event_time < it->second.delay;
}

void Backoff::Next(const std::string& key, double event_time) {
  auto it = entries_.find(key);
  if (it == entries_.end() || Expired(it->second, event_time)) {
    entries_[key] = Entry{initial_, event_time};
    return;
  }
  it->second.delay = std::min(it->second.delay * 2, max_);
  it->second.last_update = event_time;
}

double Backoff::Delay(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? 0 : it->second.delay;
}

void Backoff::Reset(const std::string& key) { entries_.erase(key); }

}  // namespace sampan::agent
