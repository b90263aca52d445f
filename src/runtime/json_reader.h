// JsonReader: typed access to Boost.JSON values that records the first error with its JSON
// path ("process.args[1]: expected a string") instead of throwing. Internal to the runtime.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sampan::runtime {

class JsonReader {
 public:
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // Records `what` for `field` unless an earlier error is already recorded.
  void Fail(const std::string& field, const std::string& what) {
    if (error_.empty()) error_ = field.empty() ? what : field + ": " + what;
  }

  const boost::json::object* Object(const boost::json::value& v, const std::string& at) {
    if (const auto* o = v.if_object()) return o;
    Fail(at, "expected an object");
    return nullptr;
  }
  const boost::json::array* Array(const boost::json::value& v, const std::string& at) {
    if (const auto* a = v.if_array()) return a;
    Fail(at, "expected an array");
    return nullptr;
  }

  std::string String(const boost::json::object& o, const char* key, const std::string& at,
                     const std::string& dflt) {
    const boost::json::value* v = o.if_contains(key);
    if (!v || v->is_null()) return dflt;
    if (const auto* s = v->if_string()) return std::string(*s);
    Fail(Join(at, key), "expected a string");
    return dflt;
  }
  bool Bool(const boost::json::object& o, const char* key, const std::string& at, bool dflt) {
    const boost::json::value* v = o.if_contains(key);
    if (!v || v->is_null()) return dflt;
    if (const bool* b = v->if_bool()) return *b;
    Fail(Join(at, key), "expected a boolean");
    return dflt;
  }
  int64_t I64(const boost::json::object& o, const char* key, const std::string& at, int64_t dflt) {
    const boost::json::value* v = o.if_contains(key);
    if (!v || v->is_null()) return dflt;
    if (const int64_t* i = v->if_int64()) return *i;
    if (const uint64_t* u = v->if_uint64(); u && *u <= INT64_MAX) return static_cast<int64_t>(*u);
    if (const double* d = v->if_double(); d && *d == static_cast<double>(static_cast<int64_t>(*d)))
      return static_cast<int64_t>(*d);
    Fail(Join(at, key), "expected an integer");
    return dflt;
  }
  uint64_t U64(const boost::json::object& o, const char* key, const std::string& at,
               uint64_t dflt) {
    const boost::json::value* v = o.if_contains(key);
    if (!v || v->is_null()) return dflt;
    if (const uint64_t* u = v->if_uint64()) return *u;
    if (const int64_t* i = v->if_int64(); i && *i >= 0) return static_cast<uint64_t>(*i);
    if (const int64_t* i = v->if_int64(); i && *i == -1) return UINT64_MAX;  // "unlimited"
    Fail(Join(at, key), "expected a non-negative integer");
    return dflt;
  }
  uint32_t U32(const boost::json::object& o, const char* key, const std::string& at,
               uint32_t dflt) {
    uint64_t v = U64(o, key, at, dflt);
    if (v > UINT32_MAX) {
      Fail(Join(at, key), "value out of range for a 32-bit number");
      return dflt;
    }
    return static_cast<uint32_t>(v);
  }
  std::vector<std::string> StringArray(const boost::json::object& o, const char* key,
                                       const std::string& at) {
    std::vector<std::string> out;
    const boost::json::value* v = o.if_contains(key);
    if (!v || v->is_null()) return out;
    const auto* a = v->if_array();
    if (!a) {
      Fail(Join(at, key), "expected an array of strings");
      return out;
    }
    for (size_t i = 0; i < a->size(); ++i) {
      const auto* s = (*a)[i].if_string();
      if (!s) {
        Fail(Join(at, key) + "[" + std::to_string(i) + "]", "expected a string");
        return {};
      }
      out.emplace_back(*s);
    }
    return out;
  }
  std::vector<uint32_t> U32Array(const boost::json::object& o, const char* key,
                                 const std::string& at) {
    std::vector<uint32_t> out;
    const boost::json::value* v = o.if_contains(key);
    if (!v || v->is_null()) return out;
    const auto* a = v->if_array();
    if (!a) {
      Fail(Join(at, key), "expected an array of numbers");
      return out;
    }
    for (size_t i = 0; i < a->size(); ++i) {
      const boost::json::value& e = (*a)[i];
      if (const uint64_t* u = e.if_uint64(); u && *u <= UINT32_MAX) {
        out.push_back(static_cast<uint32_t>(*u));
      } else if (const int64_t* n = e.if_int64(); n && *n >= 0 && *n <= UINT32_MAX) {
        out.push_back(static_cast<uint32_t>(*n));
      } else {
        Fail(Join(at, key) + "[" + std::to_string(i) + "]", "expected a 32-bit number");
        return {};
      }
    }
    return out;
  }
  std::map<std::string, std::string> StringMap(const boost::json::value& v, const std::string& at) {
    std::map<std::string, std::string> out;
    if (v.is_null()) return out;
    const auto* o = v.if_object();
    if (!o) {
      Fail(at, "expected an object of strings");
      return out;
    }
    for (const auto& kv : *o) {
      const auto* s = kv.value().if_string();
      if (!s) {
        Fail(at + "." + std::string(kv.key()), "expected a string");
        return {};
      }
      out.emplace(std::string(kv.key()), std::string(*s));
    }
    return out;
  }

 private:
  static std::string Join(const std::string& at, const char* key) {
    return at.empty() ? std::string(key) : at + "." + key;
  }
  std::string error_;
};

}  // namespace sampan::runtime
