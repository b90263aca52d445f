// Kubernetes strategic merge patch, driven by the Schema's merge keys and strategies.
//
// Semantics follow apimachinery's strategicpatch (checked against `kubectl patch --local`):
// maps merge recursively and null deletes; a list whose field has a merge key (or strategy
// "merge") merges, object items matched by the merge key and primitive items as a set,
// with patch items in patch order and server-only items kept near their old neighbours;
// other lists are replaced. Directives: {"$patch": "replace"|"delete"} in maps (delete
// leaves {}), {"$patch": "replace"|"delete"} items in lists, "$retainKeys" in maps,
// "$setElementOrder/<list>" and "$deleteFromPrimitiveList/<list>" beside a list.
//
// Deliberate differences from apimachinery, where it copies patch values verbatim into
// the result: values added by the patch (new keys, new list items, replaced maps) are
// themselves merged onto empty, so directives and nulls inside them never reach storage;
// and $deleteFromPrimitiveList on an absent list deletes nothing instead of creating it.
#include <boost/json.hpp>

#include "api/json_util.h"
#include "api/patch.h"

namespace sampan::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kPatch = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kSetElementOrder = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList/";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool IsDirectiveKey(std::string_view key) {
  return key == kPatch || key == kRetainKeys || StartsWith(key, kSetElementOrder) ||
         StartsWith(key, kDeleteFromPrimitiveList);
}

// The $patch directive of an object, or "" (also for non-objects).
std::string Directive(const json::value& v) {
  if (!v.is_object()) return "";
  const json::value* d = v.as_object().if_contains(kPatch);
  if (!d) return "";
  return d->is_string() ? std::string(d->as_string()) : SerializeSorted(*d);
}

bool IsMergeList(const Field* f) {
  return f && (!f->merge_key.empty() || f->patch_strategy.find("merge") != std::string::npos);
}

// The identity of a list item: its merge-key value for objects (when there is a key),
// the item itself otherwise. nullptr if an object lacks the key.
const json::value* Identity(const json::value& item, const std::string& merge_key) {
  if (merge_key.empty() || !item.is_object()) return &item;
  return item.as_object().if_contains(merge_key);
}

int IndexIn(const json::array& list, const json::value& item, const std::string& merge_key) {
  const json::value* id = Identity(item, merge_key);
  if (!id) return -1;
  for (size_t i = 0; i < list.size(); ++i) {
    const json::value* other = Identity(list[i], merge_key);
    if (other && JsonEqual(*id, *other)) return static_cast<int>(i);
  }
  return -1;
}

