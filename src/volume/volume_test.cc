// VolumeManager against the real file system: run as root (tmpfs and bind mounts are made
// in a temporary directory and removed by TearDown, which the tests check).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>

#include "util/clock.h"
#include "util/fs.h"
#include "volume/volume_internal.h"
#include "volume/volumes.h"

namespace sampan::volume {
namespace {

namespace json = boost::json;
namespace stdfs = std::filesystem;

json::object Parse(const std::string& text) { return json::parse(text).as_object(); }

class VolumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/sampan-vol-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    root_ = templ;
    host_ = root_ + "/host";
    ASSERT_TRUE(fs::MakeDirs(host_).ok());
    opts_.pods_dir = root_ + "/pods";
    opts_.node_allocatable_memory = 1LL << 30;
    opts_.node_allocatable_cpu_milli = 2000;
    objects_["ConfigMap/ns1/cfg"] =
        Parse(R"({"data": {"app.conf": "x=1", "other": "o"}, "binaryData": {"logo.bin": "AAH/"}})");
    objects_["Secret/ns1/sec"] = Parse(R"({"data": {"password": "czNjcjN0", "user": "YWRtaW4="}})");
    mgr_ = std::make_unique<VolumeManager>(opts_, Getter());
  }
  void TearDown() override {
    // Whatever a failed test left: unmount, then remove.
    (void)internal::UnmountAllUnder(root_);
    stdfs::remove_all(root_);
  }
  ObjectGetter Getter() {
    return [this](const std::string& kind, const std::string& ns,
                  const std::string& name) -> Result<json::object> {
      auto it = objects_.find(kind + "/" + ns + "/" + name);
      if (it == objects_.end()) return NotFound(kind + " " + name + " not found");
      return it->second;
    };
  }
  // A pod in ns1 with uid `uid`, the given volumes and extra spec fields.
  json::object Pod(const std::string& volumes, const std::string& extra_spec = "",
                   const std::string& uid = "pod-1") {
    return Parse(R"({"metadata": {"name": "p", "namespace": "ns1", "uid": ")" + uid +
                 R"(", "labels": {"app": "web"}, "annotations": {"a": "1"}},
      "spec": {)" +
                 extra_spec + (extra_spec.empty() ? "" : ",") +
                 R"("containers": [{"name": "main", "resources": {"limits": {"cpu": "500m",
                     "memory": "32Mi"}}}], "volumes": [)" +
                 volumes + R"(]},
      "status": {"podIP": "10.0.0.9"}})");
  }
  std::vector<std::string> MountsUnder(const std::string& dir) {
    std::vector<std::string> out;
    auto mounts = internal::ReadMounts();
    EXPECT_TRUE(mounts.ok());
    for (const auto& m : *mounts) {
      if (m.mount_point.rfind(dir, 0) == 0) out.push_back(m.mount_point);
    }
    return out;
  }
  int Mode(const std::string& p) {
    struct stat st;
    EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
    return static_cast<int>(st.st_mode & 07777);
  }
  gid_t Gid(const std::string& p) {
    struct stat st;
    EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
    return st.st_gid;
  }
  int64_t TmpfsBytes(const std::string& p) {
    struct statfs s;
    EXPECT_EQ(statfs(p.c_str(), &s), 0);
    return static_cast<int64_t>(s.f_blocks) * s.f_bsize;
  }
  Result<HostVolume> HostPathVolume(const std::string& path, const std::string& type) {
    auto r = mgr_->SetUp(Pod(R"({"name": "h", "hostPath": {"path": ")" + path + R"(", "type": ")" +
                             type + R"("}})"));
    if (!r.ok()) return r.status();
    return r->at("h");
  }

  std::string root_, host_;
  VolumeOptions opts_;
  std::map<std::string, json::object> objects_;
  std::unique_ptr<VolumeManager> mgr_;
};

