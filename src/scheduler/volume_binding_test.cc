// Unit tests of the VolumeBinding plugin on fake claims, volumes and classes.
#include "scheduler/volume_binding.h"

#include <gtest/gtest.h>

#include <set>

#include "scheduler/framework.h"
#include "scheduler/plugins.h"
#include "scheduler/preemption.h"
#include "scheduler/test_nodes.h"

namespace sampan::scheduler {
namespace {
namespace json = boost::json;

using testing::Node;

ObjectPtr Ptr(const std::string& text) {
  return std::make_shared<const json::object>(json::parse(text).as_object());
}

class FakeVolumes : public VolumeObjects {
 public:
  ObjectPtr Claim(const std::string& ns, const std::string& name) const override {
    auto it = claims.find(ns + "/" + name);
    return it == claims.end() ? nullptr : it->second;
  }
  ObjectPtr Volume(const std::string& name) const override {
    auto it = volumes.find(name);
    return it == volumes.end() ? nullptr : it->second;
  }
  std::vector<ObjectPtr> Volumes() const override {
    std::vector<ObjectPtr> out;
    for (const auto& [k, v] : volumes) out.push_back(v);
    return out;
  }
  ObjectPtr StorageClass(const std::string& name) const override {
    auto it = classes.find(name);
    return it == classes.end() ? nullptr : it->second;
  }
  std::map<std::string, ObjectPtr> claims, volumes, classes;
};

// A claim in ns "default" of `class_name` ("" = none) asking for `size`; `extra` adds to spec.
ObjectPtr Claim(const std::string& name, const std::string& class_name,
                const std::string& size = "1Gi", const std::string& extra_meta = "",
                const std::string& extra_spec = "", const std::string& phase = "Pending") {
  std::string cls = class_name.empty() ? "" : R"("storageClassName": ")" + class_name + R"(",)";
  return Ptr(R"({"metadata": {"name": ")" + name + R"(", "namespace": "default", "uid": "uid-)" +
             name + R"(", "resourceVersion": "5")" + extra_meta + R"(}, "spec": {)" + cls +
             extra_spec + R"("accessModes": ["ReadWriteOnce"],
             "resources": {"requests": {"storage": ")" +
             size + R"("}}}, "status": {"phase": ")" + phase + R"("}})");
}

// A volume of `class_name` with `size`, Available, whose node affinity (when `node` is set)
// admits only that hostname; `extra_spec` adds to spec (e.g. a claimRef).
ObjectPtr Volume(const std::string& name, const std::string& class_name, const std::string& size,
                 const std::string& node = "", const std::string& extra_spec = "",
                 const std::string& phase = "Available") {
  std::string affinity =
      node.empty() ? ""
                   : R"("nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
          {"key": "kubernetes.io/hostname", "operator": "In", "values": [")" +
                         node + R"("]}]}]}},)";
  return Ptr(R"({"metadata": {"name": ")" + name + R"(", "resourceVersion": "7"},
      "spec": {"storageClassName": ")" +
             class_name + R"(", "capacity": {"storage": ")" + size + R"("},
               "accessModes": ["ReadWriteOnce"], )" +
             affinity + extra_spec + R"("local": {"path": "/mnt/)" + name + R"("}},
      "status": {"phase": ")" +
             phase + R"("}})");
}

ObjectPtr Class(const std::string& name, const std::string& mode,
                const std::string& provisioner = "kubernetes.io/no-provisioner",
                const std::string& extra = "") {
  return Ptr(R"({"metadata": {"name": ")" + name + R"("}, "provisioner": ")" + provisioner +
             R"(", "volumeBindingMode": ")" + mode + R"(")" + extra + "}");
}

// A pod in "default" with persistentVolumeClaim volumes for `claims`.
ObjectPtr PodWithClaims(const std::vector<std::string>& claims) {
  json::array vols;
  for (const std::string& c : claims) {
    vols.push_back(json::object{{"name", "v-" + c},
                                {"persistentVolumeClaim", json::object{{"claimName", c}}}});
  }
  json::object spec{{"containers", json::array{json::object{{"name", "c"}, {"image", "x"}}}},
                    {"volumes", vols}};
  return std::make_shared<const json::object>(json::object{
      {"metadata", json::object{{"name", "p"}, {"namespace", "default"}, {"uid", "pod-uid"}}},
      {"spec", spec}});
}

class VolumeBindingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    objects_ = std::make_shared<FakeVolumes>();
    fw_ = DefaultFramework(objects_);
    for (const char* n : {"n1", "n2", "n3"}) {
      infos_.push_back(std::make_unique<NodeInfo>(Node(n, {{"zone", n[1] == '3' ? "b" : "a"}})));
    }
    for (auto& i : infos_) nodes_.push_back(i.get());
  }
  std::string Message(const ObjectPtr& pod) { return fw_->Schedule(PodInfo(pod), nodes_).message; }
  std::set<std::string> Placements(const ObjectPtr& pod) {
    std::set<std::string> out;
    for (int i = 0; i < 30; ++i) out.insert(fw_->Schedule(PodInfo(pod), nodes_).node);
    return out;
  }
  // The decisions FindPodVolumes makes for `pod` on node `n` (and its reasons).
  std::vector<std::string> Decide(const ObjectPtr& pod, int n, PodVolumes* out) {
    PodVolumeClaims claims;
    std::string why = GetPodVolumeClaims(*pod, *objects_, &claims);
    EXPECT_EQ(why, "");
    return FindPodVolumes(claims, *nodes_[n]->node, out);
  }

  std::shared_ptr<FakeVolumes> objects_;
  std::unique_ptr<Framework> fw_;
  std::vector<std::unique_ptr<NodeInfo>> infos_;
  std::vector<const NodeInfo*> nodes_;
};

TEST_F(VolumeBindingTest, PreFilterNeedsClaimsThatExistAndImmediateOnesBound) {
  // A pod without claims is not this plugin's business.
  EXPECT_EQ(Placements(PodWithClaims({})).size(), 3u);

  EXPECT_EQ(Message(PodWithClaims({"data"})),
            "0/3 nodes are available: persistentvolumeclaim \"data\" not found.");
  objects_->claims["default/data"] =
      Claim("data", "", "1Gi", R"(, "deletionTimestamp": "2024-01-01T00:00:00Z")");
  EXPECT_EQ(Message(PodWithClaims({"data"})),
            "0/3 nodes are available: persistentvolumeclaim \"data\" is being deleted.");
  objects_->claims["default/data"] =
      Claim("data", "", "1Gi", "", R"("volumeName": "gone",)", "Lost");
  EXPECT_EQ(Message(PodWithClaims({"data"})),
            "0/3 nodes are available: persistentvolumeclaim \"data\" bound to non-existent "
            "persistentvolume \"gone\".");

  // Unbound, and the class binds at once (no class, a missing class, an Immediate class).
  const std::string unbound =
      "0/3 nodes are available: pod has unbound immediate "
      "PersistentVolumeClaims.";
  objects_->claims["default/data"] = Claim("data", "");
  EXPECT_EQ(Message(PodWithClaims({"data"})), unbound);
  objects_->claims["default/data"] = Claim("data", "missing");
  EXPECT_EQ(Message(PodWithClaims({"data"})), unbound);
  objects_->classes["fast"] = Class("fast", "Immediate");
  objects_->claims["default/data"] = Claim("data", "fast");
  EXPECT_EQ(Message(PodWithClaims({"data"})), unbound);
  // A WaitForFirstConsumer claim pre-bound to a volume is the binder's to finish.
  objects_->classes["local"] = Class("local", "WaitForFirstConsumer");
  objects_->claims["default/data"] = Claim("data", "local", "1Gi", "", R"("volumeName": "pv1",)");
  EXPECT_EQ(Message(PodWithClaims({"data"})), unbound);
  // Every claim must exist, whichever comes first.
  objects_->claims["default/data"] = Claim("data", "");
  EXPECT_EQ(Message(PodWithClaims({"data", "other"})),
            "0/3 nodes are available: persistentvolumeclaim \"other\" not found.");

  // Preemption cannot help.
  PodInfo pod(PodWithClaims({"data"}));
  auto result = fw_->Schedule(pod, nodes_);
  EXPECT_EQ(Preempt(*fw_, pod, nodes_, result).message,
            "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.");
}

