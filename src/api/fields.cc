#include "api/fields.h"

#include <boost/json.hpp>

#include "api/json_util.h"

namespace sampan::api {

namespace json = boost::json;

namespace {

// Splits on separators not escaped by a backslash.
std::vector<std::string_view> SplitTerms(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  bool escaped = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (escaped) {
      escaped = false;
    } else if (s[i] == '\\') {
      escaped = true;
    } else if (s[i] == ',') {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

// Undoes the escaping of '\\', ',' and '=' in a value; other escapes and bare specials
// are errors.
Result<std::string> Unescape(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\\') {
      if (i + 1 >= v.size() || (v[i + 1] != '\\' && v[i + 1] != ',' && v[i + 1] != '='))
        return Status(BadRequest("invalid field selector: invalid escape sequence in value \"" +
                                 std::string(v) + "\""));
      out.push_back(v[++i]);
    } else if (c == ',' || c == '=') {
      return Status(BadRequest("invalid field selector: unescaped '" + std::string(1, c) +
                               "' in value \"" + std::string(v) + "\""));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string ValueText(const json::value* v) {
  if (!v || v->is_null()) return "";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_bool()) return v->as_bool() ? "true" : "false";
  return json::serialize(*v);
}

}  // namespace

Result<FieldSelector> FieldSelector::Parse(std::string_view text) {
  FieldSelector sel;
  for (std::string_view part : SplitTerms(text)) {
    if (part.empty()) continue;
    bool found = false;
    bool escaped = false;
    for (size_t i = 0; i < part.size() && !found; ++i) {
      if (escaped) {
        escaped = false;
        continue;
      }
      if (part[i] == '\\') {
        escaped = true;
        continue;
      }
      size_t op_len = 0;
      bool equals = true;
      if (part.substr(i, 2) == "!=")
        op_len = 2, equals = false;
      else if (part.substr(i, 2) == "==")
        op_len = 2;
      else if (part[i] == '=')
        op_len = 1;
      if (!op_len) continue;
      found = true;
      Term t;
      t.field = std::string(part.substr(0, i));
      t.equals = equals;
      if (t.field.empty())
        return Status(BadRequest("invalid selector: '" + std::string(text) +
                                 "'; can't understand '" + std::string(part) + "'"));
      ASSIGN_OR_RETURN(t.value, Unescape(part.substr(i + op_len)));
      sel.terms_.push_back(std::move(t));
    }
    if (!found)
      return Status(BadRequest("invalid selector: '" + std::string(text) + "'; can't understand '" +
                               std::string(part) + "'"));
  }
  return sel;
}

bool FieldSelector::Matches(const json::object& obj) const {
  for (const auto& t : terms_) {
    // The first step is looked up in `obj` itself, the rest with GetPath.
    std::string_view path = t.field;
    size_t dot = path.find('.');
    const json::value* first = obj.if_contains(path.substr(0, dot));
    const json::value* v =
        first && dot != std::string_view::npos ? GetPath(*first, path.substr(dot + 1)) : first;
    bool eq = ValueText(v) == t.value;
    if (eq != t.equals) return false;
  }
  return true;
}

const std::string* FieldSelector::RequiredValue(std::string_view field) const {
  for (const auto& t : terms_) {
    if (t.equals && t.field == field) return &t.value;
  }
  return nullptr;
}

}  // namespace sampan::api
