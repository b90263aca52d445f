#include "runtime/spec.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace sampan::runtime {
namespace {

constexpr char kMinimal[] = R"({
  "ociVersion": "1.0.2",
  "process": {"args": ["sh"], "cwd": "/", "env": ["A=1"],
              "user": {"uid": 1000, "gid": 100, "additionalGids": [5, 6]},
              "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_KILL"]},
              "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}],
              "noNewPrivileges": true, "oomScoreAdj": 100},
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "box",
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
             {"destination": "/data", "type": "bind", "source": "/tmp",
              "options": ["rbind", "ro", "nosuid", "rslave", "size=1k"]}],
  "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                           {"type": "network", "path": "/proc/self/ns/net"}],
            "resources": {"memory": {"limit": 1048576}, "cpu": {"shares": 512, "quota": 50000},
                          "pids": {"limit": 10},
                          "devices": [{"allow": false, "access": "rwm"},
                                      {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}]},
            "cgroupsPath": "/x/y", "maskedPaths": ["/proc/kcore"], "sysctl": {"net.ipv4.ip_forward": "1"}},
  "annotations": {"k": "v"}
})";

TEST(ParseSpec, ReadsEveryField) {
  auto s = ParseSpec(kMinimal);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->process.args, std::vector<std::string>{"sh"});
  EXPECT_EQ(s->process.user.uid, 1000u);
  EXPECT_EQ(s->process.user.additional_gids, (std::vector<uint32_t>{5, 6}));
  EXPECT_EQ(s->process.caps.bounding, (std::vector<int>{0, 5}));
  ASSERT_EQ(s->process.rlimits.size(), 1u);
  EXPECT_EQ(s->process.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(s->process.rlimits[0].soft, 512u);
  EXPECT_EQ(*s->process.oom_score_adj, 100);
  EXPECT_TRUE(s->root_readonly);
  ASSERT_EQ(s->mounts.size(), 2u);
  const Mount& b = s->mounts[1];
  EXPECT_TRUE(b.IsBind());
  EXPECT_EQ(b.flags & (MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID),
            MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID);
  EXPECT_EQ(b.propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(b.data, "size=1k");
  ASSERT_EQ(s->linux.namespaces.size(), 4u);
  EXPECT_EQ(s->linux.namespaces[3].type, NsType::kNetwork);
  EXPECT_EQ(s->linux.namespaces[3].path, "/proc/self/ns/net");
  EXPECT_EQ(*s->linux.resources.memory.limit, 1048576);
  EXPECT_EQ(*s->linux.resources.cpu.shares, 512u);
  EXPECT_EQ(s->linux.resources.devices.size(), 2u);
  EXPECT_EQ(s->linux.resources.devices[1].type, 'c');
  EXPECT_EQ(s->annotations.at("k"), "v");
}

struct BadCase {
  const char* json;
  const char* want;  // substring of the error
};

TEST(ParseSpec, NamesTheBadField) {
  const BadCase cases[] = {
      {"{", "malformed JSON"},
      {R"({"process": {"args": ["a", 3]}})", "process.args[1]: expected a string"},
      {R"({"process": {"args": "sh"}})", "process.args: expected an array"},
      {R"({"linux": {"namespaces": [{"type": "bogus"}]}})",
       "linux.namespaces[0].type: unknown namespace type \"bogus\""},
      {R"({"process": {"capabilities": {"bounding": ["CAP_NOPE"]}}})",
       "unknown capability \"CAP_NOPE\""},
      {R"({"process": {"rlimits": [{"type": "RLIMIT_X", "hard": 1, "soft": 1}]}})",
       "process.rlimits[0].type"},
      {R"({"process": {"user": {"uid": -1}}})", "process.user.uid"},
      {R"({"linux": {"resources": {"devices": [{"allow": true, "type": "x"}]}}})",
       "linux.resources.devices[0].type"},
      {R"({"hostname": 5})", "hostname: expected a string"},
  };
  for (const auto& c : cases) {
    auto s = ParseSpec(c.json);
    ASSERT_FALSE(s.ok()) << c.json;
    EXPECT_EQ(s.status().code(), Code::kInvalid);
    EXPECT_NE(s.status().message().find(c.want), std::string::npos) << s.status().message();
  }
}

class ValidateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/spec-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    mkdir((dir_ + "/rootfs").c_str(), 0755);
  }
  void TearDown() override {
    rmdir((dir_ + "/rootfs").c_str());
    rmdir(dir_.c_str());
  }
  Spec Good() {
    auto s = ParseSpec(R"({"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/"},
      "root": {"path": "rootfs"}, "hostname": "h",
      "linux": {"namespaces": [{"type": "uts"}, {"type": "mount"}]}})");
    EXPECT_TRUE(s.ok());
    return *s;
  }
  std::string dir_;
};

