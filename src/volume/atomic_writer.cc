// The kubelet's atomic writer layout for configMap/secret/downwardAPI/projected volumes:
//   <dir>/..2026_01_02_15_04_05.AbC123/<files>   the data, one directory per version
//   <dir>/..data -> ..2026_01_02_15_04_05.AbC123  swapped by rename(2), so atomic
//   <dir>/<name> -> ..data/<name>                  one link per top-level name
// A reader that opens <dir>/<name> sees one whole version, never a mix.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <set>

#include "util/fs.h"
#include "volume/volume_internal.h"

namespace sampan::volume::internal {

namespace {

constexpr size_t kMaxFileNameLength = 255;
constexpr size_t kMaxPathLength = 4096;
constexpr char kDataDirName[] = "..data";
constexpr char kNewDataDirName[] = "..data_tmp";

std::string Join(const std::string& a, const std::string& b) { return a + "/" + b; }

// Every path below `root` (relative, files and directories), without following symlinks.
Status Walk(const std::string& root, const std::string& rel, std::set<std::string>* out) {
  std::string dir = rel.empty() ? root : Join(root, rel);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT && rel.empty()) return Status::Ok();
    return ErrnoStatus("opendir " + dir, errno);
  }
  std::vector<std::pair<std::string, bool>> children;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string child = rel.empty() ? name : Join(rel, name);
    struct stat st;
    bool is_dir = lstat(Join(root, child).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    children.emplace_back(child, is_dir);
  }
  closedir(d);
  for (const auto& [child, is_dir] : children) {
    out->insert(child);
    if (is_dir) RETURN_IF_ERROR(Walk(root, child, out));
  }
  return Status::Ok();
}

// Whether `path` (under the old data directory) differs from `want`.
bool Differs(const std::string& path, const FileProjection& want) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return true;
  if (static_cast<int>(st.st_mode & 07777) != (want.mode & 07777)) return true;
  if (want.fs_user && st.st_uid != *want.fs_user) return true;
  if (static_cast<size_t>(st.st_size) != want.data.size()) return true;
  Result<std::string> have = fs::ReadFile(path);
  return !have.ok() || *have != want.data;
}

Status WriteOne(const std::string& path, const FileProjection& f) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("open " + path, errno);
  size_t done = 0;
  while (done < f.data.size()) {
    ssize_t n = write(fd, f.data.data() + done, f.data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return ErrnoStatus("write " + path, e);
    }
    done += static_cast<size_t>(n);
  }
  // fchmod, not the open mode: the umask must not change what the pod asked for.
  if (fchmod(fd, static_cast<mode_t>(f.mode & 07777)) != 0 ||
      (f.fs_user && fchown(fd, *f.fs_user, static_cast<gid_t>(-1)) != 0)) {
    int e = errno;
    close(fd);
    return ErrnoStatus("chmod/chown " + path, e);
  }
  if (close(fd) != 0) return ErrnoStatus("close " + path, errno);
  return Status::Ok();
}

// mkdir -p of the directories of `rel` below `base`, each 0755 whatever the umask.
Status MakeParents(const std::string& base, const std::string& rel) {
  size_t pos = 0;
  while ((pos = rel.find('/', pos)) != std::string::npos) {
    std::string dir = Join(base, rel.substr(0, pos));
    if (mkdir(dir.c_str(), 0755) == 0) {
      if (chmod(dir.c_str(), 0755) != 0) return ErrnoStatus("chmod " + dir, errno);
    } else if (errno != EEXIST) {
      return ErrnoStatus("mkdir " + dir, errno);
    }
    ++pos;
  }
  return Status::Ok();
}

std::string TopLevel(const std::string& p) { return p.substr(0, p.find('/')); }

}  // namespace

