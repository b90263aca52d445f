#include "podspec/container_spec.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "podspec/spec_internal.h"
#include "runtime/spec.h"

namespace sampan::podspec {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

json::object Obj(const char* text) { return json::parse(text).as_object(); }

json::object PodWith(const std::string& containers, const std::string& extra_spec = "") {
  std::string text = R"({"metadata":{"name":"p","namespace":"ns","uid":"u-1"},"spec":{)" +
                     extra_spec + (extra_spec.empty() ? "" : ",") + R"("containers":)" +
                     containers + "}}";
  return json::parse(text).as_object();
}

TEST(QosClass, Classes) {
  EXPECT_EQ(QosClass(PodWith(R"([{"name":"a"}])")), "BestEffort");
  EXPECT_EQ(QosClass(PodWith(R"([{"name":"a","resources":{"requests":{"cpu":"100m"}}}])")),
            "Burstable");
  EXPECT_EQ(
      QosClass(PodWith(
          R"([{"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"1000m","memory":"1Gi"}}}])")),
      "Guaranteed");
  // Limits only (requests default to them).
  EXPECT_EQ(
      QosClass(PodWith(R"([{"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"}}}])")),
      "Guaranteed");
  // Requests below limits.
  EXPECT_EQ(
      QosClass(PodWith(
          R"([{"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"500m","memory":"1Gi"}}}])")),
      "Burstable");
  // A second container without limits.
  EXPECT_EQ(
      QosClass(PodWith(
          R"([{"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"}}},{"name":"b"}])")),
      "Burstable");
  // Init containers count.
  EXPECT_EQ(QosClass(PodWith(
                R"([{"name":"a"}])",
                R"("initContainers":[{"name":"i","resources":{"requests":{"memory":"1Mi"}}}])")),
            "Burstable");
  // Other resources do not.
  EXPECT_EQ(
      QosClass(PodWith(R"([{"name":"a","resources":{"limits":{"ephemeral-storage":"1Gi"}}}])")),
      "BestEffort");
}

TEST(PodCgroupParent, ByQos) {
  EXPECT_EQ(PodCgroupParent(PodWith(R"([{"name":"a"}])")), "/kubepods/besteffort/podu-1");
  EXPECT_EQ(PodCgroupParent(PodWith(R"([{"name":"a","resources":{"requests":{"cpu":"1"}}}])")),
            "/kubepods/burstable/podu-1");
  EXPECT_EQ(
      PodCgroupParent(PodWith(R"([{"name":"a","resources":{"limits":{"cpu":"1","memory":"1"}}}])")),
      "/kubepods/podu-1");
}

TEST(ExpandRefs, KubernetesRules) {
  std::map<std::string, std::string> v = {{"A", "x"}, {"B", "y"}};
  using internal::ExpandRefs;
  EXPECT_EQ(ExpandRefs("$(A)-$(B)", v), "x-y");
  EXPECT_EQ(ExpandRefs("$(C)", v), "$(C)");
  EXPECT_EQ(ExpandRefs("$$(A)", v), "$(A)");
  EXPECT_EQ(ExpandRefs("$$$(A)", v), "$x");
  EXPECT_EQ(ExpandRefs("a$b", v), "a$b");
  EXPECT_EQ(ExpandRefs("$(A", v), "$(A");
  EXPECT_EQ(ExpandRefs("end$", v), "end$");
  EXPECT_EQ(ExpandRefs("$()", v), "$()");
}

