#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/schema.h"
#include "api/strategy.h"

namespace sampan::api {
namespace {

namespace json = boost::json;

const KindInfo& PodKind() {
  const KindInfo* k = BuiltinRegistry().FindKind("", "v1", "Pod");
  SAMPAN_CHECK(k != nullptr);
  return *k;
}

json::object Pod(std::string_view ephemeral) {
  std::string text = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"d"},
    "spec":{"containers":[{"name":"app","image":"busybox"}],
            "initContainers":[{"name":"setup","image":"busybox"}],
            "ephemeralContainers":)" +
                     std::string(ephemeral) + "}}";
  json::object pod = json::parse(text).as_object();
  DefaultObject(PodKind(), pod);
  return pod;
}

std::vector<std::string> Causes(const Status& st) {
  std::vector<std::string> out;
  for (const Cause& c : st.causes()) out.push_back(c.field + ": " + c.message);
  return out;
}

TEST(EphemeralContainersUpdate, AddingIsValid) {
  json::object old = Pod("[]");
  json::object now = Pod(R"([{"name":"dbg","image":"busybox","targetContainerName":"app"}])");
  EXPECT_TRUE(ValidateEphemeralContainersUpdate(PodKind(), now, old).ok());
  json::object more = Pod(
      R"([{"name":"dbg","image":"busybox","targetContainerName":"app"},
          {"name":"dbg2","image":"busybox","targetContainerName":"setup"}])");
  EXPECT_TRUE(ValidateEphemeralContainersUpdate(PodKind(), more, now).ok());
}

TEST(EphemeralContainersUpdate, TargetMustBeAContainerOfThePod) {
  Status st = ValidateEphemeralContainersUpdate(
      PodKind(), Pod(R"([{"name":"dbg","image":"busybox","targetContainerName":"nope"}])"),
      Pod("[]"));
  ASSERT_EQ(st.code(), Code::kInvalid);
  EXPECT_EQ(Causes(st),
            std::vector<std::string>{
                "spec.ephemeralContainers[0].targetContainerName: Not found: \"nope\""});
}

TEST(EphemeralContainersUpdate, ExistingEntriesStayUnchanged) {
  json::object old = Pod(R"([{"name":"dbg","image":"busybox"}])");
  Status changed = ValidateEphemeralContainersUpdate(
      PodKind(), Pod(R"([{"name":"dbg","image":"alpine"}])"), old);
  ASSERT_EQ(changed.code(), Code::kInvalid);
  EXPECT_EQ(Causes(changed),
            std::vector<std::string>{"spec.ephemeralContainers: Forbidden: existing ephemeral "
                                     "containers \"dbg\" may not be changed"});
  Status removed = ValidateEphemeralContainersUpdate(
      PodKind(), Pod(R"([{"name":"other","image":"busybox"}])"), old);
  ASSERT_EQ(removed.code(), Code::kInvalid);
  EXPECT_EQ(Causes(removed),
            std::vector<std::string>{"spec.ephemeralContainers: Forbidden: existing ephemeral "
                                     "containers \"dbg\" may not be removed"});
}

TEST(EphemeralContainersUpdate, EphemeralRulesAndUniqueNames) {
  Status st = ValidateEphemeralContainersUpdate(PodKind(), Pod(R"([{"name":"app","image":"busybox"},
              {"name":"p","image":"busybox","ports":[{"containerPort":80}]}])"),
                                                Pod("[]"));
  ASSERT_EQ(st.code(), Code::kInvalid);
  auto causes = Causes(st);
  ASSERT_EQ(causes.size(), 2u) << st.message();
  EXPECT_EQ(causes[0], "spec.ephemeralContainers[0].name: Duplicate value: \"app\"");
  EXPECT_EQ(causes[1].rfind("spec.ephemeralContainers[1].ports: Forbidden", 0), 0u) << causes[1];
}

}  // namespace
}  // namespace sampan::api
