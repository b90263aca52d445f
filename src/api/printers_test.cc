#include "api/printers.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sampan::api {
namespace {

namespace json = boost::json;

// 2024-05-01T12:00:00Z
constexpr int64_t kNow = 1714564800;

KindInfo Kind(std::string group, std::string version, std::string kind) {
  KindInfo k;
  k.group = std::move(group);
  k.version = std::move(version);
  k.kind = std::move(kind);
  return k;
}

json::object Parse(std::string_view text) { return json::parse(text).as_object(); }

std::vector<std::string> Names(const std::vector<TableColumn>& cols) {
  std::vector<std::string> out;
  for (const auto& c : cols) out.push_back(c.name);
  return out;
}

std::string Cells(const KindInfo& kind, std::string_view obj) {
  return json::serialize(TableCells(kind, Parse(obj), kNow));
}

TEST(HumanDurationTest, MatchesKubernetesDurationPrinter) {
  EXPECT_EQ(HumanDuration(-5), "<invalid>");
  EXPECT_EQ(HumanDuration(-1), "0s");
  EXPECT_EQ(HumanDuration(0), "0s");
  EXPECT_EQ(HumanDuration(5), "5s");
  EXPECT_EQ(HumanDuration(119), "119s");
  EXPECT_EQ(HumanDuration(120), "2m");
  EXPECT_EQ(HumanDuration(182), "3m2s");
  EXPECT_EQ(HumanDuration(599), "9m59s");
  EXPECT_EQ(HumanDuration(600), "10m");
  EXPECT_EQ(HumanDuration(3 * 3600 - 1), "179m");
  EXPECT_EQ(HumanDuration(3 * 3600), "3h");
  EXPECT_EQ(HumanDuration(3 * 3600 + 30 * 60), "3h30m");
  EXPECT_EQ(HumanDuration(8 * 3600), "8h");
  EXPECT_EQ(HumanDuration(47 * 3600 + 59 * 60), "47h");
  EXPECT_EQ(HumanDuration(2 * 86400 + 3 * 3600), "2d3h");
  EXPECT_EQ(HumanDuration(3 * 86400), "3d");
  EXPECT_EQ(HumanDuration(45 * 86400), "45d");
  EXPECT_EQ(HumanDuration(2 * 365 * 86400 + 30 * 86400), "2y30d");
  EXPECT_EQ(HumanDuration(9 * 365 * 86400), "9y");
}

TEST(TimestampAgeTest, ParsesRfc3339) {
  EXPECT_EQ(TimestampAge("2024-05-01T11:55:00Z", kNow), "5m");
  EXPECT_EQ(TimestampAge("2024-05-01T13:55:00+02:00", kNow), "5m");
  EXPECT_EQ(TimestampAge("2024-04-29T09:00:00.123456Z", kNow), "2d3h");
  EXPECT_EQ(TimestampAge("", kNow), "<unknown>");
  EXPECT_EQ(TimestampAge("yesterday", kNow), "<unknown>");
}

TEST(PrintersTest, PodColumns) {
  auto cols = TableColumns(Kind("", "v1", "Pod"));
  EXPECT_EQ(Names(cols),
            (std::vector<std::string>{"Name", "Ready", "Status", "Restarts", "Age", "IP", "Node",
                                      "Nominated Node", "Readiness Gates"}));
  EXPECT_EQ(cols[0].format, "name");
  for (size_t i = 0; i < cols.size(); ++i) EXPECT_EQ(cols[i].priority, i < 5 ? 0 : 1) << i;
}

TEST(PrintersTest, PodRunning) {
  EXPECT_EQ(Cells(Kind("", "v1", "Pod"), R"({
    "metadata":{"name":"web","creationTimestamp":"2024-05-01T11:55:00Z"},
    "spec":{"nodeName":"n1","containers":[{"name":"a"},{"name":"b"}]},
    "status":{"phase":"Running","podIPs":[{"ip":"10.0.0.5"}],
      "containerStatuses":[
        {"name":"a","ready":true,"restartCount":0,"state":{"running":{}}},
        {"name":"b","ready":false,"restartCount":0,"state":{"running":{}}}]}})"),
            R"(["web","1/2","Running","0","5m","10.0.0.5","n1","<none>","<none>"])");
}

