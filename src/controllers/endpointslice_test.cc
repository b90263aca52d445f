#include "controllers/endpointslice.h"

#include <gtest/gtest.h>

#include <set>

#include "controllers/endpoints_test_util.h"

namespace sampan::controllers {
namespace {
using namespace testing;
using namespace std::chrono_literals;
using client::MetaObject;
using client::MetaString;

class EndpointSliceControllerTest : public ControllerFixture<EndpointSliceController> {
 protected:
  EndpointSliceControllerTest() : ControllerFixture("endpoint-slice-controller") {}
  // The live slices labelled for Service `svc`, by name.
  std::vector<json::object> Slices(const std::string& svc) {
    client::ListOptions o;
    o.label_selector = std::string(endpoints::kServiceNameLabel) + "=" + svc;
    auto l = client_->List(res::kEndpointSlices, "default", o);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    std::vector<json::object> out;
    if (!l.ok()) return out;
    for (auto& s : l->at("items").as_array()) out.push_back(s.as_object());
    std::sort(out.begin(), out.end(), [](const json::object& a, const json::object& b) {
      return MetaString(a, "name") < MetaString(b, "name");
    });
    return out;
  }
  std::vector<json::object> OurSlices(const std::string& svc) {
    std::vector<json::object> out;
    for (auto& s : Slices(svc))
      if (Str(MetaObject(s, "labels"), endpoints::kManagedByLabel) == kEndpointSliceControllerName)
        out.push_back(std::move(s));
    return out;
  }
  std::map<std::string, std::string> Versions(const std::vector<json::object>& slices) {
    std::map<std::string, std::string> out;
    for (const auto& s : slices) out[MetaString(s, "name")] = MetaString(s, "resourceVersion");
    return out;
  }
  // The endpoint of pod `name` in `slice`, or nullptr.
  static const json::object* EndpointOf(const json::object& slice, const std::string& name) {
    const json::array* eps = Arr(&slice, "endpoints");
    if (!eps) return nullptr;
    for (const auto& e : *eps)
      if (Str(Obj(&e.as_object(), "targetRef"), "name") == name) return &e.as_object();
    return nullptr;
  }
  static std::vector<std::string> PodNames(const json::object& slice) {
    std::vector<std::string> out;
    if (const json::array* eps = Arr(&slice, "endpoints"))
      for (const auto& e : *eps) out.push_back(Str(Obj(&e.as_object(), "targetRef"), "name"));
    std::sort(out.begin(), out.end());
    return out;
  }
  static json::object Conditions(bool ready, bool serving, bool terminating) {
    return json::object{{"ready", ready}, {"serving", serving}, {"terminating", terminating}};
  }
  json::object ForeignSlice(const std::string& name, const std::string& svc,
                            const std::string& manager, json::array owner_refs = {}) {
    json::object meta{{"name", name},
                      {"labels", json::object{{endpoints::kServiceNameLabel, svc},
                                              {endpoints::kManagedByLabel, manager}}}};
    if (!owner_refs.empty()) meta["ownerReferences"] = std::move(owner_refs);
    json::object slice{
        {"apiVersion", "discovery.k8s.io/v1"},
        {"kind", "EndpointSlice"},
        {"metadata", meta},
        {"addressType", "IPv4"},
        {"endpoints", json::array{json::object{{"addresses", json::array{"192.0.2.1"}}}}}};
    auto r = client_->Create(res::kEndpointSlices, "default", slice);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    WaitSeen(res::kEndpointSlices, *r);
    return *r;
  }
};

TEST_F(EndpointSliceControllerTest, SlicesCarryLabelsOwnerConditionsAndOneSetPerPortList) {
  StartInformers();
  AddNode("node-a", "zone-1");
  json::object svc = CreateService(
      "web", json::object{{"app", "web"}},
      json::array{json::object{{"name", "http"}, {"port", 80}, {"targetPort", "http"}}}, {},
      json::object{{"tier", "front"}});
  PodSpec with_http;
  with_http.container_ports = json::array{kHttpPort};
  json::object a = CreatePod("a", with_http);
  SetPodStatus("a", "10.0.0.1", true);
  CreatePod("b", with_http);
  SetPodStatus("b", "10.0.0.2", false);
  CreatePod("c", with_http);
  SetPodStatus("c", "10.0.0.3", true);
  DeletePodGracefully("c");   // terminating: listed, not ready, still serving
  CreatePod("d", PodSpec{});  // no "http" port: a slice without ports
  SetPodStatus("d", "10.0.0.4", true);
  CreatePod("e", with_http);  // no IP
  SetPodStatus("e", "", false, "Pending");
  CreatePod("f", with_http);  // failed
  SetPodStatus("f", "10.0.0.6", false, "Failed");
  PodSpec named = with_http;
  named.hostname = "h-host";
  named.subdomain = "web";
  CreatePod("h", named);
  SetPodStatus("h", "10.0.0.8", true);

  SyncOk("web");
  std::vector<json::object> slices = Slices("web");
  ASSERT_EQ(slices.size(), 2u);
  const json::object* with_ports = nullptr;
  const json::object* portless = nullptr;
  for (const auto& s : slices)
    (Arr(&s, "ports") && !Arr(&s, "ports")->empty() ? with_ports : portless) = &s;
  ASSERT_NE(with_ports, nullptr);
  ASSERT_NE(portless, nullptr);

  json::object want_labels{{"tier", "front"},
                           {endpoints::kServiceNameLabel, "web"},
                           {endpoints::kManagedByLabel, "endpointslice-controller.k8s.io"}};
  std::string cluster_ip = Str(Obj(&svc, "spec"), "clusterIP");
  if (cluster_ip.empty() || cluster_ip == "None") want_labels[endpoints::kHeadlessLabel] = "";
  json::array want_owner{json::object{{"apiVersion", "v1"},
                                      {"kind", "Service"},
                                      {"name", "web"},
                                      {"uid", MetaString(svc, "uid")},
                                      {"controller", true},
                                      {"blockOwnerDeletion", true}}};
  for (const auto& s : slices) {
    EXPECT_EQ(*MetaObject(s, "labels"), want_labels) << api::SerializeJson(s);
    EXPECT_EQ(MetaString(s, "generateName"), "web-");
    EXPECT_EQ(MetaString(s, "name").rfind("web-", 0), 0u);
    EXPECT_EQ(Obj(&s, "metadata")->at("ownerReferences"), want_owner);
    EXPECT_EQ(Str(&s, "addressType"), "IPv4");
    EXPECT_EQ(Str(MetaObject(s, "annotations"), endpoints::kLastChangeTriggerTime),
              MetaString(svc, "creationTimestamp"));
  }
  EXPECT_EQ(with_ports->at("ports"),
            (json::array{json::object{{"name", "http"}, {"protocol", "TCP"}, {"port", 8080}}}));
  EXPECT_EQ(PodNames(*with_ports), (std::vector<std::string>{"a", "b", "c", "h"}));
  EXPECT_EQ(PodNames(*portless), (std::vector<std::string>{"d"}));

  EXPECT_EQ(*EndpointOf(*with_ports, "a"),
            (json::object{{"addresses", json::array{"10.0.0.1"}},
                          {"conditions", Conditions(true, true, false)},
                          {"targetRef", json::object{{"kind", "Pod"},
                                                     {"namespace", "default"},
                                                     {"name", "a"},
                                                     {"uid", MetaString(a, "uid")}}},
                          {"nodeName", "node-a"},
                          {"zone", "zone-1"}}));
  EXPECT_EQ(EndpointOf(*with_ports, "b")->at("conditions"), Conditions(false, false, false));
  EXPECT_EQ(EndpointOf(*with_ports, "c")->at("conditions"), Conditions(false, true, true));
  EXPECT_EQ(Str(EndpointOf(*with_ports, "h"), "hostname"), "h-host");
  EXPECT_FALSE(EndpointOf(*with_ports, "a")->contains("hostname"));
}

TEST_F(EndpointSliceControllerTest, MoreThanAHundredEndpointsAreSplitIntoSlices) {
  StartInformers();
  AddNode("node-a");
  CreateService("big", json::object{{"app", "web"}},
                json::array{json::object{{"port", 80}, {"targetPort", 8080}}});
  PodSpec p;
  const int kPods = 230;
  for (int i = 0; i < kPods; ++i) {
    std::string name = "p" + std::to_string(i);
    CreatePod(name, p);
    SetPodStatus(name, "10.1." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1), true);
  }
  SyncOk("big");
  auto check = [&](int want) {
    std::vector<json::object> slices = Slices("big");
    std::multiset<size_t> sizes;
    std::set<std::string> pods;
    size_t total = 0;
    for (const auto& s : slices) {
      std::vector<std::string> names = PodNames(s);
      EXPECT_LE(names.size(), 100u);
      sizes.insert(names.size());
      total += names.size();
      pods.insert(names.begin(), names.end());
    }
    EXPECT_EQ(total, static_cast<size_t>(want));
    EXPECT_EQ(pods.size(), static_cast<size_t>(want));  // each pod once
    return sizes;
  };
  EXPECT_EQ(check(kPods), (std::multiset<size_t>{30, 100, 100}));
  // Unchanged: not written again.
  auto before = Versions(Slices("big"));
  SyncOk("big");
  EXPECT_EQ(Versions(Slices("big")), before);
  // 40 pods leave: the slices that held them shrink; none is rewritten needlessly.
  for (int i = 0; i < 40; ++i) LabelPod("p" + std::to_string(i), json::object{{"app", "gone"}});
  SyncOk("big");
  check(kPods - 40);
  // 50 come back: they fill the slices that have room before a new one is made.
  for (int i = 0; i < 50; ++i) LabelPod("p" + std::to_string(i), json::object{{"app", "web"}});
  SyncOk("big");
  std::multiset<size_t> sizes = check(kPods);
  EXPECT_EQ(sizes.size(), 3u);
}

TEST_F(EndpointSliceControllerTest, UnchangedSlicesAreKeptAndStaleOnesReplaced) {
  StartInformers();
  AddNode("node-a");
  json::object svc = CreateService("web", json::object{{"app", "web"}},
                                   json::array{json::object{{"port", 80}, {"targetPort", 8080}}});
  PodSpec p;
  CreatePod("a", p);
  SetPodStatus("a", "10.0.0.1", true);
  CreatePod("b", p);
  SetPodStatus("b", "10.0.0.2", true);
  // A slice of ours left by an earlier Service of the same name (another uid): it goes.
  json::object old_owner{{"apiVersion", "v1"},
                         {"kind", "Service"},
                         {"name", "web"},
                         {"uid", "00000000-0000-0000-0000-000000000001"},
                         {"controller", true}};
  json::object stale =
      ForeignSlice("web-stale", "web", kEndpointSliceControllerName, json::array{old_owner});
  SyncOk("web");
  std::vector<json::object> slices = OurSlices("web");
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_NE(MetaString(slices[0], "name"), "web-stale");
  EXPECT_EQ(PodNames(slices[0]), (std::vector<std::string>{"a", "b"}));
  const std::string name = MetaString(slices[0], "name");
  const std::string rv = MetaString(slices[0], "resourceVersion");
  // Nothing changed: nothing written.
  SyncOk("web");
  EXPECT_EQ(MetaString(OurSlices("web")[0], "resourceVersion"), rv);
  // A pod annotation is nothing endpoints show.
  auto annotated = client_->Patch(
      res::kPods, "default", "a", client::PatchType::kMerge,
      json::object{{"metadata", json::object{{"annotations", json::object{{"x", "y"}}}}}});
  ASSERT_TRUE(annotated.ok());
  WaitSeen(res::kPods, *annotated);
  SyncOk("web");
  EXPECT_EQ(MetaString(OurSlices("web")[0], "resourceVersion"), rv);
  // A readiness change rewrites the same slice.
  SetPodStatus("a", "10.0.0.1", false, "Running", "2026-03-01T00:00:00Z");
  SyncOk("web");
  slices = OurSlices("web");
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(MetaString(slices[0], "name"), name);
  EXPECT_NE(MetaString(slices[0], "resourceVersion"), rv);
  EXPECT_EQ(EndpointOf(slices[0], "a")->at("conditions"), Conditions(false, false, false));
  EXPECT_EQ(Str(MetaObject(slices[0], "annotations"), endpoints::kLastChangeTriggerTime),
            "2026-03-01T00:00:00Z");
  // Every pod leaves: one empty placeholder slice remains (the same object, reused).
  LabelPod("a", json::object{{"app", "gone"}});
  LabelPod("b", json::object{{"app", "gone"}});
  SyncOk("web");
  slices = OurSlices("web");
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(MetaString(slices[0], "name"), name);
  EXPECT_TRUE(Arr(&slices[0], "endpoints") == nullptr || Arr(&slices[0], "endpoints")->empty());
  EXPECT_TRUE(Arr(&slices[0], "ports") == nullptr || Arr(&slices[0], "ports")->empty());
  // The placeholder is kept as it is.
  std::string placeholder_rv = MetaString(slices[0], "resourceVersion");
  SyncOk("web");
  EXPECT_EQ(MetaString(OurSlices("web")[0], "resourceVersion"), placeholder_rv);
  (void)svc;
  (void)stale;
}

TEST_F(EndpointSliceControllerTest, ForeignSlicesAndServicesWithoutSelectorAreLeftAlone) {
  StartInformers();
  AddNode("node-a");
  CreateService("web", json::object{{"app", "web"}},
                json::array{json::object{{"port", 80}, {"targetPort", 8080}}});
  PodSpec p;
  CreatePod("a", p);
  SetPodStatus("a", "10.0.0.1", true);
  json::object foreign = ForeignSlice("web-mirror", "web", "someone-else");
  SyncOk("web");
  EXPECT_EQ(OurSlices("web").size(), 1u);
  EXPECT_EQ(Live(res::kEndpointSlices, "web-mirror"), foreign);
  // Selector-less and ExternalName Services get no slices.
  CreateService("manual", nullptr, json::array{json::object{{"port", 80}}});
  CreateService("ext", json::object{{"app", "web"}}, {},
                json::object{{"type", "ExternalName"}, {"externalName", "example.com"}});
  SyncOk("manual");
  SyncOk("ext");
  EXPECT_TRUE(OurSlices("manual").empty());
  EXPECT_TRUE(OurSlices("ext").empty());
  // The Service goes: its slices go, the foreign one stays.
  ASSERT_TRUE(client_->Delete(res::kServices, "default", "web").ok());
  WaitGone(res::kServices, "default/web");
  SyncOk("web");
  EXPECT_TRUE(OurSlices("web").empty());
  EXPECT_EQ(Live(res::kEndpointSlices, "web-mirror"), foreign);
}

TEST_F(EndpointSliceControllerTest, PodOnAMissingNodeWaitsForTheNode) {
  StartInformers();
  CreateService("web", json::object{{"app", "web"}},
                json::array{json::object{{"port", 80}, {"targetPort", 8080}}});
  PodSpec p;
  p.node = "ghost";
  CreatePod("a", p);
  SetPodStatus("a", "10.0.0.1", true);
  Status st;
  ASSERT_TRUE(Eventually([&] {
    st = controller_->Sync("default/web");
    return st.code() != Code::kConflict;
  }));
  EXPECT_FALSE(st.ok());  // retried later
  std::vector<json::object> slices = OurSlices("web");
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_TRUE(PodNames(slices[0]).empty());
  AddNode("ghost");
  SyncOk("web");
  EXPECT_EQ(PodNames(OurSlices("web")[0]), std::vector<std::string>{"a"});
}

TEST_F(EndpointSliceControllerTest, RunningControllerFollowsEvents) {
  controller_->Run(2);
  StartInformers();
  AddNode("node-a");
  CreateService("web", json::object{{"app", "web"}},
                json::array{json::object{{"port", 80}, {"targetPort", 8080}}});
  PodSpec p;
  CreatePod("a", p);
  auto conditions = [&]() -> json::value {
    auto slices = OurSlices("web");
    if (slices.size() != 1) return nullptr;
    const json::object* e = EndpointOf(slices[0], "a");
    return e ? e->at("conditions") : json::value(nullptr);
  };
  SetPodStatus("a", "10.0.0.1", true);
  EXPECT_TRUE(
      Eventually([&] { return conditions() == json::value(Conditions(true, true, false)); }));
  SetPodStatus("a", "10.0.0.1", false, "Running", "2026-01-02T00:00:00Z");
  EXPECT_TRUE(
      Eventually([&] { return conditions() == json::value(Conditions(false, false, false)); }));
  // Someone deletes our slice: it is made again.
  std::string name = MetaString(OurSlices("web")[0], "name");
  ASSERT_TRUE(client_->Delete(res::kEndpointSlices, "default", name).ok());
  EXPECT_TRUE(Eventually([&] {
    auto slices = OurSlices("web");
    return slices.size() == 1 && MetaString(slices[0], "name") != name &&
           EndpointOf(slices[0], "a") != nullptr;
  }));
  // The Service goes: so do its slices.
  ASSERT_TRUE(client_->Delete(res::kServices, "default", "web").ok());
  EXPECT_TRUE(Eventually([&] { return OurSlices("web").empty(); }));
  controller_->Stop();
}

}  // namespace
}  // namespace sampan::controllers
