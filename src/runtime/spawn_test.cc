#include "runtime/spawn.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "runtime/sys.h"

namespace sampan::runtime {
namespace {

// Runs `script` under /bin/sh with stdout on a pipe; returns {exit status, output}.
std::pair<int, std::string> RunShell(const std::string& script, std::vector<int> extra_fds = {},
                                     const std::vector<std::string>* env = nullptr) {
  int out[2];
  EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
  SpawnRequest req;
  req.exe_path = "/bin/sh";
  req.argv = {"sh", "-c", script};
  req.env = env;
  req.fds = {-1, out[1], 2};
  req.fds.insert(req.fds.end(), extra_fds.begin(), extra_fds.end());
  auto pid = SpawnExe(req);
  ::close(out[1]);
  EXPECT_TRUE(pid.ok()) << pid.status().ToString();
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int st = 0;
  if (pid.ok()) ::waitpid(*pid, &st, 0);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, text};
}

TEST(SpawnExe, MapsDescriptorsAndClosesTheRest) {
  // Not close-on-exec, at a number no target uses: must still not reach the child.
  int leak = ::fcntl(::open("/dev/null", O_RDONLY | O_CLOEXEC), F_DUPFD, 50);
  ASSERT_GE(leak, 50);
  int keep = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
  // The shell's own descriptors (builtins only: nothing opens one): fd 0 closed, 1, 2, 3 = `keep`.
  auto [code, out] =
      RunShell("for i in 0 1 2 3 4 5 6 " + std::to_string(leak) +
                   "; do [ -e /proc/$$/fd/$i ] && printf '%s ' $i; done; readlink /proc/$$/fd/3",
               {keep});
  ::close(leak);
  ::close(keep);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out, "1 2 3 /dev/zero\n") << out;
}

TEST(SpawnExe, SwapsDescriptorsWithoutClobbering) {
  // Child fd 1 <- our fd 3-ish pipe, child fd 3 <- our stdout pipe: sources and targets overlap.
  int a[2], b[2];
  ASSERT_EQ(::pipe2(a, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(b, O_CLOEXEC), 0);
  SpawnRequest req;
  req.exe_path = "/bin/sh";
  req.argv = {"sh", "-c", "echo one; echo three >&3"};
  req.fds = {-1, a[1], 2, b[1]};
  auto pid = SpawnExe(req);
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  ::close(a[1]);
  ::close(b[1]);
  int st;
  ::waitpid(*pid, &st, 0);
  char buf[64] = {0};
  ASSERT_GT(::read(a[0], buf, sizeof buf - 1), 0);
  EXPECT_STREQ(buf, "one\n");
  std::fill(buf, buf + sizeof buf, 0);
  ASSERT_GT(::read(b[0], buf, sizeof buf - 1), 0);
  EXPECT_STREQ(buf, "three\n");
  ::close(a[0]);
  ::close(b[0]);
}

TEST(SpawnExe, PassesTheGivenEnvironment) {
  std::vector<std::string> env = {"SPAWN_TEST=hello", "PATH=/usr/bin:/bin"};
  auto [code, out] = RunShell("echo \"$SPAWN_TEST\"", {}, &env);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out, "hello\n");
}

TEST(SpawnExe, ExecFailureIsAnError) {
  SpawnRequest req;
  req.exe_path = "/nonexistent/program";
  req.argv = {"program"};
  auto pid = SpawnExe(req);
  ASSERT_FALSE(pid.ok());
  EXPECT_NE(pid.status().message().find("No such file"), std::string::npos)
      << pid.status().ToString();
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);  // the child was reaped
}

TEST(SpawnExe, ExecutesFromAnFd) {
  int fd = ::open("/bin/sh", O_PATH | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  SpawnRequest req;
  req.exe_fd = fd;
  req.argv = {"sh", "-c", "echo from-fd"};
  req.fds = {-1, out[1], 2};
  auto pid = SpawnExe(req);
  ::close(out[1]);
  ::close(fd);
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  char buf[64] = {0};
  ASSERT_GT(::read(out[0], buf, sizeof buf - 1), 0);
  EXPECT_STREQ(buf, "from-fd\n");
  ::close(out[0]);
  ::waitpid(*pid, nullptr, 0);
}

TEST(SpawnExe, ChildGetsDefaultHandlersAndTheCallersMask) {
  // The child's signals are unblocked again (the caller blocks them all around the clone) and an
  // ignored signal stays ignored, as with fork+exec. SIGUSR1 has a handler (reset to default).
  struct sigaction sa = {};
  sa.sa_handler = [](int) {};
  struct sigaction old_usr1, old_usr2;
  ::sigaction(SIGUSR1, &sa, &old_usr1);
  sa.sa_handler = SIG_IGN;
  ::sigaction(SIGUSR2, &sa, &old_usr2);
  // SigIgn/SigBlk from the child's /proc/self/status (hex masks).
  auto [code, out] = RunShell("grep -E '^(SigBlk|SigIgn)' /proc/self/status | tr -s '\\t' ' '");
  ::sigaction(SIGUSR1, &old_usr1, nullptr);
  ::sigaction(SIGUSR2, &old_usr2, nullptr);
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("SigBlk: 0000000000000000"), std::string::npos) << out;
  // SIGUSR2 (12) ignored: bit 11.
  size_t p = out.find("SigIgn: ");
  ASSERT_NE(p, std::string::npos) << out;
  unsigned long long ign = std::stoull(out.substr(p + 8, 16), nullptr, 16);
  EXPECT_TRUE(ign & (1ULL << (SIGUSR2 - 1))) << out;
  EXPECT_FALSE(ign & (1ULL << (SIGUSR1 - 1))) << out;
}

TEST(SpawnExe, WorksFromManyThreadsAtOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&ok] {
      for (int i = 0; i < 10; ++i) {
        auto [code, out] = RunShell("echo x");
        if (code == 0 && out == "x\n") ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 80);
}

}  // namespace
}  // namespace sampan::runtime