TEST(ContainerArgs, CombinesWithImage) {
  image::ImageConfig img;
  img.entrypoint = {"/ep"};
  img.cmd = {"c1", "c2"};
  std::vector<std::string> env = {"NAME=world", "X=1", "X=2"};
  auto r = ContainerArgs(Obj(R"({"name":"a"})"), img, env);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<std::string>{"/ep", "c1", "c2"}));
  r = ContainerArgs(Obj(R"J({"command":["/bin/echo","$(NAME)"]})J"), img, env);
  EXPECT_EQ(*r, (std::vector<std::string>{"/bin/echo", "world"}));
  r = ContainerArgs(Obj(R"J({"args":["hello $(NAME) $(X) $(NOPE) $$(NAME)"]})J"), img, env);
  EXPECT_EQ(*r, (std::vector<std::string>{"/ep", "hello world 2 $(NOPE) $(NAME)"}));
  r = ContainerArgs(Obj(R"({"command":["/c"],"args":["a"]})"), img, env);
  EXPECT_EQ(*r, (std::vector<std::string>{"/c", "a"}));
  image::ImageConfig empty;
  r = ContainerArgs(Obj(R"({"name":"a"})"), empty, env);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  empty.entrypoint = {""};
  EXPECT_FALSE(ContainerArgs(Obj(R"({"name":"a"})"), empty, env).ok());
  EXPECT_EQ(*ContainerArgs(Obj(R"({"args":["x"]})"), empty, env), std::vector<std::string>{"x"});
}

TEST(Conversions, SharesQuotaOom) {
  using namespace internal;
  EXPECT_EQ(MilliCpuToShares(0), 2u);
  EXPECT_EQ(MilliCpuToShares(1), 2u);
  EXPECT_EQ(MilliCpuToShares(100), 102u);
  EXPECT_EQ(MilliCpuToShares(1000), 1024u);
  EXPECT_EQ(MilliCpuToShares(1000000), 262144u);
  EXPECT_EQ(MilliCpuToQuota(0, 100000), 0);
  EXPECT_EQ(MilliCpuToQuota(5, 100000), 1000);
  EXPECT_EQ(MilliCpuToQuota(250, 100000), 25000);
  int64_t gi = 1 << 30;
  auto be = PodWith(R"([{"name":"a"}])");
  EXPECT_EQ(OomScoreAdj(be, be["spec"].at("containers").at(0).as_object(), 4 * gi), 1000);
  auto g = PodWith(R"([{"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"}}}])");
  EXPECT_EQ(OomScoreAdj(g, g["spec"].at("containers").at(0).as_object(), 4 * gi), -997);
  auto b = PodWith(R"([{"name":"a","resources":{"requests":{"memory":"1Gi"}}}])");
  EXPECT_EQ(OomScoreAdj(b, b["spec"].at("containers").at(0).as_object(), 4 * gi), 750);
  auto big = PodWith(R"([{"name":"a","resources":{"requests":{"memory":"4Gi"}}}])");
  EXPECT_EQ(OomScoreAdj(big, big["spec"].at("containers").at(0).as_object(), 4 * gi), 3);
  auto tiny = PodWith(R"([{"name":"a","resources":{"requests":{"cpu":"1"}}}])");
  EXPECT_EQ(OomScoreAdj(tiny, tiny["spec"].at("containers").at(0).as_object(), 4 * gi), 999);
  auto crit = PodWith(R"([{"name":"a"}])", R"("priority":2000001000)");
  EXPECT_EQ(OomScoreAdj(crit, crit["spec"].at("containers").at(0).as_object(), 4 * gi), -997);
}

TEST(Capabilities, AddDropAll) {
  using internal::Capabilities;
  auto caps = [](const char* text) { return json::parse(text); };
  auto has = [](const std::vector<std::string>& v, const char* c) {
    return std::find(v.begin(), v.end(), c) != v.end();
  };
  auto d = Capabilities(nullptr, false);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->size(), 14u);
  EXPECT_TRUE(has(*d, "CAP_CHOWN"));
  EXPECT_FALSE(has(*d, "CAP_SYS_ADMIN"));
  auto v = caps(R"({"add":["NET_ADMIN","sys_time"],"drop":["CHOWN"]})");
  auto r = Capabilities(&v, false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(has(*r, "CAP_NET_ADMIN"));
  EXPECT_TRUE(has(*r, "CAP_SYS_TIME"));
  EXPECT_FALSE(has(*r, "CAP_CHOWN"));
  v = caps(R"({"drop":["ALL"],"add":["NET_BIND_SERVICE"]})");
  r = Capabilities(&v, false);
  EXPECT_EQ(*r, std::vector<std::string>{"CAP_NET_BIND_SERVICE"});
  v = caps(R"({"add":["ALL"],"drop":["SYS_ADMIN"]})");
  r = Capabilities(&v, false);
  EXPECT_TRUE(has(*r, "CAP_SYS_MODULE"));
  EXPECT_FALSE(has(*r, "CAP_SYS_ADMIN"));
  v = caps(R"({"add":["NOT_A_CAP"]})");
  EXPECT_EQ(Capabilities(&v, false).status().code(), Code::kInvalid);
  r = Capabilities(nullptr, true);
  EXPECT_TRUE(has(*r, "CAP_SYS_ADMIN"));
}

