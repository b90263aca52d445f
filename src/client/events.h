// Records core/v1 Events about objects, as Kubernetes components do (client-go's
// legacy recorder and its EventCorrelator):
//  - an event named "<object>.<hex nanoseconds>" with count 1 and firstTimestamp =
//    lastTimestamp = now;
//  - a repeat of the same event (same object and fieldPath, type, reason, message) is
//    patched in place: count+1, a new lastTimestamp (firstTimestamp kept, no `series`:
//    that belongs to events.k8s.io/v1);
//  - similar events (same object, type and reason; any fieldPath) with 10 different
//    messages within 10 minutes are combined: from the tenth on, one event whose message
//    is "(combined from similar events): " + the latest message, counted like a repeat.
// Not done: client-go's per-object spam filter (burst 25, then one per 5 minutes).
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
  // `field_path` names a part of the object, e.g. "spec.containers{web}" for a container
  // of a pod (involvedObject.fieldPath; `kubectl get events -o wide` shows it as SUBOBJECT).
  void Record(const boost::json::object& involved, std::string_view type, std::string_view reason,
              std::string message, std::string_view field_path = {});

  // The fieldPath Kubernetes gives events about a pod's container.
  static std::string ContainerFieldPath(std::string_view container, bool init = false);

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
  struct Similar {
    std::list<std::string> messages;  // distinct messages seen, at most 10
    int64_t last_ns = 0;
  };
  std::unordered_map<std::string, Similar> similar_;  // guarded; aggregate key → messages
  std::list<std::string> similar_order_;              // guarded; for the size bound
  int64_t last_name_nanos_ = 0;  // guarded; keeps event names unique on a coarse clock
};

}  // namespace sampan::client
