#include "net/ipam.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "util/fs.h"
#include "util/log.h"

namespace sampan::net {
namespace {
constexpr const char* kLastReserved = "last_reserved_ip";

Status WriteHint(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("open " + path, errno);
  ssize_t n = ::write(fd, text.data(), text.size());
  int e = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) return ErrnoStatus("write " + path, n < 0 ? e : EIO);
  return Status::Ok();
}

std::string FirstLine(const std::string& s) {
  std::string line = s.substr(0, s.find_first_of("\r\n"));
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.pop_back();
  return line;
}
}  // namespace

Result<std::unique_ptr<IpPool>> IpPool::Open(const Ipv4Cidr& range, const std::string& dir) {
  if (range.prefix_len > 30) {
    return Invalid("pod CIDR " + range.ToString() +
                   " is too small: it needs a gateway and at least one pod address");
  }
  RETURN_IF_ERROR(fs::MakeDirs(dir, 0700));
  std::unique_ptr<IpPool> pool(new IpPool(range, dir));
  DIR* d = ::opendir(dir.c_str());
  if (!d) return ErrnoStatus("open " + dir, errno);
  std::vector<std::pair<uint32_t, std::string>> found;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == kLastReserved) {
      auto text = fs::ReadFile(dir + "/" + name);
      if (text.ok()) {
        if (auto ip = ParseIpv4(FirstLine(*text)); ip.ok()) pool->last_reserved_ = *ip;
      }
      continue;
    }
    auto ip = ParseIpv4(name);
    if (!ip.ok()) continue;  // temporary files, the lock, anything else
    auto text = fs::ReadFile(dir + "/" + name);
    if (!text.ok()) continue;  // removed meanwhile
    std::string uid = FirstLine(*text);
    if (uid.empty()) continue;
    found.emplace_back(*ip, uid);
  }
  ::closedir(d);
  std::sort(found.begin(), found.end());
  for (auto& [ip, uid] : found) {
    auto [it, inserted] = pool->by_pod_.emplace(uid, ip);
    if (!inserted) {
      // Two files for one pod (a crash between writes): keep the lower address.
      LOG(WARNING) << "pod network: pod " << uid << " held both " << FormatIpv4(it->second)
                   << " and " << FormatIpv4(ip) << "; freeing the latter";
      ::unlink(pool->PathOf(ip).c_str());
      continue;
    }
    pool->by_ip_.emplace(ip, uid);
  }
  return pool;
}

std::string IpPool::PathOf(uint32_t ip) const { return dir_ + "/" + FormatIpv4(ip); }

std::optional<uint32_t> IpPool::Lookup(const std::string& pod_uid) const {
  auto it = by_pod_.find(pod_uid);
  if (it == by_pod_.end()) return std::nullopt;
  return it->second;
}

Result<uint32_t> IpPool::Allocate(const std::string& pod_uid) {
  if (pod_uid.empty()) return Invalid("pod network: empty pod UID");
  if (auto have = Lookup(pod_uid)) {
    if (range_.Contains(*have) && *have >= first() && *have <= last()) return *have;
    RETURN_IF_ERROR(Release(pod_uid));  // left over from an earlier range
  }
  const uint64_t count = uint64_t{last()} - first() + 1;
  uint32_t start =
      (last_reserved_ >= first() && last_reserved_ < last()) ? last_reserved_ + 1 : first();
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t ip = first() + static_cast<uint32_t>((uint64_t{start} - first() + i) % count);
    if (by_ip_.count(ip)) continue;
    RETURN_IF_ERROR(fs::WriteFileAtomic(PathOf(ip), pod_uid + "\n", 0600));
    by_ip_.emplace(ip, pod_uid);
    by_pod_[pod_uid] = ip;
    last_reserved_ = ip;
    // Only a hint for the next search: losing it costs nothing but round-robin order, so it
    // is overwritten in place (no new inode, no fsync per pod). A torn hint fails to parse
    // and is ignored.
    Status st = WriteHint(dir_ + "/" + kLastReserved, FormatIpv4(ip) + "\n");
    if (!st.ok()) LOG(WARNING) << "pod network: " << st.ToString();
    return ip;
  }
  return Status(Code::kTooManyRequests, "pod network: no free address in " + range_.ToString() +
                                            " (" + std::to_string(count) +
                                            " addresses, all allocated)");
}

Status IpPool::Release(const std::string& pod_uid) {
  auto it = by_pod_.find(pod_uid);
  if (it == by_pod_.end()) return Status::Ok();
  uint32_t ip = it->second;
  if (::unlink(PathOf(ip).c_str()) != 0 && errno != ENOENT)
    return ErrnoStatus("pod network: free " + FormatIpv4(ip), errno);
  by_ip_.erase(ip);
  by_pod_.erase(it);
  return Status::Ok();
}

}  // namespace sampan::net
