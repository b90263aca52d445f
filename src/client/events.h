// Records core/v1 Events about objects, as Kubernetes components do: an event
// named "<object>.<hex nanoseconds>", and a repeat of the same event (same object,
// type, reason, message) patched in place with count+1 and a new lastTimestamp.
// Thread-safe. Posting is synchronous; failures are logged, never returned
// (events are best effort).
#pragma once

#include <boost/json.hpp>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "client/rest_client.h"
#include "util/clock.h"

namespace sampan::client {

class EventRecorder {
 public:
  EventRecorder(RestClient* client, std::string component, std::string host = "",
                const Clock* clock = &Clock::Real());

  // `involved`: the object the event is about (kind/apiVersion/metadata are read).
  // `type` is "Normal" or "Warning".
  void Record(const boost::json::object& involved, std::string_view type, std::string_view reason,
              std::string message);

 private:
  struct Seen {
    std::string ns, name;
    int64_t count = 0;
  };
  RestClient* client_;
  const std::string component_, host_;
  const Clock* clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Seen> seen_;  // guarded; dedup key → event
  std::list<std::string> order_;                // guarded; oldest first, for the size bound
};

}  // namespace sampan::client
