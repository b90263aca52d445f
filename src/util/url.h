// Percent-encoding of URL parts, shared by the API server, its clients and the kubelet API.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace sampan::url {

// %-encodes everything but unreserved characters (RFC 3986: ALPHA DIGIT - _ . ~), for a
// query parameter value or a path segment.
std::string QueryEscape(std::string_view s);
// Decodes %XX escapes (malformed ones stay as they are); `form` also turns '+' into ' '
// (query strings), which a path keeps.
std::string Unescape(std::string_view in, bool form);
// Splits "path?query" into the decoded path and the decoded query parameters (repeated
// names kept in order).
void SplitTarget(std::string_view target, std::string* path,
                 std::multimap<std::string, std::string, std::less<>>* query);

}  // namespace sampan::url
