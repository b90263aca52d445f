// Host-side file and mount operations of the volume module: tmpfs, unmounting, safe
// removal, fsGroup ownership and symlink-safe subPath preparation.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "volume/volume_internal.h"

namespace sampan::volume::internal {

namespace {

// mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
      out.push_back(static_cast<char>(std::strtol(s.substr(i + 1, 3).c_str(), nullptr, 8)));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool Within(const std::string& path, const std::string& base) {
  return path == base || (path.size() > base.size() && path.compare(0, base.size(), base) == 0 &&
                          (base == "/" || path[base.size()] == '/'));
}

Result<std::string> RealPath(const std::string& p) {
  char buf[PATH_MAX];
  if (realpath(p.c_str(), buf) == nullptr) return ErrnoStatus("realpath " + p, errno);
  return std::string(buf);
}

}  // namespace

std::string Canonical(const std::string& p) {
  char buf[PATH_MAX];
  return realpath(p.c_str(), buf) == nullptr ? p : std::string(buf);
}

namespace {

std::vector<std::string> Components(const std::string& rel) {
  std::vector<std::string> out;
  std::stringstream ss(rel);
  std::string item;
  while (std::getline(ss, item, '/')) {
    if (!item.empty() && item != ".") out.push_back(item);
  }
  return out;
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(-1); }
  void Reset(int fd) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Opens base/<rel> component by component, never following a symlink: the kubelet's
// doSafeOpen. `flags` apply to the last component (intermediate ones are directories).
Result<int> SafeOpen(const std::string& base, const std::vector<std::string>& rel, int flags) {
  Fd cur(open(base.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (cur.get() < 0) return ErrnoStatus("open " + base, errno);
  if (rel.empty()) {
    int fd = open(base.c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open " + base, errno);
    return fd;
  }
  std::string walked = base;
  for (size_t i = 0; i < rel.size(); ++i) {
    bool last = i + 1 == rel.size();
    int f = last ? flags : (O_PATH | O_DIRECTORY);
    int fd = openat(cur.get(), rel[i].c_str(), f | O_NOFOLLOW | O_CLOEXEC);
    walked += "/" + rel[i];
    if (fd < 0) {
      // ELOOP here: a component became a symlink after the path was resolved.
      return ErrnoStatus("open " + walked, errno);
    }
    if (last) return fd;
    cur.Reset(fd);
  }
  return Internal("unreachable");
}

Status RemoveAt(int dirfd, const std::string& name, const std::string& shown, dev_t dev) {
  struct stat st;
  if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT ? Status::Ok() : ErrnoStatus("stat " + shown, errno);
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev) {
      return Internal("refusing to remove " + shown + ": another file system is mounted there");
    }
    Fd fd(openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) return ErrnoStatus("open " + shown, errno);
    int dup_fd = dup(fd.get());
    if (dup_fd < 0) return ErrnoStatus("dup", errno);
    DIR* d = fdopendir(dup_fd);
    if (d == nullptr) {
      close(dup_fd);
      return ErrnoStatus("opendir " + shown, errno);
    }
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
    for (const std::string& n : names) RETURN_IF_ERROR(RemoveAt(fd.get(), n, shown + "/" + n, dev));
    if (unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return ErrnoStatus("rmdir " + shown, errno);
    }
    return Status::Ok();
  }
  if (unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) {
    return ErrnoStatus("unlink " + shown, errno);
  }
  return Status::Ok();
}

Status Chown(const std::string& path, gid_t gid, bool read_only) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return ErrnoStatus("lstat " + path, errno);
  if (lchown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
    return ErrnoStatus("lchown " + path, errno);
  }
  if (S_ISLNK(st.st_mode)) return Status::Ok();  // a link's own mode means nothing
  // lchown clears setuid/setgid bits of files: compute the mode from the stat above.
  mode_t mask = read_only ? 0440 : 0660;
  if (S_ISDIR(st.st_mode)) mask |= S_ISGID | 0110;
  if (chmod(path.c_str(), (st.st_mode & 07777) | mask) != 0) {
    return ErrnoStatus("chmod " + path, errno);
  }
  if (!S_ISDIR(st.st_mode)) return Status::Ok();
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return ErrnoStatus("opendir " + path, errno);
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(d);
  for (const std::string& n : names) RETURN_IF_ERROR(Chown(path + "/" + n, gid, read_only));
  return Status::Ok();
}

}  // namespace

Result<std::vector<MountEntry>> ReadMounts() {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return Internal("cannot read /proc/self/mountinfo");
  std::vector<MountEntry> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<std::string> f;
    std::string w;
    while (ls >> w) f.push_back(w);
    auto sep = std::find(f.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(f.size(), 6)),
                         f.end(), "-");
    if (f.size() < 7 || sep == f.end() || std::distance(sep, f.end()) < 3) continue;
    MountEntry m;
    m.mount_point = Unescape(f[4]);
    m.fs_type = *(sep + 1);
    m.source = Unescape(*(sep + 2));
    out.push_back(std::move(m));
  }
  return out;
}