TEST_F(VolumeTest, EmptyDirOnDiskAndInMemory) {
  json::object pod = Pod(R"({"name": "scratch", "emptyDir": {}},
      {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
      {"name": "mem-default", "emptyDir": {"medium": "Memory"}},
      {"name": "big-limit", "emptyDir": {"medium": "Memory", "sizeLimit": "1Ti"}},
      {"name": "nosource"})");
  auto vols = mgr_->SetUp(pod);
  ASSERT_TRUE(vols.ok()) << vols.status().ToString();
  std::string base = opts_.pods_dir + "/pod-1/volumes/kubernetes.io~empty-dir/";
  EXPECT_EQ(vols->at("scratch").path, base + "scratch");
  EXPECT_FALSE(vols->at("scratch").is_tmpfs);
  EXPECT_FALSE(vols->at("scratch").read_only);
  EXPECT_EQ(Mode(base + "scratch"), 0777);
  EXPECT_EQ(vols->at("nosource").path, base + "nosource");
  EXPECT_TRUE(vols->at("mem").is_tmpfs);
  // sizeLimit wins when smaller than the pod's memory limit (32Mi); without one, or with a
  // larger one, the pod limit (smaller than node allocatable) is the size.
  EXPECT_EQ(TmpfsBytes(base + "mem"), 16 << 20);
  EXPECT_EQ(TmpfsBytes(base + "mem-default"), 32 << 20);
  EXPECT_EQ(TmpfsBytes(base + "big-limit"), 32 << 20);
  EXPECT_EQ(MountsUnder(opts_.pods_dir).size(), 3u);

  // Data survives a second SetUp, which mounts nothing more.
  ASSERT_TRUE(fs::WriteFileAtomic(base + "mem/keep", "data").ok());
  ASSERT_TRUE(mgr_->SetUp(pod).ok());
  EXPECT_EQ(MountsUnder(opts_.pods_dir).size(), 3u);
  EXPECT_EQ(*fs::ReadFile(base + "mem/keep"), "data");

  EXPECT_EQ(mgr_->PodsOnDisk(), std::vector<std::string>{"pod-1"});
  ASSERT_TRUE(mgr_->TearDown("pod-1").ok());
  EXPECT_TRUE(MountsUnder(opts_.pods_dir).empty());
  EXPECT_FALSE(stdfs::exists(opts_.pods_dir + "/pod-1"));
  EXPECT_TRUE(mgr_->PodsOnDisk().empty());
  EXPECT_TRUE(mgr_->TearDown("pod-1").ok());  // absent: fine
  EXPECT_FALSE(mgr_->TearDown("../x").ok());

  auto bad = mgr_->SetUp(Pod(R"({"name": "huge", "emptyDir": {"medium": "HugePages"}})"));
  EXPECT_EQ(bad.status().message(),
            "MountVolume.SetUp failed for volume \"huge\" : unknown storage medium \"HugePages\"");
}

TEST_F(VolumeTest, EmptyDirWithoutPodLimitUsesNodeAllocatable) {
  json::object pod = Parse(R"({"metadata": {"namespace": "ns1", "uid": "pod-2"},
      "spec": {"containers": [{"name": "a"}],
               "volumes": [{"name": "m", "emptyDir": {"medium": "Memory"}}]}})");
  auto vols = mgr_->SetUp(pod);
  ASSERT_TRUE(vols.ok()) << vols.status().ToString();
  EXPECT_EQ(TmpfsBytes(vols->at("m").path), 1LL << 30);
  ASSERT_TRUE(mgr_->TearDown("pod-2").ok());
}

TEST_F(VolumeTest, EmptyDirFsGroupAppliedOnce) {
  json::object pod = Pod(R"({"name": "d", "emptyDir": {}},
      {"name": "m", "emptyDir": {"medium": "Memory"}})",
                         R"("securityContext": {"fsGroup": 2000})");
  auto vols = mgr_->SetUp(pod);
  ASSERT_TRUE(vols.ok()) << vols.status().ToString();
  for (const char* v : {"d", "m"}) {
    std::string dir = vols->at(v).path;
    EXPECT_EQ(Gid(dir), 2000u) << v;
    EXPECT_EQ(Mode(dir) & 02770, 02770) << v;  // setgid, group rwx
  }
  // What the pod writes later keeps its owner across a refresh.
  std::string f = vols->at("d").path + "/mine";
  ASSERT_TRUE(fs::WriteFileAtomic(f, "x", 0600).ok());
  ASSERT_EQ(chown(f.c_str(), 0, 0), 0);
  ASSERT_TRUE(mgr_->SetUp(pod).ok());
  EXPECT_EQ(Gid(f), 0u);
  EXPECT_EQ(Mode(f), 0600);
  ASSERT_TRUE(mgr_->TearDown("pod-1").ok());
}

TEST_F(VolumeTest, PodsDirBehindSymlink) {
  ASSERT_TRUE(fs::MakeDirs(root_ + "/real-pods").ok());
  ASSERT_EQ(symlink((root_ + "/real-pods").c_str(), (root_ + "/pods-link").c_str()), 0);
  VolumeOptions o = opts_;
  o.pods_dir = root_ + "/pods-link";
  VolumeManager mgr(o, Getter());
  json::object pod = Pod(R"({"name": "m", "emptyDir": {"medium": "Memory"}},
      {"name": "s", "secret": {"secretName": "sec"}})");
  auto vols = mgr.SetUp(pod);
  ASSERT_TRUE(vols.ok()) << vols.status().ToString();
  json::object c = Parse(R"({"name": "main", "volumeMounts": [
      {"name": "m", "mountPath": "/a", "subPath": "x"}]})");
  ASSERT_TRUE(mgr.MountsFor(pod, c, *vols, {}).ok());
  ASSERT_TRUE(mgr.MountsFor(pod, c, *vols, {}).ok());
  ASSERT_TRUE(mgr.SetUp(pod).ok());
  EXPECT_EQ(MountsUnder(root_ + "/real-pods").size(), 3u);  // 2 tmpfs + 1 bind, none twice
  ASSERT_TRUE(mgr.TearDown("pod-1").ok());
  EXPECT_TRUE(MountsUnder(root_ + "/real-pods").empty());
  EXPECT_FALSE(stdfs::exists(root_ + "/real-pods/pod-1"));
}

