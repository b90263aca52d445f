#include "api/managed_fields.h"

#include <boost/json.hpp>

#include "api/json_util.h"

namespace sampan::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kSelf = ".";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

enum class ListKind { kAtomic, kAssociative, kSet };

ListKind ListKindOf(const Field* f) {
  if (!f) return ListKind::kAtomic;
  if (!f->merge_key.empty()) return ListKind::kAssociative;
  if (f->patch_strategy.find("merge") != std::string::npos) return ListKind::kSet;
  return ListKind::kAtomic;
}

// Whether a value is walked into (an object of a known object or map type, or of no schema).
bool Granular(const json::value& v, const Schema* s) {
  if (!v.is_object() || v.as_object().empty()) return false;
  if (!s) return true;
  return s->kind == TypeKind::kObject || s->kind == TypeKind::kMap;
}

std::string KeyElement(const std::string& merge_key, const json::value& key_value) {
  json::object k;
  k[merge_key] = key_value;
  return "k:" + SerializeSorted(k);
}

void AddValue(const json::value& v, Member c, json::object& node);

void AddObject(const json::object& obj, const Schema* s, json::object& node) {
  for (const auto& [k, v] : obj) {
    json::value& sub = node["f:" + std::string(k)];
    if (!sub.is_object()) sub.emplace_object();
    AddValue(v, MemberOf(s, k), sub.as_object());
  }
}

void AddValue(const json::value& v, Member c, json::object& node) {
  if (Granular(v, c.type)) {
    AddObject(v.as_object(), c.type, node);
    return;
  }
  if (!v.is_array() || v.as_array().empty()) return;  // a leaf
  const ListKind lk = ListKindOf(c.field);
  if (lk == ListKind::kAtomic) return;
  const Schema* item_type = c.type ? c.type->element : nullptr;
  // Every item must be addressable; otherwise the list is owned whole.
  for (const auto& item : v.as_array()) {
    bool ok = lk == ListKind::kAssociative
                  ? item.is_object() && item.as_object().contains(c.field->merge_key)
                  : !item.is_object() && !item.is_array();
    if (!ok) return;
  }
  for (const auto& item : v.as_array()) {
    if (lk == ListKind::kSet) {
      node["v:" + json::serialize(item)].emplace_object();
      continue;
    }
    json::value& sub =
        node[KeyElement(c.field->merge_key, item.as_object().at(c.field->merge_key))];
    if (!sub.is_object()) sub.emplace_object();
    sub.as_object()[kSelf].emplace_object();
    AddObject(item.as_object(), item_type, sub.as_object());
  }
}

void CollectLeaves(const json::object& node, FieldPath& prefix, std::vector<FieldPath>& out) {
  for (const auto& [k, v] : node) {
    prefix.emplace_back(k);
    if (!v.is_object() || v.as_object().empty()) {
      out.push_back(prefix);
    } else {
      CollectLeaves(v.as_object(), prefix, out);
    }
    prefix.pop_back();
  }
}

// The node of `trie` at `path`; null if the path leaves the trie.
const json::object* Descend(const json::object& trie, const FieldPath& path) {
  const json::object* node = &trie;
  for (const auto& e : path) {
    const json::value* next = node->if_contains(e);
    if (!next || !next->is_object()) return nullptr;
    node = &next->as_object();
  }
  return node;
}

// The index of the item that a "k:" or "v:" element names in `list`, or -1.
long FindItem(const json::array& list, std::string_view element) {
  json::error_code ec;
  json::value want = json::parse(element.substr(2), ec);
  if (ec) return -1;
  for (size_t i = 0; i < list.size(); ++i) {
    const json::value& item = list[i];
    if (element[0] == 'v') {
      if (item == want) return static_cast<long>(i);
      continue;
    }
    if (!item.is_object() || !want.is_object()) continue;
    bool all = true;
    for (const auto& [k, v] : want.as_object()) {
      const json::value* have = item.as_object().if_contains(k);
      if (!have || *have != v) {
        all = false;
        break;
      }
    }
    if (all) return static_cast<long>(i);
  }
  return -1;
}

