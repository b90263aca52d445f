// JSON (strict, duplicate keys reported) and YAML request bodies into JSON values.
// The protobuf envelope is in protobuf.cc.
#include "api/codec.h"

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <charconv>
#include <cmath>
#include <optional>

namespace sampan::api {

namespace json = boost::json;

namespace {

// ---- JSON ----------------------------------------------------------------------

// Builds a json::value from parser events, noting keys that repeat within one object.
class BuildHandler {
 public:
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);

  explicit BuildHandler(std::vector<std::string>* dups) : dups_(dups) { stack_.reserve(8); }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_array_begin(boost::system::error_code&) {
    Push(json::array());
    return true;
  }
  bool on_array_end(std::size_t, boost::system::error_code&) { return Pop(); }
  bool on_object_begin(boost::system::error_code&) {
    Push(json::object());
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) { return Pop(); }
  bool on_string_part(json::string_view s, std::size_t, boost::system::error_code&) {
    buf_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, boost::system::error_code&) {
    if (buf_.empty()) {  // the whole string in one piece: no copy through buf_
      Insert(json::value(json::string(s)));
      return true;
    }
    buf_.append(s.data(), s.size());
    Insert(json::value(json::string(buf_)));
    buf_.clear();
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, boost::system::error_code&) {
    buf_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, boost::system::error_code&) {
    std::string_view key(s.data(), s.size());
    if (!buf_.empty()) {
      buf_.append(s.data(), s.size());
      key = buf_;
    }
    Frame& f = stack_.back();
    if (dups_ && f.v.as_object().contains(key)) {
      dups_->push_back(ChildPath(PathOf(stack_.size() - 1), key));
    }
    f.key.assign(key.data(), key.size());
    buf_.clear();
    return true;
  }
  bool on_number_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(int64_t i, json::string_view, boost::system::error_code&) {
    Insert(json::value(i));
    return true;
  }
  bool on_uint64(uint64_t u, json::string_view, boost::system::error_code&) {
    Insert(json::value(u));
    return true;
  }
  bool on_double(double d, json::string_view, boost::system::error_code&) {
    Insert(json::value(d));
    return true;
  }
  bool on_bool(bool b, boost::system::error_code&) {
    Insert(json::value(b));
    return true;
  }
  bool on_null(boost::system::error_code&) {
    Insert(json::value(nullptr));
    return true;
  }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }

  json::value& root() { return root_; }

 private:
  struct Frame {
    json::value v;
    std::string key;  // objects: the key of the value being parsed
  };

  static std::string ChildPath(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

  // The dotted path of the container at stack_[depth], made only when a duplicate is reported:
  // each container below it is parsing the child that leads there (an object's `key`, an
  // array's next index), so the path can be rebuilt from the stack.
  std::string PathOf(size_t depth) const {
    std::string path;
    for (size_t k = 1; k <= depth; ++k) {
      const Frame& parent = stack_[k - 1];
      if (parent.v.is_object()) {
        path = ChildPath(path, parent.key);
      } else {
        path += "[" + std::to_string(parent.v.as_array().size()) + "]";
      }
    }
    return path;
  }

  void Push(json::value v) { stack_.push_back(Frame{std::move(v), std::string()}); }

  bool Pop() {
    json::value v = std::move(stack_.back().v);
    stack_.pop_back();
    Insert(std::move(v));
    return true;
  }

  void Insert(json::value v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return;
    }
    Frame& f = stack_.back();
    if (f.v.is_object()) {
      f.v.as_object()[f.key] = std::move(v);  // a repeated key: the last one wins
    } else {
      f.v.as_array().push_back(std::move(v));
    }
  }

  std::vector<std::string>* dups_;
  std::vector<Frame> stack_;
  std::string buf_;
  json::value root_;
};