TEST(PrintersTest, PodPendingWithoutStatus) {
  EXPECT_EQ(Cells(Kind("", "v1", "Pod"), R"({"metadata":{"name":"p"},
    "spec":{"containers":[{"name":"a"}]},"status":{"phase":"Pending"}})"),
            R"(["p","0/1","Pending","0","<unknown>","<none>","<none>","<none>","<none>"])");
}

TEST(PrintersTest, PodWaitingReasonsAndRestarts) {
  KindInfo pod = Kind("", "v1", "Pod");
  EXPECT_EQ(json::serialize(TableCells(pod, Parse(R"({"metadata":{"name":"p"},
    "spec":{"containers":[{"name":"a"}]},
    "status":{"phase":"Pending","containerStatuses":[
      {"name":"a","state":{"waiting":{"reason":"ContainerCreating"}}}]}})"),
                                       kNow)[2]),
            R"("ContainerCreating")");
  json::array cells = TableCells(pod, Parse(R"({"metadata":{"name":"p"},
    "spec":{"containers":[{"name":"a"}]},
    "status":{"phase":"Running","containerStatuses":[
      {"name":"a","restartCount":3,"state":{"waiting":{"reason":"CrashLoopBackOff"}},
       "lastState":{"terminated":{"exitCode":1,"finishedAt":"2024-05-01T11:55:00Z"}}}]}})"),
                                 kNow);
  EXPECT_EQ(cells[1].as_string(), "0/1");
  EXPECT_EQ(cells[2].as_string(), "CrashLoopBackOff");
  EXPECT_EQ(cells[3].as_string(), "3 (5m ago)");
}

TEST(PrintersTest, PodTerminatedWithoutReason) {
  json::array cells = TableCells(Kind("", "v1", "Pod"), Parse(R"({"metadata":{"name":"p"},
    "spec":{"containers":[{"name":"a"}]},
    "status":{"phase":"Failed","containerStatuses":[
      {"name":"a","state":{"terminated":{"exitCode":2}}}]}})"),
                                 kNow);
  EXPECT_EQ(cells[2].as_string(), "ExitCode:2");
  cells = TableCells(Kind("", "v1", "Pod"), Parse(R"({"metadata":{"name":"p"},
    "spec":{"containers":[{"name":"a"}]},
    "status":{"phase":"Failed","containerStatuses":[
      {"name":"a","state":{"terminated":{"exitCode":137,"signal":9}}}]}})"),
                     kNow);
  EXPECT_EQ(cells[2].as_string(), "Signal:9");
}

