// Go's strconv.Quote, for messages that must read exactly as Kubernetes' (Go) components print
// them: "..." with \" \\ \n \t ..., \xNN for bytes that are not valid UTF-8 and \uNNNN for
// non-printable runes (a close approximation of unicode.IsPrint).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sampan {

std::string GoQuote(std::string_view s);
// Go's %q of a []string: ["a" "b"].
std::string GoQuoteList(const std::vector<std::string>& items);

}  // namespace sampan