std::optional<MountEntry> MountAt(const std::vector<MountEntry>& mounts, const std::string& path) {
  std::optional<MountEntry> found;
  for (const MountEntry& m : mounts) {
    if (m.mount_point == path) found = m;
  }
  return found;
}

Status MountTmpfs(const std::string& dir, int64_t size_bytes) {
  std::string opts = size_bytes > 0 ? "size=" + std::to_string(size_bytes) : "";
  // noswap (Linux 6.4+) keeps pod memory volumes out of swap, as the kubelet asks where
  // the kernel knows the option; older kernels refuse it with EINVAL.
  std::string with_noswap = opts.empty() ? "noswap" : opts + ",noswap";
  if (mount("tmpfs", dir.c_str(), "tmpfs", 0, with_noswap.c_str()) == 0) return Status::Ok();
  if (errno != EINVAL) return ErrnoStatus("mount tmpfs at " + dir, errno);
  if (mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.empty() ? nullptr : opts.c_str()) != 0) {
    return ErrnoStatus("mount tmpfs at " + dir, errno);
  }
  return Status::Ok();
}

Status UnmountAllUnder(const std::string& given_root) {
  const std::string root = Canonical(given_root);  // mountinfo has canonical paths
  for (int pass = 0; pass < 8; ++pass) {
    ASSIGN_OR_RETURN(std::vector<MountEntry> mounts, ReadMounts());
    std::vector<std::string> under;
    for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
      if (Within(it->mount_point, root)) under.push_back(it->mount_point);
    }
    if (under.empty()) return Status::Ok();
    // Deepest first; stacked mounts at one point come newest first (reverse order above).
    std::stable_sort(under.begin(), under.end(), [](const std::string& a, const std::string& b) {
      return a.size() > b.size();
    });
    for (const std::string& mp : under) {
      if (umount2(mp.c_str(), 0) != 0 && errno != EINVAL && errno != ENOENT) {
        if (errno == EBUSY && umount2(mp.c_str(), MNT_DETACH) == 0) continue;
        return ErrnoStatus("unmount " + mp, errno);
      }
    }
  }
  return Internal("mounts remain below " + root + " after unmounting");
}