TEST(PrintersTest, PodCompletedAndTerminating) {
  KindInfo pod = Kind("", "v1", "Pod");
  constexpr std::string_view kCompleted = R"({"metadata":{"name":"p"%s},
    "spec":{"containers":[{"name":"a"}]},
    "status":{"phase":"%s","containerStatuses":[
      {"name":"a","state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}})";
  auto make = [&](std::string_view extra_meta, std::string_view phase) {
    std::string s(kCompleted);
    s.replace(s.find("%s"), 2, extra_meta);
    s.replace(s.find("%s"), 2, phase);
    return Parse(s);
  };
  EXPECT_EQ(TableCells(pod, make("", "Succeeded"), kNow)[2].as_string(), "Completed");
  // A finished pod being deleted still says Completed; a running one says Terminating.
  EXPECT_EQ(
      TableCells(pod, make(R"(,"deletionTimestamp":"2024-05-01T12:00:00Z")", "Succeeded"), kNow)[2]
          .as_string(),
      "Completed");
  json::object running =
      Parse(R"({"metadata":{"name":"p","deletionTimestamp":"2024-05-01T12:00:00Z"},
    "spec":{"containers":[{"name":"a"}]},
    "status":{"phase":"Running","containerStatuses":[
      {"name":"a","ready":true,"state":{"running":{}}}]}})");
  EXPECT_EQ(TableCells(pod, running, kNow)[2].as_string(), "Terminating");
}

TEST(PrintersTest, PodCompletedButAnotherContainerRuns) {
  json::array cells = TableCells(Kind("", "v1", "Pod"), Parse(R"({"metadata":{"name":"p"},
    "spec":{"containers":[{"name":"a"},{"name":"b"}]},
    "status":{"phase":"Running","conditions":[{"type":"Ready","status":"False"}],
      "containerStatuses":[
        {"name":"a","ready":true,"state":{"running":{}}},
        {"name":"b","state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}})"),
                                 kNow);
  EXPECT_EQ(cells[1].as_string(), "1/2");
  EXPECT_EQ(cells[2].as_string(), "NotReady");
}

TEST(PrintersTest, PodInitContainers) {
  KindInfo pod = Kind("", "v1", "Pod");
  json::array cells = TableCells(pod, Parse(R"({"metadata":{"name":"p"},
    "spec":{"initContainers":[{"name":"i"}],"containers":[{"name":"a"}]},
    "status":{"phase":"Pending",
      "initContainerStatuses":[{"name":"i","state":{"running":{}}}],
      "containerStatuses":[{"name":"a","state":{"waiting":{"reason":"PodInitializing"}}}]}})"),
                                 kNow);
  EXPECT_EQ(cells[2].as_string(), "Init:0/1");
  cells = TableCells(pod, Parse(R"({"metadata":{"name":"p"},
    "spec":{"initContainers":[{"name":"i"},{"name":"j"}],"containers":[{"name":"a"}]},
    "status":{"phase":"Pending","initContainerStatuses":[
      {"name":"i","state":{"terminated":{"exitCode":0}}},
      {"name":"j","restartCount":2,"state":{"waiting":{"reason":"ErrImagePull"}}}]}})"),
                     kNow);
  EXPECT_EQ(cells[2].as_string(), "Init:ErrImagePull");
  EXPECT_EQ(cells[3].as_string(), "2");  // no lastState.terminated time: no "(ago)"
  cells = TableCells(pod, Parse(R"({"metadata":{"name":"p"},
    "spec":{"initContainers":[{"name":"i"}],"containers":[{"name":"a"}]},
    "status":{"phase":"Pending","initContainerStatuses":[
      {"name":"i","state":{"terminated":{"exitCode":3}}}]}})"),
                     kNow);
  EXPECT_EQ(cells[2].as_string(), "Init:ExitCode:3");
}

TEST(PrintersTest, PodSidecarCountsAsContainer) {
  json::array cells = TableCells(Kind("", "v1", "Pod"), Parse(R"({"metadata":{"name":"p"},
    "spec":{"initContainers":[{"name":"side","restartPolicy":"Always"}],
            "containers":[{"name":"a"}]},
    "status":{"phase":"Running","conditions":[{"type":"Initialized","status":"True"}],
      "initContainerStatuses":[{"name":"side","started":true,"ready":true,
                                "state":{"running":{}}}],
      "containerStatuses":[{"name":"a","ready":true,"state":{"running":{}}}]}})"),
                                 kNow);
  EXPECT_EQ(cells[1].as_string(), "2/2");
  EXPECT_EQ(cells[2].as_string(), "Running");
}

TEST(PrintersTest, PodReadinessGatesAndNominatedNode) {
  json::array cells = TableCells(Kind("", "v1", "Pod"), Parse(R"({"metadata":{"name":"p"},
    "spec":{"containers":[{"name":"a"}],
            "readinessGates":[{"conditionType":"x"},{"conditionType":"y"}]},
    "status":{"phase":"Pending","nominatedNodeName":"n2",
      "conditions":[{"type":"x","status":"True"},{"type":"y","status":"False"}]}})"),
                                 kNow);
  EXPECT_EQ(cells[7].as_string(), "n2");
  EXPECT_EQ(cells[8].as_string(), "1/2");
}

TEST(PrintersTest, Namespace) {
  KindInfo ns = Kind("", "v1", "Namespace");
  EXPECT_EQ(Names(TableColumns(ns)), (std::vector<std::string>{"Name", "Status", "Age"}));
  EXPECT_EQ(Cells(ns, R"({"metadata":{"name":"default","creationTimestamp":"2024-04-01T12:00:00Z"},
                         "status":{"phase":"Active"}})"),
            R"(["default","Active","30d"])");
}