// Sorts `items` stably by their position in `order`; items not in `order` go last.
void SortBy(std::vector<json::value>& items, const json::array& order,
            const std::string& merge_key) {
  std::vector<std::pair<int, size_t>> keys;
  for (size_t i = 0; i < items.size(); ++i) {
    int at = IndexIn(order, items[i], merge_key);
    keys.emplace_back(at < 0 ? INT32_MAX : at, i);
  }
  std::stable_sort(keys.begin(), keys.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<json::value> sorted;
  for (const auto& k : keys) sorted.push_back(std::move(items[k.second]));
  items = std::move(sorted);
}

// The final order of a merged list: the items named in `patch_order` in that order, the
// others in their server order, interleaved so that a server-only item stays ahead of a
// patch item it preceded on the server (apimachinery's normalizeElementOrder).
json::array Normalize(json::array merged, const json::array& patch_order,
                      const json::array& server_order, const std::string& merge_key) {
  std::vector<json::value> in_patch, server_only;
  for (auto& item : merged) {
    (IndexIn(patch_order, item, merge_key) >= 0 ? in_patch : server_only)
        .push_back(std::move(item));
  }
  SortBy(in_patch, patch_order, merge_key);
  SortBy(server_only, server_order, merge_key);
  json::array out;
  size_t i = 0, j = 0;
  while (i < server_only.size() || j < in_patch.size()) {
    bool take_server;
    if (j >= in_patch.size()) {
      take_server = true;
    } else if (i >= server_only.size()) {
      take_server = false;
    } else {
      int li = IndexIn(server_order, server_only[i], merge_key);
      int ri = IndexIn(server_order, in_patch[j], merge_key);
      take_server = li >= 0 && ri >= 0 && li < ri;
    }
    out.push_back(std::move(take_server ? server_only[i++] : in_patch[j++]));
  }
  return out;
}

Status BadPatch(std::string message) { return BadRequest(std::move(message)); }

class Merger {
 public:
  Result<json::value> MergeObject(json::object orig, const json::object& patch, const Schema* s) {
    if (patch.contains(kPatch)) {
      std::string directive = Directive(json::value(patch));
      if (directive == "delete") return json::value(json::object());
      if (directive == "replace") {
        json::object rest = patch;
        rest.erase(kPatch);
        return MergeObject(json::object(), rest, s);
      }
      return Status(BadPatch("unknown patch type: " + directive +
                             " in map: " + SerializeSorted(json::value(patch))));
    }

    if (const json::value* retain = patch.if_contains(kRetainKeys)) {
      if (!retain->is_array()) return Status(BadPatch("invalid patch format of retainKeys"));
      auto listed = [&](std::string_view key) {
        for (const auto& k : retain->as_array()) {
          if (k.is_string() && k.as_string() == key) return true;
        }
        return false;
      };
      for (const auto& kv : patch) {
        if (kv.value().is_null() || IsDirectiveKey(kv.key())) continue;
        if (!listed(kv.key())) return Status(BadPatch("invalid patch format of retainKeys"));
      }
      for (auto it = orig.begin(); it != orig.end();)
        it = listed(it->key()) ? std::next(it) : orig.erase(it);
    }

    for (const auto& kv : patch) {
      if (!StartsWith(kv.key(), kDeleteFromPrimitiveList)) continue;
      std::string_view list = std::string_view(kv.key()).substr(kDeleteFromPrimitiveList.size());
      if (!kv.value().is_array()) return Status(BadPatch("invalid patch format of primitive list"));
      json::value* cur = orig.if_contains(list);
      if (!cur || !cur->is_array()) continue;
      auto& arr = cur->as_array();
      for (auto it = arr.begin(); it != arr.end();) {
        bool drop = false;
        for (const auto& d : kv.value().as_array()) drop = drop || JsonEqual(*it, d);
        it = drop ? arr.erase(it) : std::next(it);
      }
    }

    // Lists with a $setElementOrder are merged and ordered first.
    std::vector<std::string_view> ordered;
    for (const auto& kv : patch) {
      if (!StartsWith(kv.key(), kSetElementOrder)) continue;
      std::string_view list = std::string_view(kv.key()).substr(kSetElementOrder.size());
      if (!kv.value().is_array())
        return Status(BadPatch("invalid patch format of setElementOrder list"));
      RETURN_IF_ERROR(OrderList(orig, patch, list, kv.value().as_array(), s));
      ordered.push_back(list);
    }

    for (const auto& kv : patch) {
      std::string_view key = kv.key();
      if (IsDirectiveKey(key) || std::find(ordered.begin(), ordered.end(), key) != ordered.end())
        continue;
      const json::value& pv = kv.value();
      if (pv.is_null()) {
        orig.erase(key);
        continue;
      }
      ASSIGN_OR_RETURN(json::value merged, MergeValue(orig.if_contains(key), pv, MemberOf(s, key)));
      orig[key] = std::move(merged);
    }
    return json::value(std::move(orig));
  }

 private:
  // Merges one patch value onto the current value (nullptr if absent).
  Result<json::value> MergeValue(json::value* cur, const json::value& pv, Member child) {
    if (pv.is_object()) {
      bool replace = child.field && child.field->patch_strategy == "replace";
      json::object base =
          cur && cur->is_object() && !replace ? std::move(cur->as_object()) : json::object();
      return MergeObject(std::move(base), pv.as_object(), child.type);
    }
    if (pv.is_array()) {
      json::array base = cur && cur->is_array() ? std::move(cur->as_array()) : json::array();
      ASSIGN_OR_RETURN(json::array merged, MergeList(std::move(base), pv.as_array(), child));
      return json::value(std::move(merged));
    }
    return pv;
  }

  const Schema* ItemSchema(Member child) {
    return child.type && child.type->kind == TypeKind::kArray ? child.type->element : nullptr;
  }

  // A patch item as it enters the result: objects merged onto empty (directives stripped).
  Result<json::value> Fresh(const json::value& item, const Schema* item_schema) {
    if (!item.is_object()) return item;
    return MergeObject(json::object(), item.as_object(), item_schema);
  }

  Result<json::array> MergeList(json::array orig, const json::array& patch, Member child) {
    const Schema* item_schema = ItemSchema(child);
    if (!IsMergeList(child.field)) {
      json::array out;
      for (const auto& item : patch) {
        ASSIGN_OR_RETURN(json::value v, Fresh(item, item_schema));
        out.push_back(std::move(v));
      }
      return out;
    }
    const std::string& merge_key = child.field->merge_key;
    bool objects = false;
    for (const auto& item : patch) objects = objects || item.is_object();
    for (const auto& item : orig) objects = objects || item.is_object();

    if (!objects || merge_key.empty()) {
      // A set of primitives: the union, patch items in patch order.
      json::array merged = orig;
      for (const auto& item : patch) {
        if (IndexIn(merged, item, "") < 0) merged.push_back(item);
      }
      return Normalize(std::move(merged), patch, orig, "");
    }

    // Directive items first: deletions by key, or a replacement of the whole list.
    json::array plain;
    bool replace = false;
    for (const auto& item : patch) {
      if (!item.is_object())
        return Status(BadPatch("list items of \"" + child.field->name + "\" must be objects"));
      std::string directive = Directive(item);
      if (directive.empty()) {
        plain.push_back(item);
      } else if (directive == "delete") {
        const json::value* id = Identity(item, merge_key);
        if (!id)
          return Status(BadPatch("map: " + SerializeSorted(item) +
                                 " does not contain declared merge key: " + merge_key));
        for (auto it = orig.begin(); it != orig.end();) {
          const json::value* other = Identity(*it, merge_key);
          it = other && JsonEqual(*other, *id) ? orig.erase(it) : std::next(it);
        }
      } else if (directive == "replace") {
        replace = true;
      } else if (directive == "merge") {
        return Status(BadPatch("merging lists cannot yet be specified in the patch"));
      } else {
        return Status(
            BadPatch("unknown patch type: " + directive + " in map: " + SerializeSorted(item)));
      }
    }
    if (replace) {
      json::array out;
      for (const auto& item : plain) {
        ASSIGN_OR_RETURN(json::value v, Fresh(item, item_schema));
        out.push_back(std::move(v));
      }
      return out;
    }
    json::array merged = orig;
    for (const auto& item : plain) {
      if (!Identity(item, merge_key))
        return Status(BadPatch("map: " + SerializeSorted(item) +
                               " does not contain declared merge key: " + merge_key));
      int at = IndexIn(merged, item, merge_key);
      if (at >= 0 && merged[at].is_object()) {
        ASSIGN_OR_RETURN(merged[at], MergeObject(std::move(merged[at].as_object()),
                                                 item.as_object(), item_schema));
      } else {
        ASSIGN_OR_RETURN(json::value v, Fresh(item, item_schema));
        merged.push_back(std::move(v));
      }
    }
    return Normalize(std::move(merged), plain, orig, merge_key);
  }

  // Merges `list` of `patch` (if present) into `orig` and orders it by `order`.
  Status OrderList(json::object& orig, const json::object& patch, std::string_view list,
                   const json::array& order, const Schema* s) {
    Member child = MemberOf(s, list);
    const std::string merge_key = child.field ? child.field->merge_key : "";
    json::value* cur = orig.if_contains(list);
    const json::value* pv = patch.if_contains(list);
    if (pv && !pv->is_array()) return BadPatch("invalid patch format of setElementOrder list");
    if (!cur && !pv) return Status::Ok();
    if (pv) RETURN_IF_ERROR(CheckOrder(pv->as_array(), order, merge_key));
    json::array before = cur && cur->is_array() ? cur->as_array() : json::array();
    json::array merged = before;
    if (pv) {
      auto r = MergeList(std::move(merged), pv->as_array(), child);
      if (!r.ok()) return r.status();
      merged = std::move(*r);
    }
    orig[list] = Normalize(std::move(merged), order, before, merge_key);
    return Status::Ok();
  }

  // The patch list's items (deletions aside) must appear in $setElementOrder in the same
  // relative order.
  static Status CheckOrder(const json::array& patch_list, const json::array& order,
                           const std::string& merge_key) {
    size_t p = 0, o = 0;
    std::vector<const json::value*> items;
    for (const auto& item : patch_list) {
      if (Directive(item).empty()) items.push_back(&item);
    }
    while (p < items.size() && o < order.size()) {
      const json::value* a = Identity(*items[p], merge_key);
      const json::value* b = Identity(order[o], merge_key);
      if (a && b && JsonEqual(*a, *b)) ++p;
      ++o;
    }
    if (p < items.size())
      return BadPatch(
          "The order in patch list: " + SerializeSorted(json::value(patch_list)) +
          " doesn't match $setElementOrder list: " + SerializeSorted(json::value(order)));
    return Status::Ok();
  }
};

}  // namespace

Result<json::value> ApplyStrategicMergePatch(const json::value& original, const json::value& patch,
                                             const Schema* schema) {
  if (!patch.is_object())
    return Status(BadRequest("a strategic merge patch must be a JSON object"));
  json::object base = original.is_object() ? original.as_object() : json::object();
  return Merger().MergeObject(std::move(base), patch.as_object(), schema);
}

}  // namespace sampan::api