TEST_F(VolumeTest, HostPathTypes) {
  auto prefix = [](const std::string& rest) {
    return "MountVolume.SetUp failed for volume \"h\" : " + rest;
  };
  std::string created = host_ + "/made/deep";
  auto v = HostPathVolume(created, "DirectoryOrCreate");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->path, created);
  EXPECT_FALSE(v->is_file);
  EXPECT_EQ(Mode(created), 0755);
  EXPECT_TRUE(HostPathVolume(created, "Directory").ok());

  auto missing = HostPathVolume(host_ + "/absent", "Directory");
  EXPECT_EQ(missing.status().code(), Code::kInvalid);
  EXPECT_EQ(missing.status().message(),
            prefix("hostPath type check failed: " + host_ + "/absent is not a directory"));

  std::string file = host_ + "/f.txt";
  v = HostPathVolume(file, "FileOrCreate");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->is_file);
  EXPECT_EQ(Mode(file), 0644);
  EXPECT_TRUE(HostPathVolume(file, "File").ok());
  EXPECT_EQ(HostPathVolume(file, "Directory").status().message(),
            prefix("hostPath type check failed: " + file + " is not a directory"));
  EXPECT_EQ(HostPathVolume(created, "File").status().message(),
            prefix("hostPath type check failed: " + created + " is not a file"));
  EXPECT_EQ(HostPathVolume(created, "FileOrCreate").status().message(),
            prefix("hostPath type check failed: " + created + " is not a file"));
  EXPECT_EQ(HostPathVolume(file, "DirectoryOrCreate").status().message(),
            prefix("hostPath type check failed: " + file + " is not a directory"));
  EXPECT_EQ(HostPathVolume(file, "Socket").status().message(),
            prefix("hostPath type check failed: " + file + " is not a socket file"));
  EXPECT_EQ(HostPathVolume(file, "CharDevice").status().message(),
            prefix("hostPath type check failed: " + file + " is not a character device"));
  EXPECT_EQ(HostPathVolume("/dev/null", "BlockDevice").status().message(),
            prefix("hostPath type check failed: /dev/null is not a block device"));
  v = HostPathVolume("/dev/null", "CharDevice");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->is_file);
  EXPECT_EQ(HostPathVolume(file, "Bogus").status().message(),
            prefix("Bogus is an invalid volume type"));
  EXPECT_EQ(HostPathVolume(host_ + "/../etc", "").status().message(),
            prefix("invalid HostPath `" + host_ + "/../etc`: must not contain '..'"));

  // A real socket passes the Socket check.
  std::string sock_path = host_ + "/s.sock";
  int sock = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock_path.c_str());
  ASSERT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_TRUE(HostPathVolume(sock_path, "Socket").ok());
  close(sock);

  // Type "": no check; a missing path becomes a directory, a file stays a file.
  v = HostPathVolume(host_ + "/untyped", "");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(stdfs::is_directory(host_ + "/untyped"));
  EXPECT_FALSE(v->is_file);
  v = HostPathVolume(file, "");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->is_file);
  ASSERT_TRUE(mgr_->TearDown("pod-1").ok());
  EXPECT_TRUE(stdfs::exists(file));  // host data is never removed by TearDown
}

TEST_F(VolumeTest, ConfigMapAndSecretContentsModesAndUpdates) {
  json::object pod = Pod(R"({"name": "all", "configMap": {"name": "cfg"}},
      {"name": "some", "configMap": {"name": "cfg", "defaultMode": 416,
          "items": [{"key": "app.conf", "path": "conf/app.conf", "mode": 384},
                    {"key": "other", "path": "o.txt"}]}},
      {"name": "sec", "secret": {"secretName": "sec", "defaultMode": 256}},
      {"name": "opt", "configMap": {"name": "absent", "optional": true}},
      {"name": "optkeys", "secret": {"secretName": "sec", "optional": true,
          "items": [{"key": "nokey", "path": "x"}, {"key": "user", "path": "u"}]}})",
                         R"("securityContext": {"fsGroup": 1234})");
  auto vols = mgr_->SetUp(pod);
  ASSERT_TRUE(vols.ok()) << vols.status().ToString();
  const std::string all = vols->at("all").path;
  EXPECT_EQ(all, opts_.pods_dir + "/pod-1/volumes/kubernetes.io~configmap/all");
  EXPECT_TRUE(vols->at("all").read_only);
  EXPECT_FALSE(vols->at("all").is_tmpfs);
  EXPECT_EQ(*fs::ReadFile(all + "/app.conf"), "x=1");
  EXPECT_EQ(*fs::ReadFile(all + "/logo.bin"), std::string("\x00\x01\xff", 3));  // binaryData
  EXPECT_EQ(stdfs::read_symlink(all + "/app.conf").string(), "..data/app.conf");
  // 0644 default, with fsGroup: group 1234, g+r; directories setgid.
  EXPECT_EQ(Mode(all + "/app.conf"), 0644);
  EXPECT_EQ(Gid(all + "/app.conf"), 1234u);
  EXPECT_EQ(Mode(all) & 02000, 02000);

  const std::string some = vols->at("some").path;
  EXPECT_EQ(*fs::ReadFile(some + "/conf/app.conf"), "x=1");
  EXPECT_EQ(Mode(some + "/conf/app.conf"), 0640);  // 0600 item mode | g+r for fsGroup
  EXPECT_EQ(Mode(some + "/o.txt"), 0640);          // defaultMode 0640
  EXPECT_FALSE(stdfs::exists(some + "/other"));

  const std::string sec = vols->at("sec").path;
  EXPECT_TRUE(vols->at("sec").is_tmpfs);
  EXPECT_TRUE(vols->at("sec").read_only);
  EXPECT_EQ(*fs::ReadFile(sec + "/password"), "s3cr3t");
  EXPECT_EQ(Mode(sec + "/password"), 0440);  // 0400 | fsGroup read
  EXPECT_EQ(Gid(sec + "/password"), 1234u);
  auto mounts = internal::ReadMounts();
  ASSERT_TRUE(mounts.ok());
  auto m = internal::MountAt(*mounts, sec);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->fs_type, "tmpfs");

  EXPECT_TRUE(stdfs::is_symlink(vols->at("opt").path + "/..data"));  // empty but made
  EXPECT_EQ(*fs::ReadFile(vols->at("optkeys").path + "/u"), "admin");
  EXPECT_FALSE(stdfs::exists(vols->at("optkeys").path + "/x"));

  // Updates: a changed value shows, a removed key disappears, through the same links.
  // "some" lost its "other" key, which its items need: its refresh fails (after "all",
  // which comes first, was refreshed) and its old files stay.
  objects_["ConfigMap/ns1/cfg"] = Parse(R"({"data": {"app.conf": "x=2"}})");
  auto refreshed = mgr_->SetUp(pod);
  ASSERT_FALSE(refreshed.ok());
  EXPECT_EQ(refreshed.status().message(),
            "MountVolume.SetUp failed for volume \"some\" : configmap references non-existent "
            "config key: other");
  EXPECT_EQ(*fs::ReadFile(all + "/app.conf"), "x=2");
  EXPECT_FALSE(stdfs::exists(stdfs::symlink_status(all + "/other")));
  EXPECT_FALSE(stdfs::exists(stdfs::symlink_status(all + "/logo.bin")));
  EXPECT_EQ(*fs::ReadFile(some + "/o.txt"), "o");

  ASSERT_TRUE(mgr_->TearDown("pod-1").ok());
  EXPECT_TRUE(MountsUnder(opts_.pods_dir).empty());
}