TEST(PrintersTest, Node) {
  KindInfo node = Kind("", "v1", "Node");
  EXPECT_EQ(
      Names(TableColumns(node)),
      (std::vector<std::string>{"Name", "Status", "Roles", "Age", "Version", "Internal-IP",
                                "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"}));
  EXPECT_EQ(
      Cells(node, R"({"metadata":{"name":"n1","creationTimestamp":"2024-05-01T11:00:00Z",
        "labels":{"node-role.kubernetes.io/control-plane":"","node-role.kubernetes.io/master":""}},
        "spec":{"unschedulable":true},
        "status":{"conditions":[{"type":"MemoryPressure","status":"False"},
                                {"type":"Ready","status":"True"}],
          "addresses":[{"type":"InternalIP","address":"192.168.1.2"}],
          "nodeInfo":{"kubeletVersion":"v1.32.0","osImage":"Debian GNU/Linux 12",
                      "kernelVersion":"6.1.0","containerRuntimeVersion":"sampan://0.1"}}})"),
      R"(["n1","Ready,SchedulingDisabled","control-plane,master","60m","v1.32.0","192.168.1.2",)"
      R"("<none>","Debian GNU/Linux 12","6.1.0","sampan://0.1"])");
  EXPECT_EQ(Cells(node, R"({"metadata":{"name":"n2"},"status":{"conditions":[
                           {"type":"Ready","status":"Unknown"}]}})"),
            R"(["n2","NotReady","<none>","<unknown>","","<none>","<none>","<unknown>",)"
            R"("<unknown>","<unknown>"])");
}

TEST(PrintersTest, Service) {
  KindInfo svc = Kind("", "v1", "Service");
  EXPECT_EQ(Names(TableColumns(svc)),
            (std::vector<std::string>{"Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age",
                                      "Selector"}));
  EXPECT_EQ(Cells(svc, R"({"metadata":{"name":"web"},"spec":{"type":"NodePort",
      "clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],"selector":{"tier":"fe","app":"web"},
      "ports":[{"port":80,"nodePort":30080,"protocol":"TCP"},{"port":53,"protocol":"UDP"}]}})"),
            R"(["web","NodePort","10.96.0.10","<none>","80:30080/TCP,53/UDP","<unknown>",)"
            R"("app=web,tier=fe"])");
  EXPECT_EQ(Cells(svc, R"({"metadata":{"name":"lb"},"spec":{"type":"LoadBalancer",
      "clusterIPs":["10.96.0.11"],"ports":[{"port":443,"protocol":"TCP"}]}})"),
            R"(["lb","LoadBalancer","10.96.0.11","<pending>","443/TCP","<unknown>","<none>"])");
  EXPECT_EQ(Cells(svc, R"({"metadata":{"name":"ext"},"spec":{"type":"ExternalName",
      "externalName":"example.com"}})"),
            R"(["ext","ExternalName","<none>","example.com","<none>","<unknown>","<none>"])");
}

TEST(PrintersTest, ConfigMapSecretServiceAccount) {
  EXPECT_EQ(
      Cells(Kind("", "v1", "ConfigMap"),
            R"({"metadata":{"name":"c"},"data":{"a":"1","b":"2"},"binaryData":{"c":"AA=="}})"),
      R"(["c",3,"<unknown>"])");
  EXPECT_EQ(Names(TableColumns(Kind("", "v1", "Secret"))),
            (std::vector<std::string>{"Name", "Type", "Data", "Age"}));
  EXPECT_EQ(Cells(Kind("", "v1", "Secret"),
                  R"({"metadata":{"name":"s"},"type":"kubernetes.io/tls","data":{"a":"","b":""}})"),
            R"(["s","kubernetes.io/tls",2,"<unknown>"])");
  EXPECT_EQ(Cells(Kind("", "v1", "ServiceAccount"),
                  R"({"metadata":{"name":"default"},"secrets":[{"name":"x"}]})"),
            R"(["default",1,"<unknown>"])");
}

