#include "controllers/persistentvolume_binder.h"

#include <gtest/gtest.h>

#include "controllers/endpoints_test_util.h"
#include "controllers/volume_protection.h"

namespace sampan::controllers {
namespace {
namespace json = boost::json;
using testing::ControllerFixture;
using testing::Eventually;
namespace res = client::resources;

json::object Parse(const std::string& text) { return json::parse(text).as_object(); }

const json::object* At(const json::object& o, std::initializer_list<std::string_view> path) {
  const json::object* cur = &o;
  for (std::string_view k : path) {
    const json::value* v = cur->if_contains(k);
    if (!v || !v->is_object()) return nullptr;
    cur = &v->as_object();
  }
  return cur;
}
std::string S(const json::object& o, std::initializer_list<std::string_view> path,
              std::string_view key) {
  return api::Str(At(o, path), key);
}

class PvFixture : public ControllerFixture<PersistentVolumeBinderController> {
 protected:
  PvFixture() : ControllerFixture("persistentvolume-controller") {}

  const client::Resource& Pvs() { return client::resources::kPersistentVolumes; }
  const client::Resource& Pvcs() { return client::resources::kPersistentVolumeClaims; }

  // A hostPath volume; `extra` is merged into spec, `meta` into metadata.
  json::object CreatePv(const std::string& name, const std::string& capacity,
                        json::object extra = {}, json::object meta = {}) {
    json::object spec{{"capacity", json::object{{"storage", capacity}}},
                      {"accessModes", json::array{"ReadWriteOnce"}},
                      {"hostPath", json::object{{"path", "/data/" + name}}}};
    if (extra.contains("local") || extra.contains("csi")) spec.erase("hostPath");
    for (auto& kv : extra) spec[kv.key()] = kv.value();
    meta["name"] = name;
    json::object pv{{"apiVersion", "v1"},
                    {"kind", "PersistentVolume"},
                    {"metadata", std::move(meta)},
                    {"spec", std::move(spec)}};
    auto r = client_->Create(Pvs(), "", pv);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    WaitSeen(Pvs(), *r);
    return *r;
  }
  json::object CreatePvc(const std::string& name, const std::string& request,
                         json::object extra = {}, json::object meta = {}) {
    json::object spec{
        {"accessModes", json::array{"ReadWriteOnce"}},
        {"resources", json::object{{"requests", json::object{{"storage", request}}}}}};
    for (auto& kv : extra) spec[kv.key()] = kv.value();
    meta["name"] = name;
    json::object pvc{{"apiVersion", "v1"},
                     {"kind", "PersistentVolumeClaim"},
                     {"metadata", std::move(meta)},
                     {"spec", std::move(spec)}};
    auto r = client_->Create(Pvcs(), "default", pvc);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    WaitSeen(Pvcs(), *r);
    return *r;
  }
  void CreateClass(const std::string& name, const std::string& provisioner,
                   const std::string& mode = "Immediate") {
    json::object sc{{"apiVersion", "storage.k8s.io/v1"},
                    {"kind", "StorageClass"},
                    {"metadata", json::object{{"name", name}}},
                    {"provisioner", provisioner},
                    {"volumeBindingMode", mode}};
    auto r = client_->Create(client::resources::kStorageClasses, "", sc);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    WaitSeen(client::resources::kStorageClasses, *r);
  }
  void CreateNode(const std::string& name) {
    json::object node{
        {"apiVersion", "v1"},
        {"kind", "Node"},
        {"metadata",
         json::object{{"name", name}, {"labels", json::object{{"kubernetes.io/hostname", name}}}}}};
    auto r = client_->Create(res::kNodes, "", node);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    WaitSeen(res::kNodes, *r);
  }
  json::object Pv(const std::string& name) {
    auto o = client_->Get(Pvs(), "", name);
    return o.ok() ? *o : json::object();
  }
  json::object Pvc(const std::string& name) {
    auto o = client_->Get(Pvcs(), "default", name);
    return o.ok() ? *o : json::object();
  }
  std::string PvPhase(const std::string& name) { return S(Pv(name), {"status"}, "phase"); }
  std::string PvcPhase(const std::string& name) { return S(Pvc(name), {"status"}, "phase"); }

