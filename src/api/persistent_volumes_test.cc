#include "api/persistent_volumes.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

namespace sampan::api {
namespace {
namespace json = boost::json;

json::object Parse(const std::string& text) { return json::parse(text).as_object(); }

// A volume: name, capacity, access modes; `extra` is merged into spec; phase Available.
json::object Pv(const std::string& name, const std::string& capacity,
                json::array modes = {"ReadWriteOnce"}, json::object extra_spec = {},
                json::object extra_meta = {}) {
  json::object spec{{"capacity", json::object{{"storage", capacity}}},
                    {"accessModes", std::move(modes)},
                    {"hostPath", json::object{{"path", "/data/" + name}}},
                    {"volumeMode", "Filesystem"}};
  for (auto& kv : extra_spec) spec[kv.key()] = kv.value();
  json::object meta{{"name", name}};
  for (auto& kv : extra_meta) meta[kv.key()] = kv.value();
  return json::object{{"metadata", std::move(meta)},
                      {"spec", std::move(spec)},
                      {"status", json::object{{"phase", "Available"}}}};
}

json::object Pvc(const std::string& name, const std::string& request,
                 json::array modes = {"ReadWriteOnce"}, json::object extra_spec = {},
                 json::object extra_meta = {}) {
  json::object spec{{"accessModes", std::move(modes)},
                    {"resources", json::object{{"requests", json::object{{"storage", request}}}}},
                    {"volumeMode", "Filesystem"}};
  for (auto& kv : extra_spec) spec[kv.key()] = kv.value();
  json::object meta{{"name", name}, {"namespace", "default"}, {"uid", "uid-" + name}};
  for (auto& kv : extra_meta) meta[kv.key()] = kv.value();
  return json::object{{"metadata", std::move(meta)}, {"spec", std::move(spec)}};
}

std::vector<const json::object*> Ptrs(const std::vector<json::object>& v) {
  std::vector<const json::object*> out;
  for (const auto& o : v) out.push_back(&o);
  return out;
}

std::string Best(const std::vector<json::object>& pvs, const json::object& pvc,
                 const json::object* node_labels = nullptr, std::string_view node = {}) {
  int i = FindBestVolume(Ptrs(pvs), pvc, node_labels, node);
  return i < 0 ? ""
               : std::string(pvs[static_cast<size_t>(i)].at("metadata").at("name").as_string());
}

TEST(PersistentVolumesTest, ClaimStorageClass) {
  EXPECT_EQ(ClaimStorageClass(Pvc("c", "1Gi")), std::nullopt);
  EXPECT_EQ(ClaimStorageClass(Pvc("c", "1Gi", {"ReadWriteOnce"}, {{"storageClassName", ""}})),
            std::optional<std::string>(""));
  EXPECT_EQ(ClaimStorageClass(Pvc("c", "1Gi", {"ReadWriteOnce"}, {{"storageClassName", "fast"}})),
            std::optional<std::string>("fast"));
  json::object beta{
      {"annotations", json::object{{"volume.beta.kubernetes.io/storage-class", "slow"}}}};
  EXPECT_EQ(ClaimStorageClass(Pvc("c", "1Gi", {"ReadWriteOnce"}, {}, beta)),
            std::optional<std::string>("slow"));
  // The annotation wins over the field, as in Kubernetes.
  EXPECT_EQ(
      ClaimStorageClass(Pvc("c", "1Gi", {"ReadWriteOnce"}, {{"storageClassName", "fast"}}, beta)),
      std::optional<std::string>("slow"));
  EXPECT_EQ(VolumeStorageClass(Pv("v", "1Gi")), "");
  EXPECT_EQ(VolumeStorageClass(Pv("v", "1Gi", {"ReadWriteOnce"}, {{"storageClassName", "fast"}})),
            "fast");
  EXPECT_EQ(VolumeStorageClass(Pv("v", "1Gi", {"ReadWriteOnce"}, {}, beta)), "slow");
}

TEST(PersistentVolumesTest, NodeAffinity) {
  json::object labels{{"zone", "a"}, {"disks", "4"}};
  EXPECT_TRUE(VolumeNodeAffinityMatches(Pv("v", "1Gi"), labels, "n1"));
  auto with_terms = [](const std::string& terms) {
    return Pv("v", "1Gi", {"ReadWriteOnce"},
              Parse(R"({"nodeAffinity":{"required":{"nodeSelectorTerms":)" + terms + "}}}"));
  };
  auto pv_in =
      with_terms(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}])");
  EXPECT_TRUE(VolumeNodeAffinityMatches(pv_in, labels, "n1"));
  EXPECT_FALSE(VolumeNodeAffinityMatches(pv_in, json::object{{"zone", "b"}}, "n1"));
  EXPECT_FALSE(VolumeNodeAffinityMatches(pv_in, json::object{}, "n1"));
  auto pv_notin =
      with_terms(R"([{"matchExpressions":[{"key":"zone","operator":"NotIn","values":["a"]}]}])");
  EXPECT_FALSE(VolumeNodeAffinityMatches(pv_notin, labels, "n1"));
  EXPECT_TRUE(VolumeNodeAffinityMatches(pv_notin, json::object{}, "n1"));
  auto pv_exists = with_terms(R"([{"matchExpressions":[{"key":"zone","operator":"Exists"}]}])");
  EXPECT_TRUE(VolumeNodeAffinityMatches(pv_exists, labels, "n1"));
  EXPECT_FALSE(VolumeNodeAffinityMatches(pv_exists, json::object{}, "n1"));
  auto pv_dne = with_terms(R"([{"matchExpressions":[{"key":"zone","operator":"DoesNotExist"}]}])");
  EXPECT_FALSE(VolumeNodeAffinityMatches(pv_dne, labels, "n1"));
  auto pv_gt =
      with_terms(R"([{"matchExpressions":[{"key":"disks","operator":"Gt","values":["3"]}]}])");
  EXPECT_TRUE(VolumeNodeAffinityMatches(pv_gt, labels, "n1"));
  auto pv_lt =
      with_terms(R"([{"matchExpressions":[{"key":"disks","operator":"Lt","values":["3"]}]}])");
  EXPECT_FALSE(VolumeNodeAffinityMatches(pv_lt, labels, "n1"));
  auto pv_field =
      with_terms(R"([{"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]}])");
  EXPECT_TRUE(VolumeNodeAffinityMatches(pv_field, labels, "n1"));
  EXPECT_FALSE(VolumeNodeAffinityMatches(pv_field, labels, "n2"));
  // Terms are ORed, requirements within a term ANDed.
  auto pv_or = with_terms(
      R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["b"]}]},
          {"matchExpressions":[{"key":"zone","operator":"In","values":["a"]},
                               {"key":"disks","operator":"Exists"}]}])");
  EXPECT_TRUE(VolumeNodeAffinityMatches(pv_or, labels, "n1"));
  EXPECT_FALSE(VolumeNodeAffinityMatches(pv_or, json::object{{"zone", "a"}}, "n1"));
  // An empty term matches nothing; no terms admit no node.
  EXPECT_FALSE(VolumeNodeAffinityMatches(with_terms("[{}]"), labels, "n1"));
  EXPECT_FALSE(VolumeNodeAffinityMatches(with_terms("[]"), labels, "n1"));
}

