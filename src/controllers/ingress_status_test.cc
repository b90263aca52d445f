#include "controllers/ingress_status.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <thread>

#include "api/json_util.h"
#include "client/shared_informers.h"
#include "client/test_apiserver.h"

namespace sampan::controllers {
namespace {

namespace json = boost::json;
using client::testing::Eventually;
using Ips = std::vector<std::string>;

class IngressStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
    informers_ = std::make_unique<client::SharedInformers>(client_.get());
    controller_ = std::make_unique<IngressStatusController>(informers_.get());
    informers_->Start();
    ASSERT_TRUE(informers_->WaitForSync(std::chrono::seconds(10)));
    controller_->Run(1);
  }
  void TearDown() override {
    controller_.reset();
    if (informers_) informers_->Stop();
  }
  void Create(const client::Resource& r, const std::string& ns, const std::string& text) {
    auto created = client_->Create(r, ns, json::parse(text).as_object());
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }
  void CreateNode(const std::string& name, const std::string& ip) {
    json::object node =
        json::parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name + R"("}})")
            .as_object();
    auto r = client_->Create(client::resources::kNodes, "", node);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    json::object next = *r;
    next["status"] = json::parse(R"({"addresses":[{"type":"InternalIP","address":")" + ip +
                                 R"("}],"conditions":[{"type":"Ready","status":"True"}]})");
    ASSERT_TRUE(client_->UpdateStatus(client::resources::kNodes, "", next).ok());
  }
  Ips Addresses(const std::string& name) {
    auto r = client_->Get(client::resources::kIngresses, "default", name);
    Ips out;
    if (!r.ok()) return out;
    const json::array* list =
        api::Arr(api::Obj(api::Obj(&*r, "status"), "loadBalancer"), "ingress");
    for (const json::value& v : list ? *list : json::array{}) {
      out.push_back(api::Str(&v.as_object(), "ip"));
    }
    return out;
  }

  client::testing::TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
  std::unique_ptr<client::SharedInformers> informers_;
  std::unique_ptr<IngressStatusController> controller_;
};

constexpr const char* kIngress = R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress",
  "metadata":{"name":"NAME"},"spec":{CLASS"defaultBackend":{"service":{"name":"web",
  "port":{"number":80}}}}})";

std::string IngressJson(const std::string& name, const std::string& cls) {
  std::string s = kIngress;
  s.replace(s.find("NAME"), 4, name);
  s.replace(s.find("CLASS"), 5, cls.empty() ? "" : "\"ingressClassName\":\"" + cls + "\",");
  return s;
}

TEST_F(IngressStatusTest, OurIngressesGetTheNodesAddresses) {
  Create(client::resources::kIngressClasses, "",
         R"({"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":"sampan",
           "annotations":{"ingressclass.kubernetes.io/is-default-class":"true"}},
           "spec":{"controller":"sampan.io/ingress"}})");
  Create(client::resources::kIngressClasses, "",
         R"({"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":"nginx"},
           "spec":{"controller":"k8s.io/ingress-nginx"}})");
  CreateNode("n2", "192.168.8.12");
  Create(client::resources::kIngresses, "default", IngressJson("ours", "sampan"));
  Create(client::resources::kIngresses, "default", IngressJson("theirs", "nginx"));
  EXPECT_TRUE(Eventually([&] { return Addresses("ours") == Ips{"192.168.8.12"}; }));
  CreateNode("n1", "192.168.8.11");
  EXPECT_TRUE(Eventually([&] {
    return Addresses("ours") == (Ips{"192.168.8.11", "192.168.8.12"});
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(Addresses("theirs").empty());  // another controller's
}

}  // namespace
}  // namespace sampan::controllers
