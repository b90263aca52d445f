// Table building, the printer list, durations, and the JSON helpers the printers share.
#include "api/printers.h"

#include <algorithm>
#include <map>

#include "api/json_util.h"
#include "api/media_type.h"
#include "api/printers_internal.h"

namespace sampan::api {

namespace json = boost::json;
using namespace printers_internal;  // NOLINT: this file defines them

namespace printers_internal {

const json::value* At(const json::object& obj, std::initializer_list<std::string_view> path) {
  const json::object* cur = &obj;
  const json::value* v = nullptr;
  for (std::string_view key : path) {
    if (cur == nullptr) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    v = &it->value();
    cur = v->if_object();
  }
  return v;
}

std::string AsStr(const json::value& v) {
  if (const json::string* s = v.if_string()) return std::string(*s);
  return "";
}

std::string Str(const json::object& obj, std::initializer_list<std::string_view> path) {
  const json::value* v = At(obj, path);
  return v ? AsStr(*v) : "";
}

int64_t Int(const json::object& obj, std::initializer_list<std::string_view> path) {
  const json::value* v = At(obj, path);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return 0;
}

bool Bool(const json::object& obj, std::initializer_list<std::string_view> path) {
  const json::value* v = At(obj, path);
  return v != nullptr && v->is_bool() && v->get_bool();
}

bool Has(const json::object& obj, std::initializer_list<std::string_view> path) {
  const json::value* v = At(obj, path);
  return v != nullptr && !v->is_null();
}

const json::array& Arr(const json::object& obj, std::initializer_list<std::string_view> path) {
  static const json::array kEmpty;
  const json::value* v = At(obj, path);
  if (v == nullptr || !v->is_array()) return kEmpty;
  return v->get_array();
}

const json::object& AsObj(const json::value& v) {
  static const json::object kEmpty;
  if (const json::object* o = v.if_object()) return *o;
  return kEmpty;
}

const json::object& Obj(const json::object& obj, std::initializer_list<std::string_view> path) {
  const json::value* v = At(obj, path);
  static const json::value kNull;
  return AsObj(v ? *v : kNull);
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

std::string FormatLabelMap(const json::object& labels) {
  std::map<std::string, std::string> sorted;
  for (const auto& kv : labels) sorted[std::string(kv.key())] = AsStr(kv.value());
  if (sorted.empty()) return "<none>";
  std::vector<std::string> parts;
  for (const auto& [k, v] : sorted) parts.push_back(k + "=" + v);
  return Join(parts, ",");
}

std::string FormatLabelSelector(const json::value* selector) {
  if (selector == nullptr || selector->is_null()) return "";
  const json::object& sel = AsObj(*selector);
  // Requirements sorted by key (then by operator text), values sorted, as labels.Selector does.
  std::vector<std::pair<std::string, std::string>> reqs;
  for (const auto& kv : Obj(sel, {"matchLabels"})) {
    reqs.emplace_back(std::string(kv.key()), std::string(kv.key()) + "=" + AsStr(kv.value()));
  }
  for (const json::value& e : Arr(sel, {"matchExpressions"})) {
    const json::object& expr = AsObj(e);
    std::string key = Str(expr, {"key"});
    std::string op = Str(expr, {"operator"});
    std::vector<std::string> values;
    for (const json::value& v : Arr(expr, {"values"})) values.push_back(AsStr(v));
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    std::string text;
    if (op == "In") {
      text = key + " in (" + Join(values, ",") + ")";
    } else if (op == "NotIn") {
      text = key + " notin (" + Join(values, ",") + ")";
    } else if (op == "Exists") {
      text = key;
    } else if (op == "DoesNotExist") {
      text = "!" + key;
    } else {
      return "<invalid>";
    }
    reqs.emplace_back(key, text);
  }
  std::stable_sort(reqs.begin(), reqs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> parts;
  for (auto& r : reqs) parts.push_back(std::move(r.second));
  return Join(parts, ",");
}

void ContainerCells(const json::array& containers, std::string* names, std::string* images) {
  std::vector<std::string> n, i;
  for (const json::value& c : containers) {
    n.push_back(Str(AsObj(c), {"name"}));
    i.push_back(Str(AsObj(c), {"image"}));
  }
  *names = Join(n, ",");
  *images = Join(i, ",");
}

std::string AgeCell(const json::object& obj, int64_t now_unix) {
  return TimestampAge(Str(obj, {"metadata", "creationTimestamp"}), now_unix);
}

bool HasTrueCondition(const json::array& conditions, std::string_view type) {
  for (const json::value& c : conditions) {
    const json::object& cond = AsObj(c);
    if (Str(cond, {"type"}) == type && Str(cond, {"status"}) == "True") return true;
  }
  return false;
}

std::string AccessModes(const json::array& modes) {
  bool rwo = false, rox = false, rwx = false, rwop = false;
  for (const json::value& m : modes) {
    std::string s = AsStr(m);
    rwo |= s == "ReadWriteOnce";
    rox |= s == "ReadOnlyMany";
    rwx |= s == "ReadWriteMany";
    rwop |= s == "ReadWriteOncePod";
  }
  std::vector<std::string> out;
  if (rwo) out.push_back("RWO");
  if (rox) out.push_back("ROX");
  if (rwx) out.push_back("RWX");
  if (rwop) out.push_back("RWOP");
  return Join(out, ",");
}

TableColumn Col(std::string name, std::string type, std::string description, int priority) {
  return TableColumn{std::move(name), std::move(type), "", std::move(description), priority};
}

TableColumn NameColumn() {
  return TableColumn{"Name", "string", "name",
                     "The object's name, unique among objects of its kind in its namespace.", 0};
}

TableColumn AgeColumn() {
  return Col("Age", "string", "Time since the object was created (metadata.creationTimestamp).");
}

}  // namespace printers_internal

namespace {

const Printer* FindPrinter(const KindInfo& kind) {
  static const std::vector<const Printer*> all = [] {
    std::vector<const Printer*> v;
    for (const auto* list : {&CorePrinters(), &WorkloadPrinters(), &OtherPrinters()}) {
      for (const Printer& p : *list) v.push_back(&p);
    }
    return v;
  }();
  for (const Printer* p : all) {
    if (p->group == kind.group && p->kind == kind.kind) return p;
  }
  return nullptr;
}

json::object ColumnJson(const TableColumn& c) {
  json::object o;
  o["name"] = c.name;
  o["type"] = c.type;
  o["format"] = c.format;
  o["description"] = c.description;
  o["priority"] = c.priority;
  return o;
}

// Pods that finished carry a row condition, as Kubernetes marks them.
json::array RowConditions(const KindInfo& kind, const json::object& obj) {
  json::array conds;
  if (!kind.group.empty() || kind.kind != "Pod") return conds;
  std::string phase = Str(obj, {"status", "phase"});
  if (phase != "Succeeded" && phase != "Failed") return conds;
  json::object c;
  c["type"] = "Completed";
  c["status"] = "True";
  c["reason"] = phase;
  c["message"] = phase == "Succeeded" ? "The pod has completed successfully." : "The pod failed.";
  conds.push_back(std::move(c));
  return conds;
}

}  // namespace

std::vector<TableColumn> TableColumns(const KindInfo& kind) {
  const Printer* p = FindPrinter(kind);
  std::vector<TableColumn> cols;
  if (p == nullptr || p->leading_name) cols.push_back(NameColumn());
  if (p) {
    for (TableColumn& c : p->columns()) cols.push_back(std::move(c));
  } else {
    cols.push_back(AgeColumn());
  }
  return cols;
}

json::array TableCells(const KindInfo& kind, const json::object& obj, int64_t now_unix) {
  json::array cells;
  const Printer* p = FindPrinter(kind);
  if (p == nullptr || p->leading_name) {
    cells.push_back(json::string(p && p->name ? p->name(obj) : Str(obj, {"metadata", "name"})));
  }
  if (p) {
    for (json::value& v : p->cells(obj, now_unix)) cells.push_back(std::move(v));
  } else {
    cells.push_back(json::string(AgeCell(obj, now_unix)));
  }
  return cells;
}

Result<IncludeObject> ParseIncludeObject(std::string_view text) {
  if (text.empty() || text == "Metadata") return IncludeObject::kMetadata;
  if (text == "None") return IncludeObject::kNone;
  if (text == "Object") return IncludeObject::kObject;
  return BadRequest("includeObject must be one of None, Metadata or Object, not \"" +
                    std::string(text) + "\"");
}

json::object BuildTable(const KindInfo& kind, const std::vector<const json::object*>& objects,
                        const TableOptions& options) {
  json::object table;
  table["kind"] = "Table";
  table["apiVersion"] = "meta.k8s.io/v1";
  json::object meta;
  if (!options.resource_version.empty()) meta["resourceVersion"] = options.resource_version;
  if (!options.continue_token.empty()) meta["continue"] = options.continue_token;
  if (options.remaining_item_count) meta["remainingItemCount"] = *options.remaining_item_count;
  table["metadata"] = std::move(meta);
  json::array columns;
  if (!options.omit_columns) {
    for (const TableColumn& c : TableColumns(kind)) columns.push_back(ColumnJson(c));
  }
  table["columnDefinitions"] = std::move(columns);
  json::array rows;
  for (const json::object* obj : objects) {
    if (obj == nullptr) continue;
    json::object row;
    row["cells"] = TableCells(kind, *obj, options.now_unix);
    json::array conds = RowConditions(kind, *obj);
    if (!conds.empty()) row["conditions"] = std::move(conds);
    switch (options.include_object) {
      case IncludeObject::kNone:
        row["object"] = nullptr;
        break;
      case IncludeObject::kMetadata: {
        json::object partial;
        partial["kind"] = "PartialObjectMetadata";
        partial["apiVersion"] = "meta.k8s.io/v1";
        const json::value* m = At(*obj, {"metadata"});
        partial["metadata"] = (m && m->is_object()) ? *m : json::value(json::object());
        row["object"] = std::move(partial);
        break;
      }
      case IncludeObject::kObject: {
        json::object full = *obj;
        // List items may omit kind/apiVersion; a row's object carries them.
        if (!full.contains("kind")) full["kind"] = kind.kind;
        if (!full.contains("apiVersion")) full["apiVersion"] = kind.ApiVersion();
        row["object"] = std::move(full);
        break;
      }
    }
    rows.push_back(std::move(row));
  }
  table["rows"] = std::move(rows);
  return table;
}

json::object BuildTable(const KindInfo& kind, const json::array& objects,
                        const TableOptions& options) {
  std::vector<const json::object*> ptrs;
  ptrs.reserve(objects.size());
  for (const json::value& v : objects) {
    if (const json::object* o = v.if_object()) ptrs.push_back(o);
  }
  return BuildTable(kind, ptrs, options);
}

bool AcceptsTable(std::string_view accept) {
  for (const MediaRange& m : ParseAccept(accept)) {
    if (!m.IsJsonCompatible()) continue;
    if (m.as.empty()) return false;  // a plain JSON answer is acceptable first
    if (m.as == "Table" && m.g == "meta.k8s.io" && (m.v == "v1" || m.v == "v1beta1")) return true;
  }
  return false;
}

std::string HumanDuration(int64_t seconds) {
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return std::to_string(seconds) + "s";
  int64_t minutes = seconds / 60;
  if (minutes < 10) {
    int64_t s = seconds % 60;
    if (s == 0) return std::to_string(minutes) + "m";
    return std::to_string(minutes) + "m" + std::to_string(s) + "s";
  }
  if (minutes < 60 * 3) return std::to_string(minutes) + "m";
  int64_t hours = seconds / 3600;
  if (hours < 8) {
    int64_t m = minutes % 60;
    if (m == 0) return std::to_string(hours) + "h";
    return std::to_string(hours) + "h" + std::to_string(m) + "m";
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    int64_t h = hours % 24;
    if (h == 0) return std::to_string(hours / 24) + "d";
    return std::to_string(hours / 24) + "d" + std::to_string(h) + "h";
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    int64_t dy = (hours / 24) % 365;
    if (dy == 0) return std::to_string(hours / 24 / 365) + "y";
    return std::to_string(hours / 24 / 365) + "y" + std::to_string(dy) + "d";
  }
  return std::to_string(hours / 24 / 365) + "y";
}

std::string TimestampAge(std::string_view rfc3339, int64_t now_unix) {
  Result<int64_t> t = ParseRfc3339(rfc3339);
  if (!t.ok()) return "<unknown>";
  return HumanDuration(now_unix - *t);
}

}  // namespace sampan::api
