#include "runtime/state.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "util/temp_dir.h"

namespace sampan::runtime {
namespace {

class StateDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    root_ = tmp_.path() + "/root";  // made on first use
  }

  StoredState Sample(const std::string& id) {
    StoredState s;
    s.id = id;
    s.bundle = "/b";
    s.rootfs = "/b/rootfs";
    s.created = "2026-11-26T00:00:00.000000000Z";
    s.pid = 4242;
    s.pid_start = 77;
    s.cgroup_path = "/sampan-" + id;
    s.namespaces = {"pid", "network"};
    s.config = R"({"ociVersion":"1.0.2"})";
    return s;
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(root_ + "/" + name) << text;
  }

  util::TempDir tmp_{"state-test"};
  std::string root_;
};

TEST_F(StateDirTest, OneFileFormRoundTrip) {
  StateDir dir(root_);
  auto fd = dir.MakeFile("a");
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  struct stat st;
  ASSERT_EQ(::stat((root_ + "/a").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  // Created, not written yet: being created.
  EXPECT_EQ(dir.Load("a").status().code(), Code::kUnavailable);
  ASSERT_TRUE(dir.SaveFile(fd->get(), Sample("a")).ok());
  auto s = dir.Load("a");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->pid, 4242);
  EXPECT_EQ(s->pid_start, 77u);
  EXPECT_EQ(s->cgroup_path, "/sampan-a");
  EXPECT_EQ(s->namespaces, (std::vector<std::string>{"pid", "network"}));
  EXPECT_EQ(*dir.LoadConfig("a"), R"({"ociVersion":"1.0.2"})");
  EXPECT_FALSE(dir.LoadExit("a").present);
  EXPECT_EQ(dir.Ids(), std::vector<std::string>{"a"});
  ASSERT_TRUE(dir.Remove("a").ok());
  EXPECT_NE(::access((root_ + "/a").c_str(), F_OK), 0);
  EXPECT_EQ(dir.Load("a").status().code(), Code::kNotFound);
}

TEST_F(StateDirTest, BothFormsShareIds) {
  StateDir dir(root_);
  ASSERT_TRUE(dir.Make("d").ok());
  ASSERT_TRUE(dir.Save(Sample("d")).ok());
  auto f = dir.MakeFile("f");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(dir.SaveFile(f->get(), Sample("f")).ok());
  EXPECT_EQ(dir.MakeFile("d").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(dir.Make("f").code(), Code::kAlreadyExists);
  EXPECT_EQ(dir.Ids(), (std::vector<std::string>{"d", "f"}));
  EXPECT_EQ(dir.Load("d")->id, "d");
  EXPECT_EQ(dir.Load("f")->id, "f");
  ASSERT_TRUE(dir.Remove("d").ok());
  ASSERT_TRUE(dir.Remove("f").ok());
  EXPECT_TRUE(dir.Ids().empty());
}

TEST_F(StateDirTest, BrokenOneFileStateIsUnavailableNotCorrupt) {
  StateDir dir(root_);
  ASSERT_TRUE(dir.MakeFile("x").ok());  // makes the root
  Write("cut", R"({"id": "cut", "pid)");
  auto s = dir.Load("cut");
  EXPECT_EQ(s.status().code(), Code::kUnavailable);
  EXPECT_NE(s.status().message().find("incomplete"), std::string::npos);
  // A directory without state.json is being created, as before.
  ASSERT_EQ(::mkdir((root_ + "/d").c_str(), 0711), 0);
  EXPECT_EQ(dir.Load("d").status().code(), Code::kUnavailable);
  // Names that are not container ids are not listed.
  Write(".hidden", "{}");
  EXPECT_EQ(dir.Ids(), (std::vector<std::string>{"cut", "d", "x"}));
  EXPECT_EQ(dir.MakeFile("../escape").status().code(), Code::kInvalid);
}

}  // namespace
}  // namespace sampan::runtime