  // Syncs the claims ("ns/name") and volumes ("name") until `done` holds.
  template <typename Pred>
  bool Converge(std::vector<std::string> keys, Pred done) {
    return Eventually([&] {
      for (const std::string& k : keys) (void)controller_->Sync(k);
      return done();
    });
  }

  // The events about `name` with `reason`, as "Type|message|count".
  std::vector<std::string> Events(const std::string& name, const std::string& reason) {
    std::vector<std::string> out;
    auto list = client_->List(res::kEvents, "", {});
    if (!list.ok()) return out;
    for (const json::value& e : list->at("items").as_array()) {
      const json::object& ev = e.as_object();
      if (S(ev, {"involvedObject"}, "name") != name || api::Str(&ev, "reason") != reason) continue;
      out.push_back(api::Str(&ev, "type") + "|" + api::Str(&ev, "message"));
    }
    return out;
  }
  bool HasEvent(const std::string& name, const std::string& reason, const std::string& type,
                const std::string& message) {
    return Eventually([&] {
      for (const std::string& e : Events(name, reason))
        if (e == type + "|" + message) return true;
      return false;
    });
  }
};

TEST_F(PvFixture, StaticBindingSetsBothSides) {
  StartInformers();
  CreatePv("pv1", "1Gi", Parse(R"({"persistentVolumeReclaimPolicy":"Retain"})"));
  ASSERT_TRUE(Converge({"pv1"}, [&] { return PvPhase("pv1") == "Available"; }));
  json::object claim = CreatePvc("c1", "500Mi");
  ASSERT_TRUE(Converge({"default/c1", "pv1"},
                       [&] { return PvcPhase("c1") == "Bound" && PvPhase("pv1") == "Bound"; }));
  json::object pv = Pv("pv1"), pvc = Pvc("c1");
  const json::object* ref = At(pv, {"spec", "claimRef"});
  ASSERT_TRUE(ref);
  EXPECT_EQ(api::Str(ref, "kind"), "PersistentVolumeClaim");
  EXPECT_EQ(api::Str(ref, "apiVersion"), "v1");
  EXPECT_EQ(api::Str(ref, "namespace"), "default");
  EXPECT_EQ(api::Str(ref, "name"), "c1");
  EXPECT_EQ(api::Str(ref, "uid"), client::MetaString(claim, "uid"));
  EXPECT_FALSE(api::Str(ref, "resourceVersion").empty());
  EXPECT_EQ(S(pv, {"metadata", "annotations"}, "pv.kubernetes.io/bound-by-controller"), "yes");
  EXPECT_EQ(S(pvc, {"spec"}, "volumeName"), "pv1");
  EXPECT_EQ(S(pvc, {"metadata", "annotations"}, "pv.kubernetes.io/bind-completed"), "yes");
  EXPECT_EQ(S(pvc, {"metadata", "annotations"}, "pv.kubernetes.io/bound-by-controller"), "yes");
  EXPECT_EQ(api::SerializeJson(pvc.at("status")),
            R"({"phase":"Bound","accessModes":["ReadWriteOnce"],"capacity":{"storage":"1Gi"}})");
  // Nothing more to write: another round changes no resourceVersion.
  std::string pv_rv = client::MetaString(pv, "resourceVersion");
  std::string pvc_rv = client::MetaString(pvc, "resourceVersion");
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(controller_->Sync("default/c1").ok());
    EXPECT_TRUE(controller_->Sync("pv1").ok());
  }
  EXPECT_EQ(client::MetaString(Pv("pv1"), "resourceVersion"), pv_rv);
  EXPECT_EQ(client::MetaString(Pvc("c1"), "resourceVersion"), pvc_rv);
}

TEST_F(PvFixture, RunningControllerBindsAndPicksTheSmallestFit) {
  StartInformers();
  controller_->Run(1);
  CreatePv("big", "10Gi");
  CreatePv("small", "1Gi");
  CreatePv("tiny", "100Mi");
  ASSERT_TRUE(Eventually([&] {
    return PvPhase("big") == "Available" && PvPhase("small") == "Available" &&
           PvPhase("tiny") == "Available";
  }));
  CreatePvc("c1", "500Mi");
  ASSERT_TRUE(Eventually([&] { return PvcPhase("c1") == "Bound"; }));
  EXPECT_EQ(S(Pvc("c1"), {"spec"}, "volumeName"), "small");
  EXPECT_TRUE(Eventually([&] { return PvPhase("small") == "Bound"; }));
  EXPECT_EQ(PvPhase("big"), "Available");
  EXPECT_EQ(PvPhase("tiny"), "Available");
  // A second claim takes the next fit.
  CreatePvc("c2", "500Mi");
  ASSERT_TRUE(Eventually([&] { return PvcPhase("c2") == "Bound"; }));
  EXPECT_EQ(S(Pvc("c2"), {"spec"}, "volumeName"), "big");
  controller_->Stop();
}

TEST_F(PvFixture, MismatchesStayPendingWithAnEvent) {
  StartInformers();
  CreatePv("fast", "1Gi", Parse(R"({"storageClassName":"fast"})"));
  CreatePv("rwo", "1Gi", {}, Parse(R"({"labels":{"tier":"bronze"}})"));
  ASSERT_TRUE(Converge({"fast", "rwo"}, [&] {
    return PvPhase("fast") == "Available" && PvPhase("rwo") == "Available";
  }));
  // Access mode, selector and size mismatches (the class-less claims only see "rwo").
  CreatePvc("rwx", "1Gi", Parse(R"({"accessModes":["ReadWriteMany"]})"));
  CreatePvc("gold", "1Gi", Parse(R"({"selector":{"matchLabels":{"tier":"gold"}}})"));
  CreatePvc("huge", "5Gi");
  const std::string msg =
      "no persistent volumes available for this claim and no storage class is set";
  for (const char* name : {"rwx", "gold", "huge"}) {
    EXPECT_TRUE(controller_->Sync(std::string("default/") + name).ok());
    EXPECT_TRUE(HasEvent(name, "FailedBinding", "Normal", msg)) << name;
    EXPECT_EQ(PvcPhase(name), "Pending");
  }
  EXPECT_TRUE(Pv("rwo").at("spec").as_object().if_contains("claimRef") == nullptr);
  EXPECT_TRUE(Pv("fast").at("spec").as_object().if_contains("claimRef") == nullptr);
  // A claim of a class without a StorageClass object: the class cannot provision.
  CreatePvc("slow", "1Gi", Parse(R"({"storageClassName":"slow"})"));
  EXPECT_TRUE(controller_->Sync("default/slow").ok());
  EXPECT_TRUE(HasEvent("slow", "ProvisioningFailed", "Warning",
                       "storageclass.storage.k8s.io \"slow\" not found"));
  // kubernetes.io/no-provisioner with Immediate binding.
  CreateClass("manual", "kubernetes.io/no-provisioner");
  CreatePvc("manual", "1Gi", Parse(R"({"storageClassName":"manual"})"));
  EXPECT_TRUE(controller_->Sync("default/manual").ok());
  EXPECT_TRUE(HasEvent("manual", "ProvisioningFailed", "Warning",
                       "no volume plugin matched name: kubernetes.io/no-provisioner"));
  // An external provisioner is told through the claim's annotations.
  CreateClass("ext", "example.com/nfs");
  CreatePvc("ext", "1Gi", Parse(R"({"storageClassName":"ext"})"));
  EXPECT_TRUE(Converge({"default/ext"}, [&] {
    return S(Pvc("ext"), {"metadata", "annotations"}, "volume.kubernetes.io/storage-provisioner") ==
           "example.com/nfs";
  }));
  EXPECT_EQ(
      S(Pvc("ext"), {"metadata", "annotations"}, "volume.beta.kubernetes.io/storage-provisioner"),
      "example.com/nfs");
  EXPECT_TRUE(HasEvent(
      "ext", "ExternalProvisioning", "Normal",
      "Waiting for a volume to be created either by the external provisioner 'example.com/nfs' or "
      "manually by the system administrator. If volume creation is delayed, please verify that "
      "the provisioner is running and correctly registered."));
  EXPECT_EQ(PvcPhase("ext"), "Pending");
  // The class's own volume binds.
  CreatePvc("fastc", "1Gi", Parse(R"({"storageClassName":"fast"})"));
  EXPECT_TRUE(Converge({"default/fastc"}, [&] { return PvcPhase("fastc") == "Bound"; }));
  EXPECT_EQ(S(Pvc("fastc"), {"spec"}, "volumeName"), "fast");
}

TEST_F(PvFixture, PreBoundVolumeAndClaimVolumeName) {
  StartInformers();
  CreatePv("small", "1Gi");
  // Reserved by the user for claim "mine": bound to it although a smaller one fits.
  CreatePv("reserved", "5Gi", Parse(R"({"claimRef":{"namespace":"default","name":"mine"}})"));
  CreatePv("named", "2Gi");
  ASSERT_TRUE(Converge({"small", "reserved", "named"}, [&] {
    return PvPhase("small") == "Available" && PvPhase("reserved") == "Available" &&
           PvPhase("named") == "Available";
  }));
  json::object mine = CreatePvc("mine", "1Gi");
  ASSERT_TRUE(Converge({"default/mine", "reserved"}, [&] {
    return PvcPhase("mine") == "Bound" && PvPhase("reserved") == "Bound";
  }));
  json::object pv = Pv("reserved");
  EXPECT_EQ(S(pv, {"spec", "claimRef"}, "uid"), client::MetaString(mine, "uid"));
  // The user bound it: no bound-by-controller on the volume; the claim's side was chosen by the
  // controller.
  EXPECT_EQ(S(pv, {"metadata", "annotations"}, "pv.kubernetes.io/bound-by-controller"), "");
  EXPECT_EQ(S(Pvc("mine"), {"metadata", "annotations"}, "pv.kubernetes.io/bound-by-controller"),
            "yes");
  // A claim naming its volume gets it; now the volume side is the controller's doing.
  CreatePvc("wants", "1Gi", Parse(R"({"volumeName":"named"})"));
  ASSERT_TRUE(Converge({"default/wants", "named"}, [&] {
    return PvcPhase("wants") == "Bound" && PvPhase("named") == "Bound";
  }));
  EXPECT_EQ(S(Pv("named"), {"metadata", "annotations"}, "pv.kubernetes.io/bound-by-controller"),
            "yes");
  EXPECT_EQ(S(Pvc("wants"), {"metadata", "annotations"}, "pv.kubernetes.io/bound-by-controller"),
            "");
  EXPECT_EQ(S(Pvc("wants"), {"metadata", "annotations"}, "pv.kubernetes.io/bind-completed"), "yes");
  // Naming a volume that is too small, or taken: Pending with Kubernetes' events.
  CreatePvc("toobig", "3Gi", Parse(R"({"volumeName":"small"})"));
  EXPECT_TRUE(controller_->Sync("default/toobig").ok());
  EXPECT_TRUE(HasEvent("toobig", "VolumeMismatch", "Warning",
                       "Cannot bind to requested volume \"small\": requested PV is too small"));
  CreatePvc("late", "1Gi", Parse(R"({"volumeName":"named"})"));
  EXPECT_TRUE(controller_->Sync("default/late").ok());
  EXPECT_TRUE(HasEvent("late", "FailedBinding", "Warning",
                       "volume \"named\" already bound to a different claim."));
  EXPECT_EQ(PvcPhase("toobig"), "Pending");
  EXPECT_EQ(PvcPhase("late"), "Pending");
  EXPECT_EQ(PvPhase("small"), "Available");
}

TEST_F(PvFixture, ReleasedVolumesFollowTheirReclaimPolicy) {
  StartInformers();
  CreatePv("keep", "1Gi", Parse(R"({"persistentVolumeReclaimPolicy":"Retain"})"));
  CreatePv("drop", "1Gi", Parse(R"({"persistentVolumeReclaimPolicy":"Delete"})"));
  CreatePv("tmp", "1Gi",
           Parse(R"({"persistentVolumeReclaimPolicy":"Delete","hostPath":{"path":"/tmp/pv-x"}})"));
  CreatePv("local", "1Gi", Parse(R"({"persistentVolumeReclaimPolicy":"Delete",
                     "local":{"path":"/mnt/disk"},"nodeAffinity":{"required":{"nodeSelectorTerms":
                     [{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In",
                     "values":["n1"]}]}]}}})"));
  CreatePv("ext", "1Gi", Parse(R"({"persistentVolumeReclaimPolicy":"Delete"})"),
           Parse(R"({"annotations":{"pv.kubernetes.io/provisioned-by":"example.com/nfs"}})"));
  CreatePv("recycle", "1Gi", Parse(R"({"persistentVolumeReclaimPolicy":"Recycle"})"));
  std::vector<std::string> names{"keep", "drop", "tmp", "local", "ext", "recycle"};
  for (const std::string& n : names) {
    CreatePvc("c-" + n, "1Gi", Parse(R"({"volumeName":")" + n + R"("})"));
    ASSERT_TRUE(Converge({"default/c-" + n, n}, [&] {
      return PvcPhase("c-" + n) == "Bound" && PvPhase(n) == "Bound";
    })) << n;
  }
  for (const std::string& n : names) {
    ASSERT_TRUE(client_->Delete(Pvcs(), "default", "c-" + n).ok());
    WaitGone(Pvcs(), "default/c-" + n);
  }
  // Retain: Released, and it stays so (the claimRef is kept for the administrator).
  ASSERT_TRUE(Converge({"keep"}, [&] { return PvPhase("keep") == "Released"; }));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(controller_->Sync("keep").ok());
  EXPECT_EQ(PvPhase("keep"), "Released");
  EXPECT_EQ(S(Pv("keep"), {"spec", "claimRef"}, "name"), "c-keep");
  // Delete of a hostPath outside /tmp: no deleter can, so Failed, as kube-controller-manager.
  const std::string host_msg =
      "host_path deleter only supports /tmp/.+ but received provided /data/drop";
  ASSERT_TRUE(Converge({"drop"}, [&] { return PvPhase("drop") == "Failed"; }));
  EXPECT_EQ(S(Pv("drop"), {"status"}, "message"), host_msg);
  EXPECT_TRUE(HasEvent("drop", "VolumeFailedDelete", "Warning", host_msg));
  // ... and a local volume has no deleter at all.
  ASSERT_TRUE(Converge({"local"}, [&] { return PvPhase("local") == "Failed"; }));
  EXPECT_TRUE(HasEvent("local", "VolumeFailedDelete", "Warning",
                       "error getting deleter volume plugin for volume \"local\": no deletable "
                       "volume plugin matched"));
  // A hostPath under /tmp/ is deleted.
  ASSERT_TRUE(Converge({"tmp"}, [&] { return !client_->Get(Pvs(), "", "tmp").ok(); }));
  // An external provisioner's volume waits for it, Released.
  ASSERT_TRUE(Converge({"ext"}, [&] { return PvPhase("ext") == "Released"; }));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(controller_->Sync("ext").ok());
  EXPECT_EQ(PvPhase("ext"), "Released");
  // Recycle: no recycler.
  ASSERT_TRUE(Converge({"recycle"}, [&] { return PvPhase("recycle") == "Failed"; }));
  EXPECT_TRUE(HasEvent("recycle", "VolumeFailedRecycle", "Warning",
                       "No recycler plugin found for the volume!"));
  // A failed volume is retried without a second event.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(controller_->Sync("drop").ok());
  EXPECT_EQ(Events("drop", "VolumeFailedDelete").size(), 1u);
}

