// Server-side tables: what `kubectl get` prints for each kind (meta.k8s.io/v1 Table).
//
// The columns, their order, priorities and the way each cell is computed follow
// Kubernetes' own printers (pkg/printers/internalversion), so `kubectl get pods`
// against sampan reads as it does against Kubernetes: READY "1/2", STATUS with
// "Init:0/1", "CrashLoopBackOff", "Terminating", "Completed"; RESTARTS "3 (5m ago)";
// AGE "3m2s", "2d3h". Printed kinds: pods, namespaces, nodes, services, endpoints, config
// maps, secrets, service accounts, events (core and events.k8s.io; LAST SEEN first, NAME
// last at priority 1), persistent volumes and claims, resource quotas, limit ranges, pod
// templates, deployments, replica sets, replication controllers, daemon sets, stateful
// sets, controller revisions, jobs, cron jobs, leases, horizontal pod autoscalers,
// disruption budgets, storage classes, ingresses, network policies, priority classes,
// RBAC roles and bindings, endpoint slices. Other kinds get NAME and AGE.
//
// Cells are always computed for every column, the wide (priority > 0) ones included;
// kubectl hides priority > 0 columns unless `-o wide` is given, as the Kubernetes
// API server also does. All functions are pure and thread-safe.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/schema.h"
#include "util/status.h"

namespace sampan::api {

// One metav1.TableColumnDefinition.
struct TableColumn {
  std::string name;    // "Name", "Ready", "Nominated Node" (kubectl upper-cases it)
  std::string type;    // "string", "integer", "number", "boolean", "date"
  std::string format;  // "name" on the Name column, else ""
  std::string description;
  int priority = 0;  // > 0: only shown with -o wide
};

// The columns for `kind` (Name first, except for events, where it is last). Never empty.
std::vector<TableColumn> TableColumns(const KindInfo& kind);

// One row's cells for `obj` (a full object of `kind`), one per column of TableColumns.
// `now_unix` is the current time in seconds, for AGE-like cells. Cells are strings
// except where the column type is integer (JSON numbers).
boost::json::array TableCells(const KindInfo& kind, const boost::json::object& obj,
                              int64_t now_unix);

// ?includeObject= of a Table request.
enum class IncludeObject {
  kNone,      // rows carry no object
  kMetadata,  // PartialObjectMetadata {kind, apiVersion meta.k8s.io/v1, metadata} (default)
  kObject,    // the full object
};
// "", "Metadata", "None", "Object"; BadRequest otherwise.
Result<IncludeObject> ParseIncludeObject(std::string_view text);

struct TableOptions {
  IncludeObject include_object = IncludeObject::kMetadata;
  int64_t now_unix = 0;
  // Leave columnDefinitions empty (Kubernetes sends them only in a watch's first event).
  bool omit_columns = false;
  // metadata of the Table (a list's resourceVersion, continue, remainingItemCount).
  std::string resource_version;
  std::string continue_token;
  std::optional<int64_t> remaining_item_count;
};

// The whole meta.k8s.io/v1 Table for `objects` (each a full object of `kind`), in order.
boost::json::object BuildTable(const KindInfo& kind,
                               const std::vector<const boost::json::object*>& objects,
                               const TableOptions& options);
// The same for a JSON array of objects (non-objects are skipped).
boost::json::object BuildTable(const KindInfo& kind, const boost::json::array& objects,
                               const TableOptions& options);

// Whether an Accept header asks for a meta.k8s.io Table (as=Table;g=meta.k8s.io;v=v1 or
// v1beta1) ahead of anything else that could be served.
bool AcceptsTable(std::string_view accept);

// Kubernetes' duration printer (apimachinery util/duration.HumanDuration):
// "5s", "119s", "3m2s", "10m", "3h", "2d3h", "45d", "2y30d"; "<invalid>" below -1s.
std::string HumanDuration(int64_t seconds);
// The age of an RFC 3339 timestamp at `now_unix`; "<unknown>" if empty or malformed.
std::string TimestampAge(std::string_view rfc3339, int64_t now_unix);

}  // namespace sampan::api