TEST(PrintersTest, Endpoints) {
  KindInfo ep = Kind("", "v1", "Endpoints");
  EXPECT_EQ(Cells(ep, R"({"metadata":{"name":"e"}})"), R"(["e","<none>","<unknown>"])");
  EXPECT_EQ(Cells(ep, R"({"metadata":{"name":"e"},"subsets":[{
      "addresses":[{"ip":"10.0.0.1"},{"ip":"10.0.0.2"},{"ip":"fd00::3"},{"ip":"10.0.0.4"}],
      "ports":[{"port":8080}]}]})"),
            R"(["e","10.0.0.1:8080,10.0.0.2:8080,[fd00::3]:8080 + 1 more...","<unknown>"])");
}

TEST(PrintersTest, Events) {
  KindInfo ev = Kind("", "v1", "Event");
  EXPECT_EQ(Names(TableColumns(ev)),
            (std::vector<std::string>{"Last Seen", "Type", "Reason", "Object", "Subobject",
                                      "Source", "Message", "First Seen", "Count", "Name"}));
  EXPECT_EQ(Cells(ev, R"({"metadata":{"name":"web.17"},"type":"Normal","reason":"Scheduled",
      "involvedObject":{"kind":"Pod","name":"web","fieldPath":"spec.containers{web}"},
      "source":{"component":"default-scheduler"},"message":"Assigned\n",
      "firstTimestamp":"2024-05-01T11:50:00Z","lastTimestamp":"2024-05-01T11:58:00Z","count":4})"),
            R"(["2m","Normal","Scheduled","pod/web","spec.containers{web}",)"
            R"("default-scheduler","Assigned","10m",4,"web.17"])");
  // events.k8s.io/v1 names, a single event with only eventTime.
  EXPECT_EQ(Cells(Kind("events.k8s.io", "v1", "Event"),
                  R"({"metadata":{"name":"x"},"type":"Warning","reason":"Failed",
      "regarding":{"kind":"Node","name":"n1"},"note":"boom","reportingController":"kubelet",
      "reportingInstance":"n1","eventTime":"2024-05-01T11:59:30.000000Z"})"),
            R"(["30s","Warning","Failed","node/n1","","kubelet, n1","boom","30s",1,"x"])");
}

TEST(PrintersTest, Deployment) {
  KindInfo d = Kind("apps", "v1", "Deployment");
  EXPECT_EQ(Names(TableColumns(d)),
            (std::vector<std::string>{"Name", "Ready", "Up-to-date", "Available", "Age",
                                      "Containers", "Images", "Selector"}));
  EXPECT_EQ(Cells(d, R"({"metadata":{"name":"d1","creationTimestamp":"2024-05-01T11:55:00Z"},
      "spec":{"replicas":3,"selector":{"matchLabels":{"app":"d"},
        "matchExpressions":[{"key":"env","operator":"In","values":["prod","dev"]},
                            {"key":"canary","operator":"DoesNotExist"}]},
        "template":{"spec":{"containers":[{"name":"c","image":"nginx"},
                                          {"name":"s","image":"busybox"}]}}},
      "status":{"readyReplicas":2,"updatedReplicas":3,"availableReplicas":2}})"),
            R"j(["d1","2/3",3,2,"5m","c,s","nginx,busybox","app=d,!canary,env in (dev,prod)"])j");
}

TEST(PrintersTest, ReplicaSetDaemonSetStatefulSet) {
  EXPECT_EQ(Cells(Kind("apps", "v1", "ReplicaSet"),
                  R"({"metadata":{"name":"rs"},"spec":{"replicas":2,
      "selector":{"matchLabels":{"app":"d"}},"template":{"spec":{"containers":[
      {"name":"c","image":"nginx"}]}}},"status":{"replicas":2,"readyReplicas":1}})"),
            R"(["rs",2,2,1,"<unknown>","c","nginx","app=d"])");
  EXPECT_EQ(Cells(Kind("", "v1", "ReplicationController"),
                  R"({"metadata":{"name":"rc"},"spec":{"replicas":1,"selector":{"app":"x"}}})"),
            R"(["rc",1,0,0,"<unknown>","","","app=x"])");
  EXPECT_EQ(Cells(Kind("apps", "v1", "DaemonSet"),
                  R"({"metadata":{"name":"ds"},"spec":{"selector":{"matchLabels":{"a":"b"}},
      "template":{"spec":{"nodeSelector":{"kubernetes.io/os":"linux"},"containers":[]}}},
      "status":{"desiredNumberScheduled":3,"currentNumberScheduled":3,"numberReady":2,
                "updatedNumberScheduled":3,"numberAvailable":2}})"),
            R"(["ds",3,3,2,3,2,"kubernetes.io/os=linux","<unknown>","","","a=b"])");
  EXPECT_EQ(Cells(Kind("apps", "v1", "StatefulSet"),
                  R"({"metadata":{"name":"db"},"spec":{"replicas":3},
                      "status":{"readyReplicas":1}})"),
            R"(["db","1/3","<unknown>","",""])");
}

