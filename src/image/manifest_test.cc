#include "image/manifest.h"

#include <gtest/gtest.h>

#include "image/digest.h"

namespace sampan::image {
namespace {

const std::string kD1 = "sha256:" + std::string(64, '1');
const std::string kD2 = "sha256:" + std::string(64, '2');
const std::string kD3 = "sha256:" + std::string(64, '3');

TEST(DigestTest, Sha256) {
  EXPECT_EQ(DigestOf(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.Update("ab");
  h.Update("c");
  EXPECT_EQ(h.Finish(), DigestOf("abc"));
  EXPECT_TRUE(ValidateDigest(kD1).ok());
  EXPECT_FALSE(ValidateDigest("sha256:" + std::string(63, '1')).ok());
  EXPECT_FALSE(ValidateDigest("sha256:" + std::string(64, 'A')).ok());
  EXPECT_FALSE(ValidateDigest("sha512:" + std::string(128, '1')).ok());
}

TEST(ManifestTest, ParsesOciManifest) {
  std::string j = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                  kD1 + R"(","size":10},
    "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":")" +
                  kD2 + R"(","size":20}]})";
  auto m = ParseManifest(j);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->config.digest, kD1);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 20);
  EXPECT_EQ(ClassifyDocument(j, ""), DocKind::kManifest);
}

TEST(ManifestTest, ParsesDockerSchema2WithoutMediaTypeField) {
  std::string j = R"({"schemaVersion":2,
    "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":")" +
                  kD1 + R"(","size":10},
    "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":")" +
                  kD2 + R"(","size":20}]})";
  auto m = ParseManifest(j, media::kDockerManifest);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->media_type, media::kDockerManifest);
  EXPECT_EQ(ClassifyDocument(j, media::kDockerManifest), DocKind::kManifest);
}

TEST(ManifestTest, RejectsBadManifests) {
  EXPECT_FALSE(ParseManifest("{").ok());
  EXPECT_FALSE(ParseManifest("[]").ok());
  EXPECT_FALSE(ParseManifest(R"({"schemaVersion":1,"config":{},"layers":[]})").ok());
  std::string bad_digest =
      R"({"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:zz","size":1},"layers":[]})";
  EXPECT_EQ(ParseManifest(bad_digest).status().code(), Code::kInvalid);
  std::string no_size =
      R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" + kD1 + R"("},"layers":[]})";
  EXPECT_FALSE(ParseManifest(no_size).ok());
  std::string bad_layer = R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" + kD1 +
                          R"(","size":1},"layers":[{"mediaType":"application/x-helm","digest":")" +
                          kD2 + R"(","size":1}]})";
  EXPECT_FALSE(ParseManifest(bad_layer).ok());
}

Index MakeIndex() {
  std::string j =
      R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests":[
     {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":")" +
      kD1 + R"(","size":1,
      "platform":{"architecture":"arm","os":"linux","variant":"v7"}},
     {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":")" +
      kD2 + R"(","size":1,
      "platform":{"architecture":"amd64","os":"linux"}},
     {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":")" +
      kD3 + R"(","size":1,
      "platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]})";
  EXPECT_EQ(ClassifyDocument(j, ""), DocKind::kIndex);
  auto idx = ParseIndex(j);
  EXPECT_TRUE(idx.ok()) << idx.status().ToString();
  return *idx;
}

TEST(ManifestTest, SelectsPlatform) {
  Index idx = MakeIndex();
  EXPECT_EQ(SelectPlatform(idx, {"linux", "amd64", ""})->digest, kD2);
  EXPECT_EQ(SelectPlatform(idx, {"linux", "arm64", "v8"})->digest, kD3);
  EXPECT_EQ(SelectPlatform(idx, {"linux", "arm", "v7"})->digest, kD1);
  auto none = SelectPlatform(idx, {"linux", "s390x", ""});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  EXPECT_NE(none.status().message().find("linux/amd64"), std::string::npos);
  EXPECT_FALSE(SelectPlatform(idx, {"linux", "arm", "v6"}).ok());
}

TEST(ManifestTest, ParsesImageConfig) {
  std::string j =
      R"({"architecture":"amd64","os":"linux","config":{"User":"nobody","Env":["A=1","B=2"],
    "Entrypoint":["/kubia"],"Cmd":["-v"],"WorkingDir":"/app","ExposedPorts":{"8080/tcp":{},"53/udp":{}},
    "Labels":{"k":"v"},"StopSignal":"SIGQUIT"},"rootfs":{"type":"layers","diff_ids":[")" +
      kD1 + R"(",")" + kD2 + R"("]}})";
  auto c = ParseImageConfig(j);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->user, "nobody");
  EXPECT_EQ(c->env, (std::vector<std::string>{"A=1", "B=2"}));
  EXPECT_EQ(c->entrypoint, std::vector<std::string>{"/kubia"});
  EXPECT_EQ(c->cmd, std::vector<std::string>{"-v"});
  EXPECT_EQ(c->working_dir, "/app");
  EXPECT_EQ(c->exposed_ports, (std::vector<std::string>{"53/udp", "8080/tcp"}));
  EXPECT_EQ(c->labels.at("k"), "v");
  EXPECT_EQ(c->diff_ids.size(), 2u);
  EXPECT_FALSE(ParseImageConfig(R"({"os":"linux","rootfs":{"type":"layers","diff_ids":[]}})").ok());
  EXPECT_FALSE(ParseImageConfig(R"({"architecture":"amd64","os":"linux"})").ok());
}

TEST(ManifestTest, ChainIds) {
  auto c = ChainIds({kD1, kD2, kD3});
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0], kD1);
  EXPECT_EQ(c[1], DigestOf(kD1 + " " + kD2));
  EXPECT_EQ(c[2], DigestOf(c[1] + " " + kD3));
}

TEST(ManifestTest, SerializeRoundTrip) {
  Manifest m;
  m.media_type = media::kOciManifest;
  m.config = {std::string(media::kOciConfig), kD1, 5, {}, {}};
  m.layers.push_back({std::string(media::kOciLayerGzip), kD2, 7, {}, {}});
  auto back = ParseManifest(SerializeManifest(m));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->layers[0].digest, kD2);
  EXPECT_EQ(back->config.size, 5);
}

}  // namespace
}  // namespace sampan::image