TEST_F(PvFixture, NewClaimOfTheSameNameDoesNotInheritAReleasedVolume) {
  StartInformers();
  CreatePv("pv1", "1Gi");
  CreatePvc("c1", "1Gi");
  ASSERT_TRUE(Converge({"default/c1", "pv1"},
                       [&] { return PvcPhase("c1") == "Bound" && PvPhase("pv1") == "Bound"; }));
  ASSERT_TRUE(client_->Delete(Pvcs(), "default", "c1").ok());
  WaitGone(Pvcs(), "default/c1");
  CreatePvc("c1", "1Gi");
  ASSERT_TRUE(Converge({"pv1"}, [&] { return PvPhase("pv1") == "Released"; }));
  EXPECT_TRUE(controller_->Sync("default/c1").ok());
  EXPECT_EQ(PvcPhase("c1"), "Pending");
  EXPECT_EQ(S(Pvc("c1"), {"spec"}, "volumeName"), "");
}

TEST_F(PvFixture, WaitForFirstConsumer) {
  StartInformers();
  CreateClass("local", "kubernetes.io/no-provisioner", "WaitForFirstConsumer");
  CreateNode("node-a");
  CreateNode("node-b");
  auto local = [&](const std::string& name, const std::string& node, const std::string& size) {
    CreatePv(name, size,
             Parse(R"({"storageClassName":"local","nodeAffinity":{"required":{"nodeSelectorTerms":
               [{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In",
               "values":[")" +
                   node + R"("]}]}]}}})"));
  };
  local("on-b", "node-b", "1Gi");
  local("on-a", "node-a", "2Gi");
  ASSERT_TRUE(Converge({"on-a", "on-b"}, [&] {
    return PvPhase("on-a") == "Available" && PvPhase("on-b") == "Available";
  }));
  CreatePvc("data", "1Gi", Parse(R"({"storageClassName":"local"})"));
  EXPECT_TRUE(controller_->Sync("default/data").ok());
  EXPECT_TRUE(HasEvent("data", "WaitForFirstConsumer", "Normal",
                       "waiting for first consumer to be created before binding"));
  EXPECT_EQ(PvcPhase("data"), "Pending");
  EXPECT_TRUE(Pv("on-b").at("spec").as_object().if_contains("claimRef") == nullptr);
  // A pod waiting for the scheduler changes the message.
  json::object pod{{"apiVersion", "v1"},
                   {"kind", "Pod"},
                   {"metadata", json::object{{"name", "user"}}},
                   {"spec", Parse(R"({"containers":[{"name":"c","image":"busybox"}],
                      "volumes":[{"name":"v","persistentVolumeClaim":{"claimName":"data"}}]})")}};
  auto created = client_->Create(res::kPods, "default", pod);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  WaitSeen(res::kPods, *created);
  EXPECT_TRUE(controller_->Sync("default/data").ok());
  EXPECT_TRUE(
      HasEvent("data", "WaitForPodScheduled", "Normal", "waiting for pod user to be scheduled"));
  // The node chosen for it: only a volume that node can use.
  ASSERT_TRUE(client_
                  ->Patch(Pvcs(), "default", "data", client::PatchType::kMerge,
                          Parse(R"({"metadata":{"annotations":{
                            "volume.kubernetes.io/selected-node":"node-a"}}})"))
                  .ok());
  ASSERT_TRUE(Converge({"default/data", "on-a"},
                       [&] { return PvcPhase("data") == "Bound" && PvPhase("on-a") == "Bound"; }));
  EXPECT_EQ(S(Pvc("data"), {"spec"}, "volumeName"), "on-a");
  EXPECT_EQ(PvPhase("on-b"), "Available");
}