TEST(PersistentVolumesTest, VolumeFitsClaimChecksEachRule) {
  std::string why;
  EXPECT_TRUE(VolumeFitsClaim(Pv("v", "1Gi"), Pvc("c", "500Mi"), &why)) << why;
  EXPECT_TRUE(VolumeFitsClaim(Pv("v", "1Gi"), Pvc("c", "1Gi")));
  EXPECT_FALSE(VolumeFitsClaim(Pv("v", "1Gi"), Pvc("c", "2Gi"), &why));
  EXPECT_EQ(why, "requested PV is too small");
  // 1G (10^9) is less than 1Gi (2^30).
  EXPECT_FALSE(VolumeFitsClaim(Pv("v", "1G"), Pvc("c", "1Gi")));
  // Class: a claim without one only takes volumes without one, and the reverse.
  EXPECT_FALSE(VolumeFitsClaim(Pv("v", "1Gi", {"ReadWriteOnce"}, {{"storageClassName", "fast"}}),
                               Pvc("c", "1Gi"), &why));
  EXPECT_EQ(why, "storageClassName does not match");
  EXPECT_FALSE(VolumeFitsClaim(Pv("v", "1Gi"),
                               Pvc("c", "1Gi", {"ReadWriteOnce"}, {{"storageClassName", "fast"}})));
  EXPECT_TRUE(VolumeFitsClaim(Pv("v", "1Gi"),
                              Pvc("c", "1Gi", {"ReadWriteOnce"}, {{"storageClassName", ""}})));
  EXPECT_TRUE(VolumeFitsClaim(Pv("v", "1Gi", {"ReadWriteOnce"}, {{"storageClassName", "fast"}}),
                              Pvc("c", "1Gi", {"ReadWriteOnce"}, {{"storageClassName", "fast"}})));
  // Access modes: all the claim's must be offered.
  EXPECT_FALSE(VolumeFitsClaim(Pv("v", "1Gi"), Pvc("c", "1Gi", {"ReadWriteMany"}), &why));
  EXPECT_EQ(why, "incompatible accessMode");
  EXPECT_TRUE(VolumeFitsClaim(Pv("v", "1Gi", {"ReadWriteOnce", "ReadOnlyMany"}),
                              Pvc("c", "1Gi", {"ReadOnlyMany"})));
  EXPECT_FALSE(VolumeFitsClaim(Pv("v", "1Gi", {"ReadWriteOnce"}),
                               Pvc("c", "1Gi", {"ReadWriteOnce", "ReadOnlyMany"})));
  // volumeMode, Filesystem by default on both sides.
  EXPECT_FALSE(VolumeFitsClaim(Pv("v", "1Gi", {"ReadWriteOnce"}, {{"volumeMode", "Block"}}),
                               Pvc("c", "1Gi"), &why));
  EXPECT_EQ(why, "incompatible volumeMode");
  json::object pv_nomode = Pv("v", "1Gi");
  pv_nomode["spec"].as_object().erase("volumeMode");
  json::object pvc_nomode = Pvc("c", "1Gi");
  pvc_nomode["spec"].as_object().erase("volumeMode");
  EXPECT_TRUE(VolumeFitsClaim(pv_nomode, pvc_nomode));
  EXPECT_TRUE(VolumeFitsClaim(pv_nomode, Pvc("c", "1Gi")));
  // Selector against the volume's labels.
  json::object labelled = Pv("v", "1Gi", {"ReadWriteOnce"}, {},
                             json::object{{"labels", json::object{{"tier", "gold"}}}});
  EXPECT_TRUE(
      VolumeFitsClaim(labelled, Pvc("c", "1Gi", {"ReadWriteOnce"},
                                    Parse(R"({"selector":{"matchLabels":{"tier":"gold"}}})"))));
  EXPECT_TRUE(VolumeFitsClaim(
      labelled, Pvc("c", "1Gi", {"ReadWriteOnce"},
                    Parse(R"({"selector":{"matchExpressions":[{"key":"tier","operator":"In",
                   "values":["gold","silver"]}]}})"))));
  EXPECT_FALSE(VolumeFitsClaim(
      labelled,
      Pvc("c", "1Gi", {"ReadWriteOnce"}, Parse(R"({"selector":{"matchLabels":{"tier":"lead"}}})")),
      &why));
  EXPECT_EQ(why, "the claim's selector does not match the volume's labels");
  EXPECT_FALSE(VolumeFitsClaim(Pv("v", "1Gi"),
                               Pvc("c", "1Gi", {"ReadWriteOnce"},
                                   Parse(R"({"selector":{"matchLabels":{"tier":"gold"}}})"))));
  EXPECT_TRUE(VolumeFitsClaim(Pv("v", "1Gi"),
                              Pvc("c", "1Gi", {"ReadWriteOnce"}, Parse(R"({"selector":{}})"))));
  // A volume being deleted fits nothing.
  json::object deleting = Pv("v", "1Gi", {"ReadWriteOnce"}, {},
                             json::object{{"deletionTimestamp", "2026-01-01T00:00:00Z"}});
  EXPECT_FALSE(VolumeFitsClaim(deleting, Pvc("c", "1Gi"), &why));
  EXPECT_EQ(why, "the volume is marked for deletion \"v\"");
}

