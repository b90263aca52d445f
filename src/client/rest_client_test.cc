#include "client/rest_client.h"

#include <gtest/gtest.h>

#include <fstream>

#include "client/informer.h"
#include "client/test_apiserver.h"
#include "client/transport.h"

namespace sampan::client {
namespace {
namespace json = boost::json;

json::object ConfigMap(const std::string& name, const std::string& value) {
  return json::object{{"apiVersion", "v1"},
                      {"kind", "ConfigMap"},
                      {"metadata", json::object{{"name", name}, {"labels", {{"app", "x"}}}}},
                      {"data", json::object{{"k", value}}}};
}

class RestClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }
  testing::TestApiServer server_;
  std::unique_ptr<RestClient> client_;
};

TEST(ParseServerUrlTest, Forms) {
  auto ep = internal::ParseServerUrl("https://10.0.0.1:6443");
  ASSERT_TRUE(ep.ok());
  EXPECT_TRUE(ep->tls);
  EXPECT_EQ(ep->host, "10.0.0.1");
  EXPECT_EQ(ep->port, "6443");
  ep = internal::ParseServerUrl("http://[::1]:8080/prefix/");
  ASSERT_TRUE(ep.ok());
  EXPECT_FALSE(ep->tls);
  EXPECT_EQ(ep->host, "::1");
  EXPECT_EQ(ep->port, "8080");
  EXPECT_EQ(ep->base_path, "/prefix");
  ep = internal::ParseServerUrl("https://example.com");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->port, "443");
  EXPECT_FALSE(internal::ParseServerUrl("ftp://x").ok());
}

TEST(ResourceTest, Paths) {
  EXPECT_EQ(resources::kPods.Path("default", "p", "binding"),
            "/api/v1/namespaces/default/pods/p/binding");
  EXPECT_EQ(resources::kPods.Path(""), "/api/v1/pods");
  EXPECT_EQ(resources::kNodes.Path("ignored", "n1"), "/api/v1/nodes/n1");
  EXPECT_EQ(resources::kDeployments.Path("ns"), "/apis/apps/v1/namespaces/ns/deployments");
  EXPECT_EQ(resources::Find("deployments.apps"), &resources::kDeployments);
  EXPECT_EQ(resources::Find("leases"), &resources::kLeases);
  EXPECT_EQ(resources::Find("nope"), nullptr);
}

TEST(StatusFromResponseTest, MapsReasons) {
  Status st = StatusFromResponse(
      404,
      R"({"kind":"Status","status":"Failure","reason":"NotFound","message":"pods \"x\" not found","code":404})");
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_EQ(st.message(), "pods \"x\" not found");
  st = StatusFromResponse(
      422,
      R"({"kind":"Status","reason":"Invalid","message":"bad","details":{"causes":[{"reason":"FieldValueRequired","field":"spec.x","message":"Required value"}]}})");
  EXPECT_EQ(st.code(), Code::kInvalid);
  ASSERT_EQ(st.causes().size(), 1u);
  EXPECT_EQ(st.causes()[0].field, "spec.x");
  EXPECT_EQ(
      StatusFromResponse(410, R"({"kind":"Status","reason":"Expired","message":"too old"})").code(),
      Code::kGone);
  EXPECT_EQ(StatusFromResponse(503, "upstream down").code(), Code::kUnavailable);
}

TEST(KubeconfigTest, ReadsFilesRelativeToIt) {
  char tmpl[] = "/tmp/sampan-kc-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::ofstream(dir + "/ca.crt") << "CA-PEM";
  std::ofstream(dir + "/token") << "secret-token\n";
  std::ofstream(dir + "/kc.yaml") << R"(apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: {server: "https://wrong:1"}
- name: c1
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: ca.crt
users:
- name: u1
  user:
    tokenFile: token
contexts:
- name: ctx
  context: {cluster: c1, user: u1}
current-context: ctx
)";
  auto cfg = LoadKubeconfig(dir + "/kc.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->server, "https://127.0.0.1:6443");
  EXPECT_EQ(cfg->ca_pem, "CA-PEM");
  EXPECT_EQ(cfg->bearer_token, "secret-token");
  EXPECT_FALSE(LoadKubeconfig(dir + "/missing.yaml").ok());
  std::filesystem::remove_all(dir);
}