TEST_F(VolumeTest, MissingObjectsAndKeysUseKubeletWording) {
  auto r = mgr_->SetUp(Pod(R"({"name": "c", "configMap": {"name": "nope"}})"));
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(),
            "MountVolume.SetUp failed for volume \"c\" : configmap \"nope\" not found");
  r = mgr_->SetUp(Pod(R"({"name": "s", "secret": {"secretName": "nope"}})"));
  EXPECT_EQ(r.status().message(),
            "MountVolume.SetUp failed for volume \"s\" : secret \"nope\" not found");
  r = mgr_->SetUp(Pod(R"({"name": "s", "secret": {"secretName": "sec",
                                          "items": [{"key": "zzz", "path": "z"}]}})"));
  EXPECT_EQ(r.status().message(),
            "MountVolume.SetUp failed for volume \"s\" : references non-existent secret key: zzz");
  r = mgr_->SetUp(Pod(R"({"name": "c", "configMap": {"name": "cfg",
                                          "items": [{"key": "app.conf", "path": "../x"}]}})"));
  EXPECT_EQ(
      r.status().message(),
      "MountVolume.SetUp failed for volume \"c\" : invalid path: must not contain '..': ../x");
  r = mgr_->SetUp(Pod(R"({"name": "nfs", "nfs": {"server": "10.0.0.1", "path": "/x"}})"));
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_EQ(r.status().message(),
            "MountVolume.SetUp failed for volume \"nfs\" : volume source "
            "nfs is not supported on this node");
  ASSERT_TRUE(mgr_->TearDown("pod-1").ok());
}

TEST_F(VolumeTest, ServiceAccountTokenProjection) {
  std::vector<TokenRequestArgs> asked;
  int64_t lifetime = 3600;
  TokenRequester tokens = [&](const TokenRequestArgs& a) -> Result<IssuedToken> {
    asked.push_back(a);
    if (a.service_account == "missing") return NotFound("serviceaccounts \"missing\" not found");
    return IssuedToken{"token-" + std::to_string(asked.size()), Clock::Real().NowUnix() + lifetime};
  };
  VolumeManager mgr(opts_, Getter(), tokens);
  const std::string vol = R"({"name": "api", "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 7200, "audience": "vault"}},
        {"configMap": {"name": "cfg", "items": [{"key": "other", "path": "ca.crt"}]}}]}})";
  auto r = mgr.SetUp(Pod(vol, R"("serviceAccountName": "robot")"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string dir = r->at("api").path;
  EXPECT_EQ(*fs::ReadFile(dir + "/token"), "token-1");
  EXPECT_EQ(*fs::ReadFile(dir + "/ca.crt"), "o");
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].ns, "ns1");
  EXPECT_EQ(asked[0].service_account, "robot");
  EXPECT_EQ(asked[0].audience, "vault");
  EXPECT_EQ(asked[0].expiration_seconds, 7200);
  EXPECT_EQ(asked[0].pod_name, "p");
  EXPECT_EQ(asked[0].pod_uid, "pod-1");
  // A refresh keeps a token that is far from expiring.
  ASSERT_TRUE(mgr.SetUp(Pod(vol, R"("serviceAccountName": "robot")")).ok());
  EXPECT_EQ(asked.size(), 1u);
  ASSERT_TRUE(mgr.TearDown("pod-1").ok());

  // One past 80% of its lifetime is asked for again; no service account name means "default".
  lifetime = 0;
  const std::string plain = R"({"name": "t", "projected": {"sources": [
        {"serviceAccountToken": {"path": "t"}}]}})";
  ASSERT_TRUE(mgr.SetUp(Pod(plain)).ok());
  ASSERT_TRUE(mgr.SetUp(Pod(plain)).ok());
  ASSERT_EQ(asked.size(), 3u);
  EXPECT_EQ(asked[1].service_account, "default");
  EXPECT_EQ(asked[1].expiration_seconds, 3600);
  EXPECT_EQ(*fs::ReadFile(r->at("api").path.substr(0, r->at("api").path.rfind('/')) + "/t/t"),
            "token-3");
  ASSERT_TRUE(mgr.TearDown("pod-1").ok());

  // The API server's refusal is the volume's error.
  auto bad = mgr.SetUp(Pod(plain, R"("serviceAccountName": "missing")"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kNotFound);
  EXPECT_NE(bad.status().message().find("serviceaccounts \"missing\" not found"), std::string::npos)
      << bad.status().message();
  ASSERT_TRUE(mgr.TearDown("pod-1").ok());
}