// A temporary rootfs with /etc/passwd and /etc/group, removed at the end.
class SpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/podspec-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    rootfs_ = dir_ + "/rootfs";
    fs::create_directories(rootfs_ + "/etc");
    Write(rootfs_ + "/etc/passwd",
          "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n"
          "svc:x:1500:1500::/:/bin/false\n");
    Write(rootfs_ + "/etc/group", "root:x:0:\napp:x:1001:\nstaff:x:50:app,other\nweb:x:60:svc\n");
    Write(dir_ + "/hosts", "127.0.0.1 localhost\n");
    Write(dir_ + "/resolv.conf", "nameserver 10.96.0.10\n");
    Write(dir_ + "/hostname", "p\n");
    Write(dir_ + "/termlog", "");
    fs::create_directories(dir_ + "/vol");
    Write(dir_ + "/file-vol", "x");
    img_.env = {"PATH=/bin", "FOO=image", "BAR=image"};
    img_.cmd = {"sh"};
    img_.working_dir = "/srv";
  }
  void TearDown() override { fs::remove_all(dir_); }
  static void Write(const std::string& p, const std::string& text) { std::ofstream(p) << text; }

  ContainerInputs Inputs(const json::object& pod, const json::object& c) {
    ContainerInputs in;
    in.pod = &pod;
    in.container = &c;
    in.image = &img_;
    in.rootfs = rootfs_;
    in.env = {"FOO=container"};
    in.sandbox.pause_pid = ::getpid();
    in.sandbox.hostname = "p";
    in.sandbox.etc_hosts = dir_ + "/hosts";
    in.sandbox.resolv_conf = dir_ + "/resolv.conf";
    in.sandbox.hostname_file = dir_ + "/hostname";
    in.sandbox.cgroup_parent = PodCgroupParent(pod);
    in.termination_message_path = dir_ + "/termlog";
    in.container_id = "cid1";
    in.node_memory_capacity = int64_t{4} << 30;
    return in;
  }

  // Builds, then checks the runtime accepts it; returns the parsed JSON and spec.
  runtime::Spec Parse(const std::string& text, json::object* out = nullptr) {
    auto spec = runtime::ParseSpec(text);
    EXPECT_TRUE(spec.ok()) << spec.status().message() << "\n" << text;
    if (!spec.ok()) return {};
    Status st = runtime::ValidateSpec(*spec, dir_);
    EXPECT_TRUE(st.ok()) << st.message();
    if (out) *out = json::parse(text).as_object();
    return *spec;
  }

  const json::object* FindMount(const json::object& cfg, const std::string& dst) {
    for (const auto& m : cfg.at("mounts").as_array())
      if (m.at("destination").as_string() == dst) return &m.as_object();
    return nullptr;
  }

  std::string dir_, rootfs_;
  image::ImageConfig img_;
};

