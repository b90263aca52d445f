// Image GC over a real image store with a fake filesystem usage and a manual clock: the
// thresholds, least-recently-used order, images in use and the minimum age.
#include "agent/image_gc.h"

#include <gtest/gtest.h>

#include "image/test_util.h"

namespace sampan::agent {
namespace {

using image::testing::MakeTar;
using image::testing::TempDir;
using image::testing::TestImage;
using std::chrono::minutes;
using std::chrono::seconds;

class ImageGcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = image::ImageStore::Open(dir_.path());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  // Imports a one-layer image named `name` and returns its ID (config digest).
  std::string Import(const std::string& name) {
    TestImage img = TestImage::Make({MakeTar({{"f-" + name, 'f', std::string(1000, 'x') + name}})});
    std::string file = dir_.path() + "/import.tar";
    image::testing::WriteFile(file, img.OciArchive(name));
    auto r = store_->Import(file);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    auto info = store_->Inspect(name);
    EXPECT_TRUE(info.ok());
    return info.ok() ? info->record.config_digest : "";
  }
  std::unique_ptr<ImageGc> Gc(ImageGcOptions o) {
    return std::make_unique<ImageGc>(
        o, store_.get(), [this]() -> Result<ImagesInUse> { return used_; },
        [this]() -> Result<FsUsage> { return usage_; }, [this] { return now_; });
  }
  bool Present(const std::string& name) { return store_->Inspect(name).ok(); }

  TempDir dir_;
  std::unique_ptr<image::ImageStore> store_;
  ImagesInUse used_;
  FsUsage usage_{1000000, 500000};  // 50% used
  std::chrono::steady_clock::time_point now_ = std::chrono::steady_clock::time_point(minutes(60));
};

TEST_F(ImageGcTest, ValidatesOptions) {
  ImageGcOptions o;
  EXPECT_TRUE(ValidateImageGcOptions(o).ok());
  o.low_threshold = 90;
  EXPECT_FALSE(ValidateImageGcOptions(o).ok());
  o.low_threshold = 80;
  o.high_threshold = 101;
  EXPECT_FALSE(ValidateImageGcOptions(o).ok());
  o.high_threshold = 100;  // off
  EXPECT_TRUE(ValidateImageGcOptions(o).ok());
}

TEST_F(ImageGcTest, NothingBelowTheHighThreshold) {
  Import("localhost/a:1");
  ImageGcOptions o;
  o.min_age = seconds(0);
  auto gc = Gc(o);
  now_ += minutes(10);
  auto r = gc->GarbageCollect();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ran);
  EXPECT_EQ(r->usage_percent, 50);
  EXPECT_TRUE(Present("localhost/a:1"));
}

TEST_F(ImageGcTest, RemovesUnusedLeastRecentlyUsedFirstUntilLow) {
  std::string a = Import("localhost/a:1");
  std::string b = Import("localhost/b:1");
  std::string c = Import("localhost/c:1");
  std::string in_use = Import("localhost/used:1");
  int64_t size_a = store_->Inspect(a)->record.size;
  ImageGcOptions o;
  o.high_threshold = 60;
  o.low_threshold = 50;
  o.min_age = minutes(2);
  auto gc = Gc(o);
  // b used a while ago, then a; c never used (oldest of all).
  used_.names = {"localhost/b:1"};
  ASSERT_TRUE(gc->DetectImages().ok());
  now_ += minutes(1);
  used_.names = {"localhost/a:1"};
  ASSERT_TRUE(gc->DetectImages().ok());
  now_ += minutes(5);
  auto in_use_info = store_->Inspect(in_use);
  used_.names.clear();
  used_.manifest_digests = {in_use_info->record.manifest_digest};  // in use by digest
  // 70% used; down to 50% asks for 200000 bytes: more than all images, so every unused one
  // goes, in LRU order, and the shortfall is reported.
  usage_ = {1000000, 300000};
  auto r = gc->GarbageCollect();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->ran);
  EXPECT_EQ(r->usage_percent, 70);
  EXPECT_EQ(r->bytes_to_free, 200000);
  EXPECT_EQ(r->removed, (std::vector<std::string>{c, b, a}));
  EXPECT_LT(r->bytes_freed, r->bytes_to_free);
  EXPECT_FALSE(Present("localhost/a:1"));
  EXPECT_TRUE(Present("localhost/used:1"));
  EXPECT_GE(r->bytes_freed, 3 * size_a / 2);
}

TEST_F(ImageGcTest, StopsOnceEnoughIsFreed) {
  std::string a = Import("localhost/a:1");
  std::string b = Import("localhost/b:1");
  int64_t size_a = store_->Inspect(a)->record.size;
  ImageGcOptions o;
  o.high_threshold = 60;
  o.low_threshold = 59;
  o.min_age = seconds(0);
  auto gc = Gc(o);
  used_.names = {"localhost/b:1"};
  ASSERT_TRUE(gc->DetectImages().ok());
  now_ += seconds(1);
  used_.names = {"localhost/a:1"};
  ASSERT_TRUE(gc->DetectImages().ok());
  now_ += seconds(1);
  used_.names.clear();
  // 60% used; down to 59% asks for half an image: only the least recently used (b) goes.
  usage_ = {1000000, 410000 - size_a / 2};
  auto r = gc->GarbageCollect();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ran);
  EXPECT_EQ(r->bytes_to_free, size_a / 2);
  EXPECT_EQ(r->removed, std::vector<std::string>{b});
  EXPECT_GE(r->bytes_freed, r->bytes_to_free);
  EXPECT_TRUE(Present("localhost/a:1"));
  EXPECT_FALSE(Present("localhost/b:1"));
}

TEST_F(ImageGcTest, SweepsTheBlobsOfRemovedImages) {
  Import("localhost/a:1");
  ImageGcOptions o;
  o.high_threshold = 10;
  o.low_threshold = 5;
  o.min_age = seconds(0);
  auto gc = Gc(o);
  auto r = gc->GarbageCollect();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->removed.size(), 1u);
  auto blobs = store_->content().List();
  ASSERT_TRUE(blobs.ok());
  EXPECT_TRUE(blobs->empty());
}

TEST_F(ImageGcTest, YoungImagesAreKept) {
  Import("localhost/a:1");
  ImageGcOptions o;
  o.high_threshold = 10;
  o.low_threshold = 5;
  o.min_age = minutes(2);
  auto gc = Gc(o);
  now_ += minutes(1);
  auto r = gc->GarbageCollect();  // first seen now: younger than 2 minutes
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ran);
  EXPECT_TRUE(r->removed.empty());
  now_ += minutes(3);
  r = gc->GarbageCollect();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->removed.size(), 1u);
  EXPECT_FALSE(Present("localhost/a:1"));
}

TEST_F(ImageGcTest, OffAtOneHundredPercent) {
  Import("localhost/a:1");
  ImageGcOptions o;
  o.high_threshold = 100;
  o.low_threshold = 100;
  o.min_age = seconds(0);
  usage_ = {1000000, 0};
  auto gc = Gc(o);
  auto r = gc->GarbageCollect();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ran);
  EXPECT_TRUE(Present("localhost/a:1"));
}

}  // namespace
}  // namespace sampan::agent
