#include "image/layer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/test_util.h"

namespace sampan::image {
namespace {

using testing::Entry;
using testing::MakeTar;
using testing::TempDir;

std::string Apply(const TempDir& t, const std::string& tar, Result<ApplyStats>* out) {
  std::string file = t.path() + "/layer";
  testing::WriteFile(file, tar);
  std::string dest = t.path() + "/fs";
  ::mkdir(dest.c_str(), 0755);
  *out = ApplyLayer(file, dest);
  return dest;
}

TEST(LayerTest, CleanMemberPath) {
  EXPECT_EQ(*CleanMemberPath("./a//b/"), "a/b");
  EXPECT_EQ(*CleanMemberPath("/etc/passwd"), "etc/passwd");
  EXPECT_EQ(*CleanMemberPath("./"), "");
  EXPECT_FALSE(CleanMemberPath("a/../../etc").ok());
  EXPECT_FALSE(CleanMemberPath("..").ok());
}

class LayerFilterTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LayerFilterTest, ExtractsAndComputesDiffId) {
  TempDir t;
  std::vector<Entry> entries = {{"./", 'd'},
                                {"bin/", 'd'},
                                {"bin/tool", 'f', "#!/bin/sh\necho hi\n", 0755},
                                {"bin/alias", 'l', "tool"},
                                {"bin/hard", 'h', "bin/tool"},
                                {"/abs/file", 'f', "re-rooted"}};
  std::string plain = MakeTar(entries);
  std::string tar = GetParam().empty() ? plain : MakeTar(entries, GetParam());
  Result<ApplyStats> st = Internal("unset");
  std::string dest = Apply(t, tar, &st);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->diff_id, DigestOf(plain));
  EXPECT_EQ(*fs::ReadFile(dest + "/bin/tool"), "#!/bin/sh\necho hi\n");
  struct stat s1, s2;
  ASSERT_EQ(::stat((dest + "/bin/tool").c_str(), &s1), 0);
  EXPECT_EQ(s1.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((dest + "/bin/hard").c_str(), &s2), 0);
  EXPECT_EQ(s1.st_ino, s2.st_ino);
  char link[64] = {0};
  ASSERT_GT(::readlink((dest + "/bin/alias").c_str(), link, sizeof link), 0);
  EXPECT_STREQ(link, "tool");
  EXPECT_EQ(*fs::ReadFile(dest + "/abs/file"), "re-rooted");
}

INSTANTIATE_TEST_SUITE_P(Filters, LayerFilterTest, ::testing::Values("", "gzip", "zstd"));

TEST(LayerTest, WhiteoutsBecomeOverlayForm) {
  if (::geteuid() != 0) GTEST_SKIP() << "mknod of whiteouts needs root";
  TempDir t;
  std::string tar = MakeTar({{"etc/", 'd'},
                             {"etc/.wh.motd", 'f', ""},
                             {"var/cache/", 'd'},
                             {"var/cache/.wh..wh..opq", 'f', ""},
                             {"var/cache/new", 'f', "x"}});
  Result<ApplyStats> st = Internal("unset");
  std::string dest = Apply(t, tar, &st);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->whiteouts, 2);
  struct stat s;
  ASSERT_EQ(::lstat((dest + "/etc/motd").c_str(), &s), 0);
  EXPECT_TRUE(S_ISCHR(s.st_mode));
  EXPECT_EQ(s.st_rdev, makedev(0, 0));
  EXPECT_FALSE(fs::Exists(dest + "/etc/.wh.motd"));
  char v[4] = {0};
  ASSERT_EQ(::getxattr((dest + "/var/cache").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_FALSE(fs::Exists(dest + "/var/cache/.wh..wh..opq"));
  EXPECT_TRUE(fs::Exists(dest + "/var/cache/new"));
}

TEST(LayerTest, RefusesEscapes) {
  TempDir t;
  Result<ApplyStats> st = Internal("unset");
  Apply(t, MakeTar({{"../escape", 'f', "x"}}), &st);
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(fs::Exists(t.path() + "/escape"));

  // A symlink pointing out, then a file written "through" it: never follows the link.
  TempDir t2;
  std::string outside = t2.path() + "/outside";
  ::mkdir(outside.c_str(), 0755);
  Apply(t2, MakeTar({{"link", 'l', outside}, {"link/pwned", 'f', "x"}}), &st);
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(fs::Exists(outside + "/pwned"));
}

TEST(LayerTest, CorruptAndTruncated) {
  TempDir t;
  std::string data;
  uint32_t x = 12345;
  for (int i = 0; i < 200000; ++i) {  // incompressible, so the gzip stream is long
    x = x * 1103515245 + 12345;
    data.push_back(static_cast<char>(x >> 24));
  }
  std::string tar = MakeTar({{"big", 'f', data}}, "gzip");
  ASSERT_GT(tar.size(), 1000u);
  Result<ApplyStats> st = Internal("unset");
  Apply(t, tar.substr(0, tar.size() / 2), &st);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), Code::kInvalid) << st.status().ToString();

  TempDir t2;
  std::string bad = tar;
  for (size_t i = 100; i < 400 && i < bad.size(); ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
  Apply(t2, bad, &st);
  EXPECT_FALSE(st.ok());

  TempDir t3;
  Apply(t3, "this is not an archive at all, just some text that is long enough", &st);
  EXPECT_FALSE(st.ok());
}

}  // namespace
}  // namespace sampan::image
