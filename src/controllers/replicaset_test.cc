#include "controllers/replicaset.h"

#include <gtest/gtest.h>

#include "client/test_apiserver.h"
#include "controllers/controller_manager.h"
#include "controllers/garbage_collector.h"

namespace sampan::controllers {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using sampan::client::testing::Eventually;
using client::ObjectPtr;

ObjectPtr P(const std::string& name, const std::string& node, const std::string& phase, bool ready,
            const std::string& created = "2026-01-01T00:00:00Z") {
  json::object status{{"phase", phase}};
  if (ready)
    status["conditions"] = json::array{json::object{
        {"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", "2026-01-01T00:00:00Z"}}};
  json::object spec;
  if (!node.empty()) spec["nodeName"] = node;
  return std::make_shared<const json::object>(json::object{
      {"metadata", json::object{{"name", name}, {"uid", name}, {"creationTimestamp", created}}},
      {"spec", spec},
      {"status", status}});
}

TEST(SortPodsForDeletionTest, KubernetesRanking) {
  std::vector<ObjectPtr> pods{
      P("running-ready", "n1", "Running", true), P("unassigned", "", "Pending", false),
      P("pending", "n2", "Pending", false), P("running-notready", "n3", "Running", false)};
  SortPodsForDeletion(pods, 1800000000);
  std::vector<std::string> order;
  for (auto& p : pods) order.push_back(client::MetaString(*p, "name"));
  EXPECT_EQ(order, (std::vector<std::string>{"unassigned", "pending", "running-notready",
                                             "running-ready"}));
  // Same state: the newer pod goes first.
  std::vector<ObjectPtr> by_age{P("old", "n1", "Running", true, "2020-01-01T00:00:00Z"),
                                P("new", "n2", "Running", true, "2026-01-01T00:00:00Z")};
  // Ready times equal, so creation age decides.
  SortPodsForDeletion(by_age, 1800000000);
  EXPECT_EQ(client::MetaString(*by_age[0], "name"), "new");
}

class ControllersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }

  json::object ReplicaSet(const std::string& name, int replicas) {
    return json::parse(R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":")" +
                       name + R"("},"spec":{"replicas":)" + std::to_string(replicas) +
                       R"(,"selector":{"matchLabels":{"app":")" + name +
                       R"("}},"template":{"metadata":{"labels":{"app":")" + name +
                       R"("}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}})")
        .as_object();
  }

  std::vector<json::object> Pods(const std::string& selector) {
    client::ListOptions o;
    o.label_selector = selector;
    auto l = client_->List(client::resources::kPods, "default", o);
    std::vector<json::object> out;
    if (!l.ok()) return out;
    for (auto& p : l->at("items").as_array()) out.push_back(p.as_object());
    return out;
  }

  client::testing::TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
};

TEST_F(ControllersTest, ReplicaSetCreatesScalesAdoptsAndReportsStatus) {
  // An orphan pod matching the selector exists first (before the informers list): it is
  // adopted, not duplicated.
  json::object orphan = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"orphan",
      "labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}})")
                            .as_object();
  ASSERT_TRUE(client_->Create(client::resources::kPods, "default", orphan).ok());
  client::SharedInformers informers(client_.get());
  client::EventRecorder recorder(client_.get(), "replicaset-controller");
  ReplicaSetController rsc(&informers, &recorder);
  informers.Start();
  rsc.Run(2);
  auto rs = client_->Create(client::resources::kReplicaSets, "default", ReplicaSet("web", 3));
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  std::string uid = client::MetaString(*rs, "uid");
  ASSERT_TRUE(Eventually([&] { return Pods("app=web").size() == 3; }));
  std::this_thread::sleep_for(300ms);  // no extra pods appear
  auto pods = Pods("app=web");
  ASSERT_EQ(pods.size(), 3u);
  bool saw_orphan = false;
  for (auto& p : pods) {
    const json::object* ref = ControllerRef(p);
    ASSERT_NE(ref, nullptr);
    EXPECT_EQ(Str(ref, "uid"), uid);
    EXPECT_EQ(Str(ref, "kind"), "ReplicaSet");
    saw_orphan = saw_orphan || client::MetaString(p, "name") == "orphan";
    if (client::MetaString(p, "name") != "orphan")
      EXPECT_EQ(client::MetaString(p, "name").rfind("web-", 0), 0u);
  }
  EXPECT_TRUE(saw_orphan);
  ASSERT_TRUE(Eventually([&] {
    auto got = client_->Get(client::resources::kReplicaSets, "default", "web");
    return got.ok() && Int(Obj(&*got, "status"), "replicas") == 3 &&
           Int(Obj(&*got, "status"), "observedGeneration") >= 1;
  }));

  // Scale down to 1 through the scale subresource.
  auto scaled =
      client_->Patch(client::resources::kReplicaSets, "default", "web", client::PatchType::kMerge,
                     json::parse(R"({"spec":{"replicas":1}})"), "scale");
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  ASSERT_TRUE(Eventually([&] {
    int active = 0;
    for (auto& p : Pods("app=web"))
      if (IsPodActive(p)) ++active;
    return active == 1;
  }));
  // A pod whose labels stop matching is released and replaced.
  auto remaining = Pods("app=web");
  std::string survivor;
  for (auto& p : remaining)
    if (IsPodActive(p)) survivor = client::MetaString(p, "name");
  ASSERT_TRUE(client_
                  ->Patch(client::resources::kPods, "default", survivor, client::PatchType::kMerge,
                          json::parse(R"({"metadata":{"labels":{"app":"other"}}})"))
                  .ok());
  ASSERT_TRUE(Eventually([&] {
    auto released = client_->Get(client::resources::kPods, "default", survivor);
    return released.ok() && ControllerRef(*released) == nullptr;
  }));
  ASSERT_TRUE(Eventually([&] {
    int active = 0;
    for (auto& p : Pods("app=web"))
      if (IsPodActive(p)) ++active;
    return active == 1;
  }));
  // Events were recorded.
  auto events = client_->List(client::resources::kEvents, "default", {});
  ASSERT_TRUE(events.ok());
  int creates = 0, deletes = 0;
  for (auto& e : events->at("items").as_array()) {
    if (e.at("reason") == "SuccessfulCreate") ++creates;
    if (e.at("reason") == "SuccessfulDelete") ++deletes;
  }
  EXPECT_GE(creates, 2);
  EXPECT_GE(deletes, 1);
  rsc.Stop();
  informers.Stop();
}

