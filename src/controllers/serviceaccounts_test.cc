#include "controllers/serviceaccounts.h"

#include <gtest/gtest.h>

#include "client/shared_informers.h"
#include "client/test_apiserver.h"

namespace sampan::controllers {
namespace {
namespace json = boost::json;
using client::testing::Eventually;
namespace res = client::resources;

constexpr const char* kPem = "-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n";

class ServiceAccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }
  void CreateNamespace(const std::string& name) {
    json::object ns{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
    ASSERT_TRUE(client_->Create(res::kNamespaces, "", ns).ok());
  }
  // The ca.crt of kube-root-ca.crt in `ns`; "" while there is none.
  std::string RootCa(const std::string& ns) {
    auto cm = client_->Get(res::kConfigMaps, ns, "kube-root-ca.crt");
    if (!cm.ok()) return "";
    const json::value* data = cm->if_contains("data");
    if (!data || !data->is_object()) return "";
    const json::value* ca = data->as_object().if_contains("ca.crt");
    return ca && ca->is_string() ? std::string(ca->as_string()) : "";
  }

  client::testing::TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
};

TEST_F(ServiceAccountsTest, PublishesRecreatesAndRepairsRootCaConfigMap) {
  CreateNamespace("team");
  client::SharedInformers informers(client_.get());
  ServiceAccountsController sac(&informers, kPem);
  informers.Start();
  sac.Run(1);
  // Every namespace, existing or new, gets the default ServiceAccount and the CA ConfigMap.
  CreateNamespace("later");
  EXPECT_TRUE(Eventually([&] {
    return RootCa("team") == kPem && RootCa("later") == kPem && RootCa("default") == kPem &&
           client_->Get(res::kServiceAccounts, "team", "default").ok();
  }));
  // Deleted: created again.
  ASSERT_TRUE(client_->Delete(res::kConfigMaps, "team", "kube-root-ca.crt").ok());
  EXPECT_TRUE(Eventually([&] { return RootCa("team") == kPem; }));
  // Edited: put back.
  auto cm = client_->Get(res::kConfigMaps, "later", "kube-root-ca.crt");
  ASSERT_TRUE(cm.ok()) << cm.status().ToString();
  json::object edited = *cm;
  edited["data"] = json::object{{"ca.crt", "tampered"}, {"extra", "x"}};
  ASSERT_TRUE(client_->Update(res::kConfigMaps, "later", edited).ok());
  EXPECT_TRUE(Eventually([&] {
    auto now = client_->Get(res::kConfigMaps, "later", "kube-root-ca.crt");
    return now.ok() && now->at("data").as_object() == json::object{{"ca.crt", kPem}};
  }));
  // Other ConfigMaps are none of its business: left exactly as written.
  json::object other{{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata", {{"name", "app-config"}}},
                     {"data", {{"ca.crt", "mine"}}}};
  ASSERT_TRUE(client_->Create(res::kConfigMaps, "team", other).ok());
  ASSERT_TRUE(client_->Delete(res::kConfigMaps, "team", "kube-root-ca.crt").ok());
  EXPECT_TRUE(Eventually([&] { return RootCa("team") == kPem; }));
  auto mine = client_->Get(res::kConfigMaps, "team", "app-config");
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(mine->at("data").as_object(), (json::object{{"ca.crt", "mine"}}));
  sac.Stop();
  informers.Stop();
}

TEST_F(ServiceAccountsTest, WithoutCaPublishesNoConfigMap) {
  CreateNamespace("team");
  client::SharedInformers informers(client_.get());
  ServiceAccountsController sac(&informers, "");
  informers.Start();
  sac.Run(1);
  EXPECT_TRUE(
      Eventually([&] { return client_->Get(res::kServiceAccounts, "team", "default").ok(); }));
  EXPECT_EQ(client_->Get(res::kConfigMaps, "team", "kube-root-ca.crt").status().code(),
            Code::kNotFound);
  sac.Stop();
  informers.Stop();
}

}  // namespace
}  // namespace sampan::controllers
