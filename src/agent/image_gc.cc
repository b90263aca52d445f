#include "agent/image_gc.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>

#include "util/log.h"

namespace sampan::agent {

Status ValidateImageGcOptions(const ImageGcOptions& o) {
  auto percent = [](int v) { return v >= 0 && v <= 100; };
  if (!percent(o.high_threshold))
    return Invalid("--image-gc-high-threshold must be between 0 and 100");
  if (!percent(o.low_threshold))
    return Invalid("--image-gc-low-threshold must be between 0 and 100");
  if (o.high_threshold != 100 && o.low_threshold >= o.high_threshold)
    return Invalid("--image-gc-low-threshold (" + std::to_string(o.low_threshold) +
                   ") must be less than --image-gc-high-threshold (" +
                   std::to_string(o.high_threshold) + ")");
  if (o.min_age.count() < 0) return Invalid("--image-minimum-gc-age must not be negative");
  if (o.period.count() <= 0) return Invalid("--image-gc-period must be greater than 0");
  return Status::Ok();
}

Result<FsUsage> FilesystemUsage(const std::string& path) {
  struct statvfs s;
  if (::statvfs(path.c_str(), &s) != 0) return ErrnoStatus("statvfs " + path, errno);
  FsUsage u;
  u.capacity = static_cast<int64_t>(s.f_blocks) * static_cast<int64_t>(s.f_frsize);
  u.available = static_cast<int64_t>(s.f_bavail) * static_cast<int64_t>(s.f_frsize);
  return u;
}

ImageGc::ImageGc(ImageGcOptions o, image::ImageStore* store,
                 std::function<Result<ImagesInUse>()> in_use,
                 std::function<Result<FsUsage>()> usage, Clock clock)
    : opts_(o),
      store_(store),
      in_use_(std::move(in_use)),
      usage_(std::move(usage)),
      clock_(std::move(clock)) {
  if (!usage_) usage_ = [this] { return FilesystemUsage(store_->root()); };
  if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
}

Status ImageGc::DetectImages() {
  auto now = clock_();
  ASSIGN_OR_RETURN(auto records, store_->List());
  ASSIGN_OR_RETURN(ImagesInUse used, in_use_());
  std::map<std::string, Record> seen;
  for (const auto& r : records) {
    auto [it, fresh] = seen.try_emplace(r.config_digest);
    Record& rec = it->second;
    if (fresh) {
      auto old = images_.find(r.config_digest);
      if (old != images_.end()) {
        rec = old->second;
      } else {
        rec.first_detected = now;
      }
      rec.in_use = false;
    }
    rec.size = r.size;
    if (used.names.count(r.name) || used.manifest_digests.count(r.manifest_digest))
      rec.in_use = true;
  }
  for (auto& [id, rec] : seen)
    if (rec.in_use) rec.last_used = now;
  images_ = std::move(seen);
  return Status::Ok();
}

Result<ImageGcResult> ImageGc::GarbageCollect() {
  RETURN_IF_ERROR(DetectImages());
  ImageGcResult res;
  if (opts_.high_threshold >= 100) return res;
  ASSIGN_OR_RETURN(FsUsage fs, usage_());
  if (fs.capacity <= 0) return Status(Code::kInternal, "image filesystem capacity is 0");
  res.usage_percent = 100 - static_cast<int>(fs.available * 100 / fs.capacity);
  if (res.usage_percent < opts_.high_threshold) return res;
  res.ran = true;
  res.bytes_to_free = fs.capacity * (100 - opts_.low_threshold) / 100 - fs.available;
  auto now = clock_();
  struct Candidate {
    std::string id;
    std::chrono::steady_clock::time_point last_used, first_detected;
    int64_t size;
  };
  std::vector<Candidate> candidates;
  for (const auto& [id, rec] : images_) {
    if (rec.in_use || now - rec.first_detected < opts_.min_age) continue;
    candidates.push_back({id, rec.last_used, rec.first_detected, rec.size});
  }
  // Least recently used first (never used counts as oldest), then the first seen.
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.last_used != b.last_used) return a.last_used < b.last_used;
    return a.first_detected < b.first_detected;
  });
  for (const auto& c : candidates) {
    if (res.bytes_freed >= res.bytes_to_free) break;
    auto removed = store_->Remove(c.id);
    if (!removed.ok()) {
      LOG(WARNING) << "image gc: removing " << c.id << ": " << removed.status().ToString();
      continue;
    }
    LOG(INFO) << "image gc: removed image " << c.id << " (" << c.size << " bytes)";
    images_.erase(c.id);
    res.removed.push_back(c.id);
    res.bytes_freed += c.size;
  }
  if (!res.removed.empty()) {
    // The blobs and snapshots only the removed images used. Anything younger than the
    // minimum age is spared, so a pull under way keeps what it has written.
    int grace =
        static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(opts_.min_age).count());
    auto swept = store_->GarbageCollect(grace);
    if (!swept.ok()) LOG(WARNING) << "image gc: " << swept.status().ToString();
  }
  return res;
}

ImageGcLoop::ImageGcLoop(std::unique_ptr<ImageGc> gc, std::chrono::milliseconds period,
                         std::function<void(const Result<ImageGcResult>&)> on_done)
    : gc_(std::move(gc)), period_(period), on_done_(std::move(on_done)) {}

ImageGcLoop::~ImageGcLoop() { Stop(); }

void ImageGcLoop::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ImageGcLoop::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void ImageGcLoop::Run() {
  // Images are noted early (first-seen times), then collected every period.
  (void)gc_->DetectImages();
  while (true) {
    {
      std::unique_lock<std::mutex> l(mu_);
      if (cv_.wait_for(l, period_, [this] { return stop_; })) return;
    }
    auto r = gc_->GarbageCollect();
    if (!r.ok()) LOG(WARNING) << "image gc: " << r.status().ToString();
    if (on_done_) on_done_(r);
  }
}

}  // namespace sampan::agent