TEST_F(VolumeTest, DownwardApiAndProjected) {
  json::object pod = Pod(R"({"name": "info", "downwardAPI": {"items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "meta/name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 384},
        {"path": "app", "fieldRef": {"fieldPath": "metadata.labels['app']"}},
        {"path": "cpu", "resourceFieldRef": {"containerName": "main", "resource": "limits.cpu",
                                             "divisor": "1m"}},
        {"path": "mem", "resourceFieldRef": {"containerName": "main",
                                             "resource": "limits.memory", "divisor": "1Mi"}}]}},
      {"name": "proj", "projected": {"defaultMode": 292, "sources": [
        {"secret": {"name": "sec", "items": [{"key": "password", "path": "creds/pw"}]}},
        {"configMap": {"name": "cfg"}},
        {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}
      ]}})");
  auto vols = mgr_->SetUp(pod);
  ASSERT_TRUE(vols.ok()) << vols.status().ToString();
  const std::string info = vols->at("info").path;
  EXPECT_EQ(info, opts_.pods_dir + "/pod-1/volumes/kubernetes.io~downward-api/info");
  EXPECT_EQ(*fs::ReadFile(info + "/labels"), "app=\"web\"");
  EXPECT_EQ(*fs::ReadFile(info + "/meta/name"), "p");
  EXPECT_EQ(Mode(info + "/meta/name"), 0600);
  EXPECT_EQ(*fs::ReadFile(info + "/app"), "web");
  EXPECT_EQ(*fs::ReadFile(info + "/cpu"), "500");
  EXPECT_EQ(*fs::ReadFile(info + "/mem"), "32");

  const std::string proj = vols->at("proj").path;
  EXPECT_TRUE(vols->at("proj").is_tmpfs);
  EXPECT_EQ(*fs::ReadFile(proj + "/creds/pw"), "s3cr3t");
  EXPECT_EQ(Mode(proj + "/creds/pw"), 0444);
  EXPECT_EQ(*fs::ReadFile(proj + "/app.conf"), "x=1");
  EXPECT_EQ(*fs::ReadFile(proj + "/ns"), "ns1");

  // Labels change → the labels file follows; the projected tmpfs is not mounted again.
  EXPECT_EQ(MountsUnder(opts_.pods_dir).size(), 1u);
  pod["metadata"].as_object()["labels"].as_object()["tier"] = "db";
  ASSERT_TRUE(mgr_->SetUp(pod).ok());
  EXPECT_EQ(*fs::ReadFile(info + "/labels"), "app=\"web\"\ntier=\"db\"");
  EXPECT_EQ(MountsUnder(opts_.pods_dir).size(), 1u);
  EXPECT_EQ(*fs::ReadFile(proj + "/creds/pw"), "s3cr3t");
  ASSERT_TRUE(mgr_->TearDown("pod-1").ok());

  auto r = mgr_->SetUp(Pod(R"({"name": "d", "downwardAPI": {"items": [
        {"path": "ip", "fieldRef": {"fieldPath": "status.podIP"}},
        {"path": "x", "resourceFieldRef": {"containerName": "nope", "resource": "limits.cpu"}}]}})"));
  EXPECT_EQ(r.status().message(),
            "MountVolume.SetUp failed for volume \"d\" : [unsupported fieldPath: status.podIP, "
            "container nope not found]");
  r = mgr_->SetUp(Pod(R"({"name": "t", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}})"));
  ASSERT_FALSE(r.ok());  // this manager was given no way to ask for tokens
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("cannot ask the API server for service account tokens"),
            std::string::npos)
      << r.status().message();
  r = mgr_->SetUp(Pod(R"({"name": "p", "projected": {"sources": [
        {"secret": {"name": "nope"}}, {"configMap": {"name": "gone"}},
        {"configMap": {"name": "gone2", "optional": true}}]}})"));
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(),
            "MountVolume.SetUp failed for volume \"p\" : [secret \"nope\" "
            "not found, configmap \"gone\" not found]");
  ASSERT_TRUE(mgr_->TearDown("pod-1").ok());
}