TEST_F(VolumeBindingTest, BoundClaimsGoWhereTheirVolumeIs) {
  // Bound: spec.volumeName and bind-completed (or phase Bound).
  objects_->claims["default/data"] = Claim(
      "data", "local", "1Gi", R"(, "annotations": {"pv.kubernetes.io/bind-completed": "yes"})",
      R"("volumeName": "pv1",)");
  objects_->volumes["pv1"] = Volume("pv1", "local", "1Gi", "n2", "", "Bound");
  EXPECT_EQ(Placements(PodWithClaims({"data"})), (std::set<std::string>{"n2"}));
  objects_->volumes["pv1"] = Volume("pv1", "local", "1Gi", "n9", "", "Bound");
  EXPECT_EQ(Message(PodWithClaims({"data"})),
            "0/3 nodes are available: 3 node(s) had volume node affinity conflict.");
  // Without node affinity the volume goes anywhere.
  objects_->volumes["pv1"] = Volume("pv1", "local", "1Gi", "", "", "Bound");
  EXPECT_EQ(Placements(PodWithClaims({"data"})).size(), 3u);
  objects_->claims["default/data"] =
      Claim("data", "", "1Gi", "", R"("volumeName": "pv-gone",)", "Bound");
  EXPECT_EQ(Message(PodWithClaims({"data"})),
            "0/3 nodes are available: 3 node(s) unavailable due to one or more pvc(s) bound to "
            "non-existent pv(s).");

  PodInfo pod(PodWithClaims({"data"}));
  auto result = fw_->Schedule(pod, nodes_);
  EXPECT_EQ(Preempt(*fw_, pod, nodes_, result).message,
            "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.");
}

TEST_F(VolumeBindingTest, WaitForFirstConsumerClaimsFindAFreeVolumeOnTheNode) {
  objects_->classes["local"] = Class("local", "WaitForFirstConsumer");
  objects_->claims["default/data"] = Claim("data", "local", "5Gi");
  // Too small, another class, already claimed by someone else, not Available yet: no good.
  objects_->volumes["small"] = Volume("small", "local", "1Gi", "n1");
  objects_->volumes["other-class"] = Volume("other-class", "slow", "10Gi", "n1");
  objects_->volumes["taken"] =
      Volume("taken", "local", "10Gi", "n1",
             R"("claimRef": {"namespace": "default", "name": "someone", "uid": "u"},)", "Bound");
  objects_->volumes["pending"] = Volume("pending", "local", "10Gi", "n1", "", "Pending");
  EXPECT_EQ(Message(PodWithClaims({"data"})),
            "0/3 nodes are available: 3 node(s) didn't find available persistent volumes to "
            "bind.");
  objects_->volumes["fits-n3"] = Volume("fits-n3", "local", "10Gi", "n3");
  objects_->volumes["big-n3"] = Volume("big-n3", "local", "100Gi", "n3");
  EXPECT_EQ(Placements(PodWithClaims({"data"})), (std::set<std::string>{"n3"}));
  PodVolumes decisions;
  EXPECT_EQ(Decide(PodWithClaims({"data"}), 2, &decisions), std::vector<std::string>{});
  ASSERT_EQ(decisions.static_bindings.size(), 1u);
  EXPECT_EQ(client::MetaString(*decisions.static_bindings[0].pv, "name"), "fits-n3");  // smallest
  EXPECT_EQ(client::MetaString(*decisions.static_bindings[0].pvc, "name"), "data");
  EXPECT_TRUE(decisions.provisions.empty());
  EXPECT_EQ(Decide(PodWithClaims({"data"}), 0, &decisions),
            std::vector<std::string>{kReasonBindConflict});

  // Two claims take two volumes (the smaller claim first, each volume once).
  objects_->claims["default/logs"] = Claim("logs", "local", "1Gi");
  EXPECT_EQ(Placements(PodWithClaims({"data", "logs"})), (std::set<std::string>{"n3"}));
  EXPECT_EQ(Decide(PodWithClaims({"data", "logs"}), 2, &decisions), std::vector<std::string>{});
  std::set<std::string> chosen;
  for (const auto& b : decisions.static_bindings) {
    chosen.insert(client::MetaString(*b.pvc, "name") + "->" + client::MetaString(*b.pv, "name"));
  }
  EXPECT_EQ(chosen, (std::set<std::string>{"logs->fits-n3", "data->big-n3"}));
  // A third claim finds nothing left there.
  objects_->claims["default/more"] = Claim("more", "local", "1Gi");
  EXPECT_EQ(Message(PodWithClaims({"data", "logs", "more"})),
            "0/3 nodes are available: 3 node(s) didn't find available persistent volumes to "
            "bind.");
  // A volume pre-bound to the claim is its choice.
  objects_->volumes["mine"] =
      Volume("mine", "local", "5Gi", "n1",
             R"("claimRef": {"namespace": "default", "name": "data", "uid": "uid-data"},)");
  // (and only it: a pre-bound volume whose affinity rules a node out leaves none there).
  EXPECT_EQ(Placements(PodWithClaims({"data"})), (std::set<std::string>{"n1"}));
  EXPECT_EQ(Decide(PodWithClaims({"data"}), 0, &decisions), std::vector<std::string>{});
  EXPECT_EQ(client::MetaString(*decisions.static_bindings[0].pv, "name"), "mine");

  // Both kinds of conflict at once are both told.
  objects_->claims["default/bound"] =
      Claim("bound", "", "1Gi", "", R"("volumeName": "pv-n1",)", "Bound");
  objects_->volumes["pv-n1"] = Volume("pv-n1", "", "1Gi", "n1", "", "Bound");
  EXPECT_EQ(Decide(PodWithClaims({"bound", "data", "logs"}), 1, nullptr),
            (std::vector<std::string>{kReasonNodeConflict, kReasonBindConflict}));
}