TEST_F(SpecTest, AppContainerBasics) {
  auto pod = PodWith(
      R"([{"name":"app","workingDir":"/work","resources":{"requests":{"cpu":"250m","memory":"64Mi"},"limits":{"cpu":"500m","memory":"128Mi"}}}])");
  const auto& c = pod["spec"].at("containers").at(0).as_object();
  auto text = ContainerConfigJson(Inputs(pod, c));
  ASSERT_TRUE(text.ok()) << text.status().message();
  json::object cfg;
  runtime::Spec s = Parse(*text, &cfg);
  EXPECT_EQ(s.process.args, std::vector<std::string>{"sh"});
  EXPECT_EQ(s.process.cwd, "/work");
  auto has_env = [&](const std::string& e) {
    return std::find(s.process.env.begin(), s.process.env.end(), e) != s.process.env.end();
  };
  EXPECT_TRUE(has_env("FOO=container"));
  EXPECT_TRUE(has_env("BAR=image"));
  EXPECT_TRUE(has_env("PATH=/bin"));
  EXPECT_TRUE(has_env("HOSTNAME=p"));
  EXPECT_FALSE(has_env("FOO=image"));
  EXPECT_EQ(s.process.user.uid, 0u);
  EXPECT_FALSE(s.process.no_new_privileges);
  EXPECT_EQ(*s.process.oom_score_adj, 1000 - 1000 * 64 / 4096);
  EXPECT_EQ(s.process.caps.bounding.size(), 14u);
  EXPECT_EQ(*s.linux.resources.cpu.shares, 256u);
  EXPECT_EQ(*s.linux.resources.cpu.quota, 50000);
  EXPECT_EQ(*s.linux.resources.cpu.period, 100000u);
  EXPECT_EQ(*s.linux.resources.memory.limit, 128 << 20);
  EXPECT_EQ(s.linux.cgroups_path, "/kubepods/burstable/podu-1/cid1");
  EXPECT_FALSE(s.root_readonly);
  EXPECT_TRUE(s.hostname.empty());
  // Namespaces: joined by path, except mount (own) and pid (own: no shareProcessNamespace).
  std::string self = std::to_string(::getpid());
  ASSERT_NE(s.linux.FindNamespace(runtime::NsType::kNetwork), nullptr);
  EXPECT_EQ(s.linux.FindNamespace(runtime::NsType::kNetwork)->path, "/proc/" + self + "/ns/net");
  EXPECT_EQ(s.linux.FindNamespace(runtime::NsType::kIpc)->path, "/proc/" + self + "/ns/ipc");
  EXPECT_EQ(s.linux.FindNamespace(runtime::NsType::kUts)->path, "/proc/" + self + "/ns/uts");
  EXPECT_EQ(s.linux.FindNamespace(runtime::NsType::kPid)->path, "");
  EXPECT_EQ(s.linux.FindNamespace(runtime::NsType::kMount)->path, "");
  // Files and default mounts.
  const json::object* hosts = FindMount(cfg, "/etc/hosts");
  ASSERT_NE(hosts, nullptr);
  EXPECT_EQ(hosts->at("source").as_string(), dir_ + "/hosts");
  EXPECT_NE(FindMount(cfg, "/etc/resolv.conf"), nullptr);
  EXPECT_NE(FindMount(cfg, "/etc/hostname"), nullptr);
  EXPECT_NE(FindMount(cfg, "/dev/termination-log"), nullptr);
  EXPECT_NE(FindMount(cfg, "/dev/shm"), nullptr);
  EXPECT_NE(FindMount(cfg, "/proc"), nullptr);
  EXPECT_NE(FindMount(cfg, "/dev/pts"), nullptr);
  EXPECT_EQ(FindMount(cfg, "/sys")->at("options").as_array().back().as_string(), "ro");
  EXPECT_FALSE(s.linux.masked_paths.empty());
  EXPECT_FALSE(s.linux.readonly_paths.empty());
  EXPECT_FALSE(s.linux.seccomp.has_value());
}

