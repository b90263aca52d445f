#include "net/cidr_set.h"

namespace sampan::net {

Result<CidrSet> CidrSet::New(const Ipv4Cidr& cluster, int mask_size) {
  if (mask_size < cluster.prefix_len || mask_size > 30) {
    return Invalid("node CIDR mask size " + std::to_string(mask_size) + " must lie between the " +
                   "cluster CIDR's prefix length (" + std::to_string(cluster.prefix_len) +
                   ") and 30");
  }
  if (mask_size - cluster.prefix_len > 16) {
    return Invalid("node CIDR mask size " + std::to_string(mask_size) + " cuts " +
                   cluster.ToString() + " into more than 65536 node ranges");
  }
  return CidrSet(cluster, mask_size);
}

Ipv4Cidr CidrSet::Block(size_t index) const {
  return Ipv4Cidr{cluster_.network + static_cast<uint32_t>(index << (32 - mask_size_)), mask_size_};
}

Status CidrSet::Range(const Ipv4Cidr& cidr, size_t* first, size_t* last) const {
  if (!cluster_.Contains(cidr)) {
    return Invalid("CIDR " + cidr.ToString() + " is not inside the cluster CIDR " +
                   cluster_.ToString());
  }
  const int shift = 32 - mask_size_;
  *first = (cidr.network - cluster_.network) >> shift;
  *last = (cidr.broadcast() - cluster_.network) >> shift;
  return Status::Ok();
}

Result<Ipv4Cidr> CidrSet::AllocateNext() {
  const size_t n = used_.size();
  for (size_t i = 0; i < n; ++i) {
    size_t index = (next_ + i) % n;
    if (used_[index]) continue;
    used_[index] = true;
    ++taken_;
    next_ = (index + 1) % n;
    return Block(index);
  }
  return Status(Code::kTooManyRequests, "CIDR range " + cluster_.ToString() + " is full (" +
                                            std::to_string(n) + " node ranges of /" +
                                            std::to_string(mask_size_) + ")");
}

Status CidrSet::Occupy(const Ipv4Cidr& cidr) {
  size_t first, last;
  RETURN_IF_ERROR(Range(cidr, &first, &last));
  for (size_t i = first; i <= last; ++i) {
    if (!used_[i]) {
      used_[i] = true;
      ++taken_;
    }
  }
  return Status::Ok();
}

Status CidrSet::Release(const Ipv4Cidr& cidr) {
  size_t first, last;
  RETURN_IF_ERROR(Range(cidr, &first, &last));
  for (size_t i = first; i <= last; ++i) {
    if (used_[i]) {
      used_[i] = false;
      --taken_;
    }
  }
  return Status::Ok();
}

bool CidrSet::IsTaken(const Ipv4Cidr& cidr) const {
  size_t first, last;
  if (!Range(cidr, &first, &last).ok()) return false;
  for (size_t i = first; i <= last; ++i)
    if (used_[i]) return true;
  return false;
}

}  // namespace sampan::net