TEST_F(VolumeTest, MountsForSubPathsAndOptions) {
  json::object pod = Pod(R"({"name": "scratch", "emptyDir": {}},
      {"name": "cfg", "configMap": {"name": "cfg"}},
      {"name": "host", "hostPath": {"path": ")" +
                         host_ + R"("}})");
  auto vols = mgr_->SetUp(pod);
  ASSERT_TRUE(vols.ok()) << vols.status().ToString();
  ASSERT_TRUE(fs::WriteFileAtomic(host_ + "/keep.txt", "host data").ok());
  ASSERT_TRUE(fs::MakeDirs(host_ + "/sub").ok());
  const std::string scratch = vols->at("scratch").path;
  json::object container = Parse(R"J({"name": "main", "volumeMounts": [
      {"name": "scratch", "mountPath": "/data"},
      {"name": "cfg", "mountPath": "/etc/app"},
      {"name": "scratch", "mountPath": "/logs", "subPath": "logs/app", "readOnly": true},
      {"name": "cfg", "mountPath": "/etc/app.conf", "subPath": "app.conf"},
      {"name": "scratch", "mountPath": "/per-pod", "subPathExpr": "pods/$(POD_NAME)",
       "mountPropagation": "HostToContainer"},
      {"name": "host", "mountPath": "/host", "subPath": "sub", "mountPropagation": "None"}]})J");
  auto mounts = mgr_->MountsFor(pod, container, *vols, {"POD_NAME=p-1"});
  ASSERT_TRUE(mounts.ok()) << mounts.status().ToString();
  ASSERT_EQ(mounts->size(), 6u);
  const auto& ms = *mounts;
  std::string subpaths = opts_.pods_dir + "/pod-1/volume-subpaths/";
  EXPECT_EQ(ms[0].host_path, scratch);
  EXPECT_EQ(ms[0].container_path, "/data");
  EXPECT_FALSE(ms[0].read_only);
  EXPECT_EQ(ms[1].host_path, vols->at("cfg").path);
  EXPECT_TRUE(ms[1].read_only);  // configMap is always read-only
  EXPECT_EQ(ms[2].host_path, subpaths + "scratch/main/2");
  EXPECT_TRUE(ms[2].read_only);
  EXPECT_EQ(Mode(scratch + "/logs/app"), 0777);  // made with the volume root's mode
  EXPECT_EQ(ms[3].host_path, subpaths + "cfg/main/3");
  EXPECT_EQ(*fs::ReadFile(ms[3].host_path), "x=1");  // a file bind of the resolved key
  EXPECT_EQ(ms[4].host_path, subpaths + "scratch/main/4");
  EXPECT_EQ(ms[4].propagation, "HostToContainer");
  EXPECT_TRUE(stdfs::is_directory(scratch + "/pods/p-1"));
  EXPECT_EQ(ms[5].propagation, "");
  // The bind shows the volume's files, both ways.
  ASSERT_TRUE(fs::WriteFileAtomic(scratch + "/logs/app/x.log", "log").ok());
  EXPECT_EQ(*fs::ReadFile(ms[2].host_path + "/x.log"), "log");
  EXPECT_EQ(MountsUnder(subpaths).size(), 4u);

  // Asked again: the same binds are reused, not stacked.
  ASSERT_TRUE(mgr_->MountsFor(pod, container, *vols, {"POD_NAME=p-1"}).ok());
  EXPECT_EQ(MountsUnder(subpaths).size(), 4u);

  // TearDown unmounts the binds first: the host directory behind one keeps its files.
  ASSERT_TRUE(fs::WriteFileAtomic(host_ + "/sub/precious", "keep me").ok());
  ASSERT_TRUE(mgr_->TearDown("pod-1").ok());
  EXPECT_TRUE(MountsUnder(opts_.pods_dir).empty());
  EXPECT_EQ(*fs::ReadFile(host_ + "/sub/precious"), "keep me");
  EXPECT_EQ(*fs::ReadFile(host_ + "/keep.txt"), "host data");
}

TEST_F(VolumeTest, MountsForRejectsEscapesAndBadOptions) {
  json::object pod = Pod(R"({"name": "scratch", "emptyDir": {}})");
  auto vols = mgr_->SetUp(pod);
  ASSERT_TRUE(vols.ok());
  const std::string scratch = vols->at("scratch").path;
  // A container could plant this link in its own volume.
  ASSERT_EQ(symlink(host_.c_str(), (scratch + "/esc").c_str()), 0);
  ASSERT_EQ(symlink("/", (scratch + "/rootlink").c_str()), 0);
  ASSERT_EQ(symlink("inside", (scratch + "/ok-link").c_str()), 0);
  ASSERT_TRUE(fs::MakeDirs(scratch + "/inside").ok());

  auto one = [&](const std::string& mount_json, std::vector<std::string> env = {}) {
    json::object c = Parse(R"({"name": "main", "volumeMounts": [)" + mount_json + "]}");
    return mgr_->MountsFor(pod, c, *vols, env);
  };
  auto r = one(R"({"name": "scratch", "mountPath": "/x", "subPath": "esc"})");
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_EQ(r.status().message(),
            "failed to prepare subPath for volumeMount \"scratch\" of container \"main\"");
  r = one(R"({"name": "scratch", "mountPath": "/x", "subPath": "rootlink/etc"})");
  EXPECT_EQ(r.status().message(),
            "failed to prepare subPath for volumeMount \"scratch\" of container \"main\"");
  r = one(R"({"name": "scratch", "mountPath": "/x", "subPath": "esc/newdir"})");
  EXPECT_EQ(r.status().message(),
            "failed to create subPath directory for volumeMount \"scratch\" of container \"main\"");
  EXPECT_FALSE(stdfs::exists(host_ + "/newdir"));  // nothing made outside the volume
  // A link that stays inside the volume is followed.
  r = one(R"({"name": "scratch", "mountPath": "/x", "subPath": "ok-link"})");
  EXPECT_TRUE(r.ok()) << r.status().ToString();

  r = one(R"({"name": "scratch", "mountPath": "/x", "subPath": "/abs"})");
  EXPECT_EQ(r.status().message(), "error SubPath `/abs` must not be an absolute path");
  r = one(R"({"name": "scratch", "mountPath": "/x", "subPath": "a/../../b"})");
  EXPECT_EQ(r.status().message(), "unable to provision SubPath `a/../../b`: must not contain '..'");
  r = one(R"J({"name": "scratch", "mountPath": "/x", "subPathExpr": "$(NOPE)/$(EMPTY)/$(A)"})J",
          {"EMPTY=", "A=1"});
  EXPECT_EQ(r.status().message(), "missing value for EMPTY, NOPE");
  r = one(R"J({"name": "scratch", "mountPath": "/x", "subPathExpr": "$(UP)"})J", {"UP=.."});
  EXPECT_EQ(r.status().message(), "unable to provision SubPath `..`: must not contain '..'");
  r = one(R"({"name": "gone", "mountPath": "/x"})");
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), "cannot find volume \"gone\" to mount into container \"main\"");
  r = one(R"({"name": "scratch", "mountPath": "/x", "mountPropagation": "Sideways"})");
  EXPECT_EQ(r.status().message(), "invalid MountPropagation mode: \"Sideways\"");
  r = one(R"({"name": "scratch", "mountPath": "/x", "mountPropagation": "Bidirectional"})");
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  json::object privileged = Parse(R"({"name": "main", "securityContext": {"privileged": true},
      "volumeMounts": [{"name": "scratch", "mountPath": "/x", "mountPropagation": "Bidirectional"}]})");
  auto ok = mgr_->MountsFor(pod, privileged, *vols, {});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)[0].propagation, "Bidirectional");

  ASSERT_TRUE(mgr_->TearDown("pod-1").ok());
  EXPECT_TRUE(stdfs::exists(host_));
  EXPECT_TRUE(MountsUnder(opts_.pods_dir).empty());
}