std::string LineColumn(std::string_view body, size_t offset) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset && i < body.size(); ++i) {
    if (body[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

// ---- YAML ----------------------------------------------------------------------

constexpr size_t kMaxYamlNodes = 4'000'000;  // bounds alias expansion ("billion laughs")

bool IsOneOf(const std::string& s, std::initializer_list<std::string_view> options) {
  for (auto o : options) {
    if (s == o) return true;
  }
  return false;
}

// Go's strconv.ParseInt(s, 0, 64) after dropping '_', as go-yaml v2 resolves plain ints.
std::optional<json::value> ResolveInt(std::string s) {
  std::erase(s, '_');
  if (s.empty()) return std::nullopt;
  bool neg = false;
  size_t pos = 0;
  if (s[0] == '+' || s[0] == '-') neg = s[0] == '-', pos = 1;
  int base = 10;
  if (s.compare(pos, 2, "0x") == 0 || s.compare(pos, 2, "0X") == 0) {
    base = 16, pos += 2;
  } else if (s.compare(pos, 2, "0b") == 0 || s.compare(pos, 2, "0B") == 0) {
    base = 2, pos += 2;
  } else if (s.compare(pos, 2, "0o") == 0 || s.compare(pos, 2, "0O") == 0) {
    base = 8, pos += 2;
  } else if (s.size() - pos > 1 && s[pos] == '0') {
    base = 8, pos += 1;
  }
  if (pos >= s.size()) return std::nullopt;
  uint64_t mag = 0;
  auto [p, ec] = std::from_chars(s.data() + pos, s.data() + s.size(), mag, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  if (neg) {
    if (mag > static_cast<uint64_t>(INT64_MAX) + 1) return std::nullopt;
    return json::value(mag == static_cast<uint64_t>(INT64_MAX) + 1 ? INT64_MIN
                                                                   : -static_cast<int64_t>(mag));
  }
  if (mag <= static_cast<uint64_t>(INT64_MAX)) return json::value(static_cast<int64_t>(mag));
  return json::value(mag);
}

// ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$  (go-yaml v2's float syntax)
bool IsYamlFloat(const std::string& s) {
  size_t i = 0, n = s.size();
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  auto digits = [&] {
    size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    return i - start;
  };
  if (i < n && s[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  } else {
    if (digits() == 0) return false;
    if (i < n && s[i] == '.') ++i, digits();
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == n;
}

// Integral floats become integers, as sigs.k8s.io/yaml's float64 → JSON does ("1.0" → 1).
json::value FloatValue(double d) {
  if (d == std::floor(d) && std::fabs(d) < 9.2e18) return json::value(static_cast<int64_t>(d));
  return json::value(d);
}

class YamlConverter {
 public:
  YamlConverter(const DecodeLimits& limits, std::vector<std::string>* dups)
      : limits_(limits), dups_(dups) {}

  Result<json::value> Convert(const YAML::Node& n, size_t depth, const std::string& path) {
    if (++nodes_ > kMaxYamlNodes)
      return Status(BadRequest("error converting YAML to JSON: document too large (aliases?)"));
    if (depth > limits_.max_depth)
      return Status(BadRequest("error converting YAML to JSON: nesting deeper than " +
                               std::to_string(limits_.max_depth)));
    switch (n.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return json::value(nullptr);
      case YAML::NodeType::Scalar:
        return Scalar(n, path);
      case YAML::NodeType::Sequence: {
        json::array arr;
        size_t i = 0;
        for (const auto& item : n) {
          ASSIGN_OR_RETURN(json::value v,
                           Convert(item, depth + 1, path + "[" + std::to_string(i++) + "]"));
          arr.push_back(std::move(v));
        }
        return json::value(std::move(arr));
      }
      case YAML::NodeType::Map: {
        json::object obj;
        std::vector<YAML::Node> merges;
        for (const auto& kv : n) {
          if (kv.first.IsNull()) {  // `~:` or `null:`
            std::string child = path.empty() ? "null" : path + ".null";
            if (obj.contains("null") && dups_) dups_->push_back(child);
            ASSIGN_OR_RETURN(json::value v, Convert(kv.second, depth + 1, child));
            obj["null"] = std::move(v);
            continue;
          }
          if (!kv.first.IsScalar())
            return Status(BadRequest("error converting YAML to JSON: " + Where(kv.first) +
                                     "map keys must be scalars"));
          std::string key = kv.first.Scalar();
          if (key == "<<" && kv.first.Tag() == "?") {
            merges.push_back(kv.second);
            continue;
          }
          if (kv.first.Tag() == "?") key = PlainKey(key);
          std::string child = path.empty() ? key : path + "." + key;
          if (obj.contains(key) && dups_) dups_->push_back(child);
          ASSIGN_OR_RETURN(json::value v, Convert(kv.second, depth + 1, child));
          obj[key] = std::move(v);
        }
        // "<<: *anchor" (or a list of anchors): keys not set explicitly come from the
        // merged maps, earlier maps first.
        for (const auto& m : merges) {
          std::vector<YAML::Node> sources;
          if (m.IsMap()) {
            sources.push_back(m);
          } else if (m.IsSequence()) {
            for (const auto& s : m) sources.push_back(s);
          }
          for (const auto& src : sources) {
            if (!src.IsMap())
              return Status(BadRequest("error converting YAML to JSON: " + Where(m) +
                                       "map merge requires map or sequence of maps as the value"));
            ASSIGN_OR_RETURN(json::value sv, Convert(src, depth + 1, path));
            for (auto& kv : sv.as_object()) {
              if (!obj.contains(kv.key())) obj[kv.key()] = std::move(kv.value());
            }
          }
        }
        return json::value(std::move(obj));
      }
    }
    return json::value(nullptr);
  }

 private:
  static std::string Where(const YAML::Node& n) {
    return "yaml: line " + std::to_string(n.Mark().line + 1) + ": ";
  }

  Result<json::value> Scalar(const YAML::Node& n, const std::string& path) {
    const std::string& s = n.Scalar();
    const std::string& tag = n.Tag();
    constexpr std::string_view kCore = "tag:yaml.org,2002:";
    if (tag == "!") return json::value(json::string(s));  // quoted or block scalar
    if (tag != "?" && !tag.empty()) {
      std::string_view t = tag;
      if (t.substr(0, kCore.size()) == kCore) t.remove_prefix(kCore.size());
      if (t == "str" || t == "binary" || t == "timestamp") return json::value(json::string(s));
      if (t == "null") return json::value(nullptr);
      if (t == "bool" || t == "int" || t == "float") {
        auto v = Plain(s);
        if (!v.ok()) return v;
        bool fits = (t == "bool" && v->is_bool()) ||
                    (t == "int" && (v->is_int64() || v->is_uint64())) ||
                    (t == "float" && v->is_number());
        if (!fits)
          return Status(BadRequest("error converting YAML to JSON: " + Where(n) +
                                   "cannot decode !!str `" + s + "` as a !!" + std::string(t)));
        return v;
      }
      return json::value(json::string(s));  // application tags: keep the text
    }
    auto v = Plain(s);
    if (!v.ok())
      return Status(BadRequest("error converting YAML to JSON: " + Where(n) + v.status().message() +
                               (path.empty() ? "" : " at " + path)));
    return v;
  }

  // A plain map key as sigs.k8s.io/yaml turns it into a JSON key: resolved first, so
  // `on:` becomes "true" and `0x10:` becomes "16".
  static std::string PlainKey(const std::string& key) {
    auto v = Plain(key);
    if (!v.ok() || v->is_string() || v->is_double()) return key;
    if (v->is_null()) return "null";
    if (v->is_bool()) return v->as_bool() ? "true" : "false";
    return json::serialize(*v);
  }

  // Plain-scalar resolution of go-yaml v2 (YAML 1.1 booleans, ints with bases, floats).
  static Result<json::value> Plain(const std::string& s) {
    if (IsOneOf(s, {"", "~", "null", "Null", "NULL"})) return json::value(nullptr);
    if (IsOneOf(s, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}))
      return json::value(true);
    if (IsOneOf(s, {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}))
      return json::value(false);
    if (IsOneOf(s, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
                    ".nan", ".NaN", ".NAN"}))
      return Status(BadRequest("infinity and NaN cannot be represented in JSON"));
    char c = s[0];
    if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.') {
      if (auto i = ResolveInt(s)) return std::move(*i);
      std::string plain = s;
      std::erase(plain, '_');
      if (IsYamlFloat(plain)) {
        double d = 0;
        auto [p, ec] =
            std::from_chars(plain.data() + (plain[0] == '+'), plain.data() + plain.size(), d);
        if (ec == std::errc() && std::isfinite(d)) return FloatValue(d);
        if (ec == std::errc::result_out_of_range)
          return Status(BadRequest("number " + s + " is out of range"));
      }
    }
    return json::value(json::string(s));
  }

  const DecodeLimits& limits_;
  std::vector<std::string>* dups_;
  size_t nodes_ = 0;
};

Status YamlError(const YAML::Exception& e) {
  if (e.mark.is_null()) return BadRequest("error converting YAML to JSON: yaml: " + e.msg);
  return BadRequest("error converting YAML to JSON: yaml: line " + std::to_string(e.mark.line + 1) +
                    ": " + e.msg);
}

}  // namespace

Result<json::value> DecodeJson(std::string_view body, const DecodeLimits& limits,
                               std::vector<std::string>* duplicate_fields) {
  json::parse_options opts;
  opts.max_depth = limits.max_depth;
  json::basic_parser<BuildHandler> parser(opts, duplicate_fields);
  boost::system::error_code ec;
  size_t used = parser.write_some(false, body.data(), body.size(), ec);
  if (!ec && used < body.size()) ec = json::error::extra_data;
  if (ec) {
    if (ec == json::error::too_deep)
      return Status(BadRequest("JSON nesting is deeper than " + std::to_string(limits.max_depth) +
                               " levels at " + LineColumn(body, used)));
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
      return Status(BadRequest("the request body is empty"));
    return Status(BadRequest("invalid JSON at " + LineColumn(body, used) + ": " + ec.message()));
  }
  return std::move(parser.handler().root());
}

Result<json::value> DecodeYaml(std::string_view body, const DecodeLimits& limits,
                               std::vector<std::string>* duplicate_fields) {
  try {
    YAML::Node doc = YAML::Load(std::string(body));
    return YamlConverter(limits, duplicate_fields).Convert(doc, 0, "");
  } catch (const YAML::Exception& e) {
    return YamlError(e);
  } catch (const std::exception& e) {
    return Status(BadRequest(std::string("error converting YAML to JSON: ") + e.what()));
  }
}

Result<std::vector<json::value>> DecodeYamlStream(std::string_view body) {
  std::vector<json::value> out;
  try {
    DecodeLimits limits;
    for (const YAML::Node& doc : YAML::LoadAll(std::string(body))) {
      ASSIGN_OR_RETURN(json::value v, YamlConverter(limits, nullptr).Convert(doc, 0, ""));
      if (!v.is_null()) out.push_back(std::move(v));
    }
  } catch (const YAML::Exception& e) {
    return YamlError(e);
  } catch (const std::exception& e) {
    return Status(BadRequest(std::string("error converting YAML to JSON: ") + e.what()));
  }
  return out;
}

}  // namespace sampan::api