TEST(PersistentVolumesTest, VolumeAvailableFor) {
  json::object pvc = Pvc("c", "1Gi");
  EXPECT_TRUE(VolumeAvailableFor(Pv("v", "1Gi"), pvc));
  auto with_ref = [](const std::string& ref) {
    return Pv("v", "1Gi", {"ReadWriteOnce"}, Parse(R"({"claimRef":)" + ref + "}"));
  };
  EXPECT_TRUE(VolumeAvailableFor(with_ref(R"({"namespace":"default","name":"c"})"), pvc));
  EXPECT_TRUE(
      VolumeAvailableFor(with_ref(R"({"namespace":"default","name":"c","uid":"uid-c"})"), pvc));
  EXPECT_TRUE(VolumeBoundToClaim(with_ref(R"({"namespace":"default","name":"c"})"), pvc));
  EXPECT_FALSE(VolumeBoundToClaim(Pv("v", "1Gi"), pvc));
  // Another uid: an earlier claim of the same name.
  EXPECT_FALSE(
      VolumeAvailableFor(with_ref(R"({"namespace":"default","name":"c","uid":"old"})"), pvc));
  EXPECT_FALSE(VolumeAvailableFor(with_ref(R"({"namespace":"default","name":"other"})"), pvc));
  EXPECT_FALSE(VolumeAvailableFor(with_ref(R"({"namespace":"team","name":"c"})"), pvc));
}