TEST_F(VolumeTest, MountsForExpandsFromPodEnvironment) {
  // The three-argument form reads the environment itself (fieldRef and a ConfigMap key).
  json::object pod = Pod(R"({"name": "scratch", "emptyDir": {}})");
  auto vols = mgr_->SetUp(pod);
  ASSERT_TRUE(vols.ok());
  json::object c = Parse(R"J({"name": "main",
      "env": [{"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
              {"name": "CONF", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "other"}}}],
      "volumeMounts": [{"name": "scratch", "mountPath": "/x", "subPathExpr": "$(NAME)-$(CONF)"}]})J");
  auto r = mgr_->MountsFor(pod, c, *vols);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(stdfs::is_directory(vols->at("scratch").path + "/p-o"));
  ASSERT_TRUE(mgr_->TearDown("pod-1").ok());
}

// persistentVolumeClaim volumes: the claim must be Bound to a volume claimed by it; hostPath and
// local volumes are bound into containers like hostPath volumes.
TEST_F(VolumeTest, PersistentVolumeClaimHostPathAndLocal) {
  const std::string data = host_ + "/pv-data";
  objects_["PersistentVolumeClaim/ns1/data"] = Parse(R"({"metadata": {"name": "data",
      "namespace": "ns1", "uid": "claim-uid"}, "spec": {"volumeName": "pv1",
      "accessModes": ["ReadWriteOnce"]}, "status": {"phase": "Bound"}})");
  objects_["PersistentVolume//pv1"] = Parse(R"({"metadata": {"name": "pv1"}, "spec": {
      "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
      "claimRef": {"namespace": "ns1", "name": "data", "uid": "claim-uid"},
      "hostPath": {"path": ")" + data + R"(", "type": "DirectoryOrCreate"}}})");
  json::object pod = Pod(R"({"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
             {"name": "ro", "persistentVolumeClaim": {"claimName": "data", "readOnly": true}})");
  auto vols = mgr_->SetUp(pod);
  ASSERT_TRUE(vols.ok()) << vols.status().ToString();
  EXPECT_EQ(vols->at("d").path, data);
  EXPECT_FALSE(vols->at("d").read_only);
  EXPECT_FALSE(vols->at("d").is_file);
  EXPECT_FALSE(vols->at("d").is_tmpfs);
  EXPECT_TRUE(vols->at("ro").read_only);
  EXPECT_TRUE(stdfs::is_directory(data));  // DirectoryOrCreate made it
  EXPECT_EQ(Mode(data), 0755);
  json::object c = Parse(R"({"name": "main", "volumeMounts": [
      {"name": "d", "mountPath": "/data"}, {"name": "ro", "mountPath": "/ro"}]})");
  auto mounts = mgr_->MountsFor(pod, c, *vols);
  ASSERT_TRUE(mounts.ok()) << mounts.status().ToString();
  ASSERT_EQ(mounts->size(), 2u);
  EXPECT_EQ((*mounts)[0].host_path, data);
  EXPECT_FALSE((*mounts)[0].read_only);
  EXPECT_TRUE((*mounts)[1].read_only);
  // The pod's data outlives it: TearDown leaves the volume's directory alone.
  ASSERT_TRUE(fs::WriteFileAtomic(data + "/keep", "v1").ok());
  ASSERT_TRUE(mgr_->TearDown("pod-1").ok());
  EXPECT_EQ(*fs::ReadFile(data + "/keep"), "v1");

  // A hostPath type check fails as for a hostPath volume.
  objects_["PersistentVolume//pv1"].at("spec").as_object()["hostPath"] =
      json::object{{"path", host_ + "/none"}, {"type", "Directory"}};
  auto bad = mgr_->SetUp(pod);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "MountVolume.SetUp failed for volume \"d\" : hostPath type "
            "check failed: " +
                host_ + "/none is not a directory");

  // local: the path must exist; nothing is created.
  json::object& spec = objects_["PersistentVolume//pv1"].at("spec").as_object();
  spec.erase("hostPath");
  spec["local"] = json::object{{"path", host_ + "/disk"}};
  spec["nodeAffinity"] = Parse(R"({"required": {"nodeSelectorTerms": [{"matchExpressions": [
      {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}})");
  auto missing = mgr_->SetUp(pod);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(missing.status().message(), "MountVolume.SetUp failed for volume \"d\" : path \"" +
                                            host_ + "/disk\" does not exist");
  EXPECT_FALSE(stdfs::exists(host_ + "/disk"));
  ASSERT_TRUE(fs::MakeDirs(host_ + "/disk").ok());
  vols = mgr_->SetUp(pod);
  ASSERT_TRUE(vols.ok()) << vols.status().ToString();
  EXPECT_EQ(vols->at("d").path, host_ + "/disk");
  EXPECT_TRUE(vols->at("ro").read_only);

  // Other volume sources are not mounted on this node.
  spec.erase("local");
  spec["nfs"] = json::object{{"server", "10.0.0.1"}, {"path", "/export"}};
  auto nfs = mgr_->SetUp(pod);
  ASSERT_FALSE(nfs.ok());
  EXPECT_EQ(nfs.status().code(), Code::kInvalid);
  EXPECT_EQ(nfs.status().message(),
            "MountVolume.SetUp failed for volume \"d\" : unsupported volume type: PV pv1 has a nfs "
            "volume source (this node mounts hostPath and local persistent volumes only)");
  spec.erase("nfs");
  spec["hostPath"] = json::object{{"path", data}};
  spec["volumeMode"] = "Block";
  auto block = mgr_->SetUp(pod);
  ASSERT_FALSE(block.ok());
  EXPECT_NE(block.status().message().find("block volumes are not supported"), std::string::npos);
  EXPECT_TRUE(mgr_->TearDown("pod-1").ok());
}