Status ValidatePayloadPath(const std::string& path) {
  if (path.empty()) return Invalid("invalid path: must not be empty: \"\"");
  if (path[0] == '/') return Invalid("invalid path: must be relative path: " + path);
  if (path.size() > kMaxPathLength) {
    return Invalid("invalid path: must be less than or equal to " + std::to_string(kMaxPathLength) +
                   " characters");
  }
  std::vector<std::string> items;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    items.push_back(path.substr(start, slash == std::string::npos ? slash : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  for (const std::string& item : items) {
    if (item == "..") return Invalid("invalid path: must not contain '..': " + path);
    if (item.size() > kMaxFileNameLength) {
      return Invalid("invalid path: filenames must be less than or equal to " +
                     std::to_string(kMaxFileNameLength) + " characters");
    }
  }
  if (items[0].rfind("..", 0) == 0 && items[0].size() > 2) {
    return Invalid("invalid path: must not start with '..': " + path);
  }
  return Status::Ok();
}

Status AtomicWrite(const std::string& target_dir, const Payload& payload,
                   const std::function<Status()>& set_perms) {
  // (1) validate, clean the paths.
  Payload clean;
  for (const auto& [path, file] : payload) {
    RETURN_IF_ERROR(ValidatePayloadPath(path));
    clean[CleanPath(path)] = file;
  }

  // (2) the current version.
  const std::string data_link = Join(target_dir, kDataDirName);
  std::string old_ts;
  {
    char buf[4096];
    ssize_t n = readlink(data_link.c_str(), buf, sizeof buf - 1);
    if (n >= 0) {
      old_ts.assign(buf, static_cast<size_t>(n));
    } else if (errno != ENOENT && errno != EINVAL) {
      return ErrnoStatus("readlink " + data_link, errno);
    }
  }
  // Only a link this writer made is trusted as the previous version.
  if (old_ts.rfind("..", 0) != 0 || old_ts.find('/') != std::string::npos || old_ts == "..") {
    old_ts.clear();
  }
  const std::string old_ts_path = old_ts.empty() ? "" : Join(target_dir, old_ts);

  // (3) what left the payload, (4) whether anything changed.
  std::set<std::string> to_remove;
  bool should_write = old_ts.empty();
  if (!old_ts.empty()) {
    std::set<std::string> old_paths;
    RETURN_IF_ERROR(Walk(old_ts_path, "", &old_paths));
    std::set<std::string> new_paths;
    for (const auto& [path, file] : clean) {
      for (std::string p = path; !p.empty();) {
        new_paths.insert(p);
        size_t slash = p.rfind('/');
        p = slash == std::string::npos ? "" : p.substr(0, slash);
      }
    }
    for (const std::string& p : old_paths) {
      if (!new_paths.count(p)) to_remove.insert(p);
    }
    for (const auto& [path, file] : clean) {
      if (should_write) break;
      should_write = Differs(Join(old_ts_path, path), file);
    }
    should_write = should_write || !to_remove.empty();
  }

  if (should_write) {
    // (5) a new timestamped directory.
    char stamp[64];
    time_t now = time(nullptr);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "..%Y_%m_%d_%H_%M_%S.", &tm);
    std::string templ = Join(target_dir, std::string(stamp) + "XXXXXX");
    if (mkdtemp(templ.data()) == nullptr) return ErrnoStatus("mkdtemp " + templ, errno);
    const std::string ts_path = templ;
    const std::string ts_name = ts_path.substr(target_dir.size() + 1);
    auto fail = [&](Status st) {
      (void)RemoveTree(ts_path);
      return st;
    };
    // 0755 so that group and others can walk into it, whatever the umask.
    if (chmod(ts_path.c_str(), 0755) != 0) return fail(ErrnoStatus("chmod " + ts_path, errno));

    // (6) the payload.
    for (const auto& [path, file] : clean) {
      Status st = MakeParents(ts_path, path);
      if (st.ok()) st = WriteOne(Join(ts_path, path), file);
      if (!st.ok()) return fail(st);
    }
    if (set_perms) {
      if (Status st = set_perms(); !st.ok()) return fail(st);
    }

    // (7)+(8) ..data_tmp → new directory, renamed over ..data: the atomic switch.
    const std::string tmp_link = Join(target_dir, kNewDataDirName);
    if (unlink(tmp_link.c_str()) != 0 && errno != ENOENT) {
      return fail(ErrnoStatus("unlink " + tmp_link, errno));
    }
    if (symlink(ts_name.c_str(), tmp_link.c_str()) != 0) {
      return fail(ErrnoStatus("symlink " + tmp_link, errno));
    }
    if (rename(tmp_link.c_str(), data_link.c_str()) != 0) {
      int e = errno;
      unlink(tmp_link.c_str());
      return fail(ErrnoStatus("rename " + tmp_link, e));
    }
  }

  // (9) a user-visible link per top-level name (also repairs a deleted one).
  for (const auto& [path, file] : clean) {
    std::string top = TopLevel(path);
    std::string visible = Join(target_dir, top);
    struct stat st;
    if (lstat(visible.c_str(), &st) == 0) continue;
    if (errno != ENOENT) return ErrnoStatus("lstat " + visible, errno);
    std::string dest = std::string(kDataDirName) + "/" + top;
    if (symlink(dest.c_str(), visible.c_str()) != 0 && errno != EEXIST) {
      return ErrnoStatus("symlink " + visible, errno);
    }
  }

  if (should_write) {
    // (10) names that left the payload, (11) the previous version.
    for (const std::string& p : to_remove) {
      if (p.find('/') != std::string::npos) continue;
      std::string visible = Join(target_dir, p);
      struct stat st;
      if (lstat(visible.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) continue;
      if (unlink(visible.c_str()) != 0 && errno != ENOENT) {
        return ErrnoStatus("remove " + visible, errno);
      }
    }
    if (!old_ts.empty()) RETURN_IF_ERROR(RemoveTree(old_ts_path));
  }
  return Status::Ok();
}

}  // namespace sampan::volume::internal
