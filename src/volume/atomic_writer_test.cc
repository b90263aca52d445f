#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "util/fs.h"
#include "volume/volume_internal.h"

namespace sampan::volume::internal {
namespace {

namespace stdfs = std::filesystem;

class AtomicWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/sampan-aw-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
  }
  void TearDown() override { stdfs::remove_all(dir_); }
  std::string DataTarget() { return stdfs::read_symlink(dir_ + "/..data").string(); }
  int Mode(const std::string& p) {
    struct stat st;
    EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
    return static_cast<int>(st.st_mode & 07777);
  }
  std::string dir_;
};

TEST_F(AtomicWriterTest, KubeletLayout) {
  Payload p;
  p["a"] = {"alpha", 0644, std::nullopt};
  p["sub/dir/b"] = {"beta", 0400, std::nullopt};
  ASSERT_TRUE(AtomicWrite(dir_, p, nullptr).ok());

  std::string ts = DataTarget();
  EXPECT_EQ(ts.rfind("..20", 0), 0u) << ts;  // ..YYYY_MM_DD_HH_MM_SS.xxxxxx
  EXPECT_EQ(ts.size(), std::string("..2026_01_02_15_04_05.").size() + 6);
  EXPECT_EQ(Mode(dir_ + "/" + ts), 0755);
  EXPECT_EQ(stdfs::read_symlink(dir_ + "/a").string(), "..data/a");
  EXPECT_EQ(stdfs::read_symlink(dir_ + "/sub").string(), "..data/sub");
  EXPECT_EQ(*fs::ReadFile(dir_ + "/a"), "alpha");
  EXPECT_EQ(*fs::ReadFile(dir_ + "/sub/dir/b"), "beta");
  EXPECT_EQ(Mode(dir_ + "/a"), 0644);
  EXPECT_EQ(Mode(dir_ + "/sub/dir/b"), 0400);
  EXPECT_EQ(Mode(dir_ + "/sub/dir"), 0755);
  EXPECT_FALSE(stdfs::exists(dir_ + "/..data_tmp"));
}

TEST_F(AtomicWriterTest, UpdatesSwapAndRemove) {
  Payload p;
  p["a"] = {"one", 0644, std::nullopt};
  p["b"] = {"gone soon", 0644, std::nullopt};
  ASSERT_TRUE(AtomicWrite(dir_, p, nullptr).ok());
  std::string first = DataTarget();

  // Same payload: nothing written.
  int perms_calls = 0;
  auto count = [&] {
    ++perms_calls;
    return Status::Ok();
  };
  ASSERT_TRUE(AtomicWrite(dir_, p, count).ok());
  EXPECT_EQ(DataTarget(), first);
  EXPECT_EQ(perms_calls, 0);

  // New content, b removed: a new data directory, the old one and b's link gone.
  sleep(1);  // a different timestamp directory name is not required, but reads clearer
  p.erase("b");
  p["a"].data = "two";
  ASSERT_TRUE(AtomicWrite(dir_, p, count).ok());
  EXPECT_EQ(perms_calls, 1);
  std::string second = DataTarget();
  EXPECT_NE(second, first);
  EXPECT_FALSE(stdfs::exists(dir_ + "/" + first));
  EXPECT_FALSE(stdfs::exists(stdfs::symlink_status(dir_ + "/b")));
  EXPECT_EQ(*fs::ReadFile(dir_ + "/a"), "two");

  // A mode change alone is a change.
  p["a"].mode = 0600;
  ASSERT_TRUE(AtomicWrite(dir_, p, nullptr).ok());
  EXPECT_NE(DataTarget(), second);
  EXPECT_EQ(Mode(dir_ + "/a"), 0600);

  // A deleted user-visible link is put back.
  ASSERT_EQ(unlink((dir_ + "/a").c_str()), 0);
  ASSERT_TRUE(AtomicWrite(dir_, p, nullptr).ok());
  EXPECT_EQ(*fs::ReadFile(dir_ + "/a"), "two");

  // Everything removed: only ..data and an empty data directory remain.
  ASSERT_TRUE(AtomicWrite(dir_, {}, nullptr).ok());
  std::vector<std::string> names;
  for (const auto& e : stdfs::directory_iterator(dir_)) names.push_back(e.path().filename());
  EXPECT_EQ(names.size(), 2u);
  EXPECT_FALSE(stdfs::exists(stdfs::symlink_status(dir_ + "/a")));
}

TEST_F(AtomicWriterTest, SetPermsFailureLeavesOldVersion) {
  Payload p;
  p["a"] = {"one", 0644, std::nullopt};
  ASSERT_TRUE(AtomicWrite(dir_, p, nullptr).ok());
  std::string first = DataTarget();
  p["a"].data = "two";
  Status st = AtomicWrite(dir_, p, [] { return Internal("chown failed"); });
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(DataTarget(), first);
  EXPECT_EQ(*fs::ReadFile(dir_ + "/a"), "one");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : stdfs::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 3);  // ..data, its directory, a: the failed new directory is removed
}

TEST_F(AtomicWriterTest, InvalidPathsRejectedWithKubeletWording) {
  struct Case {
    std::string path, message;
  } cases[] = {
      {"", "invalid path: must not be empty: \"\""},
      {"/etc/passwd", "invalid path: must be relative path: /etc/passwd"},
      {"a/../b", "invalid path: must not contain '..': a/../b"},
      {"..", "invalid path: must not contain '..': .."},
      {"..hidden", "invalid path: must not start with '..': ..hidden"},
      {std::string(256, 'x'),
       "invalid path: filenames must be less than or equal to 255 characters"},
      {std::string(4097, 'x'), "invalid path: must be less than or equal to 4096 characters"},
  };
  for (const Case& c : cases) {
    Payload p;
    p[c.path] = {"x", 0644, std::nullopt};
    Status st = AtomicWrite(dir_, p, nullptr);
    EXPECT_EQ(st.code(), Code::kInvalid) << c.path;
    EXPECT_EQ(st.message(), c.message);
  }
  EXPECT_TRUE(ValidatePayloadPath("..a/b").ok() == false);
  EXPECT_TRUE(ValidatePayloadPath("a..b").ok());
  EXPECT_TRUE(ValidatePayloadPath("..").ok() == false);
  EXPECT_FALSE(stdfs::exists(dir_ + "/..data"));
}

}  // namespace
}  // namespace sampan::volume::internal
