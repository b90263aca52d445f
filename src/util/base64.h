// Base64 (RFC 4648): the standard alphabet with padding, and the URL-safe one without.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sampan {

std::string Base64Encode(std::string_view in);
std::string Base64UrlEncode(std::string_view in);  // '-' '_' and no padding
// Decodes either alphabet, padding optional, ASCII whitespace ignored; nullopt if malformed.
std::optional<std::string> Base64Decode(std::string_view in);

}  // namespace sampan
