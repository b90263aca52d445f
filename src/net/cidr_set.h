// The node subnets of a cluster range: `cluster` cut into blocks of /mask_size (10.244.0.0/16
// with 24 → 256 blocks of /24), each free or taken. Used by the node IPAM controller, like
// kube-controller-manager's cidrset. Allocation goes round-robin from the last block handed
// out. Not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "net/ipv4.h"
#include "util/status.h"

namespace sampan::net {

class CidrSet {
 public:
  // At most 2^16 blocks, as Kubernetes allows. Invalid when mask_size is shorter than the
  // cluster prefix, longer than 30, or makes too many blocks.
  static Result<CidrSet> New(const Ipv4Cidr& cluster, int mask_size);

  // The next free block. TooManyRequests (resource exhausted) when every block is taken.
  Result<Ipv4Cidr> AllocateNext();
  // Marks the blocks that `cidr` overlaps as taken (a block of another size takes every
  // block it touches). Invalid when `cidr` is not inside the cluster range.
  Status Occupy(const Ipv4Cidr& cidr);
  // Frees the blocks `cidr` overlaps. Invalid when outside the cluster range.
  Status Release(const Ipv4Cidr& cidr);
  bool IsTaken(const Ipv4Cidr& cidr) const;

  const Ipv4Cidr& cluster() const { return cluster_; }
  int mask_size() const { return mask_size_; }
  size_t capacity() const { return used_.size(); }
  size_t taken() const { return taken_; }

 private:
  CidrSet(const Ipv4Cidr& cluster, int mask_size)
      : cluster_(cluster),
        mask_size_(mask_size),
        used_(size_t{1} << (mask_size - cluster.prefix_len)) {}
  // The block indexes [first, last] that `cidr` overlaps; Invalid when outside the range.
  Status Range(const Ipv4Cidr& cidr, size_t* first, size_t* last) const;
  Ipv4Cidr Block(size_t index) const;

  Ipv4Cidr cluster_;
  int mask_size_;
  std::vector<bool> used_;
  size_t taken_ = 0;
  size_t next_ = 0;
};

}  // namespace sampan::net
