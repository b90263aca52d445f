#include "api/json_util.h"

#include "util/clock.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <vector>

namespace sampan::api {

namespace json = boost::json;

namespace {

template <typename V>
V* Walk(V* cur, std::string_view dotted) {
  while (cur && !dotted.empty()) {
    size_t dot = dotted.find('.');
    std::string_view step = dotted.substr(0, dot);
    dotted = dot == std::string_view::npos ? std::string_view() : dotted.substr(dot + 1);
    if (!cur->is_object()) return nullptr;
    auto& obj = cur->as_object();
    auto it = obj.find(step);
    cur = it == obj.end() ? nullptr : &it->value();
  }
  return cur;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).

void WriteString(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '<':
      case '>':
      case '&':  // escaped as Go's encoding/json does, so output is safe in HTML
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else if (c == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                   (static_cast<unsigned char>(s[i + 2]) == 0xa8 ||
                    static_cast<unsigned char>(s[i + 2]) == 0xa9)) {
          out += static_cast<unsigned char>(s[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029";
          i += 2;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

// Go's encoding/json float format: shortest round-trip digits, plain notation for
// 1e-6 <= |d| < 1e21, otherwise exponent notation without a leading zero ("1e-7").
void WriteDouble(double d, std::string& out) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[64];
  double a = std::fabs(d);
  bool exp = a != 0 && (a < 1e-6 || a >= 1e21);
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d,
                                 exp ? std::chars_format::scientific : std::chars_format::fixed);
  std::string text(buf, end);
  if (exp) {
    size_t e = text.find('e');
    if (e != std::string::npos && e + 2 < text.size() && text[e + 2] == '0' && text.size() - e == 4)
      text.erase(e + 2, 1);
  }
  out += text;
}

void WriteJson(const json::value& v, bool sorted, std::string& out) {
  switch (v.kind()) {
    case json::kind::null:
      out += "null";
      return;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return;
    case json::kind::int64:
      out += std::to_string(v.get_int64());
      return;
    case json::kind::uint64:
      out += std::to_string(v.get_uint64());
      return;
    case json::kind::double_:
      WriteDouble(v.get_double(), out);
      return;
    case json::kind::string:
      WriteString(v.get_string(), out);
      return;
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        WriteJson(e, sorted, out);
      }
      out.push_back(']');
      return;
    }
    case json::kind::object: {
      const auto& obj = v.get_object();
      std::vector<const json::key_value_pair*> items;
      items.reserve(obj.size());
      for (const auto& kv : obj) items.push_back(&kv);
      if (sorted) {
        std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
      }
      out.push_back('{');
      bool first = true;
      for (auto* kv : items) {
        if (!first) out.push_back(',');
        first = false;
        WriteString(kv->key(), out);
        out.push_back(':');
        WriteJson(kv->value(), sorted, out);
      }
      out.push_back('}');
      return;
    }
  }
}

}  // namespace

const json::value* GetPath(const json::value& root, std::string_view dotted) {
  return Walk(&root, dotted);
}
json::value* GetPath(json::value& root, std::string_view dotted) { return Walk(&root, dotted); }

std::string GetString(const json::value& root, std::string_view dotted, std::string_view fallback) {
  const json::value* v = GetPath(root, dotted);
  if (v && v->is_string()) return std::string(v->as_string());
  return std::string(fallback);
}

int64_t GetInt(const json::value& root, std::string_view dotted, int64_t fallback) {
  const json::value* v = GetPath(root, dotted);
  if (!v) return fallback;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX))
    return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) {
    double d = v->as_double();
    if (d == std::floor(d) && std::fabs(d) < 9.2e18) return static_cast<int64_t>(d);
  }
  return fallback;
}

bool GetBool(const json::value& root, std::string_view dotted, bool fallback) {
  const json::value* v = GetPath(root, dotted);
  return v && v->is_bool() ? v->as_bool() : fallback;
}

void SetPath(json::value& root, std::string_view dotted, json::value v) {
  json::value* cur = &root;
  while (true) {
    if (!cur->is_object()) *cur = json::object();
    size_t dot = dotted.find('.');
    std::string_view step = dotted.substr(0, dot);
    if (dot == std::string_view::npos) {
      cur->as_object()[step] = std::move(v);
      return;
    }
    cur = &cur->as_object()[step];
    dotted = dotted.substr(dot + 1);
  }
}

std::string FormatRfc3339(int64_t unix_seconds) { return sampan::FormatRfc3339(unix_seconds); }

std::string FormatRfc3339Micro(int64_t unix_seconds, int32_t nanos) {
  return sampan::FormatRfc3339Micro(unix_seconds, nanos);
}

Result<int64_t> ParseRfc3339(std::string_view s, int32_t* nanos) {
  int64_t secs = 0;
  if (!sampan::ParseRfc3339(s, &secs, nanos)) {
    return BadRequest("invalid time \"" + std::string(s) +
                      "\": must be RFC 3339, e.g. \"2006-01-02T15:04:05Z\"");
  }
  return secs;
}

int64_t NowSeconds() { return static_cast<int64_t>(std::time(nullptr)); }
std::string NowRfc3339() { return FormatRfc3339(NowSeconds()); }

std::string SerializeJson(const json::value& v) {
  std::string out;
  WriteJson(v, false, out);
  return out;
}

std::string SerializeSorted(const json::value& v) {
  std::string out;
  WriteJson(v, true, out);
  return out;
}

bool JsonEqual(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_double() || b.is_double()) return a.to_number<double>() == b.to_number<double>();
    if (a.is_int64() && b.is_int64()) return a.as_int64() == b.as_int64();
    if (a.is_uint64() && b.is_uint64()) return a.as_uint64() == b.as_uint64();
    const json::value& s = a.is_int64() ? a : b;  // one signed, one unsigned
    const json::value& u = a.is_int64() ? b : a;
    return s.as_int64() >= 0 && static_cast<uint64_t>(s.as_int64()) == u.as_uint64();
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_object()) {
    const auto &ao = a.as_object(), &bo = b.as_object();
    if (ao.size() != bo.size()) return false;
    for (const auto& kv : ao) {
      const json::value* other = bo.if_contains(kv.key());
      if (!other || !JsonEqual(kv.value(), *other)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    const auto &aa = a.as_array(), &ba = b.as_array();
    if (aa.size() != ba.size()) return false;
    for (size_t i = 0; i < aa.size(); ++i) {
      if (!JsonEqual(aa[i], ba[i])) return false;
    }
    return true;
  }
  return a == b;
}

std::string DescribeValue(const json::value& v) {
  if (v.is_string()) return json::serialize(v);
  return SerializeSorted(v);
}

const json::object* Obj(const json::object* o, std::string_view k) {
  if (!o) return nullptr;
  auto* v = o->if_contains(k);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

const json::array* Arr(const json::object* o, std::string_view k) {
  if (!o) return nullptr;
  auto* v = o->if_contains(k);
  return v && v->is_array() ? &v->as_array() : nullptr;
}

std::string Str(const json::object* o, std::string_view k) {
  if (!o) return "";
  auto* v = o->if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

int64_t Int(const json::object* o, std::string_view k, int64_t fallback) {
  if (!o) return fallback;
  auto* v = o->if_contains(k);
  if (!v) return fallback;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return fallback;
}

}  // namespace sampan::api
