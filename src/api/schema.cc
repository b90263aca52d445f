// The schema-language parser and the registry of kinds (see schema.h for the language).
#include "api/schema.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <cctype>
#include <charconv>
#include <functional>
#include <set>
#include <utility>

#include "api/kinds/kinds.h"

namespace sampan::api {
namespace {

constexpr std::string_view kDefaultVerbs[] = {"create", "delete", "deletecollection", "get",
                                              "list",   "patch",  "update",           "watch"};

// What Kubernetes serves for each subresource it knows: the response kind and the verbs.
// An empty kind means "the parent kind itself"; a kind starting with '*' is prefixed with
// the parent kind ("*ProxyOptions" on Node → NodeProxyOptions).
struct KnownSubresource {
  std::string_view name;
  std::string_view group, version, kind;
  std::vector<std::string_view> verbs;
};

const std::vector<KnownSubresource>& KnownSubresources() {
  static const auto* table = new std::vector<KnownSubresource>{
      {"status", "", "", "", {"get", "patch", "update"}},
      {"scale", "autoscaling", "v1", "Scale", {"get", "patch", "update"}},
      {"log", "", "", "", {"get"}},
      {"exec", "", "v1", "PodExecOptions", {"create", "get"}},
      {"attach", "", "v1", "PodAttachOptions", {"create", "get"}},
      {"portforward", "", "v1", "PodPortForwardOptions", {"create", "get"}},
      {"proxy", "", "v1", "*ProxyOptions", {"create", "delete", "get", "patch", "update"}},
      {"binding", "", "v1", "Binding", {"create"}},
      {"eviction", "policy", "v1", "Eviction", {"create"}},
      {"ephemeralcontainers", "", "", "", {"get", "patch", "update"}},
      {"resize", "", "", "", {"get", "patch", "update"}},
      {"finalize", "", "", "", {"update"}},
      {"token", "authentication.k8s.io", "v1", "TokenRequest", {"create"}},
  };
  return *table;
}

// One parsed line: whitespace-separated tokens; a double-quoted run (JSON escapes) stays
// inside its token; '#' at the start of a token begins a comment.
struct Line {
  int number = 0;
  bool indented = false;
  std::vector<std::string> tokens;
};

Result<Line> Tokenize(std::string_view text, int number) {
  Line line;
  line.number = number;
  line.indented = !text.empty() && (text[0] == ' ' || text[0] == '\t');
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i >= text.size() || text[i] == '#') break;
    std::string token;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) {
      if (text[i] == '"') {
        size_t j = i + 1;
        while (j < text.size() && text[j] != '"') j += (text[j] == '\\') ? 2 : 1;
        if (j >= text.size()) return Status(Code::kInvalid, "unterminated string");
        token.append(text.substr(i, j + 1 - i));
        i = j + 1;
      } else {
        token.push_back(text[i++]);
      }
    }
    line.tokens.push_back(std::move(token));
  }
  return line;
}

// Decodes a double-quoted token with JSON escapes.
Result<std::string> Unquote(const std::string& token) {
  if (token.size() < 2 || token.front() != '"' || token.back() != '"') {
    return Status(Code::kInvalid, "expected a quoted description, got " + token);
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(token, ec);
  if (ec || !v.is_string()) return Status(Code::kInvalid, "bad string " + token);
  return std::string(v.as_string());
}

bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  if (!std::isalpha(static_cast<unsigned char>(s[0])) && s[0] != '_' && s[0] != '$') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || c == '-' ||
           c == '.';
  });
}

std::vector<std::string> SplitList(std::string_view s, char sep) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

bool ParsePositiveInt(std::string_view s, int* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size() && *out > 0;
}

