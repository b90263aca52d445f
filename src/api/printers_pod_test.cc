// The STATUS, READY and RESTARTS cells of `kubectl get pods`, case by case, against the
// rules of Kubernetes' printPod (pkg/printers/internalversion/printers.go): status.reason
// over the phase; the first unfinished init container (Init:N/M, Init:<reason>,
// Init:ExitCode:N); then the app containers from last to first (waiting reason, terminated
// reason, Signal:N / ExitCode:N); "Completed" with a container still running turns Running
// or NotReady by the Ready condition; a deleted pod is Terminating unless it finished, and
// Unknown when its node was lost. RESTARTS adds "(<age> ago)" of the latest termination.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cctype>

#include "api/printers.h"

namespace sampan::api {
namespace {

namespace json = boost::json;

constexpr int64_t kNow = 1714564800;  // 2024-05-01T12:00:00Z

struct PodCase {
  const char* name;
  const char* meta;    // extra metadata members, e.g. ,"deletionTimestamp":"..."
  const char* spec;    // the spec object
  const char* status;  // the status object
  const char* ready;
  const char* state;
  const char* restarts;
};

constexpr char kOne[] = R"({"containers":[{"name":"a"}]})";
constexpr char kTwo[] = R"({"containers":[{"name":"a"},{"name":"b"}]})";
constexpr char kInit2[] =
    R"({"initContainers":[{"name":"i1"},{"name":"i2"}],"containers":[{"name":"a"}]})";
constexpr char kDeleted[] = R"(,"deletionTimestamp":"2024-05-01T11:59:00Z")";

const PodCase kCases[] = {
    {"pending without statuses", "", kOne, R"({"phase":"Pending"})", "0/1", "Pending", "0"},
    {"container creating", "", kOne,
     R"({"phase":"Pending","containerStatuses":[{"name":"a","state":{"waiting":{"reason":"ContainerCreating"}}}]})",
     "0/1", "ContainerCreating", "0"},
    {"running and ready", "", kOne,
     R"({"phase":"Running","conditions":[{"type":"Ready","status":"True"}],
        "containerStatuses":[{"name":"a","ready":true,"state":{"running":{}}}]})",
     "1/1", "Running", "0"},
    {"running, not ready (phase shown)", "", kOne,
     R"({"phase":"Running","containerStatuses":[{"name":"a","ready":false,"state":{"running":{}}}]})",
     "0/1", "Running", "0"},
    {"status reason DeadlineExceeded", "", kOne,
     R"({"phase":"Failed","reason":"DeadlineExceeded","message":"Pod was active on the node longer than the specified deadline"})",
     "0/1", "DeadlineExceeded", "0"},
    {"status reason Evicted", "", kOne,
     R"({"phase":"Failed","reason":"Evicted","message":"The node was low on resource: memory."})",
     "0/1", "Evicted", "0"},
    {"status reason OutOfpods", "", kOne,
     R"({"phase":"Failed","reason":"OutOfpods","message":"Pod was rejected: Node didn't have enough resource: pods"})",
     "0/1", "OutOfpods", "0"},
    {"status reason NodeLost without deletion", "", kOne,
     R"({"phase":"Running","reason":"NodeLost"})", "0/1", "NodeLost", "0"},
    {"node lost while deleting", kDeleted, kOne, R"({"phase":"Running","reason":"NodeLost"})",
     "0/1", "Unknown", "0"},
    {"scheduling gated", "", kOne,
     R"({"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False","reason":"SchedulingGated"}]})",
     "0/1", "SchedulingGated", "0"},
    {"first init container running", "", kInit2,
     R"({"phase":"Pending","initContainerStatuses":[
          {"name":"i1","state":{"running":{}}},{"name":"i2","state":{"waiting":{"reason":"PodInitializing"}}}],
        "containerStatuses":[{"name":"a","state":{"waiting":{"reason":"PodInitializing"}}}]})",
     "0/1", "Init:0/2", "0"},
    {"second init container running", "", kInit2,
     R"({"phase":"Pending","initContainerStatuses":[
          {"name":"i1","state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
          {"name":"i2","state":{"running":{}}}]})",
     "0/1", "Init:1/2", "0"},
    {"init container failed", "", kInit2,
     R"({"phase":"Pending","initContainerStatuses":[
          {"name":"i1","restartCount":1,"state":{"terminated":{"exitCode":1,"reason":"Error"}},
           "lastState":{"terminated":{"exitCode":1,"finishedAt":"2024-05-01T11:59:30Z"}}}]})",
     "0/1", "Init:Error", "1 (30s ago)"},
    {"init container crash looping", "", kInit2,
     R"({"phase":"Pending","initContainerStatuses":[
          {"name":"i1","restartCount":4,"state":{"waiting":{"reason":"CrashLoopBackOff"}},
           "lastState":{"terminated":{"exitCode":1,"finishedAt":"2024-05-01T11:55:00Z"}}}]})",
     "0/1", "Init:CrashLoopBackOff", "4 (5m ago)"},
    {"init container killed by a signal", "", kInit2,
     R"({"phase":"Failed","initContainerStatuses":[{"name":"i1","state":{"terminated":{"exitCode":137,"signal":9}}}]})",
     "0/1", "Init:Signal:9", "0"},
    {"init done, app containers starting", "", kInit2,
     R"({"phase":"Pending","conditions":[{"type":"Initialized","status":"True"}],
        "initContainerStatuses":[
          {"name":"i1","state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
          {"name":"i2","state":{"terminated":{"exitCode":0,"reason":"Completed"}}}],
        "containerStatuses":[{"name":"a","state":{"waiting":{"reason":"PodInitializing"}}}]})",
     "0/1", "PodInitializing", "0"},
    {"crash loop back-off with restarts ago", "", kOne,
     R"({"phase":"Running","containerStatuses":[{"name":"a","restartCount":5,
          "state":{"waiting":{"reason":"CrashLoopBackOff","message":"back-off 2m40s"}},
          "lastState":{"terminated":{"exitCode":1,"reason":"Error","finishedAt":"2024-05-01T11:57:58Z"}}}]})",
     "0/1", "CrashLoopBackOff", "5 (2m2s ago)"},
    {"image pull failing", "", kOne,
     R"({"phase":"Pending","containerStatuses":[{"name":"a","state":{"waiting":{"reason":"ErrImagePull"}}}]})",
     "0/1", "ErrImagePull", "0"},
    {"image pull backing off", "", kOne,
     R"({"phase":"Pending","containerStatuses":[{"name":"a","state":{"waiting":{"reason":"ImagePullBackOff"}}}]})",
     "0/1", "ImagePullBackOff", "0"},
    {"out of memory", "", kOne,
     R"({"phase":"Failed","containerStatuses":[{"name":"a","state":{"terminated":{"exitCode":137,"reason":"OOMKilled"}}}]})",
     "0/1", "OOMKilled", "0"},
    {"exited with an error", "", kOne,
     R"({"phase":"Failed","containerStatuses":[{"name":"a","state":{"terminated":{"exitCode":2,"reason":"Error"}}}]})",
     "0/1", "Error", "0"},
    {"completed", "", kOne,
     R"({"phase":"Succeeded","containerStatuses":[{"name":"a","state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]})",
     "0/1", "Completed", "0"},
    {"one completed, one running and the pod ready", "", kTwo,
     R"({"phase":"Running","conditions":[{"type":"Ready","status":"True"}],"containerStatuses":[
          {"name":"a","state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
          {"name":"b","ready":true,"state":{"running":{}}}]})",
     "1/2", "Running", "0"},
    {"one completed, one running, the pod not ready", "", kTwo,
     R"({"phase":"Running","conditions":[{"type":"Ready","status":"False"}],"containerStatuses":[
          {"name":"a","state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
          {"name":"b","ready":true,"state":{"running":{}}}]})",
     "1/2", "NotReady", "0"},
    {"the first container's state wins", "", kTwo,
     R"({"phase":"Running","containerStatuses":[
          {"name":"a","state":{"waiting":{"reason":"CrashLoopBackOff"}},"restartCount":1},
          {"name":"b","state":{"waiting":{"reason":"ErrImagePull"}},"restartCount":2}]})",
     "0/2", "CrashLoopBackOff", "3"},
    {"terminating", kDeleted, kOne,
     R"({"phase":"Running","containerStatuses":[{"name":"a","ready":true,"state":{"running":{}}}]})",
     "1/1", "Terminating", "0"},
    {"a finished pod being deleted keeps its state", kDeleted, kOne,
     R"({"phase":"Failed","containerStatuses":[{"name":"a","state":{"terminated":{"exitCode":1,"reason":"Error"}}}]})",
     "0/1", "Error", "0"},
    {"restarts of several containers, the latest termination", "", kTwo,
     R"({"phase":"Running","conditions":[{"type":"Ready","status":"True"}],"containerStatuses":[
          {"name":"a","ready":true,"restartCount":2,"state":{"running":{}},
           "lastState":{"terminated":{"exitCode":1,"finishedAt":"2024-05-01T10:00:00Z"}}},
          {"name":"b","ready":true,"restartCount":1,"state":{"running":{}},
           "lastState":{"terminated":{"exitCode":1,"finishedAt":"2024-05-01T11:59:15Z"}}}]})",
     "2/2", "Running", "3 (45s ago)"},
};

class PodStatusColumnTest : public ::testing::TestWithParam<PodCase> {};

TEST_P(PodStatusColumnTest, MatchesKubernetesPrintPod) {
  const PodCase& c = GetParam();
  std::string text =
      std::string(R"({"metadata":{"name":"p","creationTimestamp":"2024-05-01T11:00:00Z")") +
      c.meta + R"(},"spec":)" + c.spec + R"(,"status":)" + c.status + "}";
  KindInfo kind;
  kind.version = "v1";
  kind.kind = "Pod";
  json::array cells = TableCells(kind, json::parse(text).as_object(), kNow);
  ASSERT_GE(cells.size(), 5u);
  EXPECT_EQ(cells[1].as_string(), c.ready) << c.name;
  EXPECT_EQ(cells[2].as_string(), c.state) << c.name;
  EXPECT_EQ(cells[3].as_string(), c.restarts) << c.name;
  EXPECT_EQ(cells[4].as_string(), "60m") << c.name;
}

INSTANTIATE_TEST_SUITE_P(Cases, PodStatusColumnTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<PodCase>& info) {
                           std::string n;
                           for (const char* p = info.param.name; *p; ++p)
                             n += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
                           return n;
                         });

}  // namespace
}  // namespace sampan::api