TEST_F(PvFixture, ClaimLostWhenItsVolumeGoes) {
  StartInformers();
  CreatePv("pv1", "1Gi");
  CreatePvc("c1", "1Gi");
  ASSERT_TRUE(Converge({"default/c1", "pv1"},
                       [&] { return PvcPhase("c1") == "Bound" && PvPhase("pv1") == "Bound"; }));
  ASSERT_TRUE(client_->Delete(Pvs(), "", "pv1").ok());
  WaitGone(Pvs(), "pv1");
  ASSERT_TRUE(Converge({"default/c1"}, [&] { return PvcPhase("c1") == "Lost"; }));
  EXPECT_TRUE(HasEvent("c1", "ClaimLost", "Warning",
                       "Bound claim has lost its PersistentVolume. Data on the volume is lost!"));
  // The claim keeps its status fields cleared, and no second event.
  EXPECT_TRUE(Pvc("c1").at("status").as_object().if_contains("capacity") == nullptr);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(controller_->Sync("default/c1").ok());
  EXPECT_EQ(Events("c1", "ClaimLost").size(), 1u);
}

// ---- protection -------------------------------------------------------------------------

class ProtectionFixture : public PvFixture {
 protected:
  void SetUp() override {
    PvFixture::SetUp();
    pvc_protection_ = std::make_unique<PvcProtectionController>(informers_.get());
    pv_protection_ = std::make_unique<PvProtectionController>(informers_.get());
  }
  void TearDown() override {
    pvc_protection_.reset();
    pv_protection_.reset();
    PvFixture::TearDown();
  }
  bool HasFinalizer(const json::object& o, const std::string& f) {
    const json::value* meta = o.if_contains("metadata");
    const json::value* fins = meta ? meta->as_object().if_contains("finalizers") : nullptr;
    if (!fins) return false;
    for (const json::value& v : fins->as_array())
      if (v.as_string() == f) return true;
    return false;
  }
  json::object CreatePodUsing(const std::string& name, const std::string& claim,
                              const std::string& node) {
    json::object spec = Parse(R"({"containers":[{"name":"c","image":"busybox"}],
        "volumes":[{"name":"v","persistentVolumeClaim":{"claimName":")" +
                              claim + R"("}}]})");
    if (!node.empty()) spec["nodeName"] = node;
    json::object pod{{"apiVersion", "v1"},
                     {"kind", "Pod"},
                     {"metadata", json::object{{"name", name}}},
                     {"spec", spec}};
    auto r = client_->Create(res::kPods, "default", pod);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    WaitSeen(res::kPods, *r);
    return *r;
  }
  std::unique_ptr<PvcProtectionController> pvc_protection_;
  std::unique_ptr<PvProtectionController> pv_protection_;
};

