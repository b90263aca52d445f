// Table printers of the workload kinds: deployments, replica sets, replication
// controllers, daemon sets, stateful sets, controller revisions, jobs, cron jobs.
#include "api/json_util.h"
#include "api/printers_internal.h"

namespace sampan::api::printers_internal {
namespace {

// spec.replicas, which the server defaults to 1.
int64_t Replicas(const json::object& obj) {
  return Has(obj, {"spec", "replicas"}) ? Int(obj, {"spec", "replicas"}) : 1;
}

TableColumn ContainersColumn() {
  return Col("Containers", "string", "Names of each container in the template.", 1);
}
TableColumn ImagesColumn() {
  return Col("Images", "string", "Images referenced by each container in the template.", 1);
}
TableColumn SelectorColumn() {
  return Col("Selector", "string", "The label selector of the pods this object manages.", 1);
}

// Appends the Containers, Images (and Selector) cells of a pod template.
void AppendTemplateCells(const json::array& containers, json::array* cells) {
  std::string names, images;
  ContainerCells(containers, &names, &images);
  cells->push_back(json::string(names));
  cells->push_back(json::string(images));
}

std::vector<TableColumn> DeploymentColumns() {
  return {Col("Ready", "string", "Ready pods out of the desired replicas."),
          Col("Up-to-date", "string", "Pods that run the current pod template."),
          Col("Available", "string", "Pods that have been ready for at least minReadySeconds."),
          AgeColumn(),
          ContainersColumn(),
          ImagesColumn(),
          SelectorColumn()};
}

json::array DeploymentCells(const json::object& d, int64_t now) {
  json::array cells{
      std::to_string(Int(d, {"status", "readyReplicas"})) + "/" + std::to_string(Replicas(d)),
      Int(d, {"status", "updatedReplicas"}), Int(d, {"status", "availableReplicas"}),
      AgeCell(d, now)};
  AppendTemplateCells(Arr(d, {"spec", "template", "spec", "containers"}), &cells);
  cells.push_back(json::string(FormatLabelSelector(At(d, {"spec", "selector"}))));
  return cells;
}

std::vector<TableColumn> ReplicaSetColumns() {
  return {Col("Desired", "integer", "The number of pods wanted."),
          Col("Current", "integer", "The number of pods that exist."),
          Col("Ready", "integer", "The number of ready pods."),
          AgeColumn(),
          ContainersColumn(),
          ImagesColumn(),
          SelectorColumn()};
}

json::array ReplicaSetCells(const json::object& rs, int64_t now) {
  json::array cells{Replicas(rs), Int(rs, {"status", "replicas"}),
                    Int(rs, {"status", "readyReplicas"}), AgeCell(rs, now)};
  AppendTemplateCells(Arr(rs, {"spec", "template", "spec", "containers"}), &cells);
  cells.push_back(json::string(FormatLabelSelector(At(rs, {"spec", "selector"}))));
  return cells;
}

json::array ReplicationControllerCells(const json::object& rc, int64_t now) {
  json::array cells{Replicas(rc), Int(rc, {"status", "replicas"}),
                    Int(rc, {"status", "readyReplicas"}), AgeCell(rc, now)};
  AppendTemplateCells(Arr(rc, {"spec", "template", "spec", "containers"}), &cells);
  cells.push_back(json::string(FormatLabelMap(Obj(rc, {"spec", "selector"}))));
  return cells;
}

std::vector<TableColumn> DaemonSetColumns() {
  return {Col("Desired", "integer", "Nodes that should run the daemon pod."),
          Col("Current", "integer", "Nodes that run at least one daemon pod."),
          Col("Ready", "integer", "Nodes whose daemon pod is ready."),
          Col("Up-to-date", "integer", "Nodes that run the current daemon pod template."),
          Col("Available", "integer", "Nodes whose daemon pod is available."),
          Col("Node Selector", "string", "The node selector of the pod template."),
          AgeColumn(),
          ContainersColumn(),
          ImagesColumn(),
          SelectorColumn()};
}

json::array DaemonSetCells(const json::object& ds, int64_t now) {
  json::array cells{Int(ds, {"status", "desiredNumberScheduled"}),
                    Int(ds, {"status", "currentNumberScheduled"}),
                    Int(ds, {"status", "numberReady"}),
                    Int(ds, {"status", "updatedNumberScheduled"}),
                    Int(ds, {"status", "numberAvailable"}),
                    FormatLabelMap(Obj(ds, {"spec", "template", "spec", "nodeSelector"})),
                    AgeCell(ds, now)};
  AppendTemplateCells(Arr(ds, {"spec", "template", "spec", "containers"}), &cells);
  cells.push_back(json::string(FormatLabelSelector(At(ds, {"spec", "selector"}))));
  return cells;
}

std::vector<TableColumn> StatefulSetColumns() {
  return {Col("Ready", "string", "Ready pods out of the desired replicas."), AgeColumn(),
          ContainersColumn(), ImagesColumn()};
}

json::array StatefulSetCells(const json::object& ss, int64_t now) {
  json::array cells{
      std::to_string(Int(ss, {"status", "readyReplicas"})) + "/" + std::to_string(Replicas(ss)),
      AgeCell(ss, now)};
  AppendTemplateCells(Arr(ss, {"spec", "template", "spec", "containers"}), &cells);
  return cells;
}

std::vector<TableColumn> ControllerRevisionColumns() {
  return {Col("Controller", "string", "The object that owns this revision, as kind/name."),
          Col("Revision", "string", "The revision number."), AgeColumn()};
}

json::array ControllerRevisionCells(const json::object& cr, int64_t now) {
  std::string controller = "<none>";
  for (const json::value& r : Arr(cr, {"metadata", "ownerReferences"})) {
    const json::object& ref = AsObj(r);
    if (!Bool(ref, {"controller"})) continue;
    std::string api_version = Str(ref, {"apiVersion"});
    std::string group = api_version.find('/') == std::string::npos
                            ? ""
                            : api_version.substr(0, api_version.find('/'));
    std::string kind = Str(ref, {"kind"});
    for (char& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    controller = (group.empty() ? kind : kind + "." + group) + "/" + Str(ref, {"name"});
    break;
  }
  return json::array{controller, Int(cr, {"revision"}), AgeCell(cr, now)};
}

std::vector<TableColumn> JobColumns() {
  return {Col("Status", "string", "The status of the job."),
          Col("Completions", "string", "Succeeded pods out of the completions wanted."),
          Col("Duration", "string", "Time the job took, or has been running."),
          AgeColumn(),
          ContainersColumn(),
          ImagesColumn(),
          SelectorColumn()};
}

json::array JobCells(const json::object& job, int64_t now) {
  int64_t succeeded = Int(job, {"status", "succeeded"});
  std::string completions;
  if (Has(job, {"spec", "completions"})) {
    completions =
        std::to_string(succeeded) + "/" + std::to_string(Int(job, {"spec", "completions"}));
  } else if (int64_t parallelism = Int(job, {"spec", "parallelism"}); parallelism > 1) {
    completions = std::to_string(succeeded) + "/1 of " + std::to_string(parallelism);
  } else {
    completions = std::to_string(succeeded) + "/1";
  }
  std::string duration;
  Result<int64_t> start = ParseRfc3339(Str(job, {"status", "startTime"}));
  if (start.ok()) {
    Result<int64_t> done = ParseRfc3339(Str(job, {"status", "completionTime"}));
    duration = HumanDuration((done.ok() ? *done : now) - *start);
  }
  const json::array& conds = Arr(job, {"status", "conditions"});
  std::string status;
  if (HasTrueCondition(conds, "Complete")) {
    status = "Complete";
  } else if (HasTrueCondition(conds, "Failed")) {
    status = "Failed";
  } else if (Has(job, {"metadata", "deletionTimestamp"})) {
    status = "Terminating";
  } else if (HasTrueCondition(conds, "Suspended")) {
    status = "Suspended";
  } else if (HasTrueCondition(conds, "FailureTarget")) {
    status = "FailureTarget";
  } else if (HasTrueCondition(conds, "SuccessCriteriaMet")) {
    status = "SuccessCriteriaMet";
  } else {
    status = "Running";
  }
  json::array cells{status, completions, duration, AgeCell(job, now)};
  AppendTemplateCells(Arr(job, {"spec", "template", "spec", "containers"}), &cells);
  cells.push_back(json::string(FormatLabelSelector(At(job, {"spec", "selector"}))));
  return cells;
}

std::vector<TableColumn> CronJobColumns() {
  return {Col("Schedule", "string", "The cron schedule."),
          Col("Timezone", "string", "The time zone of the schedule."),
          Col("Suspend", "boolean", "Whether new runs are suspended."),
          Col("Active", "integer", "The number of running jobs."),
          Col("Last Schedule", "string", "Time since a job was last scheduled."),
          AgeColumn(),
          ContainersColumn(),
          ImagesColumn(),
          SelectorColumn()};
}

json::array CronJobCells(const json::object& cj, int64_t now) {
  std::string last = "<none>";
  if (Has(cj, {"status", "lastScheduleTime"})) {
    last = TimestampAge(Str(cj, {"status", "lastScheduleTime"}), now);
  }
  std::string tz = Has(cj, {"spec", "timeZone"}) ? Str(cj, {"spec", "timeZone"}) : "<none>";
  std::string suspend = "<unset>";
  if (const json::value* s = At(cj, {"spec", "suspend"}); s && s->is_bool()) {
    suspend = s->get_bool() ? "True" : "False";
  }
  json::array cells{Str(cj, {"spec", "schedule"}),
                    tz,
                    suspend,
                    static_cast<int64_t>(Arr(cj, {"status", "active"}).size()),
                    last,
                    AgeCell(cj, now)};
  AppendTemplateCells(Arr(cj, {"spec", "jobTemplate", "spec", "template", "spec", "containers"}),
                      &cells);
  const json::value* selector = At(cj, {"spec", "jobTemplate", "spec", "selector"});
  cells.push_back(json::string(selector && !selector->is_null() ? FormatLabelSelector(selector)
                                                                : std::string("<none>")));
  return cells;
}

}  // namespace

const std::vector<Printer>& WorkloadPrinters() {
  static const std::vector<Printer> printers = {
      {"apps", "Deployment", DeploymentColumns, DeploymentCells},
      {"apps", "ReplicaSet", ReplicaSetColumns, ReplicaSetCells},
      {"", "ReplicationController", ReplicaSetColumns, ReplicationControllerCells},
      {"apps", "DaemonSet", DaemonSetColumns, DaemonSetCells},
      {"apps", "StatefulSet", StatefulSetColumns, StatefulSetCells},
      {"apps", "ControllerRevision", ControllerRevisionColumns, ControllerRevisionCells},
      {"batch", "Job", JobColumns, JobCells},
      {"batch", "CronJob", CronJobColumns, CronJobCells},
  };
  return printers;
}

}  // namespace sampan::api::printers_internal
