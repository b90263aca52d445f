// Root only: a sandbox and one app container built from our configs, run by the runtime
// library on a busybox-static rootfs. The container must see the sandbox's hostname and
// network namespace, the merged environment, its user and the pod's files.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "podspec/container_spec.h"
#include "runtime/runtime.h"

namespace sampan::podspec {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr const char* kBusybox = "/bin/busybox";

void Write(const std::string& p, const std::string& text, mode_t mode = 0644) {
  std::ofstream(p) << text;
  ::chmod(p.c_str(), mode);
}

std::string Read(const std::string& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// A busybox rootfs: the static binary and a link per applet the test uses.
void MakeBusyboxRootfs(const std::string& root) {
  for (const char* d : {"bin", "etc", "proc", "sys", "dev", "tmp", "root"})
    fs::create_directories(root + "/" + d);
  fs::copy_file(kBusybox, root + "/bin/busybox");
  for (const char* a : {"sh", "hostname", "readlink", "id", "cat", "sleep", "echo", "env"})
    fs::create_symlink("busybox", root + "/bin/" + a);
  Write(root + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000::/:/bin/sh\n");
  Write(root + "/etc/group", "root:x:0:\nweb:x:1000:\n");
}

// Host-side inode of a namespace of `pid`.
std::string NsLink(pid_t pid, const char* name) {
  std::error_code ec;
  return fs::read_symlink("/proc/" + std::to_string(pid) + "/ns/" + name, ec).string();
}

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (runs as root in make test)";
    ASSERT_TRUE(fs::exists(kBusybox)) << "busybox-static is not installed";
    char tmpl[] = "/tmp/podspec-run-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::chmod(dir_.c_str(), 0755);
    runtime::RuntimeOptions ro;
    ro.root = dir_ + "/state";
    rt_ = std::make_unique<runtime::Runtime>(ro);
  }
  void TearDown() override {
    if (!rt_) return;
    for (auto it = ids_.rbegin(); it != ids_.rend(); ++it) {
      Status st = rt_->Delete(*it, true);
      EXPECT_TRUE(st.ok()) << st.message();
    }
    // Nothing of ours may stay mounted below the test directory.
    std::string mounts = Read("/proc/self/mountinfo");
    EXPECT_EQ(mounts.find(dir_), std::string::npos);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string WaitStopped(const std::string& id) {
    for (int i = 0; i < 500; ++i) {
      auto s = rt_->State(id);
      if (!s.ok()) return s.status().message();
      if (s->status == "stopped") return "stopped";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return "timeout";
  }

  std::string dir_;
  std::unique_ptr<runtime::Runtime> rt_;
  std::vector<std::string> ids_;
};

TEST_F(RunTest, ContainerJoinsSandbox) {
  std::string tag = std::to_string(::getpid());
  std::string pause_root = dir_ + "/pause-rootfs", app_root = dir_ + "/app-rootfs";
  MakeBusyboxRootfs(pause_root);
  MakeBusyboxRootfs(app_root);
  // The test's infra process: a shell that sleeps (the real one is sampan-pause).
  Write(pause_root + "/pause", "#!/bin/sh\nexec sleep 100000\n", 0755);
  Write(dir_ + "/hosts", "127.0.0.1 localhost\n10.0.0.7 spec-pod\n");
  Write(dir_ + "/resolv.conf", "nameserver 10.96.0.10\n");
  Write(dir_ + "/hostname", "spec-pod\n");
  Write(dir_ + "/termination-log", "", 0666);  // the kubelet makes it 0666 too
  fs::create_directories(dir_ + "/vol");
  Write(dir_ + "/vol/data.txt", "volume-data\n");

  json::object pod = json::parse(R"({
    "metadata": {"name": "spec-pod", "namespace": "default", "uid": "podspec-test-)" +
                                 tag + R"("},
    "spec": {
      "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "supplementalGroups": [4242]},
      "containers": [{
        "name": "app",
        "command": ["/bin/sh", "-c"],
        "args": ["hostname; readlink /proc/self/ns/net; id -u; id -g; id -G; echo FOO=$FOO BAR=$BAR; echo ARG=$(GREETING); cat /etc/hosts /data/data.txt; echo done > /dev/termination-log"],
        "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}}
      }]
    }})")
                         .as_object();
  const json::object& container = pod["spec"].at("containers").at(0).as_object();

  SandboxInfo sb;
  sb.hostname = "spec-pod";
  sb.etc_hosts = dir_ + "/hosts";
  sb.resolv_conf = dir_ + "/resolv.conf";
  sb.hostname_file = dir_ + "/hostname";
  // A cgroup parent of the test's own, so that nothing touches a real node's /kubepods.
  sb.cgroup_parent = "/sampan-podspec-test-" + tag;
  fs::create_directories(dir_ + "/pause");
  Write(dir_ + "/pause/config.json", SandboxConfigJson(pod, sb, pause_root));
  runtime::CreateOptions pause;
  pause.id = "pause-" + tag;
  pause.bundle = dir_ + "/pause";
  ids_.push_back(pause.id);
  Status st = rt_->Create(pause);
  ASSERT_TRUE(st.ok()) << st.message();
  st = rt_->Start(pause.id);
  ASSERT_TRUE(st.ok()) << st.message();
  auto ps = rt_->State(pause.id);
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(ps->status, "running");
  sb.pause_pid = ps->pid;

  image::ImageConfig img;
  img.env = {"PATH=/bin", "FOO=from-image", "BAR=from-image"};
  img.cmd = {"sh"};
  ContainerInputs in;
  in.pod = &pod;
  in.container = &container;
  in.image = &img;
  in.rootfs = app_root;
  in.env = {"FOO=from-pod", "GREETING=hello"};
  in.mounts = {{dir_ + "/vol", "/data", true, ""}};
  in.sandbox = sb;
  in.termination_message_path = dir_ + "/termination-log";
  in.container_id = "app-" + tag;
  auto cfg = ContainerConfigJson(in);
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  fs::create_directories(dir_ + "/app");
  Write(dir_ + "/app/config.json", *cfg);
  runtime::CreateOptions app;
  app.id = in.container_id;
  app.bundle = dir_ + "/app";
  app.log_path = dir_ + "/app.log";
  ids_.push_back(app.id);
  st = rt_->Create(app);
  ASSERT_TRUE(st.ok()) << st.message();
  st = rt_->Start(app.id);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(WaitStopped(app.id), "stopped");
  auto as = rt_->State(app.id);
  ASSERT_TRUE(as.ok());
  std::string log = Read(app.log_path);
  EXPECT_EQ(as->exit_code, 0) << log;
  // CRI log lines: "<time> stdout F <text>".
  std::vector<std::string> lines;
  std::istringstream ls(log);
  for (std::string l; std::getline(ls, l);) {
    size_t p = l.find(" F ");
    if (p != std::string::npos) lines.push_back(l.substr(p + 3));
  }
  ASSERT_GE(lines.size(), 10u) << log;
  EXPECT_EQ(lines[0], "spec-pod");
  EXPECT_EQ(lines[1], NsLink(sb.pause_pid, "net"));
  EXPECT_NE(lines[1], NsLink(::getpid(), "net"));
  EXPECT_EQ(lines[2], "1000");
  EXPECT_EQ(lines[3], "1000");
  EXPECT_NE(lines[4].find("4242"), std::string::npos) << lines[4];
  EXPECT_EQ(lines[5], "FOO=from-pod BAR=from-image");
  EXPECT_EQ(lines[6], "ARG=hello");
  EXPECT_EQ(lines[7], "127.0.0.1 localhost");
  EXPECT_EQ(lines[8], "10.0.0.7 spec-pod");
  EXPECT_EQ(lines[9], "volume-data");
  EXPECT_EQ(Read(dir_ + "/termination-log"), "done\n");
}

TEST_F(RunTest, PrivilegedContainerRuns) {
  std::string tag = std::to_string(::getpid());
  std::string pause_root = dir_ + "/pause-rootfs", app_root = dir_ + "/app-rootfs";
  MakeBusyboxRootfs(pause_root);
  MakeBusyboxRootfs(app_root);
  Write(pause_root + "/pause", "#!/bin/sh\nexec sleep 100000\n", 0755);
  json::object pod = json::parse(R"({
    "metadata": {"name": "priv", "namespace": "default", "uid": "podspec-priv-)" + tag + R"("},
    "spec": {"containers": [{"name": "app", "securityContext": {"privileged": true},
      "command": ["/bin/sh", "-c", "cat /proc/self/status; test -c /dev/null && echo has-dev-null"]}]}})")
                        .as_object();
  const json::object& container = pod["spec"].at("containers").at(0).as_object();
  SandboxInfo sb;
  sb.hostname = "priv";
  sb.cgroup_parent = "/sampan-podspec-test-" + tag;
  fs::create_directories(dir_ + "/pause");
  Write(dir_ + "/pause/config.json", SandboxConfigJson(pod, sb, pause_root));
  runtime::CreateOptions pause;
  pause.id = "ppause-" + tag;
  pause.bundle = dir_ + "/pause";
  ids_.push_back(pause.id);
  Status st = rt_->Create(pause);
  ASSERT_TRUE(st.ok()) << st.message();
  st = rt_->Start(pause.id);
  ASSERT_TRUE(st.ok()) << st.message();
  sb.pause_pid = rt_->State(pause.id)->pid;
  image::ImageConfig img;
  img.env = {"PATH=/bin"};
  ContainerInputs in;
  in.pod = &pod;
  in.container = &container;
  in.image = &img;
  in.rootfs = app_root;
  in.sandbox = sb;
  in.container_id = "priv-" + tag;
  auto cfg = ContainerConfigJson(in);
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  fs::create_directories(dir_ + "/app");
  Write(dir_ + "/app/config.json", *cfg);
  runtime::CreateOptions app;
  app.id = in.container_id;
  app.bundle = dir_ + "/app";
  app.log_path = dir_ + "/app.log";
  ids_.push_back(app.id);
  st = rt_->Create(app);
  ASSERT_TRUE(st.ok()) << st.message();
  st = rt_->Start(app.id);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(WaitStopped(app.id), "stopped");
  std::string log = Read(app.log_path);
  EXPECT_EQ(rt_->State(app.id)->exit_code, 0) << log;
  EXPECT_NE(log.find("has-dev-null"), std::string::npos) << log;
  // Every capability the runtime has (this machine's root may lack some).
  std::string mine = Read("/proc/self/status");
  size_t p = mine.find("CapBnd:");
  ASSERT_NE(p, std::string::npos);
  std::string bnd = mine.substr(p + 7, mine.find('\n', p) - p - 7);
  bnd.erase(0, bnd.find_first_not_of(" \t"));
  EXPECT_NE(log.find("CapEff:\t" + bnd), std::string::npos) << log;
}

}  // namespace
}  // namespace sampan::podspec
