#include "image/fs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <random>

#include "util/clock.h"

namespace sampan::image {

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(std::move(n));
  }
  ::closedir(d);
  return out;
}

Status RemoveTree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return ErrnoStatus("lstat " + path, errno);
  }
  if (S_ISDIR(st.st_mode)) {
    // A directory may be read-only (0555) in a layer: make it writable to empty it.
    if ((st.st_mode & S_IWUSR) == 0) ::chmod(path.c_str(), (st.st_mode & 07777) | S_IRWXU);
    for (const auto& n : ListDir(path)) RETURN_IF_ERROR(RemoveTree(path + "/" + n));
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("rmdir " + path, errno);
  } else if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus("unlink " + path, errno);
  }
  return Status::Ok();
}

std::string RandomHex() {
  static thread_local std::mt19937_64 rng(std::random_device{}() ^
                                          (static_cast<uint64_t>(::getpid()) << 32));
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

long AgeSeconds(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return 1L << 40;
  return static_cast<long>(::time(nullptr) - st.st_mtime);
}

std::string NowRfc3339() { return FormatRfc3339(static_cast<int64_t>(::time(nullptr))); }

}  // namespace sampan::image
