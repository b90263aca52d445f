// Fixture shared by the Endpoints and EndpointSlice controller tests: an in-process API
// server, shared informers, and helpers that write Services, Pods (with their status) and
// Nodes and wait until the informers have seen each write, so that a test can call a
// controller's Sync() directly and know what it sees.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>

#include "api/json_util.h"
#include "client/shared_informers.h"
#include "client/test_apiserver.h"
#include "controllers/util.h"

namespace sampan::controllers::testing {

namespace json = boost::json;
namespace res = client::resources;
using client::testing::Eventually;

class EndpointsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start_status().ok()) << server_.start_status().ToString();
    auto c = server_.NewClient();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
    informers_ = std::make_unique<client::SharedInformers>(client_.get());
  }
  void TearDown() override {
    if (informers_) informers_->Stop();
  }
  void StartInformers() {
    informers_->Start();
    ASSERT_TRUE(informers_->WaitForSync(std::chrono::seconds(10)));
  }

  // Waits until the informer of `r` holds `obj` at its resourceVersion (or a later one).
  void WaitSeen(const client::Resource& r, const json::object& obj) {
    client::Informer* inf = informers_->For(r);
    std::string key = client::KeyOf(obj);
    int64_t rv = std::stoll(client::MetaString(obj, "resourceVersion"));
    ASSERT_TRUE(Eventually([&] {
      client::ObjectPtr o = inf->Get(key);
      return o && std::stoll(client::MetaString(*o, "resourceVersion")) >= rv;
    })) << key;
  }
  void WaitGone(const client::Resource& r, const std::string& key) {
    client::Informer* inf = informers_->For(r);
    ASSERT_TRUE(Eventually([&] { return inf->Get(key) == nullptr; })) << key;
  }

  // A Service in "default". `selector` null = none.
  json::object CreateService(const std::string& name, json::value selector, json::array ports,
                             json::object extra_spec = {}, json::object labels = {}) {
    json::object spec = std::move(extra_spec);
    if (!selector.is_null()) spec["selector"] = std::move(selector);
    if (!ports.empty()) spec["ports"] = std::move(ports);
    json::object meta{{"name", name}};
    if (!labels.empty()) meta["labels"] = std::move(labels);
    json::object svc{{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", meta}, {"spec", spec}};
    auto r = client_->Create(res::kServices, "default", svc);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    WaitSeen(res::kServices, *r);
    return *r;
  }

  struct PodSpec {
    json::object labels{{"app", "web"}};
    std::string node = "node-a";
    json::array container_ports;  // [{name, containerPort, protocol}]
    std::string hostname, subdomain;
  };
  json::object CreatePod(const std::string& name, const PodSpec& p) {
    json::object container{{"name", "c"}, {"image", "busybox"}};
    if (!p.container_ports.empty()) container["ports"] = p.container_ports;
    json::object spec{{"containers", json::array{container}}};
    if (!p.node.empty()) spec["nodeName"] = p.node;
    if (!p.hostname.empty()) spec["hostname"] = p.hostname;
    if (!p.subdomain.empty()) spec["subdomain"] = p.subdomain;
    json::object meta{{"name", name}};
    if (!p.labels.empty()) meta["labels"] = p.labels;
    json::object pod{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", spec}};
    auto r = client_->Create(res::kPods, "default", pod);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    WaitSeen(res::kPods, *r);
    return *r;
  }
  // Sets the pod's IP, phase and Ready condition, as a kubelet would.
  json::object SetPodStatus(const std::string& name, const std::string& ip, bool ready,
                            const std::string& phase = "Running",
                            const std::string& since = "2026-01-01T00:00:00Z") {
    json::object status{{"phase", phase}};
    if (!ip.empty()) {
      status["podIP"] = ip;
      status["podIPs"] = json::array{json::object{{"ip", ip}}};
    }
    status["conditions"] = json::array{json::object{
        {"type", "Ready"}, {"status", ready ? "True" : "False"}, {"lastTransitionTime", since}}};
    auto r = client_->Patch(res::kPods, "default", name, client::PatchType::kMerge,
                            json::object{{"status", status}}, "status");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    WaitSeen(res::kPods, *r);
    return *r;
  }
  json::object LabelPod(const std::string& name, json::value labels) {
    auto r = client_->Patch(res::kPods, "default", name, client::PatchType::kMerge,
                            json::object{{"metadata", json::object{{"labels", labels}}}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    WaitSeen(res::kPods, *r);
    return *r;
  }
  // Deletes a pod bound to a node: it stays, terminating (no kubelet finishes it).
  void DeletePodGracefully(const std::string& name) {
    ASSERT_TRUE(client_->Delete(res::kPods, "default", name).ok());
    client::Informer* inf = informers_->For(res::kPods);
    ASSERT_TRUE(Eventually([&] {
      client::ObjectPtr p = inf->Get("default/" + name);
      return p && !client::MetaString(*p, "deletionTimestamp").empty();
    }));
  }
  void AddNode(const std::string& name, const std::string& zone = "") {
    json::object meta{{"name", name}};
    if (!zone.empty()) meta["labels"] = json::object{{"topology.kubernetes.io/zone", zone}};
    json::object node{{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", meta}};
    auto r = client_->Create(res::kNodes, "", node);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    WaitSeen(res::kNodes, *r);
  }
  // The live object, or an empty object when it does not exist.
  json::object Live(const client::Resource& r, const std::string& name) {
    auto o = client_->Get(r, "default", name);
    return o.ok() ? *o : json::object();
  }

  client::testing::TestApiServer server_;
  std::unique_ptr<client::RestClient> client_;
  std::unique_ptr<client::SharedInformers> informers_;
};

// EndpointsFixture with one controller of type C (constructed from the informers and an event
// recorder named `component`).
template <typename C>
class ControllerFixture : public EndpointsFixture {
 protected:
  explicit ControllerFixture(const char* component) : component_(component) {}
  void SetUp() override {
    EndpointsFixture::SetUp();
    recorder_ = std::make_unique<client::EventRecorder>(client_.get(), component_);
    controller_ = std::make_unique<C>(informers_.get(), recorder_.get());
  }
  void TearDown() override {
    controller_.reset();
    EndpointsFixture::TearDown();
  }
  // Syncs until the controller's caches are current enough for it to act (a sync right after
  // one of its own writes is refused until its informer has the result).
  void SyncOk(const std::string& name) {
    Status last;
    EXPECT_TRUE(Eventually([&] {
      last = controller_->Sync("default/" + name);
      return last.ok();
    })) << last.ToString();
  }

  const char* component_;
  std::unique_ptr<client::EventRecorder> recorder_;
  std::unique_ptr<C> controller_;
};

// A container port named "http".
inline const json::object kHttpPort{{"name", "http"}, {"containerPort", 8080}, {"protocol", "TCP"}};

}  // namespace sampan::controllers::testing
