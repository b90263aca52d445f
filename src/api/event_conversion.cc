#include "api/event_conversion.h"

#include <utility>

namespace sampan::api {

namespace json = boost::json;

namespace {

// (events.k8s.io/v1 name, core/v1 name) for fields that only change name.
constexpr std::pair<std::string_view, std::string_view> kRenamed[] = {
    {"regarding", "involvedObject"},
    {"note", "message"},
    {"reportingController", "reportingComponent"},
    {"deprecatedSource", "source"},
    {"deprecatedFirstTimestamp", "firstTimestamp"},
    {"deprecatedLastTimestamp", "lastTimestamp"},
    {"deprecatedCount", "count"},
};

// Fields with the same name in both versions.
constexpr std::string_view kSame[] = {"metadata", "eventTime", "series", "reportingInstance",
                                      "action",   "reason",    "related", "type"};

json::object Convert(const json::object& in, bool to_core, std::string_view api_version) {
  json::object out;
  out["apiVersion"] = api_version;
  out["kind"] = "Event";
  for (auto f : kSame) {
    if (auto* v = in.if_contains(f)) out[f] = *v;
  }
  for (auto [ev, core] : kRenamed) {
    std::string_view from = to_core ? ev : core;
    std::string_view to = to_core ? core : ev;
    if (auto* v = in.if_contains(from)) out[to] = *v;
  }
  return out;
}

}  // namespace

json::object CoreEventToEventsV1(const json::object& core) {
  return Convert(core, false, "events.k8s.io/v1");
}

json::object EventsV1ToCoreEvent(const json::object& ev) { return Convert(ev, true, "v1"); }

std::string EventsV1FieldToCore(std::string_view field) {
  for (auto [ev, core] : kRenamed) {
    if (field == ev) return std::string(core);
    if (field.size() > ev.size() && field.substr(0, ev.size()) == ev && field[ev.size()] == '.')
      return std::string(core) + std::string(field.substr(ev.size()));
  }
  return std::string(field);
}

}  // namespace sampan::api