TEST_F(VolumeBindingTest, WaitForFirstConsumerClaimsOfAProvisioningClass) {
  objects_->classes["dyn"] =
      Class("dyn", "WaitForFirstConsumer", "example.com/provisioner",
            R"(, "allowedTopologies": [{"matchLabelExpressions": [{"key": "zone",
                "values": ["a"]}]}])");
  objects_->claims["default/data"] = Claim("data", "dyn");
  // Provisioned where the class's topology allows.
  EXPECT_EQ(Placements(PodWithClaims({"data"})), (std::set<std::string>{"n1", "n2"}));
  PodVolumes decisions;
  EXPECT_EQ(Decide(PodWithClaims({"data"}), 0, &decisions), std::vector<std::string>{});
  EXPECT_TRUE(decisions.static_bindings.empty());
  ASSERT_EQ(decisions.provisions.size(), 1u);
  EXPECT_EQ(client::MetaString(*decisions.provisions[0], "name"), "data");
  // A free volume of the class wins over provisioning.
  objects_->volumes["pv"] = Volume("pv", "dyn", "1Gi", "n2");
  EXPECT_EQ(Decide(PodWithClaims({"data"}), 1, &decisions), std::vector<std::string>{});
  EXPECT_EQ(decisions.static_bindings.size(), 1u);
  EXPECT_TRUE(decisions.provisions.empty());
  // Once a node was selected for provisioning, only that node.
  objects_->claims["default/data"] = Claim(
      "data", "dyn", "1Gi", R"(, "annotations": {"volume.kubernetes.io/selected-node": "n2"})");
  EXPECT_EQ(Placements(PodWithClaims({"data"})), (std::set<std::string>{"n2"}));
  // no-provisioner (or none) cannot provision.
  objects_->volumes.clear();
  objects_->classes["dyn"] = Class("dyn", "WaitForFirstConsumer");
  objects_->claims["default/data"] = Claim("data", "dyn");
  EXPECT_EQ(Message(PodWithClaims({"data"})),
            "0/3 nodes are available: 3 node(s) didn't find available persistent volumes to "
            "bind.");
  objects_->classes["dyn"] = Class("dyn", "WaitForFirstConsumer", "");
  EXPECT_EQ(Placements(PodWithClaims({"data"})), (std::set<std::string>{""}));
}

TEST(BindVolumeToClaimTest, SetsClaimRefAndBoundByController) {
  ObjectPtr pvc = Claim("data", "local");
  ObjectPtr pv = Volume("pv1", "local", "1Gi");
  bool dirty = false;
  json::object out = BindVolumeToClaim(*pv, *pvc, &dirty);
  EXPECT_TRUE(dirty);
  EXPECT_EQ(json::serialize(out.at("spec").at("claimRef")),
            R"({"kind":"PersistentVolumeClaim","namespace":"default","name":"data",)"
            R"("uid":"uid-data","apiVersion":"v1","resourceVersion":"5"})");
  EXPECT_EQ(out.at("metadata").at("annotations").at(kAnnBoundByController), "yes");
  // Already bound to it: nothing to write.
  BindVolumeToClaim(out, *pvc, &dirty);
  EXPECT_FALSE(dirty);
  // Pre-bound by the user (name only): the uid is filled in, no bound-by-controller.
  ObjectPtr prebound = Volume("pv2", "local", "1Gi", "", R"("claimRef": {"namespace": "default",
      "name": "data"},)");
  out = BindVolumeToClaim(*prebound, *pvc, &dirty);
  EXPECT_TRUE(dirty);
  EXPECT_EQ(out.at("spec").at("claimRef").at("uid"), "uid-data");
  EXPECT_FALSE(out.at("metadata").as_object().contains("annotations"));
}

}  // namespace
}  // namespace sampan::scheduler