Status RemoveTree(const std::string& root) {
  struct stat st;
  if (lstat(root.c_str(), &st) != 0) {
    return errno == ENOENT ? Status::Ok() : ErrnoStatus("lstat " + root, errno);
  }
  if (S_ISDIR(st.st_mode)) {
    // A bind mount of the same file system has the same st_dev: look at the mount table
    // too, so that a left-over bind of host data is never emptied.
    ASSIGN_OR_RETURN(std::vector<MountEntry> mounts, ReadMounts());
    ASSIGN_OR_RETURN(std::string real, RealPath(root));
    for (const MountEntry& m : mounts) {
      if (Within(m.mount_point, real) && m.mount_point != real) {
        return Internal("refusing to remove " + root + ": " + m.mount_point + " is mounted");
      }
    }
  }
  size_t slash = root.rfind('/');
  std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : root.substr(0, slash);
  std::string name = slash == std::string::npos ? root : root.substr(slash + 1);
  Fd pfd(open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (pfd.get() < 0) return ErrnoStatus("open " + parent, errno);
  return RemoveAt(pfd.get(), name, root, st.st_dev);
}

Status SetVolumeOwnership(const std::string& dir, gid_t fs_group, bool read_only) {
  return Chown(dir, fs_group, read_only);
}

Status SafeMakeDir(const std::string& volume_path, const std::string& sub_path) {
  ASSIGN_OR_RETURN(std::string base, RealPath(volume_path));
  std::string full = volume_path + "/" + sub_path;
  struct stat st;
  if (stat(full.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return ErrnoStatus("mkdir " + full, ENOTDIR);
  }
  // The longest existing prefix (lstat: a dangling link counts as existing).
  std::vector<std::string> comps = Components(sub_path);
  std::string existing = volume_path;
  size_t i = 0;
  for (; i < comps.size(); ++i) {
    std::string next = existing + "/" + comps[i];
    if (lstat(next.c_str(), &st) != 0) {
      if (errno != ENOENT) return ErrnoStatus("lstat " + next, errno);
      break;
    }
    existing = next;
  }
  ASSIGN_OR_RETURN(std::string real_existing, RealPath(existing));
  if (!Within(real_existing, base)) {
    return Invalid("path " + real_existing + " is outside of allowed base " + base);
  }
  struct stat base_st;
  if (stat(base.c_str(), &base_st) != 0) return ErrnoStatus("stat " + base, errno);
  mode_t perm = base_st.st_mode & 07777;
  std::vector<std::string> rel = Components(real_existing.substr(base.size()));
  ASSIGN_OR_RETURN(int first, SafeOpen(base, rel, O_RDONLY | O_DIRECTORY));
  Fd parent(first);
  std::string current = real_existing;
  for (; i < comps.size(); ++i) {
    current += "/" + comps[i];
    if (mkdirat(parent.get(), comps[i].c_str(), perm & 0777) != 0) {
      return ErrnoStatus("cannot create directory " + current, errno);
    }
    int child =
        openat(parent.get(), comps[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0) return ErrnoStatus("cannot open " + current, errno);
    parent.Reset(child);
    // mkdirat was subject to the umask: give the directory the volume root's mode.
    if (fchmod(parent.get(), perm) != 0) return ErrnoStatus("chmod " + current, errno);
  }
  return Status::Ok();
}

Status BindSubPath(const std::string& volume_path, const std::string& sub_path,
                   const std::string& target) {
  ASSIGN_OR_RETURN(std::string base, RealPath(volume_path));
  std::string joined = volume_path + "/" + sub_path;
  Result<std::string> resolved = RealPath(joined);
  if (!resolved.ok()) {
    return Status(resolved.status().code(),
                  "error resolving symlinks in \"" + joined + "\": " + resolved.status().message());
  }
  if (!Within(*resolved, base)) {
    return Invalid("subpath \"" + *resolved + "\" not within volume path \"" + base + "\"");
  }
  ASSIGN_OR_RETURN(int raw, SafeOpen(base, Components(resolved->substr(base.size())), O_PATH));
  Fd src(raw);
  struct stat src_st;
  if (fstat(src.get(), &src_st) != 0) return ErrnoStatus("stat " + *resolved, errno);

  // The bind target: reuse a mount of the same file, replace a stale one.
  size_t slash = target.rfind('/');
  std::string parent = target.substr(0, slash);
  for (size_t p = 1; p <= parent.size(); ++p) {
    if (p == parent.size() || parent[p] == '/') {
      std::string d = parent.substr(0, p);
      if (mkdir(d.c_str(), 0750) != 0 && errno != EEXIST) return ErrnoStatus("mkdir " + d, errno);
    }
  }
  ASSIGN_OR_RETURN(std::vector<MountEntry> mounts, ReadMounts());
  if (MountAt(mounts, Canonical(target))) {
    struct stat t;
    if (stat(target.c_str(), &t) == 0 && t.st_dev == src_st.st_dev && t.st_ino == src_st.st_ino) {
      return Status::Ok();
    }
    if (umount2(target.c_str(), MNT_DETACH) != 0) return ErrnoStatus("unmount " + target, errno);
  }
  struct stat t;
  if (lstat(target.c_str(), &t) == 0 && S_ISDIR(t.st_mode) != S_ISDIR(src_st.st_mode)) {
    // The subPath changed kind since the last bind: start the target afresh.
    if ((S_ISDIR(t.st_mode) ? rmdir(target.c_str()) : unlink(target.c_str())) != 0) {
      return ErrnoStatus("remove " + target, errno);
    }
  }
  if (S_ISDIR(src_st.st_mode)) {
    if (mkdir(target.c_str(), 0750) != 0 && errno != EEXIST) {
      return ErrnoStatus("mkdir " + target, errno);
    }
  } else {
    int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0) return ErrnoStatus("create " + target, errno);
    close(fd);
  }
  std::string from = "/proc/self/fd/" + std::to_string(src.get());
  if (mount(from.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return ErrnoStatus("bind " + *resolved + " at " + target, errno);
  }
  return Status::Ok();
}

}  // namespace sampan::volume::internal