TEST_F(ProtectionFixture, ClaimFinalizerHeldWhileAScheduledPodUsesIt) {
  StartInformers();
  CreatePvc("data", "1Gi");
  ASSERT_TRUE(Eventually([&] {
    (void)pvc_protection_->Sync("default/data");
    return HasFinalizer(Pvc("data"), "kubernetes.io/pvc-protection");
  }));
  // An unscheduled pod does not hold the claim (Kubernetes: only scheduled pods do) ...
  CreatePodUsing("pending", "data", "");
  // ... a scheduled one does, whatever its phase.
  CreatePodUsing("running", "data", "node-a");
  ASSERT_TRUE(client_->Delete(Pvcs(), "default", "data").ok());
  ASSERT_TRUE(Eventually([&] {
    json::object c = Pvc("data");
    return !c.empty() && !client::MetaString(c, "deletionTimestamp").empty();
  }));
  WaitSeen(Pvcs(), Pvc("data"));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(pvc_protection_->Sync("default/data").ok());
  EXPECT_TRUE(HasFinalizer(Pvc("data"), "kubernetes.io/pvc-protection"));
  // The pod goes: so does the claim.
  client::DeleteOptions now;
  now.grace_period_seconds = 0;
  ASSERT_TRUE(client_->Delete(res::kPods, "default", "running", now).ok());
  WaitGone(res::kPods, "default/running");
  ASSERT_TRUE(Eventually([&] {
    (void)pvc_protection_->Sync("default/data");
    return !client_->Get(Pvcs(), "default", "data").ok();
  }));
  EXPECT_TRUE(PodUsesClaim(Parse(R"({"metadata":{"namespace":"default","name":"p"},
      "spec":{"nodeName":"n","volumes":[{"name":"v","persistentVolumeClaim":{"claimName":"x"}}]}})"),
                           Parse(R"({"metadata":{"namespace":"default","name":"x"}})")));
  EXPECT_FALSE(PodUsesClaim(Parse(R"({"metadata":{"namespace":"other","name":"p"},
      "spec":{"nodeName":"n","volumes":[{"name":"v","persistentVolumeClaim":{"claimName":"x"}}]}})"),
                            Parse(R"({"metadata":{"namespace":"default","name":"x"}})")));
}

