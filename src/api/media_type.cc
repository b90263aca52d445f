#include "api/media_type.h"

#include <cctype>

namespace sampan::api {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits off the text before `sep` (or all of it) from `s`.
std::string_view Next(std::string_view* s, char sep) {
  size_t at = s->find(sep);
  std::string_view head = s->substr(0, at);
  *s = at == std::string_view::npos ? std::string_view() : s->substr(at + 1);
  return head;
}

}  // namespace

bool MediaRange::IsJsonCompatible() const {
  return type == "application/json" || type == "application/*" || type == "*/*";
}

std::vector<MediaRange> ParseAccept(std::string_view accept) {
  std::vector<MediaRange> out;
  while (!accept.empty()) {
    std::string_view range = Next(&accept, ',');
    MediaRange m;
    for (char c : Trim(Next(&range, ';'))) {
      m.type.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    while (!range.empty()) {
      std::string_view param = Trim(Next(&range, ';'));
      std::string_view key = Trim(Next(&param, '='));
      std::string_view value = Trim(param);
      if (key == "as") m.as = value;
      if (key == "g") m.g = value;
      if (key == "v") m.v = value;
    }
    if (!m.type.empty()) out.push_back(std::move(m));
  }
  return out;
}

}  // namespace sampan::api