TEST(Base64Test, Decodes) {
  EXPECT_EQ(*DecodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(*DecodeBase64("aGVs\nbG8"), "hello");
  EXPECT_FALSE(DecodeBase64("a*b").ok());
}

TEST_F(RestClientTest, CrudAndErrors) {
  auto created = client_->Create(resources::kConfigMaps, "default", ConfigMap("cm1", "v1"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_FALSE(MetaString(*created, "uid").empty());

  auto dup = client_->Create(resources::kConfigMaps, "default", ConfigMap("cm1", "v1"));
  EXPECT_EQ(dup.status().code(), Code::kAlreadyExists);

  auto got = client_->Get(resources::kConfigMaps, "default", "cm1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->at("data").at("k"), "v1");

  // Update with the current resourceVersion succeeds; a second one with the stale one conflicts.
  json::object upd = *got;
  upd["data"].as_object()["k"] = "v2";
  auto updated = client_->Update(resources::kConfigMaps, "default", upd);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(client_->Update(resources::kConfigMaps, "default", upd).status().code(),
            Code::kConflict);

  // Patches of all three kinds.
  auto merged = client_->Patch(resources::kConfigMaps, "default", "cm1", PatchType::kMerge,
                               json::parse(R"({"data":{"m":"1"}})"));
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(merged->at("data").at("m"), "1");
  auto smp = client_->Patch(resources::kConfigMaps, "default", "cm1", PatchType::kStrategicMerge,
                            json::parse(R"({"metadata":{"labels":{"s":"2"}}})"));
  ASSERT_TRUE(smp.ok()) << smp.status().ToString();
  EXPECT_EQ(smp->at("metadata").at("labels").at("s"), "2");
  auto jp = client_->Patch(resources::kConfigMaps, "default", "cm1", PatchType::kJson,
                           json::parse(R"([{"op":"replace","path":"/data/k","value":"v3"}])"));
  ASSERT_TRUE(jp.ok()) << jp.status().ToString();
  EXPECT_EQ(jp->at("data").at("k"), "v3");

  EXPECT_TRUE(client_->Delete(resources::kConfigMaps, "default", "cm1").ok());
  auto missing = client_->Get(resources::kConfigMaps, "default", "cm1");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("not found"), std::string::npos);
  EXPECT_EQ(client_->Delete(resources::kConfigMaps, "default", "cm1").code(), Code::kNotFound);
}

TEST_F(RestClientTest, ListPagesAndSelectors) {
  for (int i = 0; i < 7; ++i) {
    auto cm = ConfigMap("page-" + std::to_string(i), "x");
    if (i % 2) cm["metadata"].as_object()["labels"].as_object()["odd"] = "yes";
    ASSERT_TRUE(client_->Create(resources::kConfigMaps, "default", cm).ok());
  }
  ListOptions o;
  o.limit = 2;
  auto page = client_->List(resources::kConfigMaps, "default", o);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->at("items").as_array().size(), 2u);
  EXPECT_FALSE(page->at("metadata").at("continue").as_string().empty());

  auto all = client_->ListAll(resources::kConfigMaps, "default", o);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->at("items").as_array().size(), 7u);
  EXPECT_FALSE(all->at("metadata").as_object().contains("continue"));

  o.limit = 0;
  o.label_selector = "odd=yes";
  all = client_->ListAll(resources::kConfigMaps, "default", o);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->at("items").as_array().size(), 3u);

  o.label_selector = "bad selector ===";
  EXPECT_EQ(client_->List(resources::kConfigMaps, "default", o).status().code(), Code::kBadRequest);
}

// Paging through a list that a label selector narrows.
TEST_F(RestClientTest, ListPagesWithSelector) {
  for (int i = 0; i < 5; ++i) {
    auto cm = ConfigMap("sel-" + std::to_string(i), "x");
    ASSERT_TRUE(client_->Create(resources::kConfigMaps, "default", cm).ok());
  }
  ListOptions o;
  o.limit = 2;
  o.label_selector = "app=x";
  auto all = client_->ListAll(resources::kConfigMaps, "default", o);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->at("items").as_array().size(), 5u);
}

TEST_F(RestClientTest, WatchSeesChangesAndCancel) {
  auto list = client_->List(resources::kConfigMaps, "default", {});
  ASSERT_TRUE(list.ok());
  ListOptions o;
  o.resource_version = list->at("metadata").at("resourceVersion").as_string().c_str();
  auto w = client_->Watch(resources::kConfigMaps, "default", o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE(client_->Create(resources::kConfigMaps, "default", ConfigMap("w1", "a")).ok());
  ASSERT_TRUE(client_->Delete(resources::kConfigMaps, "default", "w1").ok());
  std::vector<std::string> types;
  while (types.size() < 2) {
    WatchEvent ev;
    auto more = (*w)->Next(&ev);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    ASSERT_TRUE(*more);
    if (ev.type == "BOOKMARK") continue;
    EXPECT_EQ(ev.object.at("metadata").at("name"), "w1");
    types.push_back(ev.type);
  }
  EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "DELETED"}));
  // Cancel from another thread unblocks a waiting Next().
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (*w)->Cancel();
  });
  WatchEvent ev;
  auto more = (*w)->Next(&ev);
  canceller.join();
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
}

TEST_F(RestClientTest, SubresourcesBindingAndStatus) {
  json::object node{{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "n1"}}}};
  ASSERT_TRUE(client_->Create(resources::kNodes, "", node).ok());
  json::object pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1"},
      "spec":{"containers":[{"name":"c","image":"busybox"}]}})")
                         .as_object();
  ASSERT_TRUE(client_->Create(resources::kPods, "default", pod).ok());
  json::object binding{{"apiVersion", "v1"},
                       {"kind", "Binding"},
                       {"metadata", {{"name", "p1"}}},
                       {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", "n1"}}}};
  auto bound = client_->CreateSubresource(resources::kPods, "default", "p1", "binding", binding);
  ASSERT_TRUE(bound.ok()) << bound.status().ToString();
  auto got = client_->Get(resources::kPods, "default", "p1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->at("spec").at("nodeName"), "n1");
  // Binding twice is a conflict.
  EXPECT_EQ(client_->CreateSubresource(resources::kPods, "default", "p1", "binding", binding)
                .status()
                .code(),
            Code::kConflict);
  // Status subresource.
  auto st = client_->Patch(resources::kPods, "default", "p1", PatchType::kMerge,
                           json::parse(R"({"status":{"phase":"Running"}})"), "status");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->at("status").at("phase"), "Running");
}

}  // namespace
}  // namespace sampan::client
