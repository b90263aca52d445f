#include "image/content_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "image/fs_util.h"
#include "util/fs.h"

namespace sampan::image {
namespace {

Status WriteAll(int fd, const char* p, size_t n, const std::string& what) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write " + what, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open " + dir, errno);
  ::fsync(fd);
  ::close(fd);
  return Status::Ok();
}

}  // namespace

Result<std::string> DigestFile(const std::string& path, int64_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound(path + ": no such file");
    return ErrnoStatus("open " + path, errno);
  }
  Sha256 h;
  std::string buf(1 << 20, '\0');
  int64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return ErrnoStatus("read " + path, e);
    }
    if (n == 0) break;
    h.Update(buf.data(), static_cast<size_t>(n));
    total += n;
  }
  ::close(fd);
  if (size) *size = total;
  return h.Finish();
}

BlobWriter::BlobWriter(ContentStore* store, std::string path, int fd, std::string expected,
                       int64_t expected_size)
    : store_(store),
      path_(std::move(path)),
      fd_(fd),
      expected_(std::move(expected)),
      expected_size_(expected_size) {}

BlobWriter::~BlobWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!done_) ::unlink(path_.c_str());
}

Status BlobWriter::Write(const void* data, size_t size) {
  if (done_) return Internal("blob writer already committed");
  if (expected_size_ >= 0 && written_ + static_cast<int64_t>(size) > expected_size_) {
    return Invalid("blob " + expected_ + ": more data than the expected size " +
                   std::to_string(expected_size_));
  }
  RETURN_IF_ERROR(WriteAll(fd_, static_cast<const char*>(data), size, path_));
  hash_.Update(data, size);
  written_ += static_cast<int64_t>(size);
  return Status::Ok();
}

Status BlobWriter::Commit(bool* created) {
  if (done_) return Internal("blob writer already committed");
  done_ = true;  // from here on the ingest file is removed on every failure path below
  actual_ = hash_.Finish();
  auto fail = [&](Status st) {
    ::close(fd_);
    fd_ = -1;
    ::unlink(path_.c_str());
    return st;
  };
  if (expected_size_ >= 0 && written_ != expected_size_) {
    return fail(Invalid("blob " + (expected_.empty() ? actual_ : expected_) + ": size " +
                        std::to_string(written_) + " does not match the expected " +
                        std::to_string(expected_size_) + " (truncated?)"));
  }
  if (!expected_.empty() && actual_ != expected_) {
    return fail(
        Invalid("digest mismatch: expected " + expected_ + ", content hashes to " + actual_));
  }
  if (::fsync(fd_) != 0) return fail(ErrnoStatus("fsync " + path_, errno));
  ::close(fd_);
  fd_ = -1;
  std::string dest = store_->PathOf(actual_);
  bool existed = fs::Exists(dest);
  if (::rename(path_.c_str(), dest.c_str()) != 0) {
    int e = errno;
    ::unlink(path_.c_str());
    return ErrnoStatus("rename into " + dest, e);
  }
  if (created) *created = !existed;
  return SyncDir(store_->root_ + "/blobs/sha256");
}

Result<std::unique_ptr<ContentStore>> ContentStore::Open(const std::string& root) {
  RETURN_IF_ERROR(fs::MakeDirs(root + "/blobs/sha256", 0700));
  RETURN_IF_ERROR(fs::MakeDirs(root + "/ingest", 0700));
  return std::unique_ptr<ContentStore>(new ContentStore(root));
}

Result<std::unique_ptr<BlobWriter>> ContentStore::Writer(std::string_view expected, int64_t size) {
  if (!expected.empty()) RETURN_IF_ERROR(ValidateDigest(expected));
  std::string path = root_ + "/ingest/" + RandomHex();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) return ErrnoStatus("create " + path, errno);
  return std::unique_ptr<BlobWriter>(
      new BlobWriter(this, std::move(path), fd, std::string(expected), size));
}

