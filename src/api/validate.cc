#include "api/validate.h"

#include <boost/json.hpp>
#include <cctype>
#include <set>

#include "api/json_util.h"
#include "api/quantity.h"

namespace sampan::api {

namespace json = boost::json;

namespace {

constexpr size_t kTotalAnnotationSizeLimit = 256 * 1024;

constexpr char kDns1123LabelMsg[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
constexpr char kDns1123SubdomainMsg[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
constexpr char kDns1035LabelMsg[] =
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
constexpr char kQualifiedNameMsg[] =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
constexpr char kLabelValueMsg[] =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

bool LowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool Alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?   (first_alpha: [a-z] first, DNS-1035)
bool MatchesLabel(std::string_view s, bool first_alpha) {
  if (s.empty() || !LowerAlnum(s.front()) || !LowerAlnum(s.back())) return false;
  if (first_alpha && !(s.front() >= 'a' && s.front() <= 'z')) return false;
  for (char c : s) {
    if (!LowerAlnum(c) && c != '-') return false;
  }
  return true;
}

bool MatchesSubdomain(std::string_view s) {
  if (s.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!MatchesLabel(s.substr(start, dot == std::string_view::npos ? dot : dot - start), false))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool MatchesQualifiedPart(std::string_view s) {
  if (s.empty() || !Alnum(s.front()) || !Alnum(s.back())) return false;
  for (char c : s) {
    if (!Alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

std::string Quote(std::string_view s) { return json::serialize(json::value(json::string(s))); }

Cause MakeCause(std::string reason, std::string field, std::string message) {
  return Cause{std::move(reason), std::move(message), std::move(field)};
}
Cause InvalidCause(const std::string& field, const std::string& value_text,
                   const std::string& detail) {
  return MakeCause("FieldValueInvalid", field, "Invalid value: " + value_text + ": " + detail);
}
Cause RequiredCause(const std::string& field, const std::string& detail = "") {
  return MakeCause("FieldValueRequired", field,
                   detail.empty() ? "Required value" : "Required value: " + detail);
}

const Field* FieldNamed(const Schema* s, std::string_view name) {
  for (const auto& f : s->fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string_view TypeName(TypeKind k) {
  switch (k) {
    case TypeKind::kString:
    case TypeKind::kTime:
    case TypeKind::kMicroTime:
    case TypeKind::kBytes:
      return "string";
    case TypeKind::kInteger:
      return "integer";
    case TypeKind::kNumber:
      return "number";
    case TypeKind::kBoolean:
      return "boolean";
    case TypeKind::kObject:
    case TypeKind::kMap:
      return "object";
    case TypeKind::kArray:
      return "array";
    case TypeKind::kQuantity:
      return "quantity";
    case TypeKind::kIntOrString:
      return "integer or string";
    case TypeKind::kAny:
      return "any";
  }
  return "unknown";
}

bool IsBase64(std::string_view s) {
  if (s.size() % 4 != 0) return false;
  size_t pad = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '=') {
      ++pad;
      if (i < s.size() - 2) return false;
    } else if (pad || !(Alnum(c) || c == '+' || c == '/')) {
      return false;
    }
  }
  return pad <= 2;
}

class Walker {
 public:
  explicit Walker(SchemaCheck* out) : out_(out) {}

  void Walk(const json::value& v, const Schema* s, const std::string& path, const Field* field) {
    if (!s || v.is_null()) return;
    switch (s->kind) {
      case TypeKind::kString:
        if (!v.is_string()) return TypeError(v, s, path);
        if (field && !field->enum_values.empty()) CheckEnum(v.as_string(), path, *field);
        return;
      case TypeKind::kInteger: {
        if (!v.is_int64() && !v.is_uint64()) return TypeError(v, s, path);
        if (s->format == "int32") {
          bool fits = v.is_int64() && v.as_int64() >= INT32_MIN && v.as_int64() <= INT32_MAX;
          if (!fits)
            out_->errors.push_back(InvalidCause(path, DescribeValue(v), "must be of type int32"));
        } else if (v.is_uint64()) {
          out_->errors.push_back(InvalidCause(path, DescribeValue(v), "must be of type int64"));
        }
        return;
      }
      case TypeKind::kNumber:
        if (!v.is_number()) TypeError(v, s, path);
        return;
      case TypeKind::kBoolean:
        if (!v.is_bool()) TypeError(v, s, path);
        return;
      case TypeKind::kQuantity: {
        if (v.is_number()) return;
        if (!v.is_string()) return TypeError(v, s, path);
        auto q = Quantity::Parse(v.as_string());
        if (!q.ok())
          out_->errors.push_back(InvalidCause(path, Quote(v.as_string()), q.status().message()));
        return;
      }
      case TypeKind::kIntOrString:
        if (!v.is_string() && !v.is_int64() && !v.is_uint64()) TypeError(v, s, path);
        return;
      case TypeKind::kTime:
      case TypeKind::kMicroTime: {
        if (!v.is_string()) return TypeError(v, s, path);
        auto t = ParseRfc3339(v.as_string());
        if (!t.ok())
          out_->errors.push_back(InvalidCause(path, Quote(v.as_string()), t.status().message()));
        return;
      }
      case TypeKind::kBytes:
        if (!v.is_string()) return TypeError(v, s, path);
        if (!IsBase64(v.as_string()))
          out_->errors.push_back(
              InvalidCause(path, Quote(v.as_string()), "must be base64-encoded data"));
        return;
      case TypeKind::kAny:
        return;
      case TypeKind::kArray: {
        if (!v.is_array()) return TypeError(v, s, path);
        const auto& a = v.as_array();
        for (size_t i = 0; i < a.size(); ++i)
          Walk(a[i], s->element, path + "[" + std::to_string(i) + "]", field);
        return;
      }
      case TypeKind::kMap: {
        if (!v.is_object()) return TypeError(v, s, path);
        for (const auto& kv : v.as_object())
          Walk(kv.value(), s->element, path + "[" + std::string(kv.key()) + "]", field);
        return;
      }
      case TypeKind::kObject: {
        if (!v.is_object()) return TypeError(v, s, path);
        const auto& o = v.as_object();
        for (const auto& kv : o) {
          std::string child =
              path.empty() ? std::string(kv.key()) : path + "." + std::string(kv.key());
          const Field* f = FieldNamed(s, kv.key());
          if (!f) {
            if (!s->preserve_unknown) out_->unknown_fields.push_back(child);
            continue;
          }
          Walk(kv.value(), f->type, child, f);
        }
        for (const auto& f : s->fields) {
          if (!f.required) continue;
          const json::value* fv = o.if_contains(f.name);
          if (!fv || fv->is_null())
            out_->errors.push_back(RequiredCause(path.empty() ? f.name : path + "." + f.name));
        }
        return;
      }
    }
  }

 private:
  void TypeError(const json::value& v, const Schema* s, const std::string& path) {
    out_->errors.push_back(MakeCause("FieldValueTypeInvalid", path,
                                     "Invalid value: " + DescribeValue(v) + ": must be of type " +
                                         std::string(TypeName(s->kind))));
  }
  void CheckEnum(std::string_view v, const std::string& path, const Field& f) {
    for (const auto& e : f.enum_values) {
      if (e == v) return;
    }
    std::string supported;
    for (const auto& e : f.enum_values) supported += (supported.empty() ? "" : ", ") + Quote(e);
    out_->errors.push_back(
        MakeCause("FieldValueNotSupported", path,
                  "Unsupported value: " + Quote(v) + ": supported values: " + supported));
  }

  SchemaCheck* out_;
};

void Defaults(json::value& v, const Schema* s) {
  if (!s) return;
  switch (s->kind) {
    case TypeKind::kObject: {
      if (!v.is_object()) return;
      auto& o = v.as_object();
      for (const auto& f : s->fields) {
        auto it = o.find(f.name);
        if (it == o.end() && !f.default_json.empty()) {
          boost::system::error_code ec;
          json::value d = json::parse(f.default_json, ec);
          if (ec) continue;  // a bad default in a schema is the schema loader's error
          it = o.emplace(f.name, std::move(d)).first;
        }
        if (it != o.end()) Defaults(it->value(), f.type);
      }
      return;
    }
    case TypeKind::kArray:
      if (v.is_array()) {
        for (auto& e : v.as_array()) Defaults(e, s->element);
      }
      return;
    case TypeKind::kMap:
      if (v.is_object()) {
        for (auto& kv : v.as_object()) Defaults(kv.value(), s->element);
      }
      return;
    default:
      return;
  }
}

void Canonicalize(json::value& v, const Schema* s) {
  if (!s || v.is_null()) return;
  switch (s->kind) {
    case TypeKind::kQuantity: {
      if (!v.is_string() && !v.is_number()) return;
      std::string text = v.is_string() ? std::string(v.as_string()) : SerializeJson(v);
      auto q = Quantity::Parse(text);
      if (q.ok()) v = json::string(q->ToString());
      return;
    }
    case TypeKind::kTime:
    case TypeKind::kMicroTime: {
      if (!v.is_string()) return;
      int32_t nanos = 0;
      auto t = ParseRfc3339(v.as_string(), &nanos);
      if (!t.ok()) return;
      v = json::string(s->kind == TypeKind::kTime ? FormatRfc3339(*t)
                                                  : FormatRfc3339Micro(*t, nanos));
      return;
    }
    case TypeKind::kObject:
      if (!v.is_object()) return;
      for (auto& kv : v.as_object()) {
        if (const Field* f = FieldNamed(s, kv.key())) Canonicalize(kv.value(), f->type);
      }
      return;
    case TypeKind::kArray:
      if (!v.is_array()) return;
      for (auto& e : v.as_array()) Canonicalize(e, s->element);
      return;
    case TypeKind::kMap:
      if (!v.is_object()) return;
      for (auto& kv : v.as_object()) Canonicalize(kv.value(), s->element);
      return;
    default:
      return;
  }
}

std::string Aggregate(const std::vector<Cause>& causes) {
  if (causes.size() == 1) return causes[0].field + ": " + causes[0].message;
  std::string out = "[";
  for (size_t i = 0; i < causes.size(); ++i) {
    if (i) out += ", ";
    out += causes[i].field + ": " + causes[i].message;
  }
  return out + "]";
}

std::vector<std::string> PathSegmentName(std::string_view name) {
  std::vector<std::string> errs;
  if (name == "." || name == "..") errs.push_back("may not be '" + std::string(name) + "'");
  if (name.find('/') != std::string_view::npos) errs.push_back("may not contain '/'");
  if (name.find('%') != std::string_view::npos) errs.push_back("may not contain '%'");
  return errs;
}

// A generateName is valid if the name made by appending characters would be: a trailing
// '-' is allowed there.
std::vector<std::string> CheckName(std::string_view name, NameRule rule, bool prefix) {
  if (prefix && rule != NameRule::kPathSegment && !name.empty() && name.back() == '-') {
    std::string masked(name);
    masked.back() = 'a';
    return CheckName(masked, rule, false);
  }
  switch (rule) {
    case NameRule::kSubdomain:
      return IsDns1123Subdomain(name);
    case NameRule::kDns1123Label:
      return IsDns1123Label(name);
    case NameRule::kDns1035Label:
      return IsDns1035Label(name);
    case NameRule::kPathSegment:
      return PathSegmentName(name);
  }
  return {};
}

std::string JoinErrors(const std::vector<std::string>& errs) {
  std::string out;
  for (const auto& e : errs) out += (out.empty() ? "" : "; ") + e;
  return out;
}

}  // namespace

SchemaCheck CheckAgainstSchema(const json::value& obj, const Schema* schema) {
  SchemaCheck out;
  Walker(&out).Walk(obj, schema, "", nullptr);
  return out;
}

Status ApplyFieldValidation(const SchemaCheck& check, FieldValidation mode,
                            std::vector<std::string>* warnings) {
  std::vector<std::string> problems;
  for (const auto& f : check.unknown_fields) problems.push_back("unknown field " + Quote(f));
  for (const auto& f : check.duplicate_fields) problems.push_back("duplicate field " + Quote(f));
  if (!problems.empty()) {
    if (mode == FieldValidation::kStrict) {
      std::string msg = "strict decoding error: ";
      for (size_t i = 0; i < problems.size(); ++i) msg += (i ? ", " : "") + problems[i];
      return BadRequest(std::move(msg));
    }
    if (mode == FieldValidation::kWarn && warnings) {
      warnings->insert(warnings->end(), problems.begin(), problems.end());
    }
  }
  if (!check.errors.empty()) return Invalid(Aggregate(check.errors), check.errors);
  return Status::Ok();
}

void ApplySchemaDefaults(json::value& obj, const Schema* schema) { Defaults(obj, schema); }

void CanonicalizeBySchema(json::value& obj, const Schema* schema) { Canonicalize(obj, schema); }

std::vector<std::string> IsDns1123Subdomain(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 253) errs.push_back("must be no more than 253 characters");
  if (!MatchesSubdomain(value)) errs.push_back(kDns1123SubdomainMsg);
  return errs;
}

std::vector<std::string> IsDns1123Label(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back("must be no more than 63 characters");
  if (!MatchesLabel(value, false)) errs.push_back(kDns1123LabelMsg);
  return errs;
}

std::vector<std::string> IsDns1035Label(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back("must be no more than 63 characters");
  if (!MatchesLabel(value, true)) errs.push_back(kDns1035LabelMsg);
  return errs;
}

std::vector<std::string> IsQualifiedName(std::string_view value) {
  std::vector<std::string> errs;
  std::string_view name = value;
  size_t slash = value.find('/');
  if (slash != std::string_view::npos) {
    if (value.find('/', slash + 1) != std::string_view::npos) {
      errs.push_back(std::string("a qualified name ") + kQualifiedNameMsg +
                     " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
      return errs;
    }
    std::string_view prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      for (const auto& e : IsDns1123Subdomain(prefix)) errs.push_back("prefix part " + e);
    }
  }
  if (name.empty()) {
    errs.push_back("name part must be non-empty");
  } else if (name.size() > 63) {
    errs.push_back("name part must be no more than 63 characters");
  }
  if (!name.empty() && !MatchesQualifiedPart(name))
    errs.push_back(std::string("name part ") + kQualifiedNameMsg);
  return errs;
}

std::vector<std::string> IsValidLabelValue(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back("must be no more than 63 characters");
  if (!value.empty() && !MatchesQualifiedPart(value)) errs.push_back(kLabelValueMsg);
  return errs;
}

void ValidateObjectMeta(const json::object& meta, bool namespaced, NameRule rule,
                        std::vector<Cause>* causes) {
  auto str = [&](std::string_view key) -> std::string {
    const json::value* v = meta.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : "";
  };
  const std::string name = str("name"), generate = str("generateName"), ns = str("namespace");
  if (!generate.empty()) {
    if (auto errs = CheckName(generate, rule, true); !errs.empty())
      causes->push_back(InvalidCause("metadata.generateName", Quote(generate), JoinErrors(errs)));
  }
  if (name.empty()) {
    if (generate.empty())
      causes->push_back(RequiredCause("metadata.name", "name or generateName is required"));
  } else if (auto errs = CheckName(name, rule, false); !errs.empty()) {
    causes->push_back(InvalidCause("metadata.name", Quote(name), JoinErrors(errs)));
  }
  if (namespaced) {
    if (ns.empty()) {
      causes->push_back(RequiredCause("metadata.namespace"));
    } else if (auto errs = IsDns1123Label(ns); !errs.empty()) {
      causes->push_back(InvalidCause("metadata.namespace", Quote(ns), JoinErrors(errs)));
    }
  } else if (!ns.empty()) {
    causes->push_back(MakeCause("FieldValueForbidden", "metadata.namespace",
                                "Forbidden: not allowed on this type"));
  }
  if (const json::value* g = meta.if_contains("generation");
      g && g->is_int64() && g->as_int64() < 0)
    causes->push_back(InvalidCause("metadata.generation", std::to_string(g->as_int64()),
                                   "must be greater than or equal to 0"));

  if (const json::value* labels = meta.if_contains("labels"); labels && labels->is_object()) {
    for (const auto& kv : labels->as_object()) {
      if (auto errs = IsQualifiedName(kv.key()); !errs.empty())
        causes->push_back(InvalidCause("metadata.labels", Quote(kv.key()), JoinErrors(errs)));
      if (!kv.value().is_string()) continue;  // a type error, reported by the schema walk
      if (auto errs = IsValidLabelValue(kv.value().as_string()); !errs.empty())
        causes->push_back(
            InvalidCause("metadata.labels", Quote(kv.value().as_string()), JoinErrors(errs)));
    }
  }
  if (const json::value* ann = meta.if_contains("annotations"); ann && ann->is_object()) {
    size_t total = 0;
    for (const auto& kv : ann->as_object()) {
      std::string lower(kv.key());
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (auto errs = IsQualifiedName(lower); !errs.empty())
        causes->push_back(InvalidCause("metadata.annotations", Quote(kv.key()), JoinErrors(errs)));
      total += kv.key().size();
      if (kv.value().is_string()) total += kv.value().as_string().size();
    }
    if (total > kTotalAnnotationSizeLimit)
      causes->push_back(MakeCause("FieldValueTooLong", "metadata.annotations",
                                  "Too long: may not be more than " +
                                      std::to_string(kTotalAnnotationSizeLimit) + " bytes"));
  }
  if (const json::value* refs = meta.if_contains("ownerReferences"); refs && refs->is_array()) {
    std::vector<std::string> controllers;
    const auto& arr = refs->as_array();
    for (size_t i = 0; i < arr.size(); ++i) {
      if (!arr[i].is_object()) continue;
      const std::string base = "metadata.ownerReferences[" + std::to_string(i) + "]";
      const auto& ref = arr[i].as_object();
      auto get = [&](std::string_view k) {
        const json::value* v = ref.if_contains(k);
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
      };
      static constexpr std::pair<std::string_view, std::string_view> kRequired[] = {
          {"apiVersion", "version"}, {"kind", "kind"}, {"name", "name"}, {"uid", "uid"}};
      for (auto [key, what] : kRequired) {
        if (get(key).empty())
          causes->push_back(InvalidCause(base + "." + std::string(key), "\"\"",
                                         std::string(what) + " must not be empty"));
      }
      if (const json::value* c = ref.if_contains("controller"); c && c->is_bool() && c->as_bool())
        controllers.push_back(get("kind") + "/" + get("name"));
    }
    if (controllers.size() > 1) {
      std::string list;
      for (size_t i = 0; i < controllers.size(); ++i)
        list += (i == 0 ? "" : i + 1 == controllers.size() ? " and " : ", ") + controllers[i];
      causes->push_back(InvalidCause(
          "metadata.ownerReferences", SerializeSorted(*refs),
          "Only one reference can have Controller set to true. Found \"true\" in references for " +
              list));
    }
  }
  if (const json::value* fins = meta.if_contains("finalizers"); fins && fins->is_array()) {
    std::set<std::string, std::less<>> seen;
    const auto& arr = fins->as_array();
    for (size_t i = 0; i < arr.size(); ++i) {
      if (!arr[i].is_string()) continue;
      std::string f(arr[i].as_string());
      const std::string path = "metadata.finalizers[" + std::to_string(i) + "]";
      if (auto errs = IsQualifiedName(f); !errs.empty())
        causes->push_back(InvalidCause(path, Quote(f), JoinErrors(errs)));
      if (!seen.insert(f).second)
        causes->push_back(MakeCause("FieldValueDuplicate", path, "Duplicate value: " + Quote(f)));
    }
  }
}

}  // namespace sampan::api