TEST_F(SpecTest, ImageEntrypointAndEnvExpansion) {
  img_.entrypoint = {"/ep"};
  auto pod = PodWith(R"J([{"name":"a","args":["$(FOO)","$(MISSING)"]}])J");
  const auto& c = pod["spec"].at("containers").at(0).as_object();
  auto text = ContainerConfigJson(Inputs(pod, c));
  ASSERT_TRUE(text.ok());
  auto s = Parse(*text);
  EXPECT_EQ(s.process.args, (std::vector<std::string>{"/ep", "container", "$(MISSING)"}));
  EXPECT_EQ(s.process.cwd, "/srv");
}

TEST_F(SpecTest, Users) {
  auto user_of = [&](const std::string& image_user, const std::string& container,
                     const std::string& pod_sc = "") -> Result<runtime::User> {
    img_.user = image_user;
    auto pod = PodWith("[" + container + "]", pod_sc);
    const auto& c = pod["spec"].at("containers").at(0).as_object();
    auto text = ContainerConfigJson(Inputs(pod, c));
    if (!text.ok()) return text.status();
    return Parse(*text).process.user;
  };
  auto u = user_of("", R"({"name":"a"})");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 0u);
  EXPECT_EQ(u->gid, 0u);
  u = user_of("app", R"({"name":"a"})");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1001u);
  EXPECT_EQ(u->additional_gids, (std::vector<uint32_t>{50, 1001}));  // staff lists app
  u = user_of("1000", R"({"name":"a"})");  // numeric uid: primary group from passwd
  EXPECT_EQ(u->gid, 1001u);
  u = user_of("1234:77", R"({"name":"a"})");
  EXPECT_EQ(u->uid, 1234u);
  EXPECT_EQ(u->gid, 77u);
  u = user_of("svc:staff", R"({"name":"a"})");
  EXPECT_EQ(u->uid, 1500u);
  EXPECT_EQ(u->gid, 50u);
  EXPECT_EQ(user_of("ghost", R"({"name":"a"})").status().code(), Code::kInvalid);
  EXPECT_EQ(user_of("app:nogroup", R"({"name":"a"})").status().code(), Code::kInvalid);
  // runAsUser/runAsGroup (container over pod), supplementalGroups and fsGroup.
  u = user_of(
      "app", R"({"name":"a","securityContext":{"runAsUser":2000}})",
      R"("securityContext":{"runAsUser":3000,"runAsGroup":4000,"supplementalGroups":[5000],"fsGroup":6000})");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 2000u);
  EXPECT_EQ(u->gid, 4000u);
  EXPECT_EQ(u->additional_gids, (std::vector<uint32_t>{4000, 5000, 6000}));
  // runAsNonRoot.
  EXPECT_EQ(user_of("", R"({"name":"a","securityContext":{"runAsNonRoot":true}})").status().code(),
            Code::kInvalid);
  EXPECT_EQ(
      user_of("0", R"({"name":"a"})", R"("securityContext":{"runAsNonRoot":true})").status().code(),
      Code::kInvalid);
  auto named = user_of("app", R"({"name":"a","securityContext":{"runAsNonRoot":true}})");
  EXPECT_EQ(named.status().code(), Code::kInvalid);
  EXPECT_NE(named.status().message().find("non-numeric user (app)"), std::string::npos);
  EXPECT_EQ(user_of("1000", R"({"name":"a","securityContext":{"runAsNonRoot":true,"runAsUser":0}})")
                .status()
                .code(),
            Code::kInvalid);
  EXPECT_TRUE(user_of("1000", R"({"name":"a","securityContext":{"runAsNonRoot":true}})").ok());
  EXPECT_TRUE(
      user_of("", R"({"name":"a","securityContext":{"runAsNonRoot":true,"runAsUser":5}})").ok());
}