TEST_F(ProtectionFixture, VolumeFinalizerHeldWhileBound) {
  StartInformers();
  CreatePv("pv1", "1Gi");
  ASSERT_TRUE(Eventually([&] {
    (void)pv_protection_->Sync("pv1");
    return HasFinalizer(Pv("pv1"), "kubernetes.io/pv-protection");
  }));
  CreatePvc("c1", "1Gi");
  ASSERT_TRUE(Converge({"pv1", "default/c1"}, [&] { return PvPhase("pv1") == "Bound"; }));
  ASSERT_TRUE(client_->Delete(Pvs(), "", "pv1").ok());
  ASSERT_TRUE(
      Eventually([&] { return !client::MetaString(Pv("pv1"), "deletionTimestamp").empty(); }));
  WaitSeen(Pvs(), Pv("pv1"));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(pv_protection_->Sync("pv1").ok());
  EXPECT_TRUE(HasFinalizer(Pv("pv1"), "kubernetes.io/pv-protection"));
  // The claim goes, the volume is released, then deleted.
  ASSERT_TRUE(client_->Delete(Pvcs(), "default", "c1").ok());
  WaitGone(Pvcs(), "default/c1");
  ASSERT_TRUE(Eventually([&] {
    (void)controller_->Sync("pv1");
    (void)pv_protection_->Sync("pv1");
    return !client_->Get(Pvs(), "", "pv1").ok();
  }));
}

}  // namespace
}  // namespace sampan::controllers
