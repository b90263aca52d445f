// Small JSON helpers shared by every module: dotted-path lookups, typed getters
// with defaults, RFC 3339 time text, and a stable compact serializer.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace sampan::api {

// The value at a dotted path ("metadata.name", "spec.template.metadata.labels"), or nullptr
// if any step is absent or not an object. An empty path returns `root`.
const boost::json::value* GetPath(const boost::json::value& root, std::string_view dotted);
boost::json::value* GetPath(boost::json::value& root, std::string_view dotted);

// The string / integer / bool at `dotted`, or `fallback` if absent or of another type.
// GetInt accepts integral doubles (1.0) too.
std::string GetString(const boost::json::value& root, std::string_view dotted,
                      std::string_view fallback = "");
int64_t GetInt(const boost::json::value& root, std::string_view dotted, int64_t fallback = 0);
bool GetBool(const boost::json::value& root, std::string_view dotted, bool fallback = false);

// Sets the value at a dotted path, creating intermediate objects (replacing non-objects).
void SetPath(boost::json::value& root, std::string_view dotted, boost::json::value v);

// "2024-01-02T03:04:05Z" (metav1.Time: whole seconds, UTC).
std::string FormatRfc3339(int64_t unix_seconds);
// "2024-01-02T03:04:05.123456Z" (metav1.MicroTime: six fraction digits, UTC).
std::string FormatRfc3339Micro(int64_t unix_seconds, int32_t nanos);
// Parses RFC 3339 ("...Z", "...+02:00", optional fraction) to Unix seconds (fraction
// dropped). BadRequest if malformed. `nanos`, if given, receives the fraction.
Result<int64_t> ParseRfc3339(std::string_view text, int32_t* nanos = nullptr);
// The current wall-clock time.
int64_t NowSeconds();
std::string NowRfc3339();

// Compact JSON as Go's encoding/json writes it, so replies read like Kubernetes' own:
// numbers in plain notation (1.5, not boost's 1.5E0; integral doubles without a
// fraction), '<' '>' '&' and U+2028/9 escaped as \u003c etc. Keys in insertion order.
std::string SerializeJson(const boost::json::value& v);
// The same with object keys sorted (recursively), like Go's encoding/json of a map:
// equal documents give equal text. Does not change `v`.
std::string SerializeSorted(const boost::json::value& v);

// JSON equality where numbers compare by value (1 == 1.0, int64 5 == uint64 5).
bool JsonEqual(const boost::json::value& a, const boost::json::value& b);

// A human-readable rendering of a JSON value for error messages: strings quoted,
// other values compact JSON.
std::string DescribeValue(const boost::json::value& v);

// Typed views of one member: nullptr / "" / `fallback` when `o` is null, the member is absent
// or has another type. For code that reads objects it does not own field by field.
const boost::json::object* Obj(const boost::json::object* o, std::string_view k);
const boost::json::array* Arr(const boost::json::object* o, std::string_view k);
std::string Str(const boost::json::object* o, std::string_view k);
int64_t Int(const boost::json::object* o, std::string_view k, int64_t fallback = 0);

}  // namespace sampan::api