TEST_F(ValidateTest, AcceptsAGoodSpec) { EXPECT_TRUE(ValidateSpec(Good(), dir_).ok()); }

TEST_F(ValidateTest, RejectsInconsistentSpecs) {
  auto expect = [&](Spec s, const char* want) {
    Status st = ValidateSpec(s, dir_);
    ASSERT_FALSE(st.ok()) << want;
    EXPECT_NE(st.message().find(want), std::string::npos) << st.message();
  };
  Spec s = Good();
  s.root_path = "missing";
  expect(s, "root.path: rootfs");
  s = Good();
  s.linux.namespaces.clear();
  expect(s, "hostname: setting the hostname needs a UTS namespace");
  s = Good();
  s.process.args.clear();
  expect(s, "process.args: must not be empty");
  s = Good();
  s.process.cwd = "relative";
  expect(s, "process.cwd: must be an absolute path");
  s = Good();
  s.linux.namespaces.push_back({NsType::kUts, ""});
  expect(s, "duplicate namespace \"uts\"");
  s = Good();
  s.linux.uid_mappings.push_back({0, 1000, 1});
  expect(s, "id mappings need a new user namespace");
  s = Good();
  s.linux.namespaces.push_back({NsType::kNetwork, "/nonexistent/ns"});
  expect(s, "linux.namespaces[2].path");
  s = Good();
  s.linux.sysctl["net.ipv4.ip_forward"] = "1";
  expect(s, "needs a network namespace");
  s = Good();
  s.linux.sysctl["vm.swappiness"] = "1";
  expect(s, "is not namespaced");
  s = Good();
  s.linux.resources.memory.limit = 100;
  s.linux.resources.memory.swap = 50;
  expect(s, "linux.resources.memory.swap");
  s = Good();
  s.oci_version.clear();
  expect(s, "ociVersion");
}

TEST(Names, CapabilitiesAndNamespaces) {
  EXPECT_EQ(*CapabilityFromName("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(*CapabilityFromName("net_raw"), 13);
  EXPECT_FALSE(CapabilityFromName("CAP_FOO").has_value());
  EXPECT_EQ(CapabilityName(0), "CAP_CHOWN");
  EXPECT_EQ(*NsTypeFromName("network"), NsType::kNetwork);
  EXPECT_EQ(NsProcName(NsType::kMount), "mnt");
  EXPECT_FALSE(NsTypeFromName("net").has_value());
}

TEST(DefaultSpec, ParsesAndIsSecure) {
  auto s = ParseSpec(DefaultSpecJson());
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_TRUE(s->process.no_new_privileges);
  EXPECT_TRUE(s->root_readonly);
  ASSERT_TRUE(s->linux.seccomp.has_value());
  bool denies_mount = false;
  for (const auto& sc : s->linux.seccomp->syscalls)
    for (const auto& n : sc.names) denies_mount |= n == "mount" && sc.action == "SCMP_ACT_ERRNO";
  EXPECT_TRUE(denies_mount);
  EXPECT_NE(std::find(s->linux.masked_paths.begin(), s->linux.masked_paths.end(), "/proc/kcore"),
            s->linux.masked_paths.end());
  EXPECT_EQ(s->process.caps.bounding.size(), 3u);
}

}  // namespace
}  // namespace sampan::runtime