TEST(PersistentVolumesTest, FindBestVolumePicksTheSmallestFittingVolume) {
  std::vector<json::object> pvs{Pv("big", "10Gi"), Pv("small", "1Gi"), Pv("tiny", "100Mi"),
                                Pv("mid", "5Gi")};
  EXPECT_EQ(Best(pvs, Pvc("c", "500Mi")), "small");
  EXPECT_EQ(Best(pvs, Pvc("c", "2Gi")), "mid");
  EXPECT_EQ(Best(pvs, Pvc("c", "20Gi")), "");
  EXPECT_EQ(Best({}, Pvc("c", "1Gi")), "");
  // Taken volumes, other classes, volumes not yet Available and deleting ones are skipped.
  pvs[1]["spec"].as_object()["claimRef"] =
      json::object{{"namespace", "default"}, {"name", "x"}, {"uid", "ux"}};
  pvs[3]["spec"].as_object()["storageClassName"] = "fast";
  EXPECT_EQ(Best(pvs, Pvc("c", "500Mi")), "big");
  pvs[0]["status"].as_object()["phase"] = "Pending";
  EXPECT_EQ(Best(pvs, Pvc("c", "500Mi")), "");
  pvs[0]["status"].as_object()["phase"] = "Released";
  EXPECT_EQ(Best(pvs, Pvc("c", "500Mi")), "");
  pvs[0]["status"].as_object()["phase"] = "Available";
  pvs[0]["metadata"].as_object()["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  EXPECT_EQ(Best(pvs, Pvc("c", "500Mi")), "");
  EXPECT_EQ(Best(pvs, Pvc("c", "500Mi", {"ReadWriteOnce"}, {{"storageClassName", "fast"}})), "mid");
}

TEST(PersistentVolumesTest, FindBestVolumePrefersFewerAccessModesThenSize) {
  std::vector<json::object> pvs{Pv("rwo-rox-small", "1Gi", {"ReadWriteOnce", "ReadOnlyMany"}),
                                Pv("rwo-big", "5Gi", {"ReadWriteOnce"}),
                                Pv("rwx", "1Gi", {"ReadWriteMany"})};
  // The binder searches the single-mode volumes first.
  EXPECT_EQ(Best(pvs, Pvc("c", "1Gi")), "rwo-big");
  EXPECT_EQ(Best(pvs, Pvc("c", "1Gi", {"ReadOnlyMany"})), "rwo-rox-small");
  EXPECT_EQ(Best(pvs, Pvc("c", "1Gi", {"ReadWriteMany"})), "rwx");
  EXPECT_EQ(Best(pvs, Pvc("c", "1Gi", {"ReadWriteMany", "ReadOnlyMany"})), "");
  // On a node (the scheduler's path) only the size counts.
  json::object labels;
  EXPECT_EQ(Best(pvs, Pvc("c", "1Gi"), &labels, "n1"), "rwo-rox-small");
  // Equal: the first name.
  std::vector<json::object> twins{Pv("b", "1Gi"), Pv("a", "1Gi")};
  EXPECT_EQ(Best(twins, Pvc("c", "1Gi")), "a");
}

TEST(PersistentVolumesTest, FindBestVolumeSelector) {
  std::vector<json::object> pvs{
      Pv("plain", "1Gi"),
      Pv("gold", "5Gi", {"ReadWriteOnce"}, {}, json::object{{"labels", {{"tier", "gold"}}}})};
  EXPECT_EQ(Best(pvs, Pvc("c", "1Gi", {"ReadWriteOnce"},
                          Parse(R"({"selector":{"matchLabels":{"tier":"gold"}}})"))),
            "gold");
  EXPECT_EQ(Best(pvs, Pvc("c", "1Gi", {"ReadWriteOnce"},
                          Parse(R"({"selector":{"matchLabels":{"tier":"silver"}}})"))),
            "");
}

TEST(PersistentVolumesTest, FindBestVolumePreBoundFirst) {
  // The pre-bound volume wins over a smaller free one, and ignores class, modes and labels.
  std::vector<json::object> pvs{
      Pv("free", "1Gi"),
      Pv("reserved", "10Gi", {"ReadOnlyMany"},
         Parse(R"({"storageClassName":"other","claimRef":{"namespace":"default","name":"c"}})"))};
  pvs[1]["status"].as_object()["phase"] = "Pending";
  EXPECT_EQ(Best(pvs, Pvc("c", "1Gi")), "reserved");
  // ... but it must hold the request and match the volumeMode.
  EXPECT_EQ(Best(pvs, Pvc("c", "20Gi")), "");
  EXPECT_EQ(Best(pvs, Pvc("d", "1Gi")), "free");
  // Reserved for another uid of the same name: not this claim's.
  pvs[1]["spec"].as_object()["claimRef"].as_object()["uid"] = "old";
  EXPECT_EQ(Best(pvs, Pvc("c", "1Gi")), "free");
}

TEST(PersistentVolumesTest, FindBestVolumeHonoursVolumeName) {
  std::vector<json::object> pvs{Pv("small", "1Gi"), Pv("named", "5Gi")};
  EXPECT_EQ(Best(pvs, Pvc("c", "1Gi", {"ReadWriteOnce"}, {{"volumeName", "named"}})), "named");
  EXPECT_EQ(Best(pvs, Pvc("c", "1Gi", {"ReadWriteOnce"}, {{"volumeName", "absent"}})), "");
  EXPECT_EQ(Best(pvs, Pvc("c", "10Gi", {"ReadWriteOnce"}, {{"volumeName", "named"}})), "");
  // Taken by another claim: none.
  pvs[1]["spec"].as_object()["claimRef"] = json::object{{"namespace", "default"}, {"name", "x"}};
  EXPECT_EQ(Best(pvs, Pvc("c", "1Gi", {"ReadWriteOnce"}, {{"volumeName", "named"}})), "");
  // Already pointing at this claim: taken as it is.
  pvs[1]["spec"].as_object()["claimRef"] = json::object{{"namespace", "default"}, {"name", "c"}};
  EXPECT_EQ(Best(pvs, Pvc("c", "10Gi", {"ReadWriteOnce"}, {{"volumeName", "named"}})), "named");
  // Not yet Available is fine for a named volume.
  pvs[0]["status"].as_object()["phase"] = "Pending";
  EXPECT_EQ(Best(pvs, Pvc("d", "1Gi", {"ReadWriteOnce"}, {{"volumeName", "small"}})), "small");
}

TEST(PersistentVolumesTest, FindBestVolumeOnANode) {
  auto local = [](const std::string& name, const std::string& node, const std::string& size) {
    return Pv(name, size, {"ReadWriteOnce"},
              Parse(R"({"nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[
                {"key":"kubernetes.io/hostname","operator":"In","values":[")" +
                    node + R"("]}]}]}}})"));
  };
  std::vector<json::object> pvs{local("on-a", "a", "1Gi"), local("on-b", "b", "1Gi"),
                                Pv("anywhere", "5Gi")};
  json::object a{{"kubernetes.io/hostname", "a"}}, b{{"kubernetes.io/hostname", "b"}},
      c{{"kubernetes.io/hostname", "c"}};
  EXPECT_EQ(Best(pvs, Pvc("p", "1Gi"), &a, "a"), "on-a");
  EXPECT_EQ(Best(pvs, Pvc("p", "1Gi"), &b, "b"), "on-b");
  EXPECT_EQ(Best(pvs, Pvc("p", "1Gi"), &c, "c"), "anywhere");
  // A pre-bound volume that the node cannot use: nothing.
  pvs[1]["spec"].as_object()["claimRef"] = json::object{{"namespace", "default"}, {"name", "p"}};
  EXPECT_EQ(Best(pvs, Pvc("p", "1Gi"), &a, "a"), "");
  EXPECT_EQ(Best(pvs, Pvc("p", "1Gi"), &b, "b"), "on-b");
}

TEST(PersistentVolumesTest, DelayBindingOnlyCompletesPreBoundVolumes) {
  std::vector<json::object> pvs{Pv("free", "1Gi")};
  VolumeMatchOptions delay;
  delay.delay_binding = true;
  EXPECT_EQ(FindMatchingVolume(Ptrs(pvs), Pvc("c", "1Gi"), delay), -1);
  EXPECT_EQ(FindMatchingVolume(Ptrs(pvs), Pvc("c", "1Gi"), VolumeMatchOptions{}), 0);
  pvs[0]["spec"].as_object()["claimRef"] = json::object{{"namespace", "default"}, {"name", "c"}};
  EXPECT_EQ(FindMatchingVolume(Ptrs(pvs), Pvc("c", "1Gi"), delay), 0);
  // With a node the unclaimed ones count again.
  std::vector<json::object> free{Pv("free", "1Gi")};
  json::object labels;
  delay.node_labels = &labels;
  delay.node_name = "n";
  EXPECT_EQ(FindMatchingVolume(Ptrs(free), Pvc("c", "1Gi"), delay), 0);
}

}  // namespace
}  // namespace sampan::api
