// core/v1 Event ⇄ events.k8s.io/v1 Event. Kubernetes keeps both as one resource
// (stored in the core form); the API server converts at the edge so that an Event
// written through either API reads through the other.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

namespace sampan::api {

boost::json::object CoreEventToEventsV1(const boost::json::object& core);
boost::json::object EventsV1ToCoreEvent(const boost::json::object& ev);

// The core/v1 field for an events.k8s.io/v1 field selector term ("regarding.name" →
// "involvedObject.name", "note" → "message", ...); other names unchanged.
std::string EventsV1FieldToCore(std::string_view field);

}  // namespace sampan::api
