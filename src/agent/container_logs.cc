#include "agent/container_logs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <filesystem>

#include "util/log.h"

namespace sampan::agent {

namespace fsys = std::filesystem;

namespace {

constexpr size_t kStampLen = 15;  // YYYYMMDD-HHMMSS

bool IsStamp(std::string_view s) {
  if (s.size() != kStampLen || s[8] != '-') return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (i != 8 && (s[i] < '0' || s[i] > '9')) return false;
  return true;
}

std::string Stamp(std::chrono::system_clock::time_point t) {
  time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

struct Rotated {
  std::string path, stamp;
  bool gz = false, tmp = false;
};

// Every file of `log`'s rotation set but the current one, in name order.
std::vector<Rotated> Scan(const std::string& log) {
  fsys::path p(log);
  std::string prefix = p.filename().string() + ".";
  std::vector<Rotated> out;
  std::error_code ec;
  for (const auto& e : fsys::directory_iterator(p.parent_path(), ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    std::string_view rest = std::string_view(name).substr(prefix.size());
    if (rest.size() < kStampLen || !IsStamp(rest.substr(0, kStampLen))) continue;
    Rotated r;
    r.path = e.path().string();
    r.stamp = std::string(rest.substr(0, kStampLen));
    std::string_view suffix = rest.substr(kStampLen);
    if (suffix == ".gz") {
      r.gz = true;
    } else if (suffix == ".gz.tmp") {
      r.tmp = true;
    } else if (!suffix.empty()) {
      continue;
    }
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(),
            [](const Rotated& a, const Rotated& b) { return a.path < b.path; });
  return out;
}

// gzip `path` into `path`.gz (through a .tmp file), then removes `path`.
Status Compress(const std::string& path) {
  std::string tmp = path + ".gz.tmp";
  int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return ErrnoStatus("open " + path, errno);
  gzFile out = gzopen(tmp.c_str(), "wb6");
  if (!out) {
    ::close(in);
    return Status(Code::kInternal, "cannot create " + tmp);
  }
  char buf[65536];
  Status st;
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st = ErrnoStatus("read " + path, errno);
      break;
    }
    if (n == 0) break;
    if (gzwrite(out, buf, static_cast<unsigned>(n)) != n) {
      st = Status(Code::kInternal, "writing " + tmp);
      break;
    }
  }
  ::close(in);
  if (gzclose(out) != Z_OK && st.ok()) st = Status(Code::kInternal, "writing " + tmp);
  if (st.ok() && ::rename(tmp.c_str(), (path + ".gz").c_str()) != 0)
    st = ErrnoStatus("rename " + tmp, errno);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  ::unlink(path.c_str());
  return Status::Ok();
}

}  // namespace

Status ValidateContainerLogOptions(const ContainerLogOptions& o) {
  if (o.max_size <= 0) return Invalid("--container-log-max-size must be greater than 0");
  if (o.max_files < 2) return Invalid("--container-log-max-files must be at least 2");
  if (o.interval.count() <= 0)
    return Invalid("--container-log-monitor-interval must be greater than 0");
  return Status::Ok();
}

std::vector<std::string> RotatedLogs(const std::string& log) {
  std::vector<std::string> out;
  for (const auto& r : Scan(log))
    if (!r.tmp) out.push_back(r.path);
  return out;
}

Status RotateLog(const std::string& log, const ContainerLogOptions& o,
                 std::chrono::system_clock::time_point now) {
  // Leftovers of an interrupted compression: a partial .gz.tmp, or a file whose .gz was
  // finished but not yet removed.
  std::vector<Rotated> rotated;
  {
    std::vector<Rotated> all = Scan(log);
    for (const auto& r : all) {
      if (r.tmp) {
        ::unlink(r.path.c_str());
        continue;
      }
      if (!r.gz && std::any_of(all.begin(), all.end(),
                               [&](const Rotated& x) { return x.gz && x.stamp == r.stamp; })) {
        ::unlink(r.path.c_str());
        continue;
      }
      rotated.push_back(r);
    }
  }
  struct stat st;
  bool rotate = ::stat(log.c_str(), &st) == 0 && st.st_size >= o.max_size;
  // A log rotated less than a second ago has that name already: wait for the next pass.
  std::string target = log + "." + Stamp(now);
  if (rotate && (fsys::exists(target) || fsys::exists(target + ".gz"))) rotate = false;
  // Room for the file this pass adds: at most max_files - 1 rotated ones afterwards.
  size_t keep = static_cast<size_t>(o.max_files - (rotate ? 2 : 1));
  while (rotated.size() > keep) {
    if (::unlink(rotated.front().path.c_str()) != 0 && errno != ENOENT)
      return ErrnoStatus("remove " + rotated.front().path, errno);
    rotated.erase(rotated.begin());
  }
  // The newest rotated file stays as it is (it may have been rotated a moment ago, while
  // the monitor still had a write under way); the older ones are compressed.
  for (size_t i = 0; i + 1 < rotated.size(); ++i)
    if (!rotated[i].gz) RETURN_IF_ERROR(Compress(rotated[i].path));
  if (!rotate) return Status::Ok();
  if (!rotated.empty() && !rotated.back().gz) RETURN_IF_ERROR(Compress(rotated.back().path));
  if (::rename(log.c_str(), target.c_str()) != 0)
    return ErrnoStatus("rename " + log + " to " + target, errno);
  // The monitor makes the file itself on its next write; making it here lets readers find
  // the new (empty) current log at once. EEXIST: the monitor was first.
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
  if (fd >= 0) {
    ::close(fd);
  } else if (errno != EEXIST) {
    return ErrnoStatus("create " + log, errno);
  }
  return Status::Ok();
}

ContainerLogManager::ContainerLogManager(ContainerLogOptions o,
                                         std::function<std::vector<std::string>()> current_logs)
    : opts_(o), current_logs_(std::move(current_logs)) {}

ContainerLogManager::~ContainerLogManager() { Stop(); }

void ContainerLogManager::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ContainerLogManager::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void ContainerLogManager::RotateAll() {
  auto now = std::chrono::system_clock::now();
  for (const auto& log : current_logs_()) {
    if (Status st = RotateLog(log, opts_, now); !st.ok())
      LOG(WARNING) << "rotating container log " << log << ": " << st.ToString();
  }
}

void ContainerLogManager::Run() {
  while (true) {
    {
      std::unique_lock<std::mutex> l(mu_);
      if (cv_.wait_for(l, opts_.interval, [this] { return stop_; })) return;
    }
    RotateAll();
  }
}

}  // namespace sampan::agent
