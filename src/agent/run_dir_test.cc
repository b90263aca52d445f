#include "agent/run_dir.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>

#include "image/image_store.h"
#include "util/fs.h"

namespace sampan::agent {
namespace {

namespace fsys = std::filesystem;

class RunDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sampan-run-dir-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::umount2((dir_ + "/run").c_str(), MNT_DETACH);
    std::error_code ec;
    fsys::remove_all(dir_, ec);
  }
  std::string dir_;
};

TEST(DefaultRunDir, OnePerDataDir) {
  std::string a = DefaultRunDir("/var/lib/sampan");
  EXPECT_EQ(a.rfind("/run/sampan-agent/", 0), 0u) << a;
  EXPECT_EQ(a.size(), std::string("/run/sampan-agent/").size() + 16);
  EXPECT_EQ(DefaultRunDir("/var/lib/sampan/"), a);
  EXPECT_EQ(DefaultRunDir("/var/lib/./sampan"), a);
  EXPECT_NE(DefaultRunDir("/var/lib/sampan2"), a);
  EXPECT_NE(DefaultRunDir("/tmp/x/data"), DefaultRunDir("/tmp/y/data"));
}

TEST(IsAgentContainerId, OnlyThirtyTwoHex) {
  EXPECT_TRUE(IsAgentContainerId("0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(IsAgentContainerId("0123456789abcdef0123456789abcde"));
  EXPECT_FALSE(IsAgentContainerId("0123456789ABCDEF0123456789abcdef"));
  EXPECT_FALSE(IsAgentContainerId("my-container"));
  EXPECT_FALSE(IsAgentContainerId(".tmp-0123456789abcdef0123456789ab"));
}

TEST_F(RunDirTest, NewLayoutOnTmpfsWhenRoot) {
  auto l = PrepareRunLayout(dir_ + "/data", dir_ + "/run", "");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->run_dir, dir_ + "/run");
  EXPECT_EQ(l->runtime_root, dir_ + "/run/runtime");
  EXPECT_EQ(l->bundles_dir, dir_ + "/run/containers");
  EXPECT_TRUE(fsys::is_directory(l->runtime_root));
  EXPECT_TRUE(fsys::is_directory(l->bundles_dir));
  auto named = fs::ReadFile(dir_ + "/data/agent/run-dir");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(*named, dir_ + "/run\n");
  if (::geteuid() == 0) EXPECT_TRUE(OnTmpfs(l->run_dir));
  // A second start finds the tmpfs there and mounts nothing more.
  auto again = PrepareRunLayout(dir_ + "/data", dir_ + "/run", "");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  if (::geteuid() == 0) {
    ::umount2((dir_ + "/run").c_str(), 0);
    EXPECT_FALSE(OnTmpfs(dir_ + "/run")) << "mounted twice";
  }
}

TEST_F(RunDirTest, ReleasedOnlyWhenEmpty) {
  auto l = PrepareRunLayout(dir_ + "/data", dir_ + "/run", "");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  ASSERT_TRUE(fs::MakeDirs(l->runtime_root + "/0123456789abcdef0123456789abcdef").ok());
  ReleaseRunLayout(*l);  // a container is left: nothing happens
  EXPECT_TRUE(fsys::exists(l->runtime_root + "/0123456789abcdef0123456789abcdef"));
  if (::geteuid() == 0) EXPECT_TRUE(OnTmpfs(l->run_dir));
  fsys::remove(l->runtime_root + "/0123456789abcdef0123456789abcdef");
  ReleaseRunLayout(*l);
  EXPECT_FALSE(fsys::exists(l->run_dir)) << "run dir (and its tmpfs) left behind";
}

TEST_F(RunDirTest, NeverUnmountsATmpfsItDidNotMount) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (mount)";
  ASSERT_TRUE(fs::MakeDirs(dir_ + "/run").ok());
  ASSERT_EQ(::mount("tmpfs", (dir_ + "/run").c_str(), "tmpfs", 0, "size=1m"), 0);
  auto l = PrepareRunLayout(dir_ + "/data", dir_ + "/run", "");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  ReleaseRunLayout(*l);
  EXPECT_TRUE(OnTmpfs(dir_ + "/run"));
}

TEST_F(RunDirTest, KeepsTheOldLayoutWhileItHasContainers) {
  ASSERT_TRUE(fs::MakeDirs(dir_ + "/data/agent/runtime/0123456789abcdef0123456789abcdef").ok());
  auto l = PrepareRunLayout(dir_ + "/data", "", "");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->run_dir, "");
  EXPECT_EQ(l->runtime_root, dir_ + "/data/agent/runtime");
  EXPECT_EQ(l->bundles_dir, dir_ + "/data/agent/containers");
  // Once empty, the old directories go and the run dir is used.
  fsys::remove(dir_ + "/data/agent/runtime/0123456789abcdef0123456789abcdef");
  auto n = PrepareRunLayout(dir_ + "/data", dir_ + "/run", "");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->runtime_root, dir_ + "/run/runtime");
  EXPECT_FALSE(fsys::exists(dir_ + "/data/agent/runtime"));
  EXPECT_FALSE(fsys::exists(dir_ + "/data/agent/containers"));
}

TEST_F(RunDirTest, RemovesWhatVanishedContainersLeft) {
  auto images = image::ImageStore::Open(dir_ + "/data");
  ASSERT_TRUE(images.ok()) << images.status().ToString();
  const std::string live = "11111111111111111111111111111111";
  const std::string gone = "22222222222222222222222222222222";
  const std::string other = "not-the-agents";
  std::string bundles = dir_ + "/bundles";
  for (const auto& id : {live, gone, other}) {
    ASSERT_TRUE(fs::MakeDirs(bundles + "/" + id + "/rootfs").ok());
    ASSERT_TRUE(fs::MakeDirs(dir_ + "/data/images/containers/" + id + "/upper").ok());
  }
  RemoveStaleContainerFiles({live}, bundles, images->get());
  EXPECT_TRUE(fsys::exists(bundles + "/" + live));
  EXPECT_FALSE(fsys::exists(bundles + "/" + gone));
  EXPECT_TRUE(fsys::exists(bundles + "/" + other));
  EXPECT_TRUE(fsys::exists(dir_ + "/data/images/containers/" + live));
  EXPECT_FALSE(fsys::exists(dir_ + "/data/images/containers/" + gone));
  EXPECT_TRUE(fsys::exists(dir_ + "/data/images/containers/" + other));
}

TEST_F(RunDirTest, UnmountsAStaleRootfsBeforeRemovingIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (mount)";
  auto images = image::ImageStore::Open(dir_ + "/data");
  ASSERT_TRUE(images.ok());
  const std::string id = "33333333333333333333333333333333";
  std::string rootfs = dir_ + "/bundles/" + id + "/rootfs";
  ASSERT_TRUE(fs::MakeDirs(rootfs).ok());
  ASSERT_EQ(::mount("tmpfs", rootfs.c_str(), "tmpfs", 0, "size=1m"), 0);
  ASSERT_TRUE(fs::WriteFileAtomic(rootfs + "/file", "x").ok());
  // A mounted rootfs of a vanished container is unmounted first, never emptied through the mount.
  RemoveStaleContainerFiles({}, dir_ + "/bundles", images->get());
  EXPECT_FALSE(fsys::exists(dir_ + "/bundles/" + id));
  ::umount2(rootfs.c_str(), MNT_DETACH);
}

}  // namespace
}  // namespace sampan::agent