Result<std::string> ContentStore::Put(std::string_view data, std::string_view expected,
                                      bool* created) {
  ASSIGN_OR_RETURN(auto w, Writer(expected, static_cast<int64_t>(data.size())));
  RETURN_IF_ERROR(w->Write(data));
  RETURN_IF_ERROR(w->Commit(created));
  return w->digest();
}

Result<std::string> ContentStore::AdoptFile(const std::string& file, std::string_view expected,
                                            bool* created) {
  ASSIGN_OR_RETURN(std::string digest, DigestFile(file));
  if (!expected.empty() && digest != expected) {
    return Invalid("digest mismatch: expected " + std::string(expected) + ", content hashes to " +
                   digest);
  }
  std::string dest = PathOf(digest);
  bool existed = fs::Exists(dest);
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::fchmod(fd, 0444);
    ::close(fd);
  }
  if (::rename(file.c_str(), dest.c_str()) != 0) return ErrnoStatus("rename into " + dest, errno);
  if (created) *created = !existed;
  RETURN_IF_ERROR(SyncDir(root_ + "/blobs/sha256"));
  return digest;
}

bool ContentStore::Has(std::string_view digest) const {
  return ValidateDigest(digest).ok() && fs::Exists(PathOf(digest));
}

bool ContentStore::HasAndTouch(std::string_view digest) {
  return ValidateDigest(digest).ok() &&
         ::utimensat(AT_FDCWD, PathOf(digest).c_str(), nullptr, AT_SYMLINK_NOFOLLOW) == 0;
}

std::string ContentStore::PathOf(std::string_view digest) const {
  return root_ + "/blobs/sha256/" + std::string(DigestHex(digest));
}

Result<std::string> ContentStore::Read(std::string_view digest) const {
  RETURN_IF_ERROR(ValidateDigest(digest));
  auto r = fs::ReadFile(PathOf(digest));
  if (!r.ok() && r.status().code() == Code::kNotFound) {
    return NotFound("blob " + std::string(digest) + " not found in the content store");
  }
  return r;
}

Status ContentStore::Verify(std::string_view digest) const {
  ASSIGN_OR_RETURN(std::string actual, DigestFile(PathOf(digest)));
  if (actual != digest) {
    return Invalid("stored blob " + std::string(digest) + " is corrupt (hashes to " + actual + ")");
  }
  return Status::Ok();
}

Result<int64_t> ContentStore::SizeOf(std::string_view digest) const {
  struct stat st;
  if (::stat(PathOf(digest).c_str(), &st) != 0) {
    if (errno == ENOENT) return NotFound("blob " + std::string(digest) + " not found");
    return ErrnoStatus("stat blob", errno);
  }
  return static_cast<int64_t>(st.st_size);
}

Result<std::vector<std::string>> ContentStore::List() const {
  std::vector<std::string> out;
  std::string dir = root_ + "/blobs/sha256";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return ErrnoStatus("opendir " + dir, errno);
  while (struct dirent* e = ::readdir(d)) {
    if (IsHex64(e->d_name)) out.push_back(std::string("sha256:") + e->d_name);
  }
  ::closedir(d);
  return out;
}

Status ContentStore::Delete(std::string_view digest) {
  RETURN_IF_ERROR(ValidateDigest(digest));
  if (::unlink(PathOf(digest).c_str()) != 0) {
    if (errno == ENOENT) return NotFound("blob " + std::string(digest) + " not found");
    return ErrnoStatus("unlink blob", errno);
  }
  return Status::Ok();
}

void ContentStore::CleanIngest(int max_age_s) {
  std::string dir = root_ + "/ingest";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  time_t now = ::time(nullptr);
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string p = dir + "/" + e->d_name;
    struct stat st;
    if (::lstat(p.c_str(), &st) == 0 && now - st.st_mtime >= max_age_s) (void)RemoveTree(p);
  }
  ::closedir(d);
}

}  // namespace sampan::image