TEST_F(SpecTest, SecurityContext) {
  auto pod = PodWith(
      R"([{"name":"a","securityContext":{"readOnlyRootFilesystem":true,"allowPrivilegeEscalation":false,
          "capabilities":{"drop":["ALL"],"add":["NET_ADMIN"]},"seccompProfile":{"type":"RuntimeDefault"}}}])");
  const auto& c = pod["spec"].at("containers").at(0).as_object();
  auto text = ContainerConfigJson(Inputs(pod, c));
  ASSERT_TRUE(text.ok());
  json::object cfg;
  auto s = Parse(*text, &cfg);
  EXPECT_TRUE(s.root_readonly);
  EXPECT_TRUE(s.process.no_new_privileges);
  EXPECT_EQ(s.process.caps.effective, std::vector<int>{*runtime::CapabilityFromName("NET_ADMIN")});
  EXPECT_TRUE(s.linux.seccomp.has_value());
  auto opts = FindMount(cfg, "/etc/hosts")->at("options").as_array();
  EXPECT_EQ(opts.back().as_string(), "ro");

  auto priv = PodWith(
      R"([{"name":"a","securityContext":{"privileged":true,"allowPrivilegeEscalation":false}}])");
  const auto& pc = priv["spec"].at("containers").at(0).as_object();
  text = ContainerConfigJson(Inputs(priv, pc));
  ASSERT_TRUE(text.ok());
  s = Parse(*text, &cfg);
  EXPECT_FALSE(s.process.no_new_privileges);
  EXPECT_TRUE(s.linux.masked_paths.empty());
  EXPECT_TRUE(s.linux.readonly_paths.empty());
  EXPECT_GT(s.process.caps.bounding.size(), 30u);
  EXPECT_FALSE(s.linux.devices.empty());
  ASSERT_EQ(s.linux.resources.devices.size(), 1u);
  EXPECT_TRUE(s.linux.resources.devices[0].allow);
  EXPECT_EQ(FindMount(cfg, "/sys")->at("options").as_array().back().as_string(), "rw");

  auto local = PodWith(
      R"([{"name":"a","securityContext":{"seccompProfile":{"type":"Localhost","localhostProfile":"x.json"}}}])");
  EXPECT_EQ(ContainerConfigJson(Inputs(local, local["spec"].at("containers").at(0).as_object()))
                .status()
                .code(),
            Code::kInvalid);
  // Pod-level seccomp applies to its containers.
  auto podsc = PodWith(R"([{"name":"a"}])",
                       R"("securityContext":{"seccompProfile":{"type":"RuntimeDefault"}})");
  text = ContainerConfigJson(Inputs(podsc, podsc["spec"].at("containers").at(0).as_object()));
  EXPECT_TRUE(Parse(*text).linux.seccomp.has_value());
}

TEST_F(SpecTest, VolumeMountsAndHostNamespaces) {
  auto pod = PodWith(R"([{"name":"a","terminationMessagePath":"/tmp/term"}])");
  const auto& c = pod["spec"].at("containers").at(0).as_object();
  ContainerInputs in = Inputs(pod, c);
  in.mounts = {{dir_ + "/vol", "/data/deep", false, ""},
               {dir_ + "/vol", "/data", true, "HostToContainer"},
               {dir_ + "/file-vol", "/etc/config.txt", true, ""},
               {dir_ + "/vol", "/etc/resolv.conf", false, ""}};
  in.sandbox.host_network = true;
  in.sandbox.host_pid = true;
  in.sandbox.host_ipc = true;
  in.sandbox.share_pid = true;
  auto text = ContainerConfigJson(in);
  ASSERT_TRUE(text.ok()) << text.status().message();
  json::object cfg;
  auto s = Parse(*text, &cfg);
  const json::object* data = FindMount(cfg, "/data");
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(json::serialize(data->at("options")), R"(["rbind","rslave","ro"])");
  EXPECT_EQ(json::serialize(FindMount(cfg, "/data/deep")->at("options")),
            R"(["rbind","rprivate","rw"])");
  EXPECT_EQ(json::serialize(FindMount(cfg, "/etc/config.txt")->at("options")),
            R"(["bind","rprivate","ro"])");
  EXPECT_EQ(FindMount(cfg, "/etc/resolv.conf")->at("source").as_string(), dir_ + "/vol");
  EXPECT_EQ(FindMount(cfg, "/etc/hostname"), nullptr);  // host network: the node's name
  EXPECT_NE(FindMount(cfg, "/tmp/term"), nullptr);
  EXPECT_EQ(FindMount(cfg, "/dev/shm")->at("source").as_string(), "/dev/shm");
  EXPECT_EQ(s.linux.rootfs_propagation, "rslave");
  // Shallow destinations before deep ones.
  int i_data = -1, i_deep = -1, i = 0;
  for (const auto& m : cfg.at("mounts").as_array()) {
    if (m.at("destination").as_string() == "/data") i_data = i;
    if (m.at("destination").as_string() == "/data/deep") i_deep = i;
    ++i;
  }
  EXPECT_LT(i_data, i_deep);
  for (auto t : {runtime::NsType::kNetwork, runtime::NsType::kPid, runtime::NsType::kIpc,
                 runtime::NsType::kUts})
    EXPECT_EQ(s.linux.FindNamespace(t), nullptr);
  EXPECT_NE(s.linux.FindNamespace(runtime::NsType::kMount), nullptr);

  // shareProcessNamespace without hostPID joins the pause's pid namespace.
  in.sandbox = Inputs(pod, c).sandbox;
  in.sandbox.share_pid = true;
  in.mounts.clear();
  s = Parse(*ContainerConfigJson(in));
  EXPECT_EQ(s.linux.FindNamespace(runtime::NsType::kPid)->path,
            "/proc/" + std::to_string(::getpid()) + "/ns/pid");
}