// One step down `element` from `v`; null if absent. "." stays on `v`.
const json::value* Step(const json::value& v, std::string_view element) {
  if (element == kSelf) return &v;
  if (StartsWith(element, "f:")) {
    if (!v.is_object()) return nullptr;
    return v.as_object().if_contains(element.substr(2));
  }
  if (StartsWith(element, "k:") || StartsWith(element, "v:")) {
    if (!v.is_array()) return nullptr;
    long i = FindItem(v.as_array(), element);
    return i < 0 ? nullptr : &v.as_array()[static_cast<size_t>(i)];
  }
  return nullptr;
}

void MergeValue(json::value& live, const json::value& applied, Member c);

void MergeObjectInto(json::object& live, const json::object& applied, const Schema* s) {
  for (const auto& [k, av] : applied) {
    json::value* lv = live.if_contains(k);
    if (!lv) {
      live[k] = av;
      continue;
    }
    MergeValue(*lv, av, MemberOf(s, k));
  }
}

void MergeValue(json::value& live, const json::value& applied, Member c) {
  if (applied.is_object() && live.is_object() &&
      (!c.type || c.type->kind == TypeKind::kObject || c.type->kind == TypeKind::kMap)) {
    MergeObjectInto(live.as_object(), applied.as_object(), c.type);
    return;
  }
  const ListKind lk = ListKindOf(c.field);
  if (applied.is_array() && live.is_array() && lk != ListKind::kAtomic) {
    json::array& items = live.as_array();
    const Schema* item_type = c.type ? c.type->element : nullptr;
    for (const auto& item : applied.as_array()) {
      long found = -1;
      if (lk == ListKind::kSet) {
        for (size_t i = 0; i < items.size(); ++i) {
          if (items[i] == item) found = static_cast<long>(i);
        }
        if (found < 0) items.push_back(item);
        continue;
      }
      const json::value* key =
          item.is_object() ? item.as_object().if_contains(c.field->merge_key) : nullptr;
      if (key) {
        for (size_t i = 0; i < items.size(); ++i) {
          const json::value& li = items[i];
          if (li.is_object()) {
            const json::value* lk2 = li.as_object().if_contains(c.field->merge_key);
            if (lk2 && *lk2 == *key) found = static_cast<long>(i);
          }
        }
      }
      if (found < 0) {
        items.push_back(item);
      } else {
        MergeValue(items[static_cast<size_t>(found)], item, Member{item_type, nullptr});
      }
    }
    return;
  }
  live = applied;
}

}  // namespace

json::object AppliedFields(const json::object& applied, const Schema* schema) {
  json::object trie;
  for (const auto& [k, v] : applied) {
    if (k == "apiVersion" || k == "kind" || k == "status") continue;
    Member c = MemberOf(schema, k);
    if (k == "metadata" && v.is_object()) {
      json::object meta;
      for (const auto& [mk, mv] : v.as_object()) {
        if (mk == "labels" || mk == "annotations" || mk == "finalizers" ||
            mk == "ownerReferences") {
          meta[mk] = mv;
        }
      }
      if (meta.empty()) continue;
      json::object sub;
      AddObject(meta, c.type, sub);
      trie["f:metadata"] = std::move(sub);
      continue;
    }
    json::value& sub = trie["f:" + std::string(k)];
    sub.emplace_object();
    AddValue(v, c, sub.as_object());
  }
  return trie;
}

std::vector<FieldPath> LeafPaths(const json::object& trie) {
  std::vector<FieldPath> out;
  FieldPath prefix;
  CollectLeaves(trie, prefix, out);
  return out;
}

bool TrieHasLeaf(const json::object& trie, const FieldPath& path) {
  const json::object* node = Descend(trie, path);
  return !path.empty() && node && node->empty();
}

