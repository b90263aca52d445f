// Read-only views of API objects' members for the agent's watchers (service proxy, cluster
// DNS): absent or mistyped members read as empty, and strings as views into the object.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string_view>

namespace sampan::agent::view {

inline std::string_view Str(const boost::json::object& o, std::string_view k) {
  const boost::json::value* v = o.if_contains(k);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

inline int64_t Int(const boost::json::object& o, std::string_view k) {
  const boost::json::value* v = o.if_contains(k);
  return v && v->is_int64() ? v->as_int64() : 0;
}

inline const boost::json::object* Obj(const boost::json::object& o, std::string_view k) {
  const boost::json::value* v = o.if_contains(k);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

inline const boost::json::array* Arr(const boost::json::object& o, std::string_view k) {
  const boost::json::value* v = o.if_contains(k);
  return v && v->is_array() ? &v->as_array() : nullptr;
}

// metadata.<k> and metadata.labels.<k>.
inline std::string_view Meta(const boost::json::object& o, std::string_view k) {
  const boost::json::object* m = Obj(o, "metadata");
  return m ? Str(*m, k) : std::string_view();
}

inline std::string_view LabelOf(const boost::json::object& o, std::string_view k) {
  const boost::json::object* m = Obj(o, "metadata");
  const boost::json::object* l = m ? Obj(*m, "labels") : nullptr;
  return l ? Str(*l, k) : std::string_view();
}

// A port's protocol, TCP when unset.
inline std::string_view ProtocolOf(const boost::json::object& port) {
  std::string_view p = Str(port, "protocol");
  return p.empty() ? "TCP" : p;
}

// An EndpointSlice endpoint serves unless its conditions say it is not ready (absent: ready).
inline bool EndpointReady(const boost::json::object& endpoint) {
  const boost::json::object* c = Obj(endpoint, "conditions");
  const boost::json::value* r = c ? c->if_contains("ready") : nullptr;
  return !(r && r->is_bool() && !r->as_bool());
}

}  // namespace sampan::agent::view
