// JSON merge patch (RFC 7386) and JSON patch (RFC 6902). Strategic merge patch is in
// strategic_merge.cc.
#include "api/patch.h"

#include <boost/json.hpp>

#include "api/json_util.h"

namespace sampan::api {

namespace json = boost::json;

namespace {

json::value MergePatchValue(const json::value* target, const json::value& patch) {
  if (!patch.is_object()) return patch;
  json::object result = target && target->is_object() ? target->as_object() : json::object();
  for (const auto& kv : patch.as_object()) {
    if (kv.value().is_null()) {
      result.erase(kv.key());
      continue;
    }
    const json::value* cur = result.if_contains(kv.key());
    json::value merged = MergePatchValue(cur, kv.value());
    result[kv.key()] = std::move(merged);
  }
  return result;
}

// ---- JSON pointer (RFC 6901) ---------------------------------------------------

Result<std::vector<std::string>> ParsePointer(std::string_view ptr) {
  std::vector<std::string> tokens;
  if (ptr.empty()) return tokens;
  if (ptr[0] != '/')
    return Status(
        BadRequest("invalid JSON pointer \"" + std::string(ptr) + "\": must start with '/'"));
  size_t pos = 1;
  while (true) {
    size_t next = ptr.find('/', pos);
    std::string_view raw = ptr.substr(pos, next == std::string_view::npos ? next : next - pos);
    std::string tok;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '~') {
        tok.push_back(raw[i]);
      } else if (i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        tok.push_back(raw[++i] == '0' ? '~' : '/');
      } else {
        return Status(BadRequest("invalid JSON pointer \"" + std::string(ptr) +
                                 "\": '~' must be followed by 0 or 1"));
      }
    }
    tokens.push_back(std::move(tok));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return tokens;
}

// An array index token: digits without leading zeros, below `limit` (inclusive if
// `allow_end`). "-" is handled by callers.
bool ParseIndex(const std::string& tok, size_t size, bool allow_end, size_t* out) {
  if (tok.empty() || tok.size() > 18 || (tok.size() > 1 && tok[0] == '0')) return false;
  size_t v = 0;
  for (char c : tok) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  if (allow_end ? v > size : v >= size) return false;
  *out = v;
  return true;
}

class JsonPatcher {
 public:
  explicit JsonPatcher(json::value doc) : doc_(std::move(doc)) {}

