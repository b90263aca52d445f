// Internal: small null-safe readers for the pod and node fields the scheduler uses.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <string_view>

namespace sampan::scheduler::internal {

inline const boost::json::object* Obj(const boost::json::object* o, std::string_view k) {
  if (!o) return nullptr;
  auto* v = o->if_contains(k);
  return v && v->is_object() ? &v->as_object() : nullptr;
}
inline const boost::json::array* Arr(const boost::json::object* o, std::string_view k) {
  if (!o) return nullptr;
  auto* v = o->if_contains(k);
  return v && v->is_array() ? &v->as_array() : nullptr;
}
inline std::string Str(const boost::json::object* o, std::string_view k) {
  if (!o) return "";
  auto* v = o->if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
inline int64_t Int(const boost::json::object* o, std::string_view k, int64_t fallback = 0) {
  if (!o) return fallback;
  auto* v = o->if_contains(k);
  if (!v) return fallback;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  return fallback;
}
inline bool Bool(const boost::json::object* o, std::string_view k) {
  if (!o) return false;
  auto* v = o->if_contains(k);
  return v && v->is_bool() && v->as_bool();
}

}  // namespace sampan::scheduler::internal