bool TrieHasPrefix(const json::object& trie, const FieldPath& prefix) {
  return Descend(trie, prefix) != nullptr;
}

void TrieRemove(json::object& trie, const FieldPath& path) {
  if (path.empty()) return;
  std::vector<json::object*> nodes{&trie};
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    json::value* next = nodes.back()->if_contains(path[i]);
    if (!next || !next->is_object()) return;
    nodes.push_back(&next->as_object());
  }
  json::value* leaf = nodes.back()->if_contains(path.back());
  if (!leaf || !leaf->is_object() || !leaf->as_object().empty()) return;
  nodes.back()->erase(path.back());
  // Prune the branches left empty: an empty node would read as a leaf the manager never set.
  for (size_t i = nodes.size() - 1; i > 0; --i) {
    if (!nodes[i]->empty()) break;
    nodes[i - 1]->erase(path[i - 1]);
  }
}

void TrieAdd(json::object& trie, const FieldPath& path) {
  json::object* node = &trie;
  for (const auto& e : path) {
    json::value& next = (*node)[e];
    if (!next.is_object()) next.emplace_object();
    node = &next.as_object();
  }
}

const json::value* ValueAtPath(const json::value& obj, const FieldPath& path) {
  const json::value* v = &obj;
  for (const auto& e : path) {
    v = Step(*v, e);
    if (!v) return nullptr;
  }
  return v;
}

const json::value* ValueAtPath(const json::object& obj, const FieldPath& path) {
  if (path.empty() || !StartsWith(path[0], "f:")) return nullptr;
  const json::value* v = obj.if_contains(std::string_view(path[0]).substr(2));
  for (size_t i = 1; v && i < path.size(); ++i) v = Step(*v, path[i]);
  return v;
}

void RemoveAtPath(json::value& obj, const FieldPath& path) {
  if (path.empty()) return;
  // The path to the list item when it ends in ".", else to the field itself.
  size_t n = path.back() == kSelf ? path.size() - 1 : path.size();
  if (n == 0) return;
  json::value* parent = &obj;
  for (size_t i = 0; i + 1 < n; ++i) {
    parent = const_cast<json::value*>(Step(*parent, path[i]));
    if (!parent) return;
  }
  const std::string& last = path[n - 1];
  if (StartsWith(last, "f:")) {
    if (parent->is_object()) parent->as_object().erase(std::string_view(last).substr(2));
    return;
  }
  if (parent->is_array()) {
    long i = FindItem(parent->as_array(), last);
    if (i >= 0) parent->as_array().erase(parent->as_array().begin() + i);
  }
}

void MergeApplied(json::object& live, const json::object& applied, const Schema* schema) {
  MergeObjectInto(live, applied, schema);
}

void DropNulls(json::value& v) {
  if (v.is_object()) {
    json::object& o = v.as_object();
    for (auto it = o.begin(); it != o.end();) {
      if (it->value().is_null()) {
        it = o.erase(it);
      } else {
        DropNulls(it->value());
        ++it;
      }
    }
  } else if (v.is_array()) {
    for (auto& e : v.as_array()) DropNulls(e);
  }
}

std::string PathString(const FieldPath& path) {
  std::string out;
  for (const auto& e : path) {
    if (e == kSelf) continue;
    if (StartsWith(e, "f:")) {
      out += "." + e.substr(2);
    } else if (StartsWith(e, "v:")) {
      out += "[=" + e.substr(2) + "]";
    } else if (StartsWith(e, "k:")) {
      json::error_code ec;
      json::value k = json::parse(std::string_view(e).substr(2), ec);
      std::string inner;
      if (!ec && k.is_object()) {
        for (const auto& [kk, kv] : k.as_object()) {
          if (!inner.empty()) inner += ",";
          inner += std::string(kk) + "=" + json::serialize(kv);
        }
      }
      out += "[" + inner + "]";
    }
  }
  return out;
}

}  // namespace sampan::api
