#include "agent/local_volumes.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/codec.h"

namespace sampan::agent {
namespace {

namespace json = boost::json;

json::object Volume(std::string_view phase = "Released", std::string_view policy = "Delete",
                    std::string_view node = "node-a",
                    std::string_view path = "/var/lib/sampan/storage/pvc-u1_web_data",
                    std::string_view provisioner = "sampan.io/local-path") {
  std::string y = R"(
metadata:
  name: pvc-u1
  annotations: {pv.kubernetes.io/provisioned-by: PROV, volume.kubernetes.io/selected-node: NODE}
spec:
  persistentVolumeReclaimPolicy: POLICY
  hostPath: {path: PATH}
  claimRef: {namespace: web, name: data, uid: u1}
status: {phase: PHASE})";
  for (auto [k, v] : {std::pair<std::string, std::string_view>{"PROV", provisioner},
                      {"NODE", node},
                      {"POLICY", policy},
                      {"PATH", path},
                      {"PHASE", phase}}) {
    y.replace(y.find(k), k.size(), v);
  }
  auto v = api::DecodeYaml(y);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v->as_object();
}

TEST(LocalVolumeToDeleteTest, OnlyReleasedDeleteVolumesOfThisNodeInTheProvisionersForm) {
  EXPECT_EQ(LocalVolumeToDelete(Volume(), "node-a"), "/var/lib/sampan/storage/pvc-u1_web_data");
  EXPECT_EQ(LocalVolumeToDelete(Volume(), "node-b"), "");
  EXPECT_EQ(LocalVolumeToDelete(Volume("Bound"), "node-a"), "");
  EXPECT_EQ(LocalVolumeToDelete(Volume("Released", "Retain"), "node-a"), "");
  EXPECT_EQ(
      LocalVolumeToDelete(Volume("Released", "Delete", "node-a",
                                 "/var/lib/sampan/storage/pvc-u1_web_data", "example.com/other"),
                          "node-a"),
      "");
  // Never a path the provisioner would not have made for this very volume.
  for (const char* bad :
       {"/", "/var/lib", "/var/lib/sampan/storage/pvc-u2_web_data", "relative/pvc-u1_web_data",
        "/var/lib/sampan/storage/pvc-u1_web_data/.."}) {
    EXPECT_EQ(LocalVolumeToDelete(Volume("Released", "Delete", "node-a", bad), "node-a"), "")
        << bad;
  }
}

}  // namespace
}  // namespace sampan::agent
