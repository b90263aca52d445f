#include "apiserver/priority_admission.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json.hpp>
#include <future>
#include <optional>
#include <thread>

#include "apiserver/namespace_controller.h"
#include "apiserver/rest.h"
#include "apiserver/rest_test_fixture.h"

namespace sampan::apiserver {
namespace {

namespace json = boost::json;

class PriorityAdmissionTest : public RestFixture {
 protected:
  void SetUp() override {
    RestFixture::SetUp();
    ASSERT_TRUE(Run(EnsureSystemPriorityClasses(*rest_)).ok());
  }
  const api::KindInfo& PcKind() {
    return *api::BuiltinRegistry().FindKind("scheduling.k8s.io", "v1", "PriorityClass");
  }
  const api::KindInfo& PodKind() { return *api::BuiltinRegistry().FindKind("", "v1", "Pod"); }
  Result<ObjectPtr> CreatePc(std::string name, int64_t value, bool global_default = false,
                             const char* policy = nullptr) {
    json::object o{{"apiVersion", "scheduling.k8s.io/v1"},
                   {"kind", "PriorityClass"},
                   {"metadata", json::object{{"name", name}}},
                   {"value", value}};
    if (global_default) o["globalDefault"] = true;
    if (policy) o["preemptionPolicy"] = policy;
    return Run(rest_->Create(PcKind(), "", json::value(std::move(o)), WriteOptions{}));
  }
  // A pod in "default" with `spec_extra` merged into its spec.
  Result<ObjectPtr> CreatePod(std::string name, json::object spec_extra = {}) {
    json::object spec{
        {"containers", json::array{json::object{{"name", "c"}, {"image", "busybox"}}}}};
    for (auto& kv : spec_extra) spec[kv.key()] = kv.value();
    json::object o{{"apiVersion", "v1"},
                   {"kind", "Pod"},
                   {"metadata", json::object{{"name", name}}},
                   {"spec", std::move(spec)}};
    return Run(rest_->Create(PodKind(), "default", json::value(std::move(o)), WriteOptions{}));
  }
  static const json::object& Spec(const ObjectPtr& p) { return p->obj.at("spec").as_object(); }
};

TEST_F(PriorityAdmissionTest, BuiltinClassesExistAndAreIdempotent) {
  auto node = rest_->Get(PcKind(), "", "system-node-critical");
  ASSERT_TRUE(node.ok());
  EXPECT_EQ((*node)->obj.at("value").as_int64(), 2000001000);
  EXPECT_EQ((*node)->obj.at("preemptionPolicy"), "PreemptLowerPriority");
  auto cluster = rest_->Get(PcKind(), "", "system-cluster-critical");
  ASSERT_TRUE(cluster.ok());
  EXPECT_EQ((*cluster)->obj.at("value").as_int64(), 2000000000);
  EXPECT_TRUE(Run(EnsureSystemPriorityClasses(*rest_)).ok());
}

TEST_F(PriorityAdmissionTest, PodWithoutClassGetsZero) {
  auto pod = CreatePod("p");
  ASSERT_TRUE(pod.ok()) << pod.status().ToString();
  EXPECT_EQ(Spec(*pod).at("priority").as_int64(), 0);
  EXPECT_EQ(Spec(*pod).at("preemptionPolicy"), "PreemptLowerPriority");
  EXPECT_FALSE(Spec(*pod).contains("priorityClassName"));
}

TEST_F(PriorityAdmissionTest, ClassNameResolves) {
  ASSERT_TRUE(CreatePc("high", 1000).ok());
  ASSERT_TRUE(CreatePc("polite", 500, false, "Never").ok());
  auto pod = CreatePod("p", {{"priorityClassName", "high"}});
  ASSERT_TRUE(pod.ok()) << pod.status().ToString();
  EXPECT_EQ(Spec(*pod).at("priority").as_int64(), 1000);
  EXPECT_EQ(Spec(*pod).at("preemptionPolicy"), "PreemptLowerPriority");
  auto polite = CreatePod("q", {{"priorityClassName", "polite"}});
  ASSERT_TRUE(polite.ok()) << polite.status().ToString();
  EXPECT_EQ(Spec(*polite).at("priority").as_int64(), 500);
  EXPECT_EQ(Spec(*polite).at("preemptionPolicy"), "Never");
  auto crit = CreatePod("r", {{"priorityClassName", "system-node-critical"}});
  ASSERT_TRUE(crit.ok());
  EXPECT_EQ(Spec(*crit).at("priority").as_int64(), 2000001000);
  // The same priority as the class is accepted.
  EXPECT_TRUE(CreatePod("s", {{"priorityClassName", "high"}, {"priority", 1000}}).ok());
}

TEST_F(PriorityAdmissionTest, MissingClassIsForbidden) {
  auto pod = CreatePod("p", {{"priorityClassName", "nope"}});
  ASSERT_EQ(pod.status().code(), Code::kForbidden);
  EXPECT_EQ(pod.status().message(),
            "pods \"p\" is forbidden: no PriorityClass with name nope was found");
}

TEST_F(PriorityAdmissionTest, DisagreeingPriorityOrPolicyIsForbidden) {
  ASSERT_TRUE(CreatePc("high", 1000).ok());
  auto pod = CreatePod("p", {{"priorityClassName", "high"}, {"priority", 5}});
  ASSERT_EQ(pod.status().code(), Code::kForbidden);
  EXPECT_EQ(pod.status().message(),
            "pods \"p\" is forbidden: the integer value of priority (5) must not be provided in "
            "pod spec; priority admission controller computed 1000 from the given PriorityClass "
            "name");
  auto bare = CreatePod("q", {{"priority", 7}});
  EXPECT_EQ(bare.status().code(), Code::kForbidden);
  auto policy = CreatePod("r", {{"priorityClassName", "high"}, {"preemptionPolicy", "Never"}});
  ASSERT_EQ(policy.status().code(), Code::kForbidden);
  EXPECT_NE(policy.status().message().find("the string value of PreemptionPolicy (Never)"),
            std::string::npos);
}

TEST_F(PriorityAdmissionTest, GlobalDefaultAppliesAndIsUnique) {
  ASSERT_TRUE(CreatePc("base", 100, true, "Never").ok());
  auto pod = CreatePod("p");
  ASSERT_TRUE(pod.ok()) << pod.status().ToString();
  EXPECT_EQ(Spec(*pod).at("priorityClassName"), "base");
  EXPECT_EQ(Spec(*pod).at("priority").as_int64(), 100);
  EXPECT_EQ(Spec(*pod).at("preemptionPolicy"), "Never");
  auto second = CreatePc("other", 7, true);
  ASSERT_EQ(second.status().code(), Code::kForbidden);
  EXPECT_EQ(second.status().message(),
            "priorityclasses.scheduling.k8s.io \"other\" is forbidden: PriorityClass base is "
            "already marked as default. Only one default can exist");
  // Marking another class default by update is refused too; the default itself may be updated.
  ASSERT_TRUE(CreatePc("other", 7).ok());
  auto mark = Run(rest_->Mutate(
      PcKind(), "", "other",
      [](json::object& o) {
        o["globalDefault"] = true;
        return Status::Ok();
      },
      WriteOptions{}));
  EXPECT_EQ(mark.status().code(), Code::kForbidden);
  auto describe = Run(rest_->Mutate(
      PcKind(), "", "base",
      [](json::object& o) {
        o["description"] = "the default";
        return Status::Ok();
      },
      WriteOptions{}));
  EXPECT_TRUE(describe.ok()) << describe.status().ToString();
}

}  // namespace
}  // namespace sampan::apiserver
