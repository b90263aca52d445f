#include "image/reference.h"

#include <gtest/gtest.h>

namespace sampan::image {
namespace {

std::string Norm(std::string_view s) {
  auto r = ParseReference(s);
  return r.ok() ? r->String() : "ERR " + r.status().message();
}

TEST(ReferenceTest, NormalizesLikeDocker) {
  EXPECT_EQ(Norm("busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(Norm("busybox:1.35"), "docker.io/library/busybox:1.35");
  EXPECT_EQ(Norm("luksa/kubia"), "docker.io/luksa/kubia:latest");
  EXPECT_EQ(Norm("docker.io/busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(Norm("index.docker.io/library/busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(Norm("localhost:5000/kubia:v1"), "localhost:5000/kubia:v1");
  EXPECT_EQ(Norm("localhost/kubia"), "localhost/kubia:latest");
  EXPECT_EQ(Norm("quay.io/coreos/etcd:v3.5"), "quay.io/coreos/etcd:v3.5");
  EXPECT_EQ(Norm("127.0.0.1:5000/a/b/c"), "127.0.0.1:5000/a/b/c:latest");
  EXPECT_EQ(Norm("[::1]:5000/x"), "[::1]:5000/x:latest");
  EXPECT_EQ(Norm("Registry/x"), "Registry/x:latest");  // upper case first part: a host
}

TEST(ReferenceTest, Digests) {
  std::string d = "sha256:" + std::string(64, 'a');
  EXPECT_EQ(Norm("busybox@" + d), "docker.io/library/busybox@" + d);
  // Tag and digest: the digest wins.
  auto r = ParseReference("busybox:1.35@" + d);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->digest, d);
  EXPECT_EQ(r->Locator(), d);
  EXPECT_EQ(r->Familiar(), "busybox@" + d);
}

TEST(ReferenceTest, Familiar) {
  EXPECT_EQ(ParseReference("busybox")->Familiar(), "busybox:latest");
  EXPECT_EQ(ParseReference("luksa/kubia:v1")->Familiar(), "luksa/kubia:v1");
  EXPECT_EQ(ParseReference("localhost:5000/kubia:v1")->Familiar(), "localhost:5000/kubia:v1");
}

TEST(ReferenceTest, RejectsBadInput) {
  for (std::string bad : std::vector<std::string>{
           "", "Busybox", "docker.io/Library/busybox", "busybox:", "busybox:-x", "a//b", "-a/b",
           "a_/b", "busybox@sha256:abc", "busybox@md5:" + std::string(32, 'a'),
           std::string(64, 'e'), "a/b:" + std::string(129, 't'), "UPPER", "bad host:5000/x"}) {
    auto r = ParseReference(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) EXPECT_EQ(r.status().code(), Code::kInvalid) << bad;
  }
  EXPECT_FALSE(ParseReference("x/" + std::string(260, 'a')).ok());
}

TEST(ReferenceTest, PathComponentSeparators) {
  EXPECT_TRUE(ParseReference("a.b/c__d/e---f").ok());
  EXPECT_FALSE(ParseReference("docker.io/a___b").ok());
  EXPECT_FALSE(ParseReference("docker.io/a..b").ok());
}

TEST(ReferenceTest, ImageIds) {
  EXPECT_TRUE(LooksLikeImageId(std::string(64, 'f')));
  EXPECT_TRUE(LooksLikeImageId("sha256:0123456789ab"));
  EXPECT_TRUE(LooksLikeImageId("0123456789ab"));
  EXPECT_FALSE(LooksLikeImageId("0123456789a"));
  EXPECT_FALSE(LooksLikeImageId("busybox"));
}

}  // namespace
}  // namespace sampan::image
