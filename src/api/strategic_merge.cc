// Kubernetes strategic merge patch, driven by the Schema's merge keys and strategies.
//
// Maps merge recursively and null deletes. A list whose field has a merge key (or strategy
// "merge") merges: object items are matched by the merge key, primitive items are a set;
// other lists are replaced. Directives: {"$patch": "replace"|"delete"|"merge"} in maps and
// list items, "$retainKeys" in maps, "$setElementOrder/<list>" and
// "$deleteFromPrimitiveList/<list>" beside a list.
#include <boost/json.hpp>
#include <optional>

#include "api/json_util.h"
#include "api/patch.h"

namespace sampan::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kPatch = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kSetElementOrder = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList/";

const Field* FieldNamed(const Schema* s, std::string_view name) {
  if (!s || s->kind != TypeKind::kObject) return nullptr;
  for (const auto& f : s->fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// The schema of a child value and, for object fields, the Field (which carries the list
// merge strategy).
struct Child {
  const Schema* type = nullptr;
  const Field* field = nullptr;
};

Child ChildOf(const Schema* s, std::string_view key) {
  if (!s) return {};
  if (s->kind == TypeKind::kMap) return {s->element, nullptr};
  const Field* f = FieldNamed(s, key);
  return f ? Child{f->type, f} : Child{};
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string PatchDirective(const json::object& o) {
  const json::value* v = o.if_contains(kPatch);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

class Merger {
 public:
  // Returns nullopt when the patch deletes the whole map ($patch: delete).
  Result<std::optional<json::value>> MergeObject(json::object orig, const json::object& patch,
                                                 const Schema* s) {
    std::string directive = PatchDirective(patch);
    if (directive == "delete") return std::optional<json::value>();
    if (directive == "replace") {
      json::object stripped = patch;
      stripped.erase(kPatch);
      auto r = MergeObject(json::object(), stripped, s);
      if (!r.ok()) return r.status();
      return std::move(*r);
    }
    if (!directive.empty() && directive != "merge")
      return Status(BadRequest("unknown patch type: \"" + directive + "\""));

    if (const json::value* retain = patch.if_contains(kRetainKeys)) {
      if (!retain->is_array()) return Status(BadRequest("$retainKeys must be a list of strings"));
      for (auto it = orig.begin(); it != orig.end();) {
        bool keep = false;
        for (const auto& k : retain->as_array()) {
          if (k.is_string() && k.as_string() == it->key()) keep = true;
        }
        it = keep ? std::next(it) : orig.erase(it);
      }
    }

    // Primitive-list deletions apply to the original before merging.
    for (const auto& kv : patch) {
      if (!StartsWith(kv.key(), kDeleteFromPrimitiveList)) continue;
      std::string_view list = std::string_view(kv.key()).substr(kDeleteFromPrimitiveList.size());
      if (!kv.value().is_array())
        return Status(BadRequest(std::string(kv.key()) + " must be a list"));
      json::value* cur = orig.if_contains(list);
      if (!cur || !cur->is_array()) continue;
      auto& arr = cur->as_array();
      for (auto it = arr.begin(); it != arr.end();) {
        bool drop = false;
        for (const auto& d : kv.value().as_array()) drop = drop || JsonEqual(*it, d);
        it = drop ? arr.erase(it) : std::next(it);
      }
    }

    // Each list's order before the merge, for $setElementOrder.
    std::vector<std::pair<std::string, json::array>> server_order;
    for (const auto& kv : patch) {
      if (!StartsWith(kv.key(), kSetElementOrder)) continue;
      std::string list(std::string_view(kv.key()).substr(kSetElementOrder.size()));
      const json::value* cur = orig.if_contains(list);
      server_order.emplace_back(list, cur && cur->is_array() ? cur->as_array() : json::array());
    }

    for (const auto& kv : patch) {
      std::string_view key = kv.key();
      if (key == kPatch || key == kRetainKeys || StartsWith(key, kSetElementOrder) ||
          StartsWith(key, kDeleteFromPrimitiveList))
        continue;
      const json::value& pv = kv.value();
      if (pv.is_null()) {
        orig.erase(key);
        continue;
      }
      Child child = ChildOf(s, key);
      json::value* cur = orig.if_contains(key);
      if (pv.is_object()) {
        json::object base = cur && cur->is_object() ? std::move(cur->as_object()) : json::object();
        auto merged = MergeObject(std::move(base), pv.as_object(), child.type);
        if (!merged.ok()) return merged.status();
        if (*merged) {
          orig[key] = std::move(**merged);
        } else {
          orig.erase(key);
        }
      } else if (pv.is_array()) {
        json::array base = cur && cur->is_array() ? std::move(cur->as_array()) : json::array();
        auto merged = MergeList(std::move(base), pv.as_array(), child);
        if (!merged.ok()) return merged.status();
        orig[key] = std::move(*merged);
      } else {
        orig[key] = pv;
      }
    }

    for (auto& [list, before] : server_order) {
      json::value* cur = orig.if_contains(list);
      if (!cur || !cur->is_array()) continue;
      const json::value& order = patch.at(std::string(kSetElementOrder) + list);
      if (!order.is_array())
        return Status(BadRequest(std::string(kSetElementOrder) + list + " must be a list"));
      Child child = ChildOf(s, list);
      std::string merge_key = child.field ? child.field->merge_key : "";
      cur->as_array() = Reorder(std::move(cur->as_array()), order.as_array(), before, merge_key);
    }
    return std::optional<json::value>(json::value(std::move(orig)));
  }

 private:
  static bool IsMergeList(const Field* f) {
    if (!f) return false;
    return !f->merge_key.empty() || f->patch_strategy.find("merge") != std::string::npos;
  }

  // The identity of a list item: its merge-key value for objects, itself for primitives.
  static const json::value* Identity(const json::value& item, const std::string& merge_key) {
    if (merge_key.empty() || !item.is_object()) return &item;
    return item.as_object().if_contains(merge_key);
  }

  static int IndexIn(const json::array& list, const json::value& item,
                     const std::string& merge_key) {
    const json::value* id = Identity(item, merge_key);
    if (!id) return -1;
    for (size_t i = 0; i < list.size(); ++i) {
      const json::value* other = Identity(list[i], merge_key);
      if (other && JsonEqual(*id, *other)) return static_cast<int>(i);
    }
    return -1;
  }

  Result<json::array> MergeList(json::array orig, const json::array& patch, Child child) {
    const Schema* item_schema =
        child.type && child.type->kind == TypeKind::kArray ? child.type->element : nullptr;
    // {"$patch": "replace"} as an item: the rest of the patch list replaces the list.
    bool replace = false;
    for (const auto& item : patch) {
      if (item.is_object() && PatchDirective(item.as_object()) == "replace" &&
          item.as_object().size() == 1)
        replace = true;
    }
    if (replace || !IsMergeList(child.field)) {
      json::array out;
      for (const auto& item : patch) {
        if (item.is_object() && PatchDirective(item.as_object()) == "replace" &&
            item.as_object().size() == 1)
          continue;
        if (item.is_object()) {
          auto merged = MergeObject(json::object(), item.as_object(), item_schema);
          if (!merged.ok()) return merged.status();
          if (*merged) out.push_back(std::move(**merged));
        } else {
          out.push_back(item);
        }
      }
      return out;
    }

    const std::string& merge_key = child.field->merge_key;
    for (const auto& item : patch) {
      if (!item.is_object() || merge_key.empty()) {
        // A primitive list (or one merged without a key) is a set.
        if (IndexIn(orig, item, "") < 0) orig.push_back(item);
        continue;
      }
      const auto& po = item.as_object();
      const json::value* id = po.if_contains(merge_key);
      if (!id)
        return Status(BadRequest("map: " + SerializeSorted(item) +
                                 " does not contain declared merge key: " + merge_key));
      int at = IndexIn(orig, item, merge_key);
      std::string directive = PatchDirective(po);
      if (directive == "delete") {
        for (auto it = orig.begin(); it != orig.end();) {
          const json::value* other = Identity(*it, merge_key);
          it = other && JsonEqual(*other, *id) ? orig.erase(it) : std::next(it);
        }
        continue;
      }
      json::object base =
          at >= 0 && orig[at].is_object() ? std::move(orig[at].as_object()) : json::object();
      auto merged = MergeObject(std::move(base), po, item_schema);
      if (!merged.ok()) return merged.status();
      if (at >= 0) {
        if (*merged) {
          orig[at] = std::move(**merged);
        } else {
          orig.erase(orig.begin() + at);
        }
      } else if (*merged) {
        orig.push_back(std::move(**merged));
      }
    }
    return orig;
  }

  // Orders `merged` as $setElementOrder asks: items named in `order` come in that order;
  // the others keep their place relative to them as in the list before the patch
  // (`before`), as Kubernetes' mergeSortedSlice does.
  static json::array Reorder(json::array merged, const json::array& order,
                             const json::array& before, const std::string& merge_key) {
    json::array in_patch, server_only;
    std::vector<bool> used(merged.size(), false);
    for (const auto& o : order) {
      const json::value* want = Identity(o, merge_key);
      if (!want) continue;
      for (size_t i = 0; i < merged.size(); ++i) {
        const json::value* id = Identity(merged[i], merge_key);
        if (!used[i] && id && JsonEqual(*id, *want)) {
          used[i] = true;
          in_patch.push_back(merged[i]);
          break;
        }
      }
    }
    for (size_t i = 0; i < merged.size(); ++i) {
      if (!used[i]) server_only.push_back(merged[i]);
    }
    json::array out;
    size_t i = 0, j = 0;
    while (i < server_only.size() || j < in_patch.size()) {
      if (j >= in_patch.size()) {
        out.push_back(server_only[i++]);
      } else if (i >= server_only.size()) {
        out.push_back(in_patch[j++]);
      } else {
        int li = IndexIn(before, server_only[i], merge_key);
        int ri = IndexIn(before, in_patch[j], merge_key);
        if (li >= 0 && ri >= 0 && li < ri) {
          out.push_back(server_only[i++]);
        } else {
          out.push_back(in_patch[j++]);
        }
      }
    }
    return out;
  }
};

}  // namespace

Result<json::value> ApplyStrategicMergePatch(const json::value& original, const json::value& patch,
                                             const Schema* schema) {
  if (!patch.is_object())
    return Status(BadRequest("a strategic merge patch must be a JSON object"));
  json::object base = original.is_object() ? original.as_object() : json::object();
  Merger m;
  auto merged = m.MergeObject(std::move(base), patch.as_object(), schema);
  if (!merged.ok()) return merged.status();
  if (!*merged) return json::value(json::object());  // {"$patch":"delete"} at the top
  return std::move(**merged);
}

}  // namespace sampan::api