TEST_F(SpecTest, Sandbox) {
  auto pod = PodWith(
      R"([{"name":"a"}])",
      R"("securityContext":{"runAsUser":65535,"sysctls":[{"name":"net.ipv4.ip_local_port_range","value":"1024 65000"},{"name":"kernel/shm_rmid_forced","value":"1"},{"name":"vm.swappiness","value":"1"}]})");
  SandboxInfo sb;
  sb.hostname = "my-pod";
  sb.cgroup_parent = PodCgroupParent(pod);
  sb.shm_path = dir_ + "/vol";
  json::object cfg;
  auto s = Parse(SandboxConfigJson(pod, sb, rootfs_), &cfg);
  EXPECT_EQ(s.process.args, std::vector<std::string>{"/pause"});
  EXPECT_EQ(s.process.user.uid, 65535u);
  EXPECT_EQ(s.hostname, "my-pod");
  EXPECT_TRUE(s.root_readonly);
  EXPECT_EQ(s.linux.cgroups_path, "/kubepods/besteffort/podu-1/pause");
  for (auto t : {runtime::NsType::kNetwork, runtime::NsType::kPid, runtime::NsType::kIpc,
                 runtime::NsType::kUts, runtime::NsType::kMount}) {
    ASSERT_NE(s.linux.FindNamespace(t), nullptr);
    EXPECT_EQ(s.linux.FindNamespace(t)->path, "");
  }
  EXPECT_EQ(s.linux.sysctl.at("net.ipv4.ip_local_port_range"), "1024 65000");
  EXPECT_EQ(s.linux.sysctl.at("kernel.shm_rmid_forced"), "1");
  EXPECT_EQ(s.linux.sysctl.count("vm.swappiness"), 0u);
  EXPECT_EQ(FindMount(cfg, "/dev/shm")->at("source").as_string(), dir_ + "/vol");
  sb.host_network = true;
  sb.host_ipc = true;
  s = Parse(SandboxConfigJson(pod, sb, rootfs_));
  EXPECT_EQ(s.linux.FindNamespace(runtime::NsType::kNetwork), nullptr);
  EXPECT_EQ(s.linux.FindNamespace(runtime::NsType::kUts), nullptr);
  EXPECT_EQ(s.linux.FindNamespace(runtime::NsType::kIpc), nullptr);
  EXPECT_TRUE(s.hostname.empty());
  EXPECT_EQ(s.linux.sysctl.count("net.ipv4.ip_local_port_range"), 0u);
}

}  // namespace
}  // namespace sampan::podspec
