// Helpers shared by the printers_*.cc files; not part of the api contract.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "api/printers.h"

namespace sampan::api::printers_internal {

namespace json = boost::json;

// The value at a path of object keys, or nullptr when any step is absent or not an object.
const json::value* At(const json::object& obj, std::initializer_list<std::string_view> path);
// Typed reads with Kubernetes' zero values for absent or mistyped fields.
std::string Str(const json::object& obj, std::initializer_list<std::string_view> path);
int64_t Int(const json::object& obj, std::initializer_list<std::string_view> path);
bool Bool(const json::object& obj, std::initializer_list<std::string_view> path);
const json::array& Arr(const json::object& obj, std::initializer_list<std::string_view> path);
const json::object& Obj(const json::object& obj, std::initializer_list<std::string_view> path);
bool Has(const json::object& obj, std::initializer_list<std::string_view> path);
// An element of an array as an object (an empty object if it is not one).
const json::object& AsObj(const json::value& v);
std::string AsStr(const json::value& v);

// "k1=v1,k2=v2" sorted by key, "<none>" when empty (labels.FormatLabels).
std::string FormatLabelMap(const json::object& labels);
// A metav1.LabelSelector as its canonical string (labels.Selector.String); "" for null/absent
// or empty.
std::string FormatLabelSelector(const json::value* selector);
// Container names and images of a pod template's containers, comma-joined.
void ContainerCells(const json::array& containers, std::string* names, std::string* images);
// Joins with `sep`.
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
// The age cell of metadata.creationTimestamp.
std::string AgeCell(const json::object& obj, int64_t now_unix);
// Whether a condition of `type` with status "True" is in the array.
bool HasTrueCondition(const json::array& conditions, std::string_view type);
// Access modes as Kubernetes abbreviates them ("RWO,ROX"), deduplicated, fixed order.
std::string AccessModes(const json::array& modes);

// A printer: the columns after the leading Name column and the cells to match.
struct Printer {
  std::string_view group;
  std::string_view kind;
  std::vector<TableColumn> (*columns)();
  json::array (*cells)(const json::object& obj, int64_t now_unix);
  // The Name cell, when it is more than metadata.name (storage classes add " (default)").
  std::string (*name)(const json::object& obj) = nullptr;
  // False when the columns do not start with Name (events put it last, at priority 1).
  bool leading_name = true;
};

// The shared column definitions.
TableColumn NameColumn();
TableColumn AgeColumn();
TableColumn Col(std::string name, std::string type, std::string description, int priority = 0);

// The printers of each file, registered in one list in printers.cc.
const std::vector<Printer>& CorePrinters();
const std::vector<Printer>& WorkloadPrinters();
const std::vector<Printer>& OtherPrinters();

}  // namespace sampan::api::printers_internal
