#include "controllers/endpoints.h"

#include <gtest/gtest.h>

#include "controllers/endpoints_test_util.h"

namespace sampan::controllers {
namespace {
using namespace testing;
using namespace std::chrono_literals;
using client::MetaObject;
using client::MetaString;

class EndpointsControllerTest : public ControllerFixture<EndpointsController> {
 protected:
  EndpointsControllerTest() : ControllerFixture("endpoint-controller") {}
  // Waits until the Endpoints informer has the live state of `name` (or its absence).
  void SettleEndpoints(const std::string& name) {
    auto live = client_->Get(res::kEndpoints, "default", name);
    if (live.ok()) {
      WaitSeen(res::kEndpoints, *live);
    } else {
      WaitGone(res::kEndpoints, "default/" + name);
    }
  }
  // The subset whose ports are exactly `names` (by name), or nullptr.
  static const json::object* SubsetWithPorts(const json::object& eps,
                                             std::vector<std::string> names) {
    const json::array* subsets = Arr(&eps, "subsets");
    if (!subsets) return nullptr;
    std::sort(names.begin(), names.end());
    for (const auto& s : *subsets) {
      std::vector<std::string> have;
      if (const json::array* ports = Arr(&s.as_object(), "ports"))
        for (const auto& p : *ports) have.push_back(Str(&p.as_object(), "name"));
      std::sort(have.begin(), have.end());
      if (have == names) return &s.as_object();
    }
    return nullptr;
  }
  static std::vector<std::string> Ips(const json::object* subset, const char* field) {
    std::vector<std::string> out;
    if (const json::array* a = Arr(subset, field))
      for (const auto& v : *a) out.push_back(Str(&v.as_object(), "ip"));
    return out;
  }
  static std::string Annotation(const json::object& obj, const std::string& key) {
    return Str(MetaObject(obj, "annotations"), key);
  }
};

TEST_F(EndpointsControllerTest, ReadyAndNotReadyAddressesNamedPortsAndPodFilters) {
  StartInformers();
  json::object svc = CreateService(
      "web", json::object{{"app", "web"}},
      json::array{json::object{{"name", "http"}, {"port", 80}, {"targetPort", "http"}},
                  json::object{{"name", "metrics"}, {"port", 9090}, {"targetPort", 9100}}},
      {}, json::object{{"tier", "front"}});
  PodSpec with_http;
  with_http.container_ports = json::array{kHttpPort};
  PodSpec without_ports;
  json::object a = CreatePod("a", with_http);
  SetPodStatus("a", "10.0.0.1", true);
  CreatePod("b", with_http);
  SetPodStatus("b", "10.0.0.2", false);  // not ready
  CreatePod("c", without_ports);         // no "http" port: only metrics
  SetPodStatus("c", "10.0.0.3", true);
  CreatePod("d", with_http);  // no IP yet
  SetPodStatus("d", "", false, "Pending");
  CreatePod("e", with_http);  // finished
  SetPodStatus("e", "10.0.0.5", false, "Succeeded");
  CreatePod("f", with_http);  // being deleted
  SetPodStatus("f", "10.0.0.6", true);
  DeletePodGracefully("f");
  PodSpec other = with_http;
  other.labels = json::object{{"app", "other"}};
  CreatePod("g", other);  // not selected
  SetPodStatus("g", "10.0.0.7", true);
  PodSpec named = with_http;
  named.hostname = "h-host";
  named.subdomain = "web";  // the Service's name: the hostname is published
  json::object h = CreatePod("h", named);
  SetPodStatus("h", "10.0.0.8", true);
  PodSpec unnamed = with_http;
  unnamed.hostname = "i-host";
  unnamed.subdomain = "elsewhere";
  CreatePod("i", unnamed);
  SetPodStatus("i", "10.0.0.9", true);

  SyncOk("web");
  json::object eps = Live(res::kEndpoints, "web");
  ASSERT_FALSE(eps.empty());
  ASSERT_EQ(Arr(&eps, "subsets")->size(), 2u) << api::SerializeJson(eps);
  const json::object* http = SubsetWithPorts(eps, {"http"});
  const json::object* metrics = SubsetWithPorts(eps, {"metrics"});
  ASSERT_NE(http, nullptr) << api::SerializeJson(eps);
  ASSERT_NE(metrics, nullptr) << api::SerializeJson(eps);
  EXPECT_EQ(Ips(http, "addresses"), (std::vector<std::string>{"10.0.0.1", "10.0.0.8", "10.0.0.9"}));
  EXPECT_EQ(Ips(http, "notReadyAddresses"), (std::vector<std::string>{"10.0.0.2"}));
  EXPECT_EQ(Ips(metrics, "addresses"),
            (std::vector<std::string>{"10.0.0.1", "10.0.0.3", "10.0.0.8", "10.0.0.9"}));
  EXPECT_EQ(Ips(metrics, "notReadyAddresses"), (std::vector<std::string>{"10.0.0.2"}));
  // Named targetPort resolved per pod; numeric one as is.
  EXPECT_EQ(http->at("ports"),
            (json::array{json::object{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}));
  EXPECT_EQ(metrics->at("ports"),
            (json::array{json::object{{"name", "metrics"}, {"port", 9100}, {"protocol", "TCP"}}}));
  // The address: ip, nodeName, targetRef; hostname only where the subdomain names the Service.
  const json::object& addr_a = http->at("addresses").as_array()[0].as_object();
  EXPECT_EQ(addr_a, (json::object{{"ip", "10.0.0.1"},
                                  {"nodeName", "node-a"},
                                  {"targetRef", json::object{{"kind", "Pod"},
                                                             {"namespace", "default"},
                                                             {"name", "a"},
                                                             {"uid", MetaString(a, "uid")}}}}));
  const json::object& addr_h = http->at("addresses").as_array()[1].as_object();
  EXPECT_EQ(Str(&addr_h, "hostname"), "h-host");
  EXPECT_EQ(Str(Obj(&addr_h, "targetRef"), "uid"), MetaString(h, "uid"));
  EXPECT_FALSE(http->at("addresses").as_array()[2].as_object().contains("hostname"));
  // Labels: the Service's, plus the headless marker when it has no cluster IP.
  json::object want_labels{{"tier", "front"}};
  std::string cluster_ip = Str(Obj(&svc, "spec"), "clusterIP");
  if (cluster_ip.empty() || cluster_ip == "None") want_labels[endpoints::kHeadlessLabel] = "";
  EXPECT_EQ(*MetaObject(eps, "labels"), want_labels);
  // First sync of the Service: the trigger time is its creation.
  EXPECT_EQ(Annotation(eps, endpoints::kLastChangeTriggerTime),
            MetaString(svc, "creationTimestamp"));
  EXPECT_EQ(Annotation(eps, endpoints::kOverCapacity), "");
}

TEST_F(EndpointsControllerTest, WritesOnlyWhenTheContentChanges) {
  StartInformers();
  CreateService("web", json::object{{"app", "web"}},
                json::array{json::object{{"port", 80}, {"targetPort", 8080}}});
  PodSpec p;
  CreatePod("a", p);
  SetPodStatus("a", "10.0.0.1", true);
  SyncOk("web");
  json::object first = Live(res::kEndpoints, "web");
  ASSERT_FALSE(first.empty());
  const std::string rv = MetaString(first, "resourceVersion");
  SettleEndpoints("web");
  // Nothing changed: nothing written.
  SyncOk("web");
  EXPECT_EQ(MetaString(Live(res::kEndpoints, "web"), "resourceVersion"), rv);
  // A pod change that endpoints do not show: nothing written either.
  auto annotated = client_->Patch(
      res::kPods, "default", "a", client::PatchType::kMerge,
      json::object{{"metadata", json::object{{"annotations", json::object{{"x", "y"}}}}}});
  ASSERT_TRUE(annotated.ok());
  WaitSeen(res::kPods, *annotated);
  SyncOk("web");
  EXPECT_EQ(MetaString(Live(res::kEndpoints, "web"), "resourceVersion"), rv);
  // The pod turns unready: its address moves to notReadyAddresses, and the trigger time is
  // the pod's Ready transition.
  SetPodStatus("a", "10.0.0.1", false, "Running", "2026-02-03T04:05:06Z");
  SyncOk("web");
  json::object moved = Live(res::kEndpoints, "web");
  EXPECT_NE(MetaString(moved, "resourceVersion"), rv);
  const json::object& subset = moved.at("subsets").as_array()[0].as_object();
  EXPECT_FALSE(subset.contains("addresses"));
  EXPECT_EQ(Str(&subset.at("notReadyAddresses").as_array()[0].as_object(), "ip"), "10.0.0.1");
  EXPECT_EQ(Annotation(moved, endpoints::kLastChangeTriggerTime), "2026-02-03T04:05:06Z");
  // Labels follow the Service's.
  auto relabelled = client_->Patch(
      res::kServices, "default", "web", client::PatchType::kMerge,
      json::object{{"metadata", json::object{{"labels", json::object{{"v", "2"}}}}}});
  ASSERT_TRUE(relabelled.ok());
  WaitSeen(res::kServices, *relabelled);
  SettleEndpoints("web");
  SyncOk("web");
  EXPECT_EQ(Str(MetaObject(Live(res::kEndpoints, "web"), "labels"), "v"), "2");
  // The pod leaves the selector: no subsets at all.
  LabelPod("a", json::object{{"app", "gone"}});
  SettleEndpoints("web");
  SyncOk("web");
  EXPECT_FALSE(Live(res::kEndpoints, "web").contains("subsets"));
}

TEST_F(EndpointsControllerTest, ServicesWithoutSelectorOrExternalNameAreLeftAlone) {
  StartInformers();
  CreateService("manual", nullptr, json::array{json::object{{"port", 80}}});
  json::object mine{{"apiVersion", "v1"},
                    {"kind", "Endpoints"},
                    {"metadata", json::object{{"name", "manual"}}},
                    {"subsets", json::array{json::object{
                                    {"addresses", json::array{json::object{{"ip", "192.0.2.10"}}}},
                                    {"ports", json::array{json::object{{"port", 80}}}}}}}};
  auto created = client_->Create(res::kEndpoints, "default", mine);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  WaitSeen(res::kEndpoints, *created);
  PodSpec p;
  CreatePod("a", p);
  SetPodStatus("a", "10.0.0.1", true);
  SyncOk("manual");
  EXPECT_EQ(Live(res::kEndpoints, "manual"), *created);
  // default/kubernetes (when the API server writes it) is the API server's business.
  json::object kube = Live(res::kEndpoints, "kubernetes");
  SyncOk("kubernetes");
  EXPECT_EQ(Live(res::kEndpoints, "kubernetes"), kube);
  // ExternalName: no Endpoints even with a selector.
  CreateService("ext", json::object{{"app", "web"}}, {},
                json::object{{"type", "ExternalName"}, {"externalName", "example.com"}});
  SyncOk("ext");
  EXPECT_TRUE(Live(res::kEndpoints, "ext").empty());
  // The user's Endpoints outlive its selector-less Service.
  ASSERT_TRUE(client_->Delete(res::kServices, "default", "manual").ok());
  WaitGone(res::kServices, "default/manual");
  SyncOk("manual");
  EXPECT_EQ(Live(res::kEndpoints, "manual"), *created);
}

TEST_F(EndpointsControllerTest, EndpointsGoWithTheirService) {
  StartInformers();
  CreateService("web", json::object{{"app", "web"}},
                json::array{json::object{{"port", 80}, {"targetPort", 8080}}});
  PodSpec p;
  CreatePod("a", p);
  SetPodStatus("a", "10.0.0.1", true);
  SyncOk("web");
  ASSERT_FALSE(Live(res::kEndpoints, "web").empty());
  ASSERT_TRUE(client_->Delete(res::kServices, "default", "web").ok());
  WaitGone(res::kServices, "default/web");
  SyncOk("web");
  EXPECT_TRUE(Live(res::kEndpoints, "web").empty());
}

TEST_F(EndpointsControllerTest, PublishNotReadyAddressesListsUnreadyAndTerminatingPods) {
  StartInformers();
  CreateService("db", json::object{{"app", "web"}},
                json::array{json::object{{"port", 5432}, {"targetPort", 5432}}},
                json::object{{"clusterIP", "None"}, {"publishNotReadyAddresses", true}});
  PodSpec p;
  CreatePod("a", p);
  SetPodStatus("a", "10.0.0.1", false);
  CreatePod("b", p);
  SetPodStatus("b", "10.0.0.2", true);
  DeletePodGracefully("b");
  SyncOk("db");
  json::object eps = Live(res::kEndpoints, "db");
  ASSERT_EQ(Arr(&eps, "subsets")->size(), 1u) << api::SerializeJson(eps);
  const json::object& s = eps.at("subsets").as_array()[0].as_object();
  EXPECT_EQ(Ips(&s, "addresses"), (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_FALSE(s.contains("notReadyAddresses"));
  EXPECT_EQ(Str(MetaObject(eps, "labels"), endpoints::kHeadlessLabel), "");
  EXPECT_TRUE(MetaObject(eps, "labels")->contains(endpoints::kHeadlessLabel));
}

TEST_F(EndpointsControllerTest, HeadlessServiceWithoutPortsListsAddressesOnly) {
  StartInformers();
  CreateService("peers", json::object{{"app", "web"}}, {}, json::object{{"clusterIP", "None"}});
  PodSpec p;
  CreatePod("a", p);
  SetPodStatus("a", "10.0.0.1", true);
  SyncOk("peers");
  json::object eps = Live(res::kEndpoints, "peers");
  ASSERT_EQ(Arr(&eps, "subsets")->size(), 1u) << api::SerializeJson(eps);
  const json::object& s = eps.at("subsets").as_array()[0].as_object();
  EXPECT_EQ(Ips(&s, "addresses"), (std::vector<std::string>{"10.0.0.1"}));
  EXPECT_FALSE(s.contains("ports"));
}

TEST_F(EndpointsControllerTest, RunningControllerFollowsPodAndServiceEvents) {
  controller_->Run(2);
  StartInformers();
  CreateService("web", json::object{{"app", "web"}},
                json::array{json::object{{"port", 80}, {"targetPort", 8080}}});
  PodSpec p;
  CreatePod("a", p);
  auto subset_ips = [&](const char* field) {
    json::object eps = Live(res::kEndpoints, "web");
    const json::array* subsets = Arr(&eps, "subsets");
    return subsets && !subsets->empty() ? Ips(&(*subsets)[0].as_object(), field)
                                        : std::vector<std::string>{};
  };
  // Created for the Service at once, empty until the pod has an IP.
  EXPECT_TRUE(Eventually([&] { return !Live(res::kEndpoints, "web").empty(); }));
  SetPodStatus("a", "10.0.0.1", true);
  EXPECT_TRUE(
      Eventually([&] { return subset_ips("addresses") == std::vector<std::string>{"10.0.0.1"}; }));
  SetPodStatus("a", "10.0.0.1", false, "Running", "2026-01-02T00:00:00Z");
  EXPECT_TRUE(Eventually(
      [&] { return subset_ips("notReadyAddresses") == std::vector<std::string>{"10.0.0.1"}; }));
  // Deleted by someone: written again.
  ASSERT_TRUE(client_->Delete(res::kEndpoints, "default", "web").ok());
  EXPECT_TRUE(Eventually(
      [&] { return subset_ips("notReadyAddresses") == std::vector<std::string>{"10.0.0.1"}; }));
  // The pod's labels stop matching: it leaves.
  LabelPod("a", json::object{{"app", "other"}});
  EXPECT_TRUE(Eventually([&] {
    json::object eps = Live(res::kEndpoints, "web");
    return !eps.empty() && !eps.contains("subsets");
  }));
  // The Service goes: so do its Endpoints.
  ASSERT_TRUE(client_->Delete(res::kServices, "default", "web").ok());
  EXPECT_TRUE(Eventually([&] { return Live(res::kEndpoints, "web").empty(); }));
  controller_->Stop();
}

TEST_F(EndpointsControllerTest, LeftoverEndpointsWithoutServiceAreDeletedAtStart) {
  json::object leftover{
      {"apiVersion", "v1"}, {"kind", "Endpoints"}, {"metadata", json::object{{"name", "gone"}}}};
  json::object leader{
      {"apiVersion", "v1"},
      {"kind", "Endpoints"},
      {"metadata",
       json::object{{"name", "lock"},
                    {"annotations", json::object{{endpoints::kLeaderAnnotation, "{}"}}}}}};
  ASSERT_TRUE(client_->Create(res::kEndpoints, "default", leftover).ok());
  ASSERT_TRUE(client_->Create(res::kEndpoints, "default", leader).ok());
  controller_->Run(1);
  StartInformers();
  EXPECT_TRUE(Eventually([&] { return Live(res::kEndpoints, "gone").empty(); }));
  EXPECT_FALSE(Live(res::kEndpoints, "lock").empty());
  controller_->Stop();
}

// ---- pure functions -------------------------------------------------------------------------

json::object Addr(const std::string& ip, const std::string& uid) {
  return json::object{{"ip", ip}, {"targetRef", json::object{{"kind", "Pod"}, {"uid", uid}}}};
}

TEST(RepackSubsetsTest, SamePortSetsShareASubsetAndNotReadyWins) {
  json::object http{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}};
  json::object admin{{"name", "admin"}, {"port", 9000}, {"protocol", "TCP"}};
  std::vector<EndpointEntry> entries{{Addr("10.0.0.2", "b"), true, &http},
                                     {Addr("10.0.0.2", "b"), true, &admin},
                                     {Addr("10.0.0.1", "a"), true, &http},
                                     {Addr("10.0.0.1", "a"), true, &admin},
                                     {Addr("10.0.0.3", "c"), true, &http},
                                     // The same address twice for one port: not ready wins.
                                     {Addr("10.0.0.3", "c"), false, &http}};
  json::array subsets = RepackSubsets(entries);
  ASSERT_EQ(subsets.size(), 2u) << api::SerializeJson(subsets);
  // Deterministic: the same input in another order gives the same output (for c, not ready
  // still wins when it comes first).
  std::vector<EndpointEntry> reversed(entries.rbegin(), entries.rend());
  EXPECT_EQ(RepackSubsets(reversed), subsets);
  json::object both{{"addresses", json::array{Addr("10.0.0.1", "a"), Addr("10.0.0.2", "b")}},
                    {"ports", json::array{admin, http}}};
  // a and b offer admin and http; c offers http only and is not ready there: http's address
  // set differs from admin's, so the ports are in separate subsets.
  bool found_admin = false, found_http = false;
  for (const auto& s : subsets) {
    const json::object& o = s.as_object();
    if (o.at("ports") == json::array{admin}) {
      found_admin = true;
      EXPECT_EQ(o.at("addresses"), (json::array{Addr("10.0.0.1", "a"), Addr("10.0.0.2", "b")}));
      EXPECT_FALSE(o.contains("notReadyAddresses"));
    }
    if (o.at("ports") == json::array{http}) {
      found_http = true;
      EXPECT_EQ(o.at("addresses"), (json::array{Addr("10.0.0.1", "a"), Addr("10.0.0.2", "b")}));
      EXPECT_EQ(o.at("notReadyAddresses"), (json::array{Addr("10.0.0.3", "c")}));
    }
  }
  EXPECT_TRUE(found_admin && found_http) << api::SerializeJson(subsets);
  // Without c, both ports have the same addresses: one subset, ports sorted by name.
  entries.resize(4);
  EXPECT_EQ(RepackSubsets(entries), (json::array{both}));
}

TEST(TruncateSubsetsTest, KeepsAThousandReadyFirst) {
  auto addrs = [](int n, int base) {
    json::array a;
    for (int i = 0; i < n; ++i)
      a.push_back(Addr("10.1." + std::to_string(base) + "." + std::to_string(i % 250),
                       std::to_string(base * 1000 + i)));
    return a;
  };
  json::array subsets{
      json::object{{"addresses", addrs(600, 1)}, {"notReadyAddresses", addrs(300, 2)}},
      json::object{{"notReadyAddresses", addrs(300, 3)}}};
  EXPECT_TRUE(TruncateSubsets(subsets));
  EXPECT_EQ(subsets[0].at("addresses").as_array().size(), 600u);
  EXPECT_EQ(subsets[0].at("notReadyAddresses").as_array().size(), 200u);
  EXPECT_EQ(subsets[1].at("notReadyAddresses").as_array().size(), 200u);
  json::array many{json::object{{"addresses", addrs(1200, 4)}, {"notReadyAddresses", addrs(5, 5)}}};
  EXPECT_TRUE(TruncateSubsets(many));
  EXPECT_EQ(many[0].at("addresses").as_array().size(), 1000u);
  EXPECT_FALSE(many[0].as_object().contains("notReadyAddresses"));
  json::array few{json::object{{"addresses", addrs(10, 6)}}};
  EXPECT_FALSE(TruncateSubsets(few));
}

TEST(TriggerTimeTrackerTest, CreationFirstThenEarliestChangedTrigger) {
  endpoints::TriggerTimeTracker t;
  json::object svc{{"metadata", json::object{{"name", "s"},
                                             {"namespace", "d"},
                                             {"creationTimestamp", "2026-01-01T00:00:00Z"}}}};
  auto pod = [](const std::string& name, const std::string& since) {
    return std::make_shared<const json::object>(json::object{
        {"metadata", json::object{{"name", name}}},
        {"status",
         json::object{{"conditions", json::array{json::object{{"type", "Ready"},
                                                              {"status", "True"},
                                                              {"lastTransitionTime", since}}}}}}});
  };
  std::vector<client::ObjectPtr> pods{pod("a", "2026-01-01T00:00:05Z")};
  EXPECT_EQ(t.Compute(svc, pods), "2026-01-01T00:00:00Z");  // new Service
  EXPECT_EQ(t.Compute(svc, pods), "");                      // nothing moved
  pods = {pod("a", "2026-01-01T00:01:00.250Z"), pod("b", "2026-01-01T00:00:30Z")};
  EXPECT_EQ(t.Compute(svc, pods), "2026-01-01T00:00:30Z");  // the earliest that moved
  pods = {pod("a", "2026-01-01T00:02:00.5Z"), pod("b", "2026-01-01T00:00:30Z")};
  EXPECT_EQ(t.Compute(svc, pods), "2026-01-01T00:02:00.5Z");
  t.Forget("d/s");
  EXPECT_EQ(t.Compute(svc, pods), "2026-01-01T00:00:00Z");
}

TEST(EndpointsUtilTest, PodIpsFollowTheApiConversion) {
  auto pod = [](json::object status) { return json::object{{"status", std::move(status)}}; };
  EXPECT_EQ(endpoints::PodIps(pod({{"podIP", "10.0.0.1"}})), std::vector<std::string>{"10.0.0.1"});
  EXPECT_EQ(endpoints::PodIps(pod({{"podIP", "10.0.0.1"},
                                   {"podIPs", json::array{json::object{{"ip", "10.0.0.1"}},
                                                          json::object{{"ip", "fd00::1"}}}}})),
            (std::vector<std::string>{"10.0.0.1", "fd00::1"}));
  EXPECT_EQ(endpoints::PodIps(pod({{"podIP", "10.0.0.9"},
                                   {"podIPs", json::array{json::object{{"ip", "10.0.0.1"}}}}})),
            std::vector<std::string>{"10.0.0.9"});
  EXPECT_TRUE(endpoints::PodIps(pod({})).empty());
}

TEST(EndpointsUtilTest, FindPortByNumberOrNameAndProtocol) {
  json::object pod{
      {"spec",
       json::object{
           {"containers",
            json::array{json::object{
                {"name", "c"},
                {"ports",
                 json::array{
                     json::object{{"name", "dns"}, {"containerPort", 53}, {"protocol", "UDP"}},
                     json::object{{"name", "web"}, {"containerPort", 8080}}}}}}},
           {"initContainers",
            json::array{json::object{
                {"name", "side"},
                {"restartPolicy", "Always"},
                {"ports",
                 json::array{json::object{{"name", "proxy"}, {"containerPort", 15001}}}}}}}}}};
  EXPECT_EQ(endpoints::FindPort(pod, json::object{{"port", 80}, {"targetPort", 8081}}), 8081);
  EXPECT_EQ(endpoints::FindPort(pod, json::object{{"port", 80}, {"targetPort", "web"}}), 8080);
  EXPECT_EQ(endpoints::FindPort(
                pod, json::object{{"port", 53}, {"targetPort", "dns"}, {"protocol", "UDP"}}),
            53);
  EXPECT_EQ(endpoints::FindPort(pod, json::object{{"port", 53}, {"targetPort", "dns"}}),
            std::nullopt);
  EXPECT_EQ(endpoints::FindPort(pod, json::object{{"port", 1}, {"targetPort", "proxy"}}), 15001);
  EXPECT_EQ(endpoints::FindPort(pod, json::object{{"port", 1}, {"targetPort", "nope"}}),
            std::nullopt);
}

}  // namespace
}  // namespace sampan::controllers