TEST_F(VolumeTest, PersistentVolumeClaimMissingOrUnbound) {
  json::object pod = Pod(R"({"name": "d", "persistentVolumeClaim": {"claimName": "data"}})");
  auto r = mgr_->SetUp(pod);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(),
            "MountVolume.SetUp failed for volume \"d\" : error processing PVC ns1/data: failed to "
            "fetch PVC from API server: persistentvolumeclaims \"data\" not found");

  // Pending: the pod waits (ContainerCreating) until the binder binds it.
  objects_["PersistentVolumeClaim/ns1/data"] = Parse(R"({"metadata": {"name": "data",
      "namespace": "ns1", "uid": "claim-uid"}, "spec": {}, "status": {"phase": "Pending"}})");
  r = mgr_->SetUp(pod);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(r.status().message(),
            "MountVolume.SetUp failed for volume \"d\" : error processing PVC ns1/data: PVC is not "
            "bound");
  // Pre-bound by the scheduler or the user but not yet Bound: still waiting.
  objects_["PersistentVolumeClaim/ns1/data"].at("spec").as_object()["volumeName"] = "pv1";
  r = mgr_->SetUp(pod);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("PVC is not bound"), std::string::npos);

  // Bound, but the volume is gone or claimed by another claim (uid).
  objects_["PersistentVolumeClaim/ns1/data"].at("status").as_object()["phase"] = "Bound";
  r = mgr_->SetUp(pod);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "MountVolume.SetUp failed for volume \"d\" : error processing PVC ns1/data: failed to "
            "fetch PV pv1 from API server: persistentvolumes \"pv1\" not found");
  objects_["PersistentVolume//pv1"] = Parse(R"({"metadata": {"name": "pv1"}, "spec": {
      "claimRef": {"namespace": "ns1", "name": "data", "uid": "other-uid"},
      "hostPath": {"path": ")" + host_ + R"("}}})");
  r = mgr_->SetUp(pod);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "MountVolume.SetUp failed for volume \"d\" : error processing PVC ns1/data: found PV "
            "object pv1 but its pv.Spec.ClaimRef.UID other-uid does not point to claim.UID "
            "claim-uid");
  objects_["PersistentVolume//pv1"].at("spec").as_object().erase("claimRef");
  r = mgr_->SetUp(pod);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("has a nil pv.Spec.ClaimRef"), std::string::npos);

  // A claim being deleted is not mounted.
  objects_["PersistentVolume//pv1"].at("spec").as_object()["claimRef"] =
      json::object{{"namespace", "ns1"}, {"name", "data"}, {"uid", "claim-uid"}};
  ASSERT_TRUE(mgr_->SetUp(pod).ok());
  objects_["PersistentVolumeClaim/ns1/data"].at("metadata").as_object()["deletionTimestamp"] =
      "2024-01-01T00:00:00Z";
  r = mgr_->SetUp(pod);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("PVC is being deleted"), std::string::npos);
  EXPECT_TRUE(mgr_->TearDown("pod-1").ok());
}

}  // namespace
}  // namespace sampan::volume
