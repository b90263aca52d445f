#include "controllers/local_path_provisioner.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/codec.h"

namespace sampan::controllers {
namespace {

namespace json = boost::json;

json::object Yaml(std::string_view y) {
  auto v = api::DecodeYaml(y);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v->as_object();
}

TEST(LocalPathVolumeTest, IsTheClaimsVolumeOnTheChosenNode) {
  json::object pvc = Yaml(R"(
metadata: {name: data, namespace: web, uid: 1234-abcd}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 2Gi}}
  storageClassName: local-path)");
  json::object sc = Yaml(R"(
metadata: {name: local-path}
provisioner: sampan.io/local-path
volumeBindingMode: WaitForFirstConsumer)");
  json::object pv = LocalPathVolume(pvc, sc, "node-a", "host-a", "/var/lib/sampan/storage/");
  json::object want = Yaml(R"(
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pvc-1234-abcd
  annotations:
    pv.kubernetes.io/provisioned-by: sampan.io/local-path
    volume.kubernetes.io/selected-node: node-a
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Delete
  storageClassName: local-path
  volumeMode: Filesystem
  hostPath: {path: /var/lib/sampan/storage/pvc-1234-abcd_web_data, type: DirectoryOrCreate}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [host-a]}]
  claimRef: {kind: PersistentVolumeClaim, apiVersion: v1, namespace: web, name: data, uid: 1234-abcd})");
  EXPECT_EQ(json::value(pv), json::value(want)) << json::serialize(pv);
}

TEST(LocalPathVolumeTest, TheClassSetsPathReclaimPolicyAndMountOptions) {
  json::object pvc = Yaml(R"(
metadata: {name: d, namespace: ns1, uid: u1}
spec: {accessModes: [ReadWriteOncePod], volumeMode: Block, resources: {requests: {storage: 1Mi}}})");
  json::object sc = Yaml(R"(
metadata: {name: keep}
provisioner: sampan.io/local-path
reclaimPolicy: Retain
mountOptions: [noatime]
parameters: {path: /mnt/disks})");
  json::object pv = LocalPathVolume(pvc, sc, "n1", "n1", "/default");
  const json::object& spec = pv.at("spec").as_object();
  EXPECT_EQ(spec.at("hostPath").at("path"), "/mnt/disks/pvc-u1_ns1_d");
  EXPECT_EQ(spec.at("persistentVolumeReclaimPolicy"), "Retain");
  EXPECT_EQ(spec.at("volumeMode"), "Block");
  EXPECT_EQ(spec.at("mountOptions"), json::array{"noatime"});
  EXPECT_EQ(spec.at("storageClassName"), "keep");
}

}  // namespace
}  // namespace sampan::controllers
