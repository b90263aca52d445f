#include "api/labels.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

#include "api/json_util.h"
#include "api/validate.h"

namespace sampan::api {

namespace json = boost::json;

namespace {

// ---- Lexer ------------------------------------------------------------------
enum class Tok {
  kIdentifier,
  kDoesNotExist,  // !
  kEquals,        // =
  kDoubleEquals,  // ==
  kNotEquals,     // !=
  kGreaterThan,   // >
  kLessThan,      // <
  kIn,
  kNotIn,
  kOpenPar,
  kClosedPar,
  kComma,
  kEnd,
};

bool IsSpecial(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

struct Token {
  Tok tok;
  std::string_view text;
};

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  // In `values` mode the words in/notin are plain identifiers.
  Token Next(bool values) {
    while (pos_ < s_.size() && IsSpace(s_[pos_])) ++pos_;
    if (pos_ >= s_.size()) return {Tok::kEnd, ""};
    size_t start = pos_;
    char c = s_[pos_];
    if (IsSpecial(c)) {
      ++pos_;
      if ((c == '=' || c == '!') && pos_ < s_.size() && s_[pos_] == '=') {
        ++pos_;
        return {c == '=' ? Tok::kDoubleEquals : Tok::kNotEquals, s_.substr(start, 2)};
      }
      std::string_view t = s_.substr(start, 1);
      switch (c) {
        case '=':
          return {Tok::kEquals, t};
        case '!':
          return {Tok::kDoesNotExist, t};
        case '(':
          return {Tok::kOpenPar, t};
        case ')':
          return {Tok::kClosedPar, t};
        case ',':
          return {Tok::kComma, t};
        case '>':
          return {Tok::kGreaterThan, t};
        default:
          return {Tok::kLessThan, t};
      }
    }
    while (pos_ < s_.size() && !IsSpace(s_[pos_]) && !IsSpecial(s_[pos_])) ++pos_;
    std::string_view word = s_.substr(start, pos_ - start);
    if (!values && word == "in") return {Tok::kIn, word};
    if (!values && word == "notin") return {Tok::kNotIn, word};
    return {Tok::kIdentifier, word};
  }

  Token Peek(bool values) {
    size_t saved = pos_;
    Token t = Next(values);
    pos_ = saved;
    return t;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

std::string Found(const Token& t, std::string_view expected) {
  std::string text = t.tok == Tok::kEnd ? "end of string" : std::string(t.text);
  return "found '" + text + "', expected: " + std::string(expected);
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

bool ParseInt64(std::string_view s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// Checks a requirement the way labels.NewRequirement does; "" if fine.
std::string CheckRequirement(Requirement& r) {
  using Op = Requirement::Op;
  if (auto errs = IsQualifiedName(r.key); !errs.empty())
    return "key: Invalid value: \"" + r.key + "\": " + Join(errs, "; ");
  switch (r.op) {
    case Op::kIn:
    case Op::kNotIn:
      if (r.values.empty())
        return "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty";
      std::sort(r.values.begin(), r.values.end());
      r.values.erase(std::unique(r.values.begin(), r.values.end()), r.values.end());
      break;
    case Op::kEquals:
    case Op::kNotEquals:
      if (r.values.size() != 1)
        return "values: Invalid value: [" + Join(r.values, " ") +
               "]: exact-match compatibility requires one single value";
      break;
    case Op::kExists:
    case Op::kDoesNotExist:
      if (!r.values.empty())
        return "values: Invalid value: [" + Join(r.values, " ") +
               "]: values set must be empty for exists and does not exist";
      break;
    case Op::kGt:
    case Op::kLt: {
      int64_t unused;
      if (r.values.size() != 1)
        return "values: Invalid value: [" + Join(r.values, " ") +
               "]: for 'Gt', 'Lt' operators, exactly one value is required";
      if (!ParseInt64(r.values[0], &unused))
        return "values[0]: Invalid value: \"" + r.values[0] +
               "\": for 'Gt', 'Lt' operators, the value must be an integer";
      return "";
    }
  }
  for (size_t i = 0; i < r.values.size(); ++i) {
    if (auto errs = IsValidLabelValue(r.values[i]); !errs.empty())
      return "values[" + std::to_string(i) + "][" + r.key + "]: Invalid value: \"" + r.values[i] +
             "\": " + Join(errs, "; ");
  }
  return "";
}

Status RequirementError(const std::string& msg) {
  return BadRequest("unable to parse requirement: " + msg);
}

void SortByKey(std::vector<Requirement>& reqs) {
  std::stable_sort(reqs.begin(), reqs.end(),
                   [](const Requirement& a, const Requirement& b) { return a.key < b.key; });
}

// ---- Parser -----------------------------------------------------------------
Result<Requirement> ParseRequirement(Lexer& lx) {
  using Op = Requirement::Op;
  Requirement r;
  Token t = lx.Next(false);
  bool not_exists = false;
  if (t.tok == Tok::kDoesNotExist) {
    not_exists = true;
    t = lx.Next(false);
  }
  if (t.tok != Tok::kIdentifier) return Status(BadRequest(Found(t, "identifier")));
  r.key = std::string(t.text);
  Token next = lx.Peek(false);
  if (not_exists || next.tok == Tok::kEnd || next.tok == Tok::kComma) {
    r.op = not_exists ? Op::kDoesNotExist : Op::kExists;
  } else {
    Token op = lx.Next(false);
    switch (op.tok) {
      case Tok::kEquals:
      case Tok::kDoubleEquals:
        r.op = Op::kEquals;
        break;
      case Tok::kNotEquals:
        r.op = Op::kNotEquals;
        break;
      case Tok::kIn:
        r.op = Op::kIn;
        break;
      case Tok::kNotIn:
        r.op = Op::kNotIn;
        break;
      case Tok::kGreaterThan:
        r.op = Op::kGt;
        break;
      case Tok::kLessThan:
        r.op = Op::kLt;
        break;
      default:
        return Status(BadRequest(Found(op, "in, notin, =, ==, !=, gt, lt")));
    }
    if (r.op == Op::kIn || r.op == Op::kNotIn) {
      Token open = lx.Next(true);
      if (open.tok != Tok::kOpenPar) return Status(BadRequest(Found(open, "'('")));
      // A comma-separated list, items may be empty: "(a,b)", "()", "(a,)".
      bool expect_value = true;
      while (true) {
        Token v = lx.Next(true);
        if (v.tok == Tok::kIdentifier && expect_value) {
          r.values.emplace_back(v.text);
          expect_value = false;
        } else if (v.tok == Tok::kComma) {
          if (expect_value) r.values.emplace_back();
          expect_value = true;
        } else if (v.tok == Tok::kClosedPar) {
          if (expect_value && !r.values.empty()) r.values.emplace_back();
          break;
        } else {
          return Status(
              BadRequest(Found(v, expect_value ? "',', ')' or identifier" : "',' or ')'")));
        }
      }
    } else {
      Token v = lx.Peek(true);
      if (v.tok == Tok::kEnd || v.tok == Tok::kComma) {
        r.values.emplace_back();
      } else {
        v = lx.Next(true);
        if (v.tok != Tok::kIdentifier) return Status(BadRequest(Found(v, "identifier")));
        r.values.emplace_back(v.text);
      }
    }
  }
  if (std::string err = CheckRequirement(r); !err.empty()) return RequirementError(err);
  return r;
}

bool ContainsValue(const std::vector<std::string>& values, std::string_view v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

// Whether `r` holds for a label value (`value` null = the label is absent).
bool MatchOne(const Requirement& r, const std::string_view* value) {
  using Op = Requirement::Op;
  switch (r.op) {
    case Op::kEquals:
    case Op::kIn:
      return value && ContainsValue(r.values, *value);
    case Op::kNotEquals:
    case Op::kNotIn:
      return !value || !ContainsValue(r.values, *value);
    case Op::kExists:
      return value != nullptr;
    case Op::kDoesNotExist:
      return value == nullptr;
    case Op::kGt:
    case Op::kLt: {
      int64_t have, want;
      if (!value || !ParseInt64(*value, &have) || !ParseInt64(r.values[0], &want)) return false;
      return r.op == Op::kGt ? have > want : have < want;
    }
  }
  return false;
}

}  // namespace

Result<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector sel;
  Lexer lx(text);
  while (true) {
    Token t = lx.Peek(false);
    if (t.tok == Tok::kEnd) break;
    if (t.tok != Tok::kIdentifier && t.tok != Tok::kDoesNotExist)
      return Status(BadRequest(Found(t, "!, identifier, or 'end of string'")));
    ASSIGN_OR_RETURN(Requirement r, ParseRequirement(lx));
    sel.reqs_.push_back(std::move(r));
    Token sep = lx.Next(false);
    if (sep.tok == Tok::kEnd) break;
    if (sep.tok != Tok::kComma) return Status(BadRequest(Found(sep, "',' or 'end of string'")));
    Token after = lx.Peek(false);
    if (after.tok != Tok::kIdentifier && after.tok != Tok::kDoesNotExist)
      return Status(BadRequest(Found(after, "identifier after ','")));
  }
  SortByKey(sel.reqs_);
  return sel;
}

Result<LabelSelector> LabelSelector::FromJson(const json::value& selector) {
  using Op = Requirement::Op;
  LabelSelector sel;
  if (selector.is_null()) return sel;
  if (!selector.is_object()) return Status(BadRequest("a label selector must be an object"));
  const auto& obj = selector.as_object();
  for (const auto& kv : obj) {
    if (kv.key() != "matchLabels" && kv.key() != "matchExpressions")
      return Status(
          BadRequest("unknown field \"" + std::string(kv.key()) + "\" in a label selector"));
  }
  if (auto it = obj.find("matchLabels"); it != obj.end() && !it->value().is_null()) {
    if (!it->value().is_object()) return Status(BadRequest("matchLabels must be an object"));
    for (const auto& kv : it->value().as_object()) {
      if (!kv.value().is_string())
        return Status(BadRequest("matchLabels[" + std::string(kv.key()) + "] must be a string"));
      Requirement r{std::string(kv.key()), Op::kEquals, {std::string(kv.value().as_string())}};
      if (std::string err = CheckRequirement(r); !err.empty()) return RequirementError(err);
      sel.reqs_.push_back(std::move(r));
    }
  }
  if (auto it = obj.find("matchExpressions"); it != obj.end() && !it->value().is_null()) {
    if (!it->value().is_array()) return Status(BadRequest("matchExpressions must be an array"));
    for (const auto& e : it->value().as_array()) {
      if (!e.is_object()) return Status(BadRequest("matchExpressions items must be objects"));
      const auto& eo = e.as_object();
      Requirement r;
      const json::value* key = eo.if_contains("key");
      const json::value* op = eo.if_contains("operator");
      if (!key || !key->is_string()) return Status(BadRequest("matchExpressions: key is required"));
      r.key = std::string(key->as_string());
      std::string op_name = op && op->is_string() ? std::string(op->as_string()) : "";
      if (op_name == "In")
        r.op = Op::kIn;
      else if (op_name == "NotIn")
        r.op = Op::kNotIn;
      else if (op_name == "Exists")
        r.op = Op::kExists;
      else if (op_name == "DoesNotExist")
        r.op = Op::kDoesNotExist;
      else
        return Status(BadRequest("\"" + op_name + "\" is not a valid label selector operator"));
      if (const json::value* vals = eo.if_contains("values"); vals && !vals->is_null()) {
        if (!vals->is_array())
          return Status(BadRequest("matchExpressions: values must be an array"));
        for (const auto& v : vals->as_array()) {
          if (!v.is_string()) return Status(BadRequest("matchExpressions: values must be strings"));
          r.values.emplace_back(v.as_string());
        }
      }
      if (std::string err = CheckRequirement(r); !err.empty()) return RequirementError(err);
      sel.reqs_.push_back(std::move(r));
    }
  }
  SortByKey(sel.reqs_);
  return sel;
}

bool LabelSelector::Matches(const std::map<std::string, std::string, std::less<>>& labels) const {
  for (const auto& r : reqs_) {
    auto it = labels.find(r.key);
    std::string_view v;
    if (it != labels.end()) v = it->second;
    if (!MatchOne(r, it == labels.end() ? nullptr : &v)) return false;
  }
  return true;
}

bool LabelSelector::Matches(const json::value* labels) const {
  const json::object* obj = labels && labels->is_object() ? &labels->as_object() : nullptr;
  for (const auto& r : reqs_) {
    const json::value* v = obj ? obj->if_contains(r.key) : nullptr;
    std::string_view sv;
    if (v && v->is_string()) sv = v->as_string();
    if (!MatchOne(r, v && v->is_string() ? &sv : nullptr)) return false;
  }
  return true;
}

std::string LabelSelector::ToString() const {
  using Op = Requirement::Op;
  std::string out;
  for (const auto& r : reqs_) {
    if (!out.empty()) out += ',';
    switch (r.op) {
      case Op::kEquals:
        out += r.key + "=" + r.values[0];
        break;
      case Op::kNotEquals:
        out += r.key + "!=" + r.values[0];
        break;
      case Op::kIn:
        out += r.key + " in (" + Join(r.values, ",") + ")";
        break;
      case Op::kNotIn:
        out += r.key + " notin (" + Join(r.values, ",") + ")";
        break;
      case Op::kExists:
        out += r.key;
        break;
      case Op::kDoesNotExist:
        out += "!" + r.key;
        break;
      case Op::kGt:
        out += r.key + ">" + r.values[0];
        break;
      case Op::kLt:
        out += r.key + "<" + r.values[0];
        break;
    }
  }
  return out;
}

namespace {

bool NodeRequirementMatches(const json::object& req, bool present, const std::string& value) {
  std::string op = Str(&req, "operator");
  const json::array* values = Arr(&req, "values");
  auto in_values = [&] {
    if (!values) return false;
    for (const json::value& v : *values)
      if (v.is_string() && v.as_string() == value) return true;
    return false;
  };
  if (op == "In") return present && in_values();
  if (op == "NotIn") return !present || !in_values();
  if (op == "Exists") return present;
  if (op == "DoesNotExist") return !present;
  if (op == "Gt" || op == "Lt") {
    if (!present || !values || values->size() != 1 || !(*values)[0].is_string()) return false;
    char* end = nullptr;
    long long have = std::strtoll(value.c_str(), &end, 10);
    if (end == value.c_str() || *end) return false;
    std::string want_text((*values)[0].as_string());
    long long want = std::strtoll(want_text.c_str(), &end, 10);
    if (end == want_text.c_str() || *end) return false;
    return op == "Gt" ? have > want : have < want;
  }
  return false;
}

}  // namespace

bool NodeSelectorTermMatches(const json::object& term, const json::object& labels,
                             std::string_view node) {
  const json::array* exprs = Arr(&term, "matchExpressions");
  const json::array* fields = Arr(&term, "matchFields");
  if ((!exprs || exprs->empty()) && (!fields || fields->empty())) return false;
  if (exprs) {
    for (const json::value& e : *exprs) {
      if (!e.is_object()) return false;
      const json::value* v = labels.if_contains(Str(&e.as_object(), "key"));
      bool present = v && v->is_string();
      std::string value = present ? std::string(v->as_string()) : std::string();
      if (!NodeRequirementMatches(e.as_object(), present, value)) return false;
    }
  }
  if (fields) {
    for (const json::value& f : *fields) {
      if (!f.is_object()) return false;
      if (Str(&f.as_object(), "key") != "metadata.name") return false;
      if (!NodeRequirementMatches(f.as_object(), true, std::string(node))) return false;
    }
  }
  return true;
}

}  // namespace sampan::api
