// Small helpers of the volume module: JSON access and path cleaning.
#include <cstdio>

#include "volume/volume_internal.h"

namespace sampan::volume::internal {

namespace json = boost::json;

const json::object* Obj(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

const json::array* Arr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_array() ? &v->as_array() : nullptr;
}

std::string Str(const json::object& o, std::string_view key, std::string_view fallback) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string(fallback);
}

std::optional<int64_t> Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) {
    double d = v->as_double();
    if (d == static_cast<double>(static_cast<int64_t>(d))) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

bool Bool(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

const json::object* FindContainer(const json::object& pod, std::string_view name) {
  const json::object* spec = Obj(pod, "spec");
  if (spec == nullptr) return nullptr;
  for (const char* list : {"containers", "initContainers", "ephemeralContainers"}) {
    if (const json::array* a = Arr(*spec, list)) {
      for (const json::value& c : *a) {
        if (c.is_object() && Str(c.as_object(), "name") == name) return &c.as_object();
      }
    }
  }
  return nullptr;
}

std::string CleanPath(std::string_view p) {
  bool rooted = !p.empty() && p[0] == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view seg = p.substr(i, j - i);
    if (seg.empty() || seg == ".") {
      // skip
    } else if (seg == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(seg);
      }
    } else {
      parts.push_back(seg);
    }
    i = j + 1;
  }
  if (parts.empty()) return rooted ? std::string(1, '/') : std::string(1, '.');
  std::string out;
  if (rooted) out.push_back('/');
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) out.push_back('/');
    out.append(parts[k]);
  }
  return out;
}

std::string AggregateMessages(const std::vector<std::string>& msgs) {
  std::vector<std::string> uniq;
  for (const std::string& m : msgs) {
    bool seen = false;
    for (const std::string& u : uniq) seen = seen || u == m;
    if (!seen) uniq.push_back(m);
  }
  if (uniq.size() == 1) return uniq[0];
  std::string out = "[";
  for (size_t i = 0; i < uniq.size(); ++i) {
    if (i > 0) out += ", ";
    out += uniq[i];
  }
  return out + "]";
}

}  // namespace sampan::volume::internal
