// ImageStore's lock, shared by the files that implement ImageStore.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "image/image_store.h"

namespace sampan::image {

// An flock on <root>/lock, held for the object's lifetime. Each Lock opens its own file
// description, so it excludes other threads of this process as well as other processes.
class ImageStore::Lock {
 public:
  static Result<Lock> Take(const std::string& root, bool exclusive) {
    std::string path = root + "/lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoStatus("open " + path, errno);
    while (::flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return ErrnoStatus("flock " + path, e);
    }
    return Lock(fd);
  }
  Lock(Lock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  ~Lock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit Lock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace sampan::image
