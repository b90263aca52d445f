// A content-addressable blob store: <root>/blobs/sha256/<hex>. Blobs enter through an
// ingest file that is hashed while written, fsynced and renamed into place only when its
// digest (and size, when known) match, so no partial or unverified blob is ever visible.
// Thread-compatible; cross-process exclusion is the caller's (see ImageStore's lock).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "image/digest.h"
#include "util/status.h"

namespace sampan::image {

class ContentStore;

// Receives one blob. Destroying an uncommitted writer deletes its ingest file.
class BlobWriter {
 public:
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  Status Write(const void* data, size_t size);
  Status Write(std::string_view data) { return Write(data.data(), data.size()); }
  int64_t written() const { return written_; }
  // Verifies digest and size and moves the blob into place. Invalid on a digest mismatch
  // (the data is discarded). `*created` says whether the blob was new.
  Status Commit(bool* created = nullptr);
  // The digest of what was written (valid after Commit, or for a writer with no expectation
  // after Commit computed it).
  const std::string& digest() const { return actual_; }

 private:
  friend class ContentStore;
  BlobWriter(ContentStore* store, std::string path, int fd, std::string expected,
             int64_t expected_size);
  ContentStore* store_;
  std::string path_;
  int fd_;
  std::string expected_;  // empty: accept any digest
  int64_t expected_size_;
  int64_t written_ = 0;
  Sha256 hash_;
  std::string actual_;
  bool done_ = false;
};

class ContentStore {
 public:
  // Creates <root>/blobs/sha256 and <root>/ingest when missing.
  static Result<std::unique_ptr<ContentStore>> Open(const std::string& root);

  // A writer for a blob with digest `expected` (empty = computed) and `size` (-1 = unknown).
  Result<std::unique_ptr<BlobWriter>> Writer(std::string_view expected, int64_t size = -1);
  // Stores `data`; returns its digest. Invalid if `expected` is given and differs.
  Result<std::string> Put(std::string_view data, std::string_view expected = {},
                          bool* created = nullptr);
  // Moves an existing file (same file system) in after hashing it; the file is consumed.
  Result<std::string> AdoptFile(const std::string& file, std::string_view expected,
                                bool* created = nullptr);

  bool Has(std::string_view digest) const;
  // Has(), and refreshes the blob's mtime so that GC's grace period covers a reuse in flight.
  bool HasAndTouch(std::string_view digest);
  std::string PathOf(std::string_view digest) const;
  Result<std::string> Read(std::string_view digest) const;
  // Re-hashes the stored blob; Invalid if it no longer matches its name.
  Status Verify(std::string_view digest) const;
  Result<int64_t> SizeOf(std::string_view digest) const;
  // Every stored digest.
  Result<std::vector<std::string>> List() const;
  // NotFound if absent.
  Status Delete(std::string_view digest);
  // Removes ingest files left by crashed writers older than `max_age_s`.
  void CleanIngest(int max_age_s);

  const std::string& root() const { return root_; }

 private:
  friend class BlobWriter;
  explicit ContentStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

// Hashes the file at `path`: "sha256:<hex>".
Result<std::string> DigestFile(const std::string& path, int64_t* size = nullptr);

}  // namespace sampan::image
