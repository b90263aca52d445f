// Container log rotation: the files a rotation pass leaves, and a `kubectl logs -f` reader
// (streaming::StreamCriLog) following the log across rotations while a writer that behaves
// like the runtime's monitor (reopening the path when it names another file) keeps writing.
#include "agent/container_logs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "streaming/cri_log.h"
#include "util/fs.h"

namespace sampan::agent {
namespace {

namespace fsys = std::filesystem;
using std::chrono::system_clock;

class ContainerLogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sampan-logs-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    log_ = dir_ + "/0.log";
  }
  void TearDown() override {
    std::error_code ec;
    fsys::remove_all(dir_, ec);
  }
  static std::string Line(int i) {
    return streaming::FormatCriLine(1700000000000000000LL + i, "stdout", false,
                                    "line " + std::to_string(i));
  }
  void Append(const std::string& path, const std::string& data) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0640);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::close(fd);
  }
  std::vector<std::string> Names() {
    std::vector<std::string> out;
    for (const auto& e : fsys::directory_iterator(dir_)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::string Gunzip(const std::string& path) {
    gzFile f = gzopen(path.c_str(), "rb");
    std::string out;
    char buf[4096];
    int n;
    while (f && (n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, n);
    if (f) gzclose(f);
    return out;
  }

  std::string dir_, log_;
};

system_clock::time_point At(int64_t unix_s) {
  return system_clock::time_point(std::chrono::seconds(unix_s));
}

TEST_F(ContainerLogsTest, ValidatesOptions) {
  ContainerLogOptions o;
  EXPECT_TRUE(ValidateContainerLogOptions(o).ok());
  o.max_files = 1;
  EXPECT_FALSE(ValidateContainerLogOptions(o).ok());
  o.max_files = 2;
  o.max_size = 0;
  EXPECT_FALSE(ValidateContainerLogOptions(o).ok());
}

TEST_F(ContainerLogsTest, SmallLogIsLeftAlone) {
  ContainerLogOptions o;
  o.max_size = 1000;
  Append(log_, Line(1));
  ASSERT_TRUE(RotateLog(log_, o, At(1764097200)).ok());
  EXPECT_EQ(Names(), std::vector<std::string>{"0.log"});
  // A missing log is no error.
  EXPECT_TRUE(RotateLog(dir_ + "/7.log", o, At(1764097200)).ok());
}

TEST_F(ContainerLogsTest, RotatesCompressesAndKeepsMaxFiles) {
  ContainerLogOptions o;
  o.max_size = 100;
  o.max_files = 3;
  std::string first;
  for (int i = 0; i < 10; ++i) first += Line(i);
  Append(log_, first);
  // 2025-11-25T19:00:00Z
  ASSERT_TRUE(RotateLog(log_, o, At(1764097200)).ok());
  EXPECT_EQ(Names(), (std::vector<std::string>{"0.log", "0.log.20251125-190000"}));
  EXPECT_EQ(fsys::file_size(log_), 0u);  // a new, empty current file
  EXPECT_EQ(*fs::ReadFile(log_ + ".20251125-190000"), first);

  // The same second again: nothing is overwritten, the rotation waits.
  Append(log_, first);
  ASSERT_TRUE(RotateLog(log_, o, At(1764097200)).ok());
  EXPECT_EQ(Names(), (std::vector<std::string>{"0.log", "0.log.20251125-190000"}));

  // Next rotation: the older file is compressed, the newest stays plain.
  ASSERT_TRUE(RotateLog(log_, o, At(1764097210)).ok());
  EXPECT_EQ(Names(), (std::vector<std::string>{"0.log", "0.log.20251125-190000.gz",
                                               "0.log.20251125-190010"}));
  EXPECT_EQ(Gunzip(log_ + ".20251125-190000.gz"), first);

  // A third: max_files 3 = current + 2 rotated; the oldest goes.
  Append(log_, first);
  ASSERT_TRUE(RotateLog(log_, o, At(1764097220)).ok());
  EXPECT_EQ(Names(), (std::vector<std::string>{"0.log", "0.log.20251125-190010.gz",
                                               "0.log.20251125-190020"}));
  EXPECT_EQ(RotatedLogs(log_),
            (std::vector<std::string>{log_ + ".20251125-190010.gz", log_ + ".20251125-190020"}));
}

TEST_F(ContainerLogsTest, CleansUpInterruptedCompression) {
  ContainerLogOptions o;
  o.max_size = 1 << 20;
  Append(log_ + ".20251125-180000.gz.tmp", "partial");
  Append(log_ + ".20251125-170000", "done");
  Append(log_ + ".20251125-170000.gz", "compressed");
  Append(log_ + ".20251125-175959", "newest");
  ASSERT_TRUE(RotateLog(log_, o, At(1764097200)).ok());
  EXPECT_EQ(Names(),
            (std::vector<std::string>{"0.log.20251125-170000.gz", "0.log.20251125-175959"}));
}

// A writer as the monitor: before each write, reopen the path if it names another file.
class MonitorLikeWriter {
 public:
  explicit MonitorLikeWriter(std::string path) : path_(std::move(path)) {}
  ~MonitorLikeWriter() {
    if (fd_ >= 0) ::close(fd_);
  }
  void Write(const std::string& data) {
    struct stat st;
    if (fd_ < 0 || ::stat(path_.c_str(), &st) != 0 || st.st_ino != ino_) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0640);
      ::fstat(fd_, &st);
      ino_ = st.st_ino;
    }
    (void)!::write(fd_, data.data(), data.size());
  }

 private:
  std::string path_;
  int fd_ = -1;
  ino_t ino_ = 0;
};

TEST_F(ContainerLogsTest, FollowingReaderCrossesRotations) {
  ContainerLogOptions o;
  o.max_size = 2000;
  o.max_files = 3;
  MonitorLikeWriter writer(log_);
  writer.Write(Line(0));
  std::atomic<bool> done{false}, reading{false};
  std::string got;
  std::thread reader([&] {
    streaming::LogReadOptions ro;
    ro.follow = true;
    (void)streaming::StreamCriLog(
        log_, ro,
        [&](std::string_view chunk) {
          got.append(chunk);
          reading = true;
          return true;
        },
        [&] { return !done.load(); }, nullptr);
  });
  for (int i = 0; i < 500 && !reading; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(reading);
  // Rotations further apart than the reader's polling (as the agent's interval is).
  const int kLines = 700;
  int64_t second = 1764097200;
  for (int i = 1; i < kLines; ++i) {
    writer.Write(Line(i));
    if (i % 100 == 0) {
      ASSERT_TRUE(RotateLog(log_, o, At(second++)).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  done = true;
  reader.join();
  EXPECT_EQ(second - 1764097200, 6);
  EXPECT_LE(RotatedLogs(log_).size(), 2u);
  // Every line once, in order, although most were read from files renamed meanwhile.
  std::string want;
  for (int i = 0; i < kLines; ++i) want += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want) << got.substr(0, 300);
}

TEST_F(ContainerLogsTest, ManagerRotatesTheListedLogs) {
  ContainerLogOptions o;
  o.max_size = 10;
  o.max_files = 2;
  o.interval = std::chrono::milliseconds(20);
  Append(log_, Line(1));
  ContainerLogManager m(o, [this] { return std::vector<std::string>{log_}; });
  m.Start();
  bool rotated = false;
  for (int i = 0; i < 200 && !rotated; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    rotated = RotatedLogs(log_).size() == 1;
  }
  m.Stop();
  EXPECT_TRUE(rotated);
  EXPECT_EQ(fsys::file_size(log_), 0u);
}

}  // namespace
}  // namespace sampan::agent
