#include "agent/run_dir.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "image/image_store.h"
#include "util/fs.h"
#include "util/log.h"

namespace sampan::agent {

namespace {

// The source name of the tmpfs the agent mounts: only such a mount is ever unmounted again.
constexpr char kMountSource[] = "sampan-agent";

// Whether our own tmpfs is mounted right at `dir` (/proc/self/mountinfo).
bool OwnTmpfsAt(const std::string& dir) {
  auto info = fs::ReadFile("/proc/self/mountinfo");
  if (!info.ok()) return false;
  size_t pos = 0;
  while (pos < info->size()) {
    size_t nl = info->find('\n', pos);
    if (nl == std::string::npos) nl = info->size();
    std::string line = info->substr(pos, nl - pos);
    pos = nl + 1;
    // id parent major:minor root mount-point options ... - fstype source super-options
    std::vector<std::string> f;
    size_t a = 0;
    while (a < line.size()) {
      size_t b = line.find(' ', a);
      if (b == std::string::npos) b = line.size();
      f.push_back(line.substr(a, b - a));
      a = b + 1;
    }
    if (f.size() < 5 || f[4] != dir) continue;
    for (size_t i = 5; i + 2 < f.size(); ++i)
      if (f[i] == "-") return f[i + 1] == "tmpfs" && f[i + 2] == kMountSource;
  }
  return false;
}

}  // namespace

std::string DefaultRunDir(const std::string& data_dir) {
  std::error_code ec;
  std::string abs = std::filesystem::absolute(data_dir, ec).lexically_normal().string();
  if (ec) abs = data_dir;
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  // FNV-1a: stable across builds and versions (std::hash is not).
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : abs) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string("/run/sampan-agent/") + buf;
}

bool OnTmpfs(const std::string& path) {
  struct statfs sf;
  if (::statfs(path.c_str(), &sf) != 0) return false;
  return sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC;
}

Status EnsureTmpfsDir(const std::string& dir) {
  RETURN_IF_ERROR(fs::MakeDirs(dir, 0700));
  if (OnTmpfs(dir)) return Status::Ok();
  if (::mount(kMountSource, dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=256m") !=
      0) {
    return ErrnoStatus("mount tmpfs on " + dir, errno);
  }
  return Status::Ok();
}

bool DirHasEntries(const std::string& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  return !ec && it != std::filesystem::directory_iterator();
}

bool IsAgentContainerId(const std::string& id) {
  if (id.size() != 32) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<RunLayout> PrepareRunLayout(const std::string& data_dir, const std::string& run_dir,
                                   const std::string& runtime_root) {
  const std::string agent_dir = data_dir + "/agent";
  const std::string legacy_runtime = agent_dir + "/runtime";
  const std::string legacy_bundles = agent_dir + "/containers";
  RETURN_IF_ERROR(fs::MakeDirs(agent_dir, 0750));
  RunLayout l;
  if (DirHasEntries(legacy_runtime)) {
    // (Their rootfs dirs must not look like leftovers of vanished containers either.)
    LOG(WARNING) << "containers of an earlier agent are in " << legacy_runtime
                 << ": keeping the on-disk layout until they are gone"
                 << (run_dir.empty() ? "" : " (--run-dir is not used until then)");
    l.runtime_root = runtime_root.empty() ? legacy_runtime : runtime_root;
    l.bundles_dir = legacy_bundles;
  } else {
    l.run_dir = run_dir.empty() ? DefaultRunDir(data_dir) : run_dir;
    if (Status st = EnsureTmpfsDir(l.run_dir); !st.ok()) {
      RETURN_IF_ERROR(fs::MakeDirs(l.run_dir, 0700));
      LOG(WARNING) << "runtime state stays on disk in " << l.run_dir << ": " << st.ToString();
    }
    l.runtime_root = runtime_root.empty() ? l.run_dir + "/runtime" : runtime_root;
    l.bundles_dir = l.run_dir + "/containers";
    // Empty directories of the old layout.
    ::rmdir(legacy_runtime.c_str());
    ::rmdir(legacy_bundles.c_str());
    RETURN_IF_ERROR(fs::WriteFileAtomic(agent_dir + "/run-dir", l.run_dir + "\n", 0644));
    (void)fs::WriteFileAtomic(l.run_dir + "/data-dir", data_dir + "\n", 0644);
  }
  RETURN_IF_ERROR(fs::MakeDirs(l.bundles_dir, 0750));
  RETURN_IF_ERROR(fs::MakeDirs(l.runtime_root, 0700));
  return l;
}

void ReleaseRunLayout(const RunLayout& l) {
  if (l.run_dir.empty() || DirHasEntries(l.runtime_root) || DirHasEntries(l.bundles_dir)) return;
  ::rmdir(l.runtime_root.c_str());
  ::rmdir(l.bundles_dir.c_str());
  ::unlink((l.run_dir + "/data-dir").c_str());
  if (OwnTmpfsAt(l.run_dir) && ::umount2(l.run_dir.c_str(), 0) != 0) {
    LOG(WARNING) << "unmount " << l.run_dir << ": " << std::strerror(errno);
    return;
  }
  ::rmdir(l.run_dir.c_str());
}

namespace {

// Unmounts whatever is mounted on `path`; true when it is no mount point any more.
bool Unmounted(const std::string& path, const std::string& parent) {
  for (int i = 0; i < 8; ++i) {
    struct stat a, b;
    if (::stat(path.c_str(), &a) != 0) return errno == ENOENT;
    if (::stat(parent.c_str(), &b) != 0) return false;
    if (a.st_dev == b.st_dev) return true;
    if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL) return false;
  }
  return false;
}

}  // namespace

void RemoveStaleContainerFiles(const std::vector<std::string>& live, const std::string& bundles_dir,
                               image::ImageStore* images) {
  std::set<std::string> keep(live.begin(), live.end());
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(bundles_dir, ec)) {
    std::string id = e.path().filename().string();
    if (!IsAgentContainerId(id) || keep.count(id)) continue;
    std::string bundle = bundles_dir + "/" + id;
    if (!Unmounted(bundle + "/rootfs", bundle)) {
      LOG(WARNING) << "stale bundle " << bundle << ": rootfs still mounted, left alone";
      keep.insert(id);  // its upper dir too
      continue;
    }
    LOG(INFO) << "removing the bundle of vanished container " << id;
    std::error_code rm;
    std::filesystem::remove_all(bundle, rm);
  }
  for (const auto& id : images->ContainerRootfsIds()) {
    if (!IsAgentContainerId(id) || keep.count(id)) continue;
    LOG(INFO) << "removing the rootfs of vanished container " << id;
    if (Status st = images->RemoveRootfs(id); !st.ok())
      LOG(WARNING) << "container " << id << ": " << st.ToString();
  }
}

}  // namespace sampan::agent