TEST_F(ControllersTest, ReplicationControllerUsesTheSameCode) {
  client::SharedInformers informers(client_.get());
  client::EventRecorder recorder(client_.get(), "replication-controller");
  ReplicaSetController rcc(&informers, &recorder, /*legacy_rc=*/true);
  informers.Start();
  rcc.Run(1);
  json::object rc = json::parse(R"({"apiVersion":"v1","kind":"ReplicationController",
      "metadata":{"name":"legacy"},"spec":{"replicas":2,"selector":{"app":"legacy"},
      "template":{"metadata":{"labels":{"app":"legacy"}},
      "spec":{"containers":[{"name":"c","image":"busybox"}]}}}})")
                        .as_object();
  ASSERT_TRUE(client_->Create(client::resources::kReplicationControllers, "default", rc).ok());
  ASSERT_TRUE(Eventually([&] { return Pods("app=legacy").size() == 2; }));
  for (auto& p : Pods("app=legacy"))
    EXPECT_EQ(Str(ControllerRef(p), "kind"), "ReplicationController");
  rcc.Stop();
  informers.Stop();
}

TEST_F(ControllersTest, GarbageCollectorHonoursPropagationPolicies) {
  client::SharedInformers informers(client_.get());
  client::EventRecorder recorder(client_.get(), "replicaset-controller");
  ReplicaSetController rsc(&informers, &recorder);
  GarbageCollector gc(&informers);
  informers.Start();
  rsc.Run(2);
  gc.Run(2);

  auto count_pods = [&](const std::string& app) { return Pods("app=" + app).size(); };
  // Background (the default for kubectl): owner gone at once, pods collected after.
  ASSERT_TRUE(
      client_->Create(client::resources::kReplicaSets, "default", ReplicaSet("bg", 2)).ok());
  ASSERT_TRUE(Eventually([&] { return count_pods("bg") == 2; }));
  client::DeleteOptions bg;
  bg.propagation_policy = "Background";
  auto bg_deleted = client_->Delete(client::resources::kReplicaSets, "default", "bg", bg);
  ASSERT_TRUE(bg_deleted.ok()) << bg_deleted.ToString();
  EXPECT_TRUE(Eventually([&] { return count_pods("bg") == 0; }));

  // Orphan: the owner goes, the pods stay without the reference.
  ASSERT_TRUE(
      client_->Create(client::resources::kReplicaSets, "default", ReplicaSet("orph", 2)).ok());
  ASSERT_TRUE(Eventually([&] { return count_pods("orph") == 2; }));
  client::DeleteOptions orphan;
  orphan.propagation_policy = "Orphan";
  ASSERT_TRUE(client_->Delete(client::resources::kReplicaSets, "default", "orph", orphan).ok());
  EXPECT_TRUE(Eventually([&] {
    return client_->Get(client::resources::kReplicaSets, "default", "orph").status().code() ==
           Code::kNotFound;
  }));
  std::this_thread::sleep_for(300ms);
  auto left = Pods("app=orph");
  EXPECT_EQ(left.size(), 2u);
  for (auto& p : left) EXPECT_EQ(ControllerRef(p), nullptr);

  // Foreground: pods are deleted first, then the owner.
  ASSERT_TRUE(
      client_->Create(client::resources::kReplicaSets, "default", ReplicaSet("fg", 2)).ok());
  ASSERT_TRUE(Eventually([&] { return count_pods("fg") == 2; }));
  client::DeleteOptions fg;
  fg.propagation_policy = "Foreground";
  ASSERT_TRUE(client_->Delete(client::resources::kReplicaSets, "default", "fg", fg).ok());
  EXPECT_TRUE(Eventually([&] {
    return count_pods("fg") == 0 &&
           client_->Get(client::resources::kReplicaSets, "default", "fg").status().code() ==
               Code::kNotFound;
  }));

  // A dependent whose owner never existed is collected too.
  json::object dangling = json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{
      "name":"dangling","ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet",
      "name":"ghost","uid":"00000000-0000-0000-0000-000000000000"}]}})")
                              .as_object();
  ASSERT_TRUE(client_->Create(client::resources::kConfigMaps, "default", dangling).ok());
  EXPECT_TRUE(Eventually([&] {
    return client_->Get(client::resources::kConfigMaps, "default", "dangling").status().code() ==
           Code::kNotFound;
  }));
  gc.Stop();
  rsc.Stop();
  informers.Stop();
}

