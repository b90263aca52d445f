// Mounts, devices and pivot_root for the container init.
#include "runtime/rootfs.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "runtime/sys.h"

namespace sampan::runtime {

namespace {

std::string FdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// Opens `rel` inside the tree at `rootfd`, resolving ".." and symlinks as if rootfd were "/".
int OpenInRoot(int rootfd, const std::string& rel, int flags) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string p = rel;
  while (!p.empty() && p[0] == '/') p.erase(0, 1);
  if (p.empty()) p = ".";
  return static_cast<int>(::syscall(SYS_openat2, rootfd, p.c_str(), &how, sizeof how));
}

std::string Dirname(const std::string& p) {
  size_t s = p.find_last_not_of('/');
  if (s == std::string::npos) return "/";
  size_t slash = p.rfind('/', s);
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : p.substr(0, slash);
}

std::string Basename(const std::string& p) {
  size_t e = p.find_last_not_of('/');
  if (e == std::string::npos) return "/";
  size_t slash = p.rfind('/', e);
  return p.substr(slash + 1, e - slash);
}

// mkdir -p of `rel` inside rootfd; returns an O_PATH fd of it.
Result<UniqueFd> MkdirInRoot(int rootfd, const std::string& rel, mode_t mode) {
  int fd = OpenInRoot(rootfd, rel, O_PATH | O_DIRECTORY);
  if (fd >= 0) return UniqueFd(fd);
  if (errno != ENOENT) return ErrnoStatus("open " + rel + " in rootfs", errno);
  std::string parent = Dirname(rel);
  ASSIGN_OR_RETURN(UniqueFd pfd, MkdirInRoot(rootfd, parent, mode));
  std::string base = Basename(rel);
  if (::mkdirat(pfd.get(), base.c_str(), mode) != 0 && errno != EEXIST)
    return ErrnoStatus("mkdir " + rel + " in rootfs", errno);
  fd = OpenInRoot(rootfd, rel, O_PATH | O_DIRECTORY);
  if (fd < 0) return ErrnoStatus("open " + rel + " in rootfs", errno);
  return UniqueFd(fd);
}

// Creates an empty file at `rel` (mount point for a file bind); returns an O_PATH fd.
Result<UniqueFd> MkfileInRoot(int rootfd, const std::string& rel) {
  int fd = OpenInRoot(rootfd, rel, O_PATH);
  if (fd >= 0) return UniqueFd(fd);
  if (errno != ENOENT) return ErrnoStatus("open " + rel + " in rootfs", errno);
  ASSIGN_OR_RETURN(UniqueFd pfd, MkdirInRoot(rootfd, Dirname(rel), 0755));
  int f =
      ::openat(pfd.get(), Basename(rel).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (f < 0 && errno != EEXIST) return ErrnoStatus("create " + rel + " in rootfs", errno);
  if (f >= 0) ::close(f);
  fd = OpenInRoot(rootfd, rel, O_PATH);
  if (fd < 0) return ErrnoStatus("open " + rel + " in rootfs", errno);
  return UniqueFd(fd);
}

// Flags of the mount at `path` that a bind remount must keep (they may be locked).
unsigned long LockedFlags(const std::string& path) {
  struct statvfs sv;
  if (::statvfs(path.c_str(), &sv) != 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_RDONLY) f |= MS_RDONLY;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

constexpr unsigned long kRemountable = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
                                       MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME |
                                       MS_SYNCHRONOUS | MS_DIRSYNC | MS_MANDLOCK;

// Bind-remounts `target` with `flags`, adding locked flags if the kernel insists.
Status BindRemount(const std::string& target, unsigned long flags, const std::string& shown = "") {
  unsigned long f = MS_BIND | MS_REMOUNT | (flags & kRemountable);
  if (::mount(nullptr, target.c_str(), nullptr, f, nullptr) == 0) return Status();
  int err = errno;
  if (err == EPERM) {
    unsigned long locked = LockedFlags(target) & ~MS_RDONLY;
    if (::mount(nullptr, target.c_str(), nullptr, f | locked, nullptr) == 0) return Status();
  }
  return ErrnoStatus("remount " + (shown.empty() ? target : shown), err);
}

Status MountOne(const Mount& m, const RootfsContext& ctx, int rootfd);

// cgroup mounts: v2 mounts cgroup2; v1 mounts a tmpfs with one bind per hierarchy.
Status MountCgroup(const Mount& m, const RootfsContext& ctx, int rootfd) {
  ASSIGN_OR_RETURN(UniqueFd dst, MkdirInRoot(rootfd, m.destination, 0755));
  std::string target = FdPath(dst.get());
  unsigned long flags = m.flags & ~MS_RDONLY & ~MS_BIND & ~MS_REC;
  if (ctx.cgroup_mode == CgroupMode::kV2) {
    unsigned long f = m.flags & ~MS_BIND & ~MS_REC;
    if (::mount("cgroup2", target.c_str(), "cgroup2", f, nullptr) == 0) return Status();
    if (errno != EPERM && errno != EBUSY)
      return ErrnoStatus("mount cgroup2 on " + m.destination, errno);
    // Without a cgroup namespace the kernel refuses: bind the container's own cgroup.
    std::string src = "/sys/fs/cgroup" + ctx.cgroup_rel_path;
    if (::mount(src.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return ErrnoStatus("bind " + src + " on " + m.destination, errno);
    ASSIGN_OR_RETURN(UniqueFd bound, MkdirInRoot(rootfd, m.destination, 0755));
    return BindRemount(FdPath(bound.get()), m.flags, m.destination);
  }
  if (::mount("tmpfs", target.c_str(), "tmpfs", flags, "mode=755") != 0)
    return ErrnoStatus("mount tmpfs on " + m.destination, errno);
  // Re-open: the fd points below the new tmpfs.
  ASSIGN_OR_RETURN(UniqueFd base, MkdirInRoot(rootfd, m.destination, 0755));
  // One bind per v1 hierarchy mounted on the host under /sys/fs/cgroup.
  // The tmpfs is new and empty: its entries are made and opened with plain *at calls, no link
  // can be in the way.
  auto open_sub = [&](const std::string& name) -> Result<UniqueFd> {
    int fd = ::openat(base.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open " + m.destination + "/" + name, errno);
    return UniqueFd(fd);
  };
  std::vector<std::string> names;
  for (const std::string& mp : V1HierarchyMountPoints()) {
    std::string name = mp.substr(15);
    if (::mkdirat(base.get(), name.c_str(), 0755) != 0 && errno != EEXIST)
      return ErrnoStatus("mkdir " + m.destination + "/" + name, errno);
    ASSIGN_OR_RETURN(UniqueFd sub, open_sub(name));
    std::string src = mp + ctx.cgroup_rel_path;
    if (!IsDirectory(src)) src = mp;
    std::string t = FdPath(sub.get());
    if (::mount(src.c_str(), t.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return ErrnoStatus("bind " + src + " on " + m.destination + "/" + name, errno);
    names.push_back(std::move(name));
  }
  // cpu,cpuacct style links are left out: each hierarchy here has its own mount.
  // The binds are nosuid/nodev/noexec (and read-only with the mount): one mount_setattr over
  // the tmpfs and all of them, instead of a remount per mount point (each one a walk through
  // /proc/self/fd and a reconfiguration under the namespace lock). Kernels before 5.12 lack it.
  struct mount_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
                  ((m.flags & MS_RDONLY) ? MOUNT_ATTR_RDONLY : 0);
  if (::mount_setattr(base.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) == 0)
    return Status();
  // Else one remount each (which also copes with flags locked by a user namespace).
  for (const std::string& name : names) {
    ASSIGN_OR_RETURN(UniqueFd bound, open_sub(name));  // the bound mount
    RETURN_IF_ERROR(BindRemount(FdPath(bound.get()), m.flags | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                m.destination + "/" + name));
  }
  if (m.flags & MS_RDONLY)
    RETURN_IF_ERROR(BindRemount(FdPath(base.get()), flags | MS_RDONLY, m.destination));
  return Status();
}

Status MountOne(const Mount& m, const RootfsContext& ctx, int rootfd) {
  if (m.type == "cgroup" || m.type == "cgroup2") return MountCgroup(m, ctx, rootfd);
  UniqueFd dst;
  std::string src = m.source;
  if (m.IsBind()) {
    if (!src.empty() && src[0] != '/') src = ctx.bundle + "/" + src;
    struct stat st;
    if (::stat(src.c_str(), &st) != 0) return ErrnoStatus("mount source " + src, errno);
    if (S_ISDIR(st.st_mode)) {
      ASSIGN_OR_RETURN(dst, MkdirInRoot(rootfd, m.destination, 0755));
    } else {
      ASSIGN_OR_RETURN(dst, MkfileInRoot(rootfd, m.destination));
    }
    std::string target = FdPath(dst.get());
    if (::mount(src.c_str(), target.c_str(), nullptr, MS_BIND | (m.flags & MS_REC), nullptr) != 0)
      return ErrnoStatus("bind " + src + " on " + m.destination, errno);
    // The bind itself ignores other flags; apply them with a remount of a fresh handle.
    if (m.flags & kRemountable) {
      int again = OpenInRoot(rootfd, m.destination, O_PATH);
      if (again < 0) return ErrnoStatus("reopen " + m.destination, errno);
      UniqueFd again_fd(again);
      RETURN_IF_ERROR(BindRemount(FdPath(again), m.flags, m.destination));
    }
  } else {
    ASSIGN_OR_RETURN(dst, MkdirInRoot(rootfd, m.destination, 0755));
    std::string target = FdPath(dst.get());
    unsigned long flags = m.flags & ~MS_REMOUNT;
    if (::mount(src.c_str(), target.c_str(), m.type.c_str(), flags,
                m.data.empty() ? nullptr : m.data.c_str()) != 0) {
      int err = errno;
      // sysfs/mqueue outside their own net/ipc namespace: bind the host's instead, as runc does.
      if ((err == EPERM || err == EBUSY) && (m.type == "sysfs" || m.type == "mqueue")) {
        const char* host = m.type == "sysfs" ? "/sys" : "/dev/mqueue";
        if (::mount(host, target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
          return ErrnoStatus("bind " + std::string(host) + " on " + m.destination, errno);
        ASSIGN_OR_RETURN(UniqueFd again, MkdirInRoot(rootfd, m.destination, 0755));
        RETURN_IF_ERROR(BindRemount(FdPath(again.get()), m.flags, m.destination));
      } else {
        return ErrnoStatus("mount " + m.type + " on " + m.destination, err);
      }
    }
  }
  if (m.propagation) {
    int fd = OpenInRoot(rootfd, m.destination, O_PATH);
    if (fd < 0) return ErrnoStatus("open " + m.destination, errno);
    UniqueFd f(fd);
    if (::mount(nullptr, FdPath(fd).c_str(), nullptr, m.propagation, nullptr) != 0)
      return ErrnoStatus("set propagation of " + m.destination, errno);
  }
  return Status();
}

struct DefaultDev {
  const char* path;
  int major, minor;
};
constexpr DefaultDev kDefaultDevices[] = {{"/dev/null", 1, 3},    {"/dev/zero", 1, 5},
                                          {"/dev/full", 1, 7},    {"/dev/random", 1, 8},
                                          {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};

// `dev_dir`: an O_PATH descriptor of /dev in the rootfs, used for the devices right in it.
Status MakeDevice(int rootfd, const Device& d, bool bind, int dev_dir) {
  std::string rel = d.path;
  UniqueFd own_parent;
  int parent_fd = dev_dir;
  if (dev_dir < 0 || CleanJoin("/", Dirname(rel)) != "/dev") {
    ASSIGN_OR_RETURN(own_parent, MkdirInRoot(rootfd, Dirname(rel), 0755));
    parent_fd = own_parent.get();
  }
  std::string base = Basename(rel);
  if (bind) {
    int f = ::openat(parent_fd, base.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (f < 0 && errno != EEXIST) return ErrnoStatus("create " + rel, errno);
    if (f >= 0) ::close(f);
    int t = OpenInRoot(rootfd, rel, O_PATH);
    if (t < 0) return ErrnoStatus("open " + rel, errno);
    UniqueFd tf(t);
    if (::mount(d.path.c_str(), FdPath(t).c_str(), nullptr, MS_BIND, nullptr) != 0)
      return ErrnoStatus("bind device " + d.path, errno);
    return Status();
  }
  mode_t type = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
  mode_t perm = d.file_mode ? (*d.file_mode & 07777) : 0666;
  dev_t dev = makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
  // The umask is 0 here, so mknod sets the exact mode; a node already there is replaced.
  if (::mknodat(parent_fd, base.c_str(), type | perm, dev) != 0) {
    if (errno != EEXIST) return ErrnoStatus("mknod " + rel, errno);
    ::unlinkat(parent_fd, base.c_str(), 0);
    if (::mknodat(parent_fd, base.c_str(), type | perm, dev) != 0)
      return ErrnoStatus("mknod " + rel, errno);
  }
  if ((d.uid.value_or(0) != 0 || d.gid.value_or(0) != 0) &&
      ::fchownat(parent_fd, base.c_str(), d.uid.value_or(0), d.gid.value_or(0),
                 AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoStatus("chown " + rel, errno);
  return Status();
}

Status SetupDev(const Spec& spec, const RootfsContext& ctx, int rootfd) {
  // Only populate /dev when it is a fresh mount from config.json (else it is the image's).
  bool dev_mounted = false;
  bool bind_dev = false;
  for (const Mount& m : spec.mounts) {
    if (CleanJoin("/", m.destination) == "/dev") {
      dev_mounted = true;
      bind_dev = m.IsBind();
    }
  }
  if (bind_dev) return Status();
  // Most devices are right in /dev: its descriptor is opened once for them.
  auto dev_dir = MkdirInRoot(rootfd, "/dev", 0755);
  int dev_fd = dev_dir.ok() ? dev_dir->get() : -1;
  mode_t old = ::umask(0);
  Status st;
  for (const auto& dd : kDefaultDevices) {
    bool overridden = false;
    for (const Device& d : spec.linux.devices) overridden |= CleanJoin("/", d.path) == dd.path;
    if (overridden) continue;
    Device d;
    d.path = dd.path;
    d.major = dd.major;
    d.minor = dd.minor;
    d.file_mode = 0666;
    st = MakeDevice(rootfd, d, ctx.user_ns, dev_fd);
    if (!st.ok()) break;
  }
  for (const Device& d : spec.linux.devices) {
    if (!st.ok()) break;
    st = MakeDevice(rootfd, d, ctx.user_ns, dev_fd);
  }
  ::umask(old);
  RETURN_IF_ERROR(st);
  if (!dev_mounted) return Status();
  if (!dev_dir.ok()) return dev_dir.status();
  UniqueFd dev = std::move(*dev_dir);
  const std::pair<const char*, const char*> kLinks[] = {{"/proc/self/fd", "fd"},
                                                        {"/proc/self/fd/0", "stdin"},
                                                        {"/proc/self/fd/1", "stdout"},
                                                        {"/proc/self/fd/2", "stderr"}};
  for (auto [target, name] : kLinks)
    if (::symlinkat(target, dev.get(), name) != 0 && errno != EEXIST)
      return ErrnoStatus(std::string("symlink /dev/") + name, errno);
  int pts = OpenInRoot(rootfd, "/dev/pts/ptmx", O_PATH);
  if (pts >= 0) {
    ::close(pts);
    ::unlinkat(dev.get(), "ptmx", 0);
    if (::symlinkat("pts/ptmx", dev.get(), "ptmx") != 0)
      return ErrnoStatus("symlink /dev/ptmx", errno);
  }
  return Status();
}

// Makes the mount holding `path` private (walking up to the mount point), for pivot_root.
Status MakeParentPrivate(std::string path) {
  while (true) {
    if (::mount(nullptr, path.c_str(), nullptr, MS_PRIVATE, nullptr) == 0) return Status();
    if (errno != EINVAL || path == "/") return ErrnoStatus("make " + path + " private", errno);
    path = Dirname(path);
  }
}

unsigned long PropagationFlag(const std::string& p) {
  if (p == "shared") return MS_SHARED;
  if (p == "rshared") return MS_SHARED | MS_REC;
  if (p == "private") return MS_PRIVATE;
  if (p == "rprivate") return MS_PRIVATE | MS_REC;
  if (p == "slave") return MS_SLAVE;
  if (p == "unbindable") return MS_UNBINDABLE;
  if (p == "runbindable") return MS_UNBINDABLE | MS_REC;
  return MS_SLAVE | MS_REC;
}

}  // namespace

Status PrepareRootfs(const Spec& spec, const RootfsContext& ctx) {
  unsigned long prop = PropagationFlag(spec.linux.rootfs_propagation);
  // An unbindable tree could not bind the rootfs: that mode is applied after pivot_root only.
  if (prop & MS_UNBINDABLE) prop = MS_SLAVE;
  if (::mount(nullptr, "/", nullptr, prop | MS_REC, nullptr) != 0)
    return ErrnoStatus("set propagation of /", errno);
  if (prop & MS_SHARED) RETURN_IF_ERROR(MakeParentPrivate(Dirname(ctx.rootfs)));
  if (::mount(ctx.rootfs.c_str(), ctx.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return ErrnoStatus("bind rootfs " + ctx.rootfs, errno);
  int rfd = ::open(ctx.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0) return ErrnoStatus("open rootfs " + ctx.rootfs, errno);
  UniqueFd rootfd(rfd);
  bool net_ready = !ctx.before_net_mounts;
  for (const Mount& m : spec.mounts) {
    if (!net_ready && m.type == "sysfs") {
      RETURN_IF_ERROR(ctx.before_net_mounts());
      net_ready = true;
    }
    Status st = MountOne(m, ctx, rootfd.get());
    if (!st.ok()) return st;
  }
  if (!net_ready) RETURN_IF_ERROR(ctx.before_net_mounts());
  return SetupDev(spec, ctx, rootfd.get());
}

Status EnterRootfs(const Spec& spec, const RootfsContext& ctx, bool no_pivot) {
  if (::chdir(ctx.rootfs.c_str()) != 0) return ErrnoStatus("chdir " + ctx.rootfs, errno);
  if (no_pivot) {
    if (::mount(ctx.rootfs.c_str(), "/", nullptr, MS_MOVE, nullptr) != 0)
      return ErrnoStatus("move rootfs to /", errno);
    if (::chroot(".") != 0) return ErrnoStatus("chroot", errno);
  } else {
    if (::syscall(SYS_pivot_root, ".", ".") != 0) return ErrnoStatus("pivot_root", errno);
    // The old root is stacked under the new one at "."; detach it without touching the host.
    if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0)
      return ErrnoStatus("make old root slave", errno);
    if (::umount2(".", MNT_DETACH) != 0) return ErrnoStatus("detach old root", errno);
  }
  if (::chdir("/") != 0) return ErrnoStatus("chdir /", errno);
  if (!spec.linux.rootfs_propagation.empty()) {
    unsigned long prop = PropagationFlag(spec.linux.rootfs_propagation);
    if (::mount(nullptr, "/", nullptr, prop, nullptr) != 0)
      return ErrnoStatus("set propagation of the new root", errno);
  }
  return Status();
}

Status FinishRootfs(const Spec& spec) {
  for (const auto& [key, value] : spec.linux.sysctl) {
    std::string path = "/proc/sys/" + key;
    for (size_t i = 10; i < path.size(); ++i)
      if (path[i] == '.') path[i] = '/';
    Status st = WriteKnob(path, value);
    if (!st.ok()) return Status(st.code(), "linux.sysctl: " + key + ": " + st.message());
  }
  for (const std::string& p : spec.linux.masked_paths) {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return ErrnoStatus("mask " + p, errno);
    }
    if (S_ISDIR(st.st_mode)) {
      if (::mount("tmpfs", p.c_str(), "tmpfs", MS_RDONLY, nullptr) != 0)
        return ErrnoStatus("mask " + p, errno);
    } else if (::mount("/dev/null", p.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return ErrnoStatus("mask " + p, errno);
    }
  }
  for (const std::string& p : spec.linux.readonly_paths) {
    if (::mount(p.c_str(), p.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      if (errno == ENOENT) continue;
      return ErrnoStatus("bind " + p + " read-only", errno);
    }
    // The remount keeps the atime flags by itself; the flags a user namespace locks are added
    // by BindRemount when the kernel insists.
    RETURN_IF_ERROR(BindRemount(p, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC));
  }
  if (spec.root_readonly) RETURN_IF_ERROR(BindRemount("/", LockedFlags("/") | MS_RDONLY));
  return Status();
}

}  // namespace sampan::runtime
