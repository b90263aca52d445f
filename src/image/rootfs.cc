// Container rootfs: an overlay of the image's snapshots under a per-container upper dir.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "image/fs_util.h"
#include "image/image_store.h"
#include "image/image_store_lock.h"
#include "util/fs.h"

namespace sampan::image {

std::string Mount::Data() const {
  std::string s;
  for (const auto& o : options) {
    if (!s.empty()) s += ',';
    s += o;
  }
  return s;
}

namespace {

bool ValidContainerId(const std::string& id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  }
  return true;
}

// Creates `path` (0600) with `data`.
Status WriteNewFile(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("create " + path, errno);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return ErrnoStatus("write " + path, e);
    }
    off += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return ErrnoStatus("close " + path, errno);
  return Status::Ok();
}

}  // namespace

Result<Mount> ImageStore::PrepareRootfs(std::string_view image_ref,
                                        const std::string& container_id) {
  if (!ValidContainerId(container_id)) {
    return Invalid("invalid container ID \"" + container_id + "\"");
  }
  ASSIGN_OR_RETURN(ImageInfo info, Inspect(image_ref));
  // Snapshots may be missing if the store was restored without them: unpack from the blobs.
  RETURN_IF_ERROR(Unpack(info.manifest, info.config, nullptr));

  ASSIGN_OR_RETURN(Lock lock, Lock::Take(root_, true));
  std::string dir = root_ + "/containers/" + container_id;
  if (fs::Exists(dir)) return AlreadyExists("container " + container_id + " already has a rootfs");
  for (const auto& c : info.chain_ids) {
    if (!fs::Exists(SnapshotPath(c) + "/fs")) {
      return Unavailable("snapshot " + c + " vanished while preparing the rootfs");
    }
  }
  std::string tmp = root_ + "/containers/.tmp-" + RandomHex();
  RETURN_IF_ERROR(fs::MakeDirs(tmp + "/upper", 0755));
  RETURN_IF_ERROR(fs::MakeDirs(tmp + "/work", 0700));
  std::string lower;
  if (info.chain_ids.empty()) {
    // overlayfs needs a lower dir: an image without layers gets an empty one.
    RETURN_IF_ERROR(fs::MakeDirs(tmp + "/empty", 0755));
    lower = dir + "/empty";
  }
  std::string list;
  for (auto it = info.chain_ids.rbegin(); it != info.chain_ids.rend(); ++it) {
    if (!lower.empty()) lower += ':';
    lower += SnapshotPath(*it) + "/fs";
    list += *it + "\n";
  }
  // Plain writes, no fsync: the files appear with the directory's rename, and what they guard
  // (the container's rootfs) does not outlive a power loss in any useful way (the container is
  // gone and the agent removes its rootfs). Creating containers is serialised by the lock.
  Status st = WriteNewFile(tmp + "/snapshots", list);
  if (st.ok()) st = WriteNewFile(tmp + "/image", info.record.name + "\n");
  if (st.ok() && ::rename(tmp.c_str(), dir.c_str()) != 0) st = ErrnoStatus("rename " + dir, errno);
  if (!st.ok()) {
    (void)RemoveTree(tmp);
    return st;
  }
  Mount m;
  m.options = {"lowerdir=" + lower, "upperdir=" + dir + "/upper", "workdir=" + dir + "/work"};
  if (m.Data().size() >= 4096) {
    (void)RemoveTree(dir);
    return Invalid("image has too many layers for one overlay mount (" +
                   std::to_string(info.chain_ids.size()) + ")");
  }
  return m;
}

Status ImageStore::MountRootfs(const Mount& m, const std::string& target) {
  if (::mount(m.source.c_str(), target.c_str(), m.type.c_str(), 0, m.Data().c_str()) != 0) {
    return ErrnoStatus("mount " + m.type + " on " + target, errno);
  }
  return Status::Ok();
}

Status ImageStore::RemoveRootfs(const std::string& container_id) {
  if (!ValidContainerId(container_id)) {
    return Invalid("invalid container ID \"" + container_id + "\"");
  }
  ASSIGN_OR_RETURN(Lock lock, Lock::Take(root_, true));
  return RemoveTree(root_ + "/containers/" + container_id);
}

std::vector<std::string> ImageStore::ContainerRootfsIds() const {
  std::vector<std::string> ids;
  for (auto& name : ListDir(root_ + "/containers")) {
    if (ValidContainerId(name) && name.rfind(".tmp-", 0) != 0) ids.push_back(std::move(name));
  }
  return ids;
}

}  // namespace sampan::image