TEST(PrintersTest, JobAndCronJob) {
  KindInfo job = Kind("batch", "v1", "Job");
  EXPECT_EQ(Names(TableColumns(job)),
            (std::vector<std::string>{"Name", "Status", "Completions", "Duration", "Age",
                                      "Containers", "Images", "Selector"}));
  EXPECT_EQ(Cells(job, R"({"metadata":{"name":"j","creationTimestamp":"2024-05-01T11:50:00Z"},
      "spec":{"completions":1},
      "status":{"succeeded":1,"startTime":"2024-05-01T11:50:00Z",
                "completionTime":"2024-05-01T11:50:42Z",
                "conditions":[{"type":"Complete","status":"True"}]}})"),
            R"(["j","Complete","1/1","42s","10m","","",""])");
  EXPECT_EQ(Cells(job, R"({"metadata":{"name":"j"},"spec":{"parallelism":3},
      "status":{"startTime":"2024-05-01T11:59:00Z"}})"),
            R"(["j","Running","0/1 of 3","60s","<unknown>","","",""])");
  KindInfo cj = Kind("batch", "v1", "CronJob");
  EXPECT_EQ(Names(TableColumns(cj)),
            (std::vector<std::string>{"Name", "Schedule", "Timezone", "Suspend", "Active",
                                      "Last Schedule", "Age", "Containers", "Images", "Selector"}));
  EXPECT_EQ(Cells(cj, R"({"metadata":{"name":"c"},"spec":{"schedule":"*/5 * * * *",
      "suspend":false},"status":{"active":[{"name":"c-1"}],
      "lastScheduleTime":"2024-05-01T11:55:00Z"}})"),
            R"(["c","*/5 * * * *","<none>","False",1,"5m","<unknown>","","","<none>"])");
}

TEST(PrintersTest, LeaseAndFallback) {
  EXPECT_EQ(Cells(Kind("coordination.k8s.io", "v1", "Lease"),
                  R"({"metadata":{"name":"n1"},"spec":{"holderIdentity":"n1"}})"),
            R"(["n1","n1","<unknown>"])");
  KindInfo other = Kind("example.com", "v1", "Widget");
  EXPECT_EQ(Names(TableColumns(other)), (std::vector<std::string>{"Name", "Age"}));
  EXPECT_EQ(Cells(other, R"({"metadata":{"name":"w","creationTimestamp":"2024-05-01T11:59:55Z"}})"),
            R"(["w","5s"])");
}

TEST(PrintersTest, QuotaLimitRangePodTemplate) {
  KindInfo rq = Kind("", "v1", "ResourceQuota");
  EXPECT_EQ(Names(TableColumns(rq)), (std::vector<std::string>{"Name", "Age", "Request", "Limit"}));
  EXPECT_EQ(Cells(rq, R"({"metadata":{"name":"q"},"status":{
      "hard":{"pods":"10","limits.cpu":"2","requests.cpu":"1"},
      "used":{"pods":"3","limits.cpu":"500m"}}})"),
            R"(["q","<unknown>","pods: 3/10, requests.cpu: 0/1","limits.cpu: 500m/2"])");
  EXPECT_EQ(Cells(Kind("", "v1", "LimitRange"),
                  R"({"metadata":{"name":"l","creationTimestamp":"2024-05-01T11:00:00Z"}})"),
            R"(["l","2024-05-01T11:00:00Z"])");
  EXPECT_EQ(Cells(Kind("", "v1", "PodTemplate"),
                  R"({"metadata":{"name":"t"},"template":{"metadata":{"labels":{"a":"b"}},
                      "spec":{"containers":[{"name":"c","image":"nginx"}]}}})"),
            R"(["t","c","nginx","a=b"])");
}