  Status Apply(const json::value& patch) {
    if (!patch.is_array()) return BadRequest("a JSON patch must be a JSON array of operations");
    const auto& ops = patch.as_array();
    for (size_t i = 0; i < ops.size(); ++i) {
      Status st = ApplyOne(i, ops[i]);
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }
  json::value& doc() { return doc_; }

 private:
  Status ApplyOne(size_t index, const json::value& opv) {
    const std::string where = "json patch operation " + std::to_string(index);
    if (!opv.is_object()) return BadRequest(where + ": must be an object");
    const auto& op = opv.as_object();
    auto str = [&](std::string_view key) -> const json::string* {
      const json::value* v = op.if_contains(key);
      return v && v->is_string() ? &v->as_string() : nullptr;
    };
    const json::string* name = str("op");
    const json::string* path = str("path");
    if (!name) return BadRequest(where + ": missing \"op\"");
    if (!path) return BadRequest(where + " (" + std::string(*name) + "): missing \"path\"");
    const std::string label =
        where + " (" + std::string(*name) + " \"" + std::string(*path) + "\")";
    auto tokens = ParsePointer(*path);
    if (!tokens.ok()) return BadRequest(label + ": " + tokens.status().message());
    const json::value* value = op.if_contains("value");
    auto need_value = [&]() -> Status {
      return value ? Status::Ok() : BadRequest(label + ": missing \"value\"");
    };
    auto fail = [&](const std::string& why) { return Invalid(label + " failed: " + why); };

    if (*name == "add") {
      RETURN_IF_ERROR(need_value());
      std::string err = Add(*tokens, *value);
      return err.empty() ? Status::Ok() : fail(err);
    }
    if (*name == "remove") {
      std::string err = Remove(*tokens, nullptr);
      return err.empty() ? Status::Ok() : fail(err);
    }
    if (*name == "replace") {
      RETURN_IF_ERROR(need_value());
      json::value* target = Find(*tokens);
      if (!target) return fail("doc is missing path: missing value");
      *target = *value;
      return Status::Ok();
    }
    if (*name == "test") {
      RETURN_IF_ERROR(need_value());
      json::value* target = Find(*tokens);
      if (!target) return fail("doc is missing path: missing value");
      if (!JsonEqual(*target, *value)) return fail("testing value failed");
      return Status::Ok();
    }
    if (*name == "move" || *name == "copy") {
      const json::string* from = str("from");
      if (!from) return BadRequest(label + ": missing \"from\"");
      auto from_tokens = ParsePointer(*from);
      if (!from_tokens.ok()) return BadRequest(label + ": " + from_tokens.status().message());
      json::value moved;
      if (*name == "move") {
        bool is_prefix = from_tokens->size() < tokens->size() &&
                         std::equal(from_tokens->begin(), from_tokens->end(), tokens->begin());
        if (is_prefix) return fail("cannot move a value into one of its children");
        std::string err = Remove(*from_tokens, &moved);
        if (!err.empty()) return fail("from " + err);
      } else {
        json::value* src = Find(*from_tokens);
        if (!src) return fail("from path \"" + std::string(*from) + "\" is missing");
        moved = *src;
      }
      std::string err = Add(*tokens, moved);
      return err.empty() ? Status::Ok() : fail(err);
    }
    return BadRequest(label + ": unknown operation \"" + std::string(*name) + "\"");
  }

  json::value* Find(const std::vector<std::string>& tokens) {
    json::value* cur = &doc_;
    for (const auto& t : tokens) {
      if (cur->is_object()) {
        cur = cur->as_object().if_contains(t);
      } else if (cur->is_array()) {
        size_t i;
        if (!ParseIndex(t, cur->as_array().size(), false, &i)) return nullptr;
        cur = &cur->as_array()[i];
      } else {
        return nullptr;
      }
      if (!cur) return nullptr;
    }
    return cur;
  }

  json::value* Parent(const std::vector<std::string>& tokens) {
    return Find(std::vector<std::string>(tokens.begin(), tokens.end() - 1));
  }

  std::string Add(const std::vector<std::string>& tokens, const json::value& v) {
    if (tokens.empty()) {
      doc_ = v;
      return "";
    }
    json::value* parent = Parent(tokens);
    if (!parent) return "doc is missing path: missing value";
    const std::string& last = tokens.back();
    if (parent->is_object()) {
      parent->as_object()[last] = v;
      return "";
    }
    if (parent->is_array()) {
      auto& arr = parent->as_array();
      size_t i = arr.size();
      if (last != "-" && !ParseIndex(last, arr.size(), true, &i))
        return "index \"" + last + "\" is out of bounds";
      arr.insert(arr.begin() + static_cast<std::ptrdiff_t>(i), v);
      return "";
    }
    return "parent of the path is not an object or array";
  }

  std::string Remove(const std::vector<std::string>& tokens, json::value* removed) {
    if (tokens.empty()) return "cannot remove the whole document";
    json::value* parent = Parent(tokens);
    if (!parent) return "doc is missing path: missing value";
    const std::string& last = tokens.back();
    if (parent->is_object()) {
      auto& obj = parent->as_object();
      auto it = obj.find(last);
      if (it == obj.end()) return "doc is missing key: \"" + last + "\"";
      if (removed) *removed = std::move(it->value());
      obj.erase(it);
      return "";
    }
    if (parent->is_array()) {
      auto& arr = parent->as_array();
      size_t i;
      if (!ParseIndex(last, arr.size(), false, &i))
        return "index \"" + last + "\" is out of bounds";
      if (removed) *removed = std::move(arr[i]);
      arr.erase(arr.begin() + static_cast<std::ptrdiff_t>(i));
      return "";
    }
    return "parent of the path is not an object or array";
  }

  json::value doc_;
};

}  // namespace

Result<json::value> ApplyMergePatch(const json::value& original, const json::value& patch) {
  if (!patch.is_object()) return Status(BadRequest("a merge patch must be a JSON object"));
  return MergePatchValue(&original, patch);
}

Result<json::value> ApplyJsonPatch(const json::value& original, const json::value& patch) {
  JsonPatcher p(original);
  RETURN_IF_ERROR(p.Apply(patch));
  return std::move(p.doc());
}

}  // namespace sampan::api
