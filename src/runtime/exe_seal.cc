#include "runtime/exe_seal.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "runtime/sys.h"

extern char** environ;

namespace sampan::runtime {

namespace {

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

bool Protected(int fd) {
  int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals >= 0 && (seals & kSeals) == kSeals) return true;
  // A binary on a read-only mount cannot be written through /proc/<pid>/exe either.
  struct statvfs vfs;
  if (::fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) return true;
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_uid != 0 || (st.st_mode & 0222) != 0) return false;
  int flags = 0;
  return ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL);
}

Status CopyAll(int from, int to, off_t size) {
  off_t off = 0;
  while (off < size) {
    ssize_t n = ::sendfile(to, from, &off, static_cast<size_t>(size - off));
    if (n <= 0) return ErrnoStatus("copy the sampan binary", n < 0 ? errno : EIO);
  }
  return Status();
}

void SetImmutable(int fd, bool on) {
  int flags = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) return;
  flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
  ::ioctl(fd, FS_IOC_SETFLAGS, &flags);
}

// Copies of other binaries younger than this stay: several builds used side by side (a
// developer's or CI's build trees, tests of one build while another runs) would otherwise
// delete each other's copy on every run and copy their binary (~100 MB with debug info) again.
// With this window a binary used alternately with others is copied at most once per window.
constexpr time_t kStaleAfterSeconds = 120;

// Removes cached copies of other builds made more than kStaleAfterSeconds ago, and leftover
// temporary files (they are immutable: clear the flag first).
void RemoveStale(const std::string& dir, const std::string& keep) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  time_t now = ::time(nullptr);
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == ".." || n == keep) continue;
    std::string p = dir + "/" + n;
    struct stat st;
    if (::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        now - st.st_ctim.tv_sec < kStaleAfterSeconds)
      continue;
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd >= 0) {
      SetImmutable(fd, false);
      ::close(fd);
    }
    ::unlink(p.c_str());
  }
  ::closedir(d);
}

// The cached immutable copy for the binary behind `self`; -1 if the cache is unusable.
int OpenCachedCopy(int self, const std::string& dir) {
  struct stat st;
  if (::fstat(self, &st) != 0) return -1;
  char name[128];
  std::snprintf(name, sizeof name, "sampan-%lx-%lx-%lx-%lx.%09ld",
                static_cast<unsigned long>(st.st_dev), static_cast<unsigned long>(st.st_ino),
                static_cast<unsigned long>(st.st_size),
                static_cast<unsigned long>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec);
  std::string path = dir + "/" + name;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    struct stat cst;
    if (::fstat(fd, &cst) == 0 && cst.st_size == st.st_size && Protected(fd)) return fd;
    ::close(fd);
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return -1;
  struct stat dst;
  if (::lstat(dir.c_str(), &dst) != 0 || !S_ISDIR(dst.st_mode) || dst.st_uid != 0 ||
      (dst.st_mode & 022))
    return -1;
  RemoveStale(dir, name);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
  if (out < 0) return -1;
  Status st_copy = CopyAll(self, out, st.st_size);
  ::fchmod(out, 0555);
  ::close(out);
  if (!st_copy.ok() || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return -1;
  }
  fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -1;
  SetImmutable(fd, true);
  if (!Protected(fd)) {  // the file system has no immutable flag: do not use the cache
    ::close(fd);
    ::unlink(path.c_str());
    return -1;
  }
  return fd;
}

int SealedMemfd(int self) {
  struct stat st;
  if (::fstat(self, &st) != 0) return -1;
  int mfd = ::memfd_create("sampan-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0) return -1;
  if (!CopyAll(self, mfd, st.st_size).ok() || ::fcntl(mfd, F_ADD_SEALS, kSeals) != 0) {
    ::close(mfd);
    return -1;
  }
  return mfd;
}

}  // namespace

bool RunningFromProtectedCopy() {
  int self = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0) return false;
  bool p = Protected(self);
  ::close(self);
  return p;
}

Result<int> ProtectedExeFd(const std::string& cache_dir) {
  int self = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0) return ErrnoStatus("open /proc/self/exe", errno);
  if (Protected(self)) return self;
  UniqueFd s(self);
  int fd = OpenCachedCopy(self, cache_dir);
  if (fd < 0) fd = SealedMemfd(self);
  if (fd < 0) return ErrnoStatus("make a protected copy of the sampan binary", errno);
  return fd;
}

Status RexecProtected(char** argv, const std::string& cache_dir) {
  int self = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0) return ErrnoStatus("open /proc/self/exe", errno);
  UniqueFd s(self);
  if (Protected(self)) return Status();
  int fd = OpenCachedCopy(self, cache_dir);
  if (fd >= 0) {
    ::fexecve(fd, argv, environ);
    ::close(fd);
  }
  fd = SealedMemfd(self);
  if (fd < 0) return ErrnoStatus("make a sealed copy of the sampan binary", errno);
  ::fexecve(fd, argv, environ);
  int err = errno;
  ::close(fd);
  return ErrnoStatus("execute the sealed copy of the sampan binary", err);
}

}  // namespace sampan::runtime