TEST(PrintersTest, HorizontalPodAutoscaler) {
  KindInfo hpa = Kind("autoscaling", "v2", "HorizontalPodAutoscaler");
  EXPECT_EQ(Names(TableColumns(hpa)),
            (std::vector<std::string>{"Name", "Reference", "Targets", "MinPods", "MaxPods",
                                      "Replicas", "Age"}));
  EXPECT_EQ(Cells(hpa, R"({"metadata":{"name":"h"},"spec":{
      "scaleTargetRef":{"kind":"Deployment","name":"web"},"minReplicas":1,"maxReplicas":5,
      "metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization",
                  "averageUtilization":50}}},
                 {"type":"Pods","pods":{"target":{"averageValue":"1k"}}},
                 {"type":"Resource","resource":{"name":"memory","target":{"averageValue":"1Gi"}}}]},
      "status":{"currentReplicas":2,"currentMetrics":[
        {"type":"Resource","resource":{"name":"cpu","current":{"averageUtilization":12}}}]}})"),
            R"(["h","Deployment/web","cpu: 12%/50%, <unknown>/1k + 1 more...","1",5,2,)"
            R"("<unknown>"])");
  EXPECT_EQ(Cells(Kind("autoscaling", "v1", "HorizontalPodAutoscaler"),
                  R"({"metadata":{"name":"h"},"spec":{"scaleTargetRef":{"kind":"Deployment",
      "name":"web"},"maxReplicas":3,"targetCPUUtilizationPercentage":80}})"),
            R"(["h","Deployment/web","cpu: <unknown>/80%","<unset>",3,0,"<unknown>"])");
}

TEST(PrintersTest, PersistentVolumes) {
  EXPECT_EQ(Cells(Kind("", "v1", "PersistentVolume"),
                  R"({"metadata":{"name":"pv1"},"spec":{"capacity":{"storage":"1Gi"},
      "accessModes":["ReadWriteMany","ReadWriteOnce","ReadWriteOnce"],
      "persistentVolumeReclaimPolicy":"Retain","storageClassName":"local",
      "claimRef":{"namespace":"default","name":"c1"}},"status":{"phase":"Bound"}})"),
            R"(["pv1","1Gi","RWO,RWX","Retain","Bound","default/c1","local","<unset>","",)"
            R"("<unknown>","<unset>"])");
  EXPECT_EQ(Cells(Kind("", "v1", "PersistentVolumeClaim"),
                  R"({"metadata":{"name":"c1"},"spec":{"volumeName":"pv1",
      "storageClassName":"local","volumeMode":"Filesystem"},
      "status":{"phase":"Bound","capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"]}})"),
            R"(["c1","Bound","pv1","1Gi","RWO","local","<unset>","<unknown>","Filesystem"])");
}

TEST(BuildTableTest, RowsCarryPartialObjectMetadata) {
  KindInfo pod = Kind("", "v1", "Pod");
  json::array items = json::parse(R"([
    {"metadata":{"name":"a","namespace":"default","labels":{"app":"web"}},
     "spec":{"containers":[{"name":"c"}]},"status":{"phase":"Succeeded"}},
    {"metadata":{"name":"b","namespace":"default"},"spec":{"containers":[]}}])")
                          .as_array();
  TableOptions opts;
  opts.now_unix = kNow;
  opts.resource_version = "42";
  opts.continue_token = "tok";
  json::object t = BuildTable(pod, items, opts);
  EXPECT_EQ(t["kind"], "Table");
  EXPECT_EQ(t["apiVersion"], "meta.k8s.io/v1");
  EXPECT_EQ(t["metadata"].as_object()["resourceVersion"], "42");
  EXPECT_EQ(t["metadata"].as_object()["continue"], "tok");
  const json::array& cols = t["columnDefinitions"].as_array();
  ASSERT_EQ(cols.size(), 9u);
  EXPECT_EQ(json::serialize(cols[0]),
            R"({"name":"Name","type":"string","format":"name","description":)" +
                json::serialize(cols[0].as_object().at("description")) + R"(,"priority":0})");
  const json::array& rows = t["rows"].as_array();
  ASSERT_EQ(rows.size(), 2u);
  const json::object& obj = rows[0].as_object().at("object").as_object();
  EXPECT_EQ(obj.at("kind"), "PartialObjectMetadata");
  EXPECT_EQ(obj.at("apiVersion"), "meta.k8s.io/v1");
  EXPECT_EQ(obj.at("metadata").at("labels").at("app"), "web");
  EXPECT_FALSE(obj.contains("spec"));
  // Finished pods are marked with a Completed row condition, as Kubernetes does.
  EXPECT_EQ(rows[0].as_object().at("conditions").at(0).at("reason"), "Succeeded");
  EXPECT_FALSE(rows[1].as_object().contains("conditions"));

  opts.include_object = IncludeObject::kObject;
  opts.omit_columns = true;
  t = BuildTable(pod, items, opts);
  EXPECT_TRUE(t["columnDefinitions"].as_array().empty());
  const json::object& full = t["rows"].at(1).at("object").as_object();
  EXPECT_EQ(full.at("kind"), "Pod");
  EXPECT_EQ(full.at("apiVersion"), "v1");
  EXPECT_TRUE(full.contains("spec"));

  opts.include_object = IncludeObject::kNone;
  t = BuildTable(pod, items, opts);
  EXPECT_TRUE(t["rows"].at(0).at("object").is_null());
}

