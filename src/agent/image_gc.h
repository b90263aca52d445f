// Image garbage collection, as the kubelet's image GC manager: when the filesystem that holds
// the image store is more than `high_threshold` percent used, unused images are deleted, least
// recently used first, until the bytes freed would bring usage down to `low_threshold`.
//
// "Used" means referenced by a container the runtime knows on this node (running or exited),
// by name or by manifest digest. Each image is remembered with when the agent first saw it and
// when a container last used it; images seen less than `min_age` ago are never deleted (a pod
// may be about to start with a freshly pulled image). Freed bytes are counted by the images'
// sizes (as the kubelet counts the runtime's image sizes); after deleting names the store's
// blob/snapshot GC reclaims the space. Usage = 100 - available * 100 / capacity (statvfs, as
// the kubelet computes it). A high threshold of 100 turns GC off.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "image/image_store.h"
#include "util/status.h"

namespace sampan::agent {

struct ImageGcOptions {
  int high_threshold = 85;                                     // --image-gc-high-threshold
  int low_threshold = 80;                                      // --image-gc-low-threshold
  std::chrono::milliseconds min_age{std::chrono::minutes(2)};  // --image-minimum-gc-age
  std::chrono::milliseconds period{std::chrono::minutes(5)};   // --image-gc-period
};

// Invalid unless 0 <= low < high <= 100 (or high == 100 == low: off), min_age >= 0, period > 0.
Status ValidateImageGcOptions(const ImageGcOptions& o);

struct FsUsage {
  int64_t capacity = 0, available = 0;  // bytes
};
// statvfs of the filesystem holding `path`.
Result<FsUsage> FilesystemUsage(const std::string& path);

// What the images in use are: names ("docker.io/library/busybox:1.35") and image IDs in the
// "repo@sha256:<manifest digest>" form the agent annotates its containers with.
struct ImagesInUse {
  std::set<std::string> names, manifest_digests;
};

struct ImageGcResult {
  bool ran = false;  // usage was above the high threshold
  int usage_percent = 0;
  int64_t bytes_to_free = 0, bytes_freed = 0;
  std::vector<std::string> removed;  // image IDs (config digests)
};

class ImageGc {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  // `usage` gives the image filesystem's usage (FilesystemUsage of the store by default);
  // `in_use` the images the node's containers use.
  ImageGc(ImageGcOptions o, image::ImageStore* store, std::function<Result<ImagesInUse>()> in_use,
          std::function<Result<FsUsage>()> usage = nullptr, Clock clock = nullptr);

  // Notes the images present and those in use (first seen, last used). Called by
  // GarbageCollect; the agent may call it more often for finer last-use times.
  Status DetectImages();
  // One collection: detect, then free space if usage is above the high threshold. Not
  // thread-safe against itself (the agent calls it from one thread).
  Result<ImageGcResult> GarbageCollect();

 private:
  struct Record {
    std::chrono::steady_clock::time_point first_detected, last_used;
    int64_t size = 0;
    bool in_use = false;
  };
  ImageGcOptions opts_;
  image::ImageStore* store_;
  std::function<Result<ImagesInUse>()> in_use_;
  std::function<Result<FsUsage>()> usage_;
  Clock clock_;
  std::map<std::string, Record> images_;  // by image ID (config digest)
};

// Runs ImageGc::GarbageCollect every period on a thread; `on_done` hears of each collection
// that ran (to record events and refresh the node status).
class ImageGcLoop {
 public:
  ImageGcLoop(std::unique_ptr<ImageGc> gc, std::chrono::milliseconds period,
              std::function<void(const Result<ImageGcResult>&)> on_done);
  ~ImageGcLoop();  // Stop()
  void Start();
  void Stop();  // idempotent

 private:
  void Run();
  std::unique_ptr<ImageGc> gc_;
  std::chrono::milliseconds period_;
  std::function<void(const Result<ImageGcResult>&)> on_done_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace sampan::agent