// TAG: "-", "N" or "OUTER.INNER".
bool ParseTag(std::string_view s, int* tag, int* inline_tag) {
  *tag = 0;
  *inline_tag = 0;
  if (s == "-") return true;
  size_t dot = s.find('.');
  if (dot == std::string_view::npos) return ParsePositiveInt(s, tag);
  return ParsePositiveInt(s.substr(0, dot), inline_tag) && ParsePositiveInt(s.substr(dot + 1), tag);
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

// ---- Schema / KindInfo ------------------------------------------------------------------

const Field* Schema::FindField(std::string_view field_name) const {
  for (const Field& f : fields) {
    if (f.name == field_name) return &f;
  }
  return nullptr;
}

Member MemberOf(const Schema* s, std::string_view key) {
  if (!s) return {};
  if (s->kind == TypeKind::kMap) return {s->element, nullptr};
  if (s->kind != TypeKind::kObject) return {};
  const Field* f = s->FindField(key);
  return f ? Member{f->type, f} : Member{};
}

const Field* Schema::FindFieldByTag(int tag, int inline_tag) const {
  if (tag <= 0) return nullptr;
  for (const Field& f : fields) {
    if (f.proto_tag == tag && f.proto_inline_tag == inline_tag) return &f;
  }
  return nullptr;
}

bool Schema::IsInlineTag(int tag) const {
  if (tag <= 0) return false;
  return std::any_of(fields.begin(), fields.end(),
                     [tag](const Field& f) { return f.proto_inline_tag == tag; });
}

const SubresourceInfo* KindInfo::FindSubresource(std::string_view name) const {
  for (const SubresourceInfo& s : subresources) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// ---- Registry ---------------------------------------------------------------------------

struct Registry::Impl {
  // A reference waiting for Resolve(): a field's type or a kind's type.
  struct PendingField {
    Schema* owner;
    size_t index;
    std::string type_text;
    std::string package;
    std::string where;  // "source:line"
  };
  struct PendingKind {
    KindInfo* kind;
    std::string type_name;
    std::string package;
    std::string where;
  };
  std::vector<PendingField> pending_fields;
  std::vector<PendingKind> pending_kinds;

  // Short name → OpenAPI names of the types with that short name.
  std::map<std::string, std::vector<std::string>, std::less<>> by_short_name;
  // Primitive, array and map schemas, shared and keyed by their canonical spelling.
  std::map<std::string, std::unique_ptr<Schema>, std::less<>> anonymous;
  // "group/version/Kind" and "group/version/resource-name" → kind.
  std::map<std::string, const KindInfo*, std::less<>> by_kind;
  std::map<std::string, const KindInfo*, std::less<>> by_resource;

  static std::string Key(std::string_view g, std::string_view v, std::string_view n) {
    std::string k;
    k.reserve(g.size() + v.size() + n.size() + 2);
    k.append(g).append("/").append(v).append("/").append(n);
    return k;
  }
};

Registry::Registry() : impl_(std::make_unique<Impl>()) {}
Registry::~Registry() = default;

namespace {

// Parsing state for one Load() call.
class Parser {
 public:
  Parser(std::string_view source,
         std::map<std::string, std::unique_ptr<Schema>, std::less<>>& types)
      : source_(source), types_(types) {}

  std::string Where(int line) const { return std::string(source_) + ":" + std::to_string(line); }
  Status Error(int line, std::string_view reason) const {
    return Status(Code::kInvalid, Where(line) + ": " + std::string(reason));
  }

  std::string_view source_;
  std::map<std::string, std::unique_ptr<Schema>, std::less<>>& types_;
  std::string package_;
  Schema* current_ = nullptr;
};

}  // namespace

Status Registry::Load(std::string_view text, std::string_view source_name) {
  Parser p(source_name, types_);
  // Everything parsed is staged and committed only when the whole text is fine, so a
  // failed Load leaves the registry as it was.
  std::vector<std::unique_ptr<Schema>> new_types;
  std::vector<std::unique_ptr<KindInfo>> new_kinds;
  std::vector<Impl::PendingField> new_fields;
  std::vector<Impl::PendingKind> new_kind_refs;
  std::set<std::string, std::less<>> staged_names;
  std::set<std::string, std::less<>> staged_kind_keys;
  std::set<std::string, std::less<>> staged_resource_keys;

  int number = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(pos, end - pos);
    pos = end + 1;
    ++number;
    Result<Line> tokenized = Tokenize(raw, number);
    if (!tokenized.ok()) return p.Error(number, tokenized.status().message());
    const Line& line = *tokenized;
    if (line.tokens.empty()) continue;
    const std::vector<std::string>& t = line.tokens;

    if (line.indented) {  // a field of the current type
      if (p.current_ == nullptr) return p.Error(number, "field line outside a type");
      if (t.size() < 3) return p.Error(number, "field line needs NAME TYPE TAG");
      Field f;
      f.name = t[0];
      if (!IsIdentifier(f.name)) return p.Error(number, "bad field name \"" + f.name + "\"");
      if (p.current_->FindField(f.name) != nullptr) {
        return p.Error(number, "duplicate field \"" + f.name + "\" in type " + p.current_->name);
      }
      if (!ParseTag(t[2], &f.proto_tag, &f.proto_inline_tag)) {
        return p.Error(number, "bad protobuf tag \"" + t[2] + "\" (want N, OUTER.INNER or -)");
      }
      if (f.proto_tag != 0 && p.current_->FindFieldByTag(f.proto_tag, f.proto_inline_tag)) {
        return p.Error(number, "duplicate protobuf tag " + t[2] + " in type " + p.current_->name);
      }
      bool strategy_set = false;
      for (size_t i = 3; i < t.size(); ++i) {
        const std::string& opt = t[i];
        if (opt.front() == '"') {
          if (i + 1 != t.size()) return p.Error(number, "the description must come last");
          Result<std::string> d = Unquote(opt);
          if (!d.ok()) return p.Error(number, d.status().message());
          f.description = *d;
        } else if (opt == "required") {
          f.required = true;
        } else if (opt == "omitempty") {
          f.omit_empty = true;
        } else if (opt.starts_with("merge=")) {
          f.merge_key = opt.substr(6);
          if (f.merge_key.empty()) return p.Error(number, "empty merge key");
          if (!strategy_set) f.patch_strategy = "merge";
        } else if (opt.starts_with("strategy=")) {
          f.patch_strategy = opt.substr(9);
          strategy_set = true;
          static const std::set<std::string, std::less<>> kStrategies = {
              "merge", "retainKeys", "merge,retainKeys", "replace"};
          if (!kStrategies.contains(f.patch_strategy)) {
            return p.Error(number, "unknown patch strategy \"" + f.patch_strategy + "\"");
          }
        } else if (opt.starts_with("default=")) {
          f.default_json = opt.substr(8);
          boost::system::error_code ec;
          boost::json::parse(f.default_json, ec);
          if (ec) return p.Error(number, "default is not JSON: " + f.default_json);
        } else if (opt.starts_with("enum=")) {
          f.enum_values = SplitList(std::string_view(opt).substr(5), '|');
          if (f.enum_values.empty()) return p.Error(number, "empty enum");
        } else {
          return p.Error(number, "unknown field option \"" + opt + "\"");
        }
      }
      p.current_->fields.push_back(std::move(f));
      new_fields.push_back(
          {p.current_, p.current_->fields.size() - 1, t[1], p.package_, p.Where(number)});
      continue;
    }

    p.current_ = nullptr;
    const std::string& keyword = t[0];
    if (keyword == "package") {
      if (t.size() != 2 || !IsIdentifier(t[1])) return p.Error(number, "want: package NAME");
      p.package_ = t[1];
    } else if (keyword == "type") {
      if (p.package_.empty()) return p.Error(number, "type before any package line");
      if (t.size() < 2 || !IsIdentifier(t[1]) || t[1].find('.') != std::string::npos) {
        return p.Error(number, "want: type NAME [open] [\"description\"]");
      }
      auto schema = std::make_unique<Schema>();
      schema->kind = TypeKind::kObject;
      schema->name = t[1];
      schema->openapi_name = p.package_ + "." + t[1];
      if (types_.contains(schema->openapi_name) || staged_names.contains(schema->openapi_name)) {
        return p.Error(number, "duplicate type " + schema->openapi_name);
      }
      for (size_t i = 2; i < t.size(); ++i) {
        if (t[i] == "open") {
          schema->preserve_unknown = true;
        } else if (t[i].front() == '"' && i + 1 == t.size()) {
          Result<std::string> d = Unquote(t[i]);
          if (!d.ok()) return p.Error(number, d.status().message());
          schema->description = *d;
        } else {
          return p.Error(number, "unexpected \"" + t[i] + "\" on a type line");
        }
      }
      staged_names.insert(schema->openapi_name);
      p.current_ = schema.get();
      new_types.push_back(std::move(schema));
    } else if (keyword == "kind") {
      if (t.size() < 2 || !IsIdentifier(t[1]))
        return p.Error(number, "want: kind KIND key=value...");
      auto k = std::make_unique<KindInfo>();
      k->kind = t[1];
      std::string type_name, scope;
      bool has_group = false;
      std::vector<std::string> subresources;
      for (size_t i = 2; i < t.size(); ++i) {
        size_t eq = t[i].find('=');
        if (eq == std::string::npos) return p.Error(number, "want key=value, got \"" + t[i] + "\"");
        std::string key = t[i].substr(0, eq), value = t[i].substr(eq + 1);
        if (key == "group") {
          k->group = value;
          has_group = true;
        } else if (key == "version") {
          k->version = value;
        } else if (key == "plural") {
          k->plural = value;
        } else if (key == "singular") {
          k->singular = value;
        } else if (key == "scope") {
          if (value != "Namespaced" && value != "Cluster") {
            return p.Error(number, "scope must be Namespaced or Cluster");
          }
          scope = value;
          k->namespaced = value == "Namespaced";
        } else if (key == "type") {
          type_name = value;
        } else if (key == "short") {
          k->short_names = SplitList(value, ',');
        } else if (key == "categories") {
          k->categories = SplitList(value, ',');
        } else if (key == "subresources") {
          subresources = SplitList(value, ',');
        } else if (key == "verbs") {
          k->verbs = SplitList(value, ',');
        } else {
          return p.Error(number, "unknown kind option \"" + key + "\"");
        }
      }
      if (!has_group || k->version.empty() || k->plural.empty() || scope.empty() ||
          type_name.empty()) {
        return p.Error(number, "kind line needs group=, version=, plural=, scope= and type=");
      }
      if (k->singular.empty()) k->singular = ToLower(k->kind);
      if (k->verbs.empty()) k->verbs.assign(std::begin(kDefaultVerbs), std::end(kDefaultVerbs));
      for (const std::string& name : subresources) {
        const auto& known = KnownSubresources();
        auto it = std::find_if(known.begin(), known.end(),
                               [&](const KnownSubresource& s) { return s.name == name; });
        if (it == known.end()) return p.Error(number, "unknown subresource \"" + name + "\"");
        SubresourceInfo sub;
        sub.name = name;
        if (it->kind.empty()) {
          sub.group = k->group;
          sub.version = k->version;
          sub.kind = k->kind;
        } else {
          sub.group = it->group;
          sub.version = it->version;
          sub.kind = it->kind.front() == '*' ? k->kind + std::string(it->kind.substr(1))
                                             : std::string(it->kind);
        }
        sub.verbs.assign(it->verbs.begin(), it->verbs.end());
        k->subresources.push_back(std::move(sub));
      }
      std::string kind_key = Impl::Key(k->group, k->version, k->kind);
      if (impl_->by_kind.contains(kind_key) || staged_kind_keys.contains(kind_key)) {
        return p.Error(number, "duplicate kind " + kind_key);
      }
      staged_kind_keys.insert(kind_key);
      std::set<std::string> names = {k->plural, k->singular};
      names.insert(k->short_names.begin(), k->short_names.end());
      for (const std::string& n : names) {
        std::string key = Impl::Key(k->group, k->version, n);
        if (impl_->by_resource.contains(key) || staged_resource_keys.contains(key)) {
          return p.Error(number, "resource name \"" + n + "\" already used in " + k->ApiVersion());
        }
      }
      for (const std::string& n : names) {
        staged_resource_keys.insert(Impl::Key(k->group, k->version, n));
      }
      new_kind_refs.push_back({k.get(), type_name, p.package_, p.Where(number)});
      new_kinds.push_back(std::move(k));
    } else {
      return p.Error(number, "unknown keyword \"" + keyword + "\"");
    }
  }

  // Commit.
  for (auto& s : new_types) {
    impl_->by_short_name[s->name].push_back(s->openapi_name);
    std::string key = s->openapi_name;
    types_.emplace(std::move(key), std::move(s));
  }
  for (auto& k : new_kinds) {
    impl_->by_kind[Impl::Key(k->group, k->version, k->kind)] = k.get();
    for (const std::string& n : {k->plural, k->singular}) {
      impl_->by_resource[Impl::Key(k->group, k->version, n)] = k.get();
    }
    for (const std::string& n : k->short_names) {
      impl_->by_resource[Impl::Key(k->group, k->version, n)] = k.get();
    }
    kind_list_.push_back(k.get());
    kind_store_.push_back(std::move(k));
  }
  for (auto& f : new_fields) impl_->pending_fields.push_back(std::move(f));
  for (auto& k : new_kind_refs) impl_->pending_kinds.push_back(std::move(k));
  return Status::Ok();
}

namespace {

// A primitive of the language, or nullptr.
std::unique_ptr<Schema> MakePrimitive(std::string_view name) {
  auto s = std::make_unique<Schema>();
  if (name == "string") {
    s->kind = TypeKind::kString;
  } else if (name == "int32" || name == "int64") {
    s->kind = TypeKind::kInteger;
    s->format = std::string(name);
  } else if (name == "double") {
    s->kind = TypeKind::kNumber;
    s->format = "double";
  } else if (name == "bool") {
    s->kind = TypeKind::kBoolean;
  } else if (name == "quantity") {
    s->kind = TypeKind::kQuantity;
  } else if (name == "intorstring") {
    s->kind = TypeKind::kIntOrString;
    s->format = "int-or-string";
  } else if (name == "time") {
    s->kind = TypeKind::kTime;
    s->format = "date-time";
  } else if (name == "microtime") {
    s->kind = TypeKind::kMicroTime;
    s->format = "date-time";
  } else if (name == "bytes") {
    s->kind = TypeKind::kBytes;
    s->format = "byte";
  } else if (name == "any") {
    s->kind = TypeKind::kAny;
    s->preserve_unknown = true;
  } else {
    return nullptr;
  }
  return s;
}

}  // namespace

const Schema* Registry::FindType(std::string_view name) const {
  if (auto it = types_.find(name); it != types_.end()) return it->second.get();
  auto it = impl_->by_short_name.find(name);
  if (it == impl_->by_short_name.end() || it->second.size() != 1) return nullptr;
  return types_.find(it->second.front())->second.get();
}

Status Registry::Resolve() {
  // Looks up a named type: in `package` first, then globally (unique), or qualified.
  auto find_named = [this](const std::string& name, const std::string& package,
                           std::string* error) -> const Schema* {
    if (auto it = types_.find(package + "." + name); it != types_.end()) return it->second.get();
    if (auto it = types_.find(name); it != types_.end()) return it->second.get();
    auto it = impl_->by_short_name.find(name);
    if (it == impl_->by_short_name.end()) {
      *error = "unknown type \"" + name + "\"";
      return nullptr;
    }
    if (it->second.size() != 1) {
      *error = "ambiguous type \"" + name + "\" (qualify it with its package)";
      return nullptr;
    }
    return types_.find(it->second.front())->second.get();
  };
  // Builds (or reuses) the schema of a type expression.
  std::function<const Schema*(std::string_view, const std::string&, std::string*)> resolve_expr =
      [&](std::string_view expr, const std::string& package, std::string* error) -> const Schema* {
    if (expr.starts_with("[]") || expr.starts_with("map[string]")) {
      bool is_array = expr.starts_with("[]");
      std::string_view inner = expr.substr(is_array ? 2 : 11);
      if (inner.empty()) {
        *error = "missing element type in \"" + std::string(expr) + "\"";
        return nullptr;
      }
      const Schema* element = resolve_expr(inner, package, error);
      if (element == nullptr) return nullptr;
      std::string key =
          (is_array ? "[]" : "map[string]") +
          (element->openapi_name.empty() ? std::string(inner) : element->openapi_name);
      auto& slot = impl_->anonymous[key];
      if (!slot) {
        slot = std::make_unique<Schema>();
        slot->kind = is_array ? TypeKind::kArray : TypeKind::kMap;
        slot->element = element;
      }
      return slot.get();
    }
    if (expr.starts_with("map[")) {
      *error = "map keys must be string in \"" + std::string(expr) + "\"";
      return nullptr;
    }
    auto it = impl_->anonymous.find(expr);
    if (it != impl_->anonymous.end()) return it->second.get();
    if (auto prim = MakePrimitive(expr)) {
      const Schema* out = prim.get();
      impl_->anonymous.emplace(std::string(expr), std::move(prim));
      return out;
    }
    return find_named(std::string(expr), package, error);
  };

  std::vector<std::string> errors;
  for (const auto& pf : impl_->pending_fields) {
    std::string error;
    const Schema* s = resolve_expr(pf.type_text, pf.package, &error);
    if (s == nullptr) {
      errors.push_back(pf.where + ": " + error);
      continue;
    }
    Field& f = pf.owner->fields[pf.index];
    f.type = s;
    // A merge key must name a field of the list's item type.
    if (!f.merge_key.empty()) {
      if (s->kind != TypeKind::kArray || s->element->kind != TypeKind::kObject) {
        errors.push_back(pf.where + ": merge key on \"" + f.name +
                         "\", which is no list of objects");
      } else if (s->element->FindField(f.merge_key) == nullptr) {
        errors.push_back(pf.where + ": merge key \"" + f.merge_key + "\" is no field of " +
                         s->element->name);
      }
    }
  }
  for (const auto& pk : impl_->pending_kinds) {
    std::string error;
    const Schema* s = find_named(pk.type_name, pk.package, &error);
    if (s == nullptr) {
      errors.push_back(pk.where + ": " + error);
      continue;
    }
    pk.kind->schema = s;
  }
  impl_->pending_fields.clear();
  impl_->pending_kinds.clear();
  if (errors.empty()) return Status::Ok();
  std::string message = errors.front();
  if (errors.size() > 1) message += " (and " + std::to_string(errors.size() - 1) + " more)";
  std::vector<Cause> causes;
  for (std::string& e : errors) causes.push_back({"FieldValueInvalid", std::move(e), ""});
  return Status(Code::kInvalid, std::move(message), std::move(causes));
}

const KindInfo* Registry::FindKind(std::string_view group, std::string_view version,
                                   std::string_view kind) const {
  auto it = impl_->by_kind.find(Impl::Key(group, version, kind));
  return it == impl_->by_kind.end() ? nullptr : it->second;
}

const KindInfo* Registry::FindResource(std::string_view group, std::string_view version,
                                       std::string_view resource) const {
  auto it = impl_->by_resource.find(Impl::Key(group, version, resource));
  return it == impl_->by_resource.end() ? nullptr : it->second;
}

const Registry& BuiltinRegistry() {
  static const Registry* registry = [] {
    auto* r = new Registry();
    for (const auto& [source, text] : kinds::BuiltinSchemaTexts()) {
      Status st = r->Load(text, source);
      if (!st.ok()) CheckFailed(__FILE__, __LINE__, "built-in schema loads", st.ToString());
    }
    Status st = r->Resolve();
    if (!st.ok()) CheckFailed(__FILE__, __LINE__, "built-in schema resolves", st.ToString());
    return r;
  }();
  return *registry;
}

}  // namespace sampan::api