TEST(BuildTableTest, IncludeObjectAndAccept) {
  EXPECT_EQ(*ParseIncludeObject(""), IncludeObject::kMetadata);
  EXPECT_EQ(*ParseIncludeObject("None"), IncludeObject::kNone);
  EXPECT_EQ(*ParseIncludeObject("Object"), IncludeObject::kObject);
  EXPECT_EQ(ParseIncludeObject("all").status().code(), Code::kBadRequest);

  EXPECT_TRUE(AcceptsTable(
      "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
      "g=meta.k8s.io,application/json"));
  EXPECT_TRUE(AcceptsTable("application/json; as=Table; g=meta.k8s.io; v=v1beta1"));
  EXPECT_FALSE(AcceptsTable("application/json"));
  EXPECT_FALSE(AcceptsTable(""));
  EXPECT_FALSE(AcceptsTable("application/json, application/json;as=Table;v=v1;g=meta.k8s.io"));
  EXPECT_FALSE(AcceptsTable("application/json;as=Table;v=v2;g=meta.k8s.io"));
  EXPECT_TRUE(
      AcceptsTable("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,"
                   "application/json;as=Table;v=v1;g=meta.k8s.io"));
}

TEST(PrintersBuiltinTest, EveryKindHasMatchingCells) {
  const json::object empty = Parse(R"({"metadata":{"name":"x"}})");
  for (const KindInfo* k : BuiltinRegistry().kinds()) {
    std::vector<TableColumn> cols = TableColumns(*k);
    ASSERT_FALSE(cols.empty()) << k->kind;
    EXPECT_EQ(cols[0].name, k->kind == "Event" ? "Last Seen" : "Name") << k->kind;
    EXPECT_EQ(TableCells(*k, empty, kNow).size(), cols.size()) << k->ApiVersion() << " " << k->kind;
  }
}

TEST(PrintersBuiltinTest, MistypedFieldsDoNotBreakRows) {
  // Every field of the wrong JSON type: cells fall back to zero values, never crash.
  const json::object odd = Parse(R"({"metadata":{"name":7,"labels":[1],"creationTimestamp":5,
      "deletionTimestamp":{},"ownerReferences":"x","annotations":3},
      "spec":{"containers":"x","initContainers":[1,"a",null],"replicas":"3","selector":5,
              "template":[],"ports":[{"port":"80"}],"type":4,"metrics":[3],"completions":null},
      "status":{"phase":1,"conditions":{},"containerStatuses":[{"state":[]},7],
                "initContainerStatuses":[{"state":{"terminated":"x"}}],"podIPs":"x"},
      "subsets":[{"addresses":7}],"data":[],"involvedObject":"x","count":"2"})");
  for (const KindInfo* k : BuiltinRegistry().kinds()) {
    json::array cells = TableCells(*k, odd, kNow);
    EXPECT_EQ(cells.size(), TableColumns(*k).size()) << k->kind;
  }
}

}  // namespace
}  // namespace sampan::api
