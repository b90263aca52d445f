#include "image/image_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/fs_util.h"
#include "image/test_util.h"

namespace sampan::image {
namespace {

using testing::Entry;
using testing::MakeTar;
using testing::TempDir;
using testing::TestImage;

// Everything under the store except the lock file, for "the store is unchanged" checks.
std::vector<std::string> Snapshot(const std::string& dir, const std::string& rel = "") {
  std::vector<std::string> out;
  for (const auto& n : ListDir(dir + rel)) {
    std::string r = rel + "/" + n;
    if (r == "/images/lock") continue;
    out.push_back(r);
    struct stat st;
    if (::lstat((dir + r).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      auto sub = Snapshot(dir, r);
      out.insert(out.end(), sub.begin(), sub.end());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ImageStore::Open(dir_.path());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    base_ = MakeTar(
        {{"bin/", 'd'}, {"bin/sh", 'f', "shell", 0755}, {"etc/", 'd'}, {"etc/motd", 'f', "hello"}});
    top_ = MakeTar({{"etc/.wh.motd", 'f', ""}, {"app/", 'd'}, {"app/run", 'f', "run", 0755}});
  }
  Result<std::vector<std::string>> ImportBytes(const std::string& bytes,
                                               const ImportOptions& opts = {}) {
    std::string file = work_.path() + "/archive.tar";
    testing::WriteFile(file, bytes);
    return store_->Import(file, opts);
  }

  TempDir dir_, work_;
  std::unique_ptr<ImageStore> store_;
  std::string base_, top_;
};

TEST_F(ImageStoreTest, ImportsOciLayoutAndInspects) {
  TestImage img = TestImage::Make({base_, top_});
  auto names = ImportBytes(img.OciArchive("localhost:5000/app:v1"));
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_EQ(*names, std::vector<std::string>{"localhost:5000/app:v1"});
  auto info = store_->Inspect("localhost:5000/app:v1");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->record.config_digest, DigestOf(img.config));
  EXPECT_EQ(info->config.cmd, std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(info->config.working_dir, "/srv");
  EXPECT_EQ(info->config.user, "1000:1000");
  EXPECT_EQ(info->chain_ids.size(), 2u);
  // By image ID and ID prefix too.
  EXPECT_TRUE(store_->Inspect(info->record.config_digest).ok());
  EXPECT_TRUE(
      store_->Inspect(std::string(DigestHex(info->record.config_digest)).substr(0, 12)).ok());
  // By name@digest of the manifest.
  EXPECT_TRUE(store_->Inspect("localhost:5000/app@" + DigestOf(img.manifest)).ok());
  for (const auto& c : info->chain_ids) EXPECT_TRUE(fs::Exists(store_->SnapshotPath(c) + "/fs"));
  EXPECT_EQ(*fs::ReadFile(store_->SnapshotPath(info->chain_ids[0]) + "/fs/etc/motd"), "hello");
}

TEST_F(ImageStoreTest, TagOnlyNameNeedsBaseName) {
  TestImage img = TestImage::Make({base_});
  auto names = ImportBytes(img.OciArchive("v2"));
  EXPECT_FALSE(names.ok());
  ImportOptions opts;
  opts.base_name = "localhost:5000/app";
  names = ImportBytes(img.OciArchive("v2"), opts);
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_EQ(names->front(), "localhost:5000/app:v2");
}

TEST_F(ImageStoreTest, ImportsDockerSaveWithUncompressedAndZstdLayers) {
  TestImage plain = TestImage::Make({base_, top_}, "");
  auto names = ImportBytes(plain.DockerArchive("busybox:1.0"));
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_EQ(names->front(), "docker.io/library/busybox:1.0");
  TestImage z = TestImage::Make({base_, top_}, "zstd");
  names = ImportBytes(z.DockerArchive("busybox:zstd"));
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  auto a = store_->Inspect("busybox:1.0");
  auto b = store_->Inspect("busybox:zstd");
  ASSERT_TRUE(a.ok() && b.ok());
  // Same diff IDs: the layers are unpacked once and shared.
  EXPECT_EQ(a->chain_ids, b->chain_ids);
  EXPECT_NE(a->record.manifest_digest, b->record.manifest_digest);
}

TEST_F(ImageStoreTest, BadArchivesLeaveStoreUnchanged) {
  TestImage good = TestImage::Make({base_});
  ASSERT_TRUE(ImportBytes(good.OciArchive("localhost/keep:1")).ok());
  auto before = Snapshot(dir_.path());

  TestImage img = TestImage::Make({base_, top_});
  std::string archive = img.OciArchive("localhost/x:1");
  // Truncated archive.
  auto r = ImportBytes(archive.substr(0, archive.size() / 2));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(Snapshot(dir_.path()), before);
  // Not an image archive.
  r = ImportBytes(MakeTar({{"hello.txt", 'f', "hi"}}));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(Snapshot(dir_.path()), before);
  // A layer blob whose content does not match its digest.
  TestImage corrupt = img;
  std::string bad_layer = corrupt.layer_blobs[1];
  bad_layer[bad_layer.size() / 2] ^= 1;
  std::vector<Entry> files = {
      {"oci-layout", 'f', R"({"imageLayoutVersion":"1.0.0"})"},
      {"index.json", 'f',
       R"({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
           DigestOf(img.manifest) + R"(","size":)" + std::to_string(img.manifest.size()) +
           R"(,"annotations":{"io.containerd.image.name":"localhost/x:1"}}]})"},
      {"blobs/sha256/" + std::string(DigestHex(DigestOf(img.manifest))), 'f', img.manifest},
      {"blobs/sha256/" + std::string(DigestHex(DigestOf(img.config))), 'f', img.config},
      {"blobs/sha256/" + std::string(DigestHex(DigestOf(img.layer_blobs[0]))), 'f',
       img.layer_blobs[0]},
      {"blobs/sha256/" + std::string(DigestHex(DigestOf(img.layer_blobs[1]))), 'f', bad_layer}};
  r = ImportBytes(MakeTar(files));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("digest mismatch"), std::string::npos)
      << r.status().ToString();
  EXPECT_EQ(Snapshot(dir_.path()), before);
  // Wrong platform.
  TestImage arm = TestImage::Make({top_}, "gzip", "arm64");
  r = ImportBytes(arm.OciArchive("localhost/arm:1"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("platform"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(Snapshot(dir_.path()), before);
  // A config whose diff_ids do not match the layers (fails at unpack, after blobs moved in).
  TestImage lying = TestImage::Make({base_, top_});
  lying.diff_ids[1] = DigestOf("something else");
  std::string cfg = lying.config;
  auto pos = cfg.find(DigestOf(top_));
  ASSERT_NE(pos, std::string::npos);
  cfg.replace(pos, DigestOf(top_).size(), DigestOf("something else"));
  TestImage lying2 = lying;
  lying2.config = cfg;
  lying2.manifest.replace(lying2.manifest.find(DigestOf(lying.config)), 71, DigestOf(cfg));
  r = ImportBytes(lying2.OciArchive("localhost/lie:1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Snapshot(dir_.path()), before) << r.status().ToString();
  EXPECT_TRUE(store_->Inspect("localhost/keep:1").ok());
}

TEST_F(ImageStoreTest, RemoveAndGarbageCollect) {
  TestImage a = TestImage::Make({base_});
  TestImage b = TestImage::Make({base_, top_});
  ASSERT_TRUE(ImportBytes(a.OciArchive("localhost/a:1")).ok());
  ASSERT_TRUE(ImportBytes(b.OciArchive("localhost/b:1")).ok());
  auto ib = store_->Inspect("localhost/b:1");
  ASSERT_TRUE(ib.ok());
  auto removed = store_->Remove("localhost/b:1");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, std::vector<std::string>{"localhost/b:1"});
  EXPECT_EQ(store_->Inspect("localhost/b:1").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->Remove("localhost/b:1").status().code(), Code::kNotFound);
  // Young objects survive a GC with a grace period.
  auto gc = store_->GarbageCollect(600);
  ASSERT_TRUE(gc.ok());
  EXPECT_EQ(gc->blobs_removed, 0);
  gc = store_->GarbageCollect(0);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  // b's manifest, config and top layer go; the shared base layer stays.
  EXPECT_EQ(gc->blobs_removed, 3);
  EXPECT_EQ(gc->snapshots_removed, 1);
  EXPECT_FALSE(store_->content().Has(DigestOf(b.manifest)));
  EXPECT_TRUE(store_->content().Has(DigestOf(a.layer_blobs[0])));
  EXPECT_TRUE(fs::Exists(store_->SnapshotPath(ib->chain_ids[0])));
  EXPECT_FALSE(fs::Exists(store_->SnapshotPath(ib->chain_ids[1])));
  auto ia = store_->Inspect("localhost/a:1");
  ASSERT_TRUE(ia.ok()) << ia.status().ToString();
}

TEST_F(ImageStoreTest, RootfsKeepsSnapshotsAlive) {
  TestImage b = TestImage::Make({base_, top_});
  ASSERT_TRUE(ImportBytes(b.OciArchive("localhost/b:1")).ok());
  auto info = store_->Inspect("localhost/b:1");
  ASSERT_TRUE(info.ok());
  auto m = store_->PrepareRootfs("localhost/b:1", "c1");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->type, "overlay");
  ASSERT_EQ(m->options.size(), 3u);
  // Top layer first in lowerdir.
  EXPECT_EQ(m->options[0], "lowerdir=" + store_->SnapshotPath(info->chain_ids[1]) +
                               "/fs:" + store_->SnapshotPath(info->chain_ids[0]) + "/fs");
  EXPECT_EQ(m->options[1], "upperdir=" + store_->root() + "/containers/c1/upper");
  EXPECT_EQ(store_->PrepareRootfs("localhost/b:1", "c1").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(store_->PrepareRootfs("localhost/b:1", "../x").status().code(), Code::kInvalid);
  EXPECT_EQ(store_->PrepareRootfs("localhost/none:1", "c2").status().code(), Code::kNotFound);
  ASSERT_TRUE(store_->Remove("localhost/b:1").ok());
  ASSERT_TRUE(store_->GarbageCollect(0).ok());
  for (const auto& c : info->chain_ids) EXPECT_TRUE(fs::Exists(store_->SnapshotPath(c) + "/fs"));
  ASSERT_TRUE(store_->RemoveRootfs("c1").ok());
  ASSERT_TRUE(store_->GarbageCollect(0).ok());
  for (const auto& c : info->chain_ids) EXPECT_FALSE(fs::Exists(store_->SnapshotPath(c)));
}

TEST_F(ImageStoreTest, ContentStoreRejectsMismatch) {
  ContentStore& cs = store_->content();
  auto d = cs.Put("hello");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, DigestOf("hello"));
  EXPECT_EQ(*cs.Read(*d), "hello");
  EXPECT_TRUE(cs.Verify(*d).ok());
  auto bad = cs.Put("hello", DigestOf("other"));
  EXPECT_EQ(bad.status().code(), Code::kInvalid);
  EXPECT_FALSE(cs.Has(DigestOf("other")));
  // Short writes are refused at commit; overlong ones at write.
  auto w = cs.Writer(DigestOf("abc"), 3);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write("ab").ok());
  EXPECT_FALSE((*w)->Commit().ok());
  auto w2 = cs.Writer(DigestOf("abc"), 3);
  EXPECT_FALSE((*w2)->Write("abcd").ok());
  w2->reset();
  EXPECT_TRUE(ListDir(store_->root() + "/ingest").empty());
  EXPECT_FALSE(cs.Has(DigestOf("abc")));
}

}  // namespace
}  // namespace sampan::image