TEST_F(ControllersTest, ControlPlanePodsCreatedBoundAndCollected) {
  for (const char* n : {"node-a", "node-b"}) {
    json::object node =
        json::parse(std::string(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")") + n +
                    R"("},"status":{"allocatable":{"cpu":"4","memory":"8Gi","pods":"110"},
                                    "capacity":{"cpu":"4","memory":"8Gi","pods":"110"}}})")
            .as_object();
    auto created = client_->Create(client::resources::kNodes, "", node);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    // Status may be dropped on create: set it through the status subresource.
    json::object with_status = *created;
    with_status["status"] = node["status"];
    ASSERT_TRUE(client_->UpdateStatus(client::resources::kNodes, "", with_status).ok());
  }
  ControlPlaneOptions opts;
  opts.kubeconfig = server_.kubeconfig();
  opts.identity = "test-plane";
  auto plane = StartControlPlane(opts);
  ASSERT_TRUE(plane.ok()) << plane.status().ToString();
  ASSERT_TRUE(
      Eventually([&] { return (*plane)->scheduler_leading() && (*plane)->controllers_leading(); }));

  // Every namespace gets its default ServiceAccount and the root CA ConfigMap.
  json::object ns{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "team"}}}};
  ASSERT_TRUE(client_->Create(client::resources::kNamespaces, "", ns).ok());
  EXPECT_TRUE(Eventually([&] {
    return client_->Get(client::resources::kServiceAccounts, "team", "default").ok() &&
           client_->Get(client::resources::kServiceAccounts, "default", "default").ok() &&
           client_->Get(client::resources::kConfigMaps, "team", "kube-root-ca.crt").ok();
  }));
  auto ca = client_->Get(client::resources::kConfigMaps, "team", "kube-root-ca.crt");
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  EXPECT_NE(Str(Obj(&*ca, "data"), "ca.crt").find("BEGIN CERTIFICATE"), std::string::npos);
  ASSERT_TRUE(client_->Delete(client::resources::kServiceAccounts, "team", "default").ok());
  EXPECT_TRUE(Eventually(
      [&] { return client_->Get(client::resources::kServiceAccounts, "team", "default").ok(); }));

  ASSERT_TRUE(
      client_->Create(client::resources::kReplicaSets, "default", ReplicaSet("app", 4)).ok());
  ASSERT_TRUE(Eventually([&] {
    auto pods = Pods("app=app");
    if (pods.size() != 4) return false;
    for (auto& p : pods)
      if (Str(Obj(&p, "spec"), "nodeName").empty()) return false;
    return true;
  })) << "pods were not all created and bound";
  // Spread: LeastAllocated puts two on each node.
  std::map<std::string, int> per_node;
  for (auto& p : Pods("app=app")) per_node[Str(Obj(&p, "spec"), "nodeName")]++;
  EXPECT_EQ(per_node["node-a"], 2);
  EXPECT_EQ(per_node["node-b"], 2);

  client::DeleteOptions bg;
  bg.propagation_policy = "Background";
  ASSERT_TRUE(client_->Delete(client::resources::kReplicaSets, "default", "app", bg).ok());
  // Bound pods are deleted gracefully: with no node agent to confirm, they stay
  // Terminating (deletionTimestamp set), as on Kubernetes.
  EXPECT_TRUE(Eventually([&] {
    for (auto& p : Pods("app=app"))
      if (!IsDeleting(p)) return false;
    return true;
  }));
  (*plane)->Stop();
  auto lease = client_->Get(client::resources::kLeases, "kube-system", "kube-scheduler");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(lease->at("spec").at("holderIdentity"), "");  // released on Stop
}

}  // namespace
}  // namespace sampan::controllers
