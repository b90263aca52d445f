#include "util/url.h"

#include <cctype>

namespace sampan::url {

std::string QueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string Unescape(std::string_view in, bool form) {
  auto hex = [](char h) -> int {
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%' && i + 2 < in.size()) {
      int a = hex(in[i + 1]), b = hex(in[i + 2]);
      if (a >= 0 && b >= 0) {
        out.push_back(static_cast<char>(a * 16 + b));
        i += 2;
        continue;
      }
    }
    out.push_back(c == '+' && form ? ' ' : c);
  }
  return out;
}

void SplitTarget(std::string_view target, std::string* path,
                 std::multimap<std::string, std::string, std::less<>>* query) {
  auto q = target.find('?');
  *path = Unescape(target.substr(0, q), false);
  if (q == std::string_view::npos) return;
  std::string_view qs = target.substr(q + 1);
  while (!qs.empty()) {
    auto amp = qs.find('&');
    std::string_view kv = qs.substr(0, amp);
    if (!kv.empty()) {
      auto eq = kv.find('=');
      std::string k = Unescape(kv.substr(0, eq), true);
      std::string v = eq == std::string_view::npos ? "" : Unescape(kv.substr(eq + 1), true);
      query->emplace(std::move(k), std::move(v));
    }
    if (amp == std::string_view::npos) break;
    qs = qs.substr(amp + 1);
  }
}

}  // namespace sampan::url
