// Root only: exec with the caller's stdio (in-process and through the helper a
// multithreaded caller uses), StartExec/WaitExec, and the monitor's attach socket, on real
// containers with a busybox-static rootfs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "runtime/attach.h"
#include "runtime/console.h"
#include "runtime/runtime.h"
#include "runtime/spec.h"

namespace sampan::runtime {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

std::string ReadAll(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

// Keeps the process multithreaded while it lives.
class ExtraThread {
 public:
  ExtraThread()
      : t_([this] {
          std::unique_lock<std::mutex> l(mu_);
          cv_.wait(l, [this] { return done_; });
        }) {}
  ~ExtraThread() {
    {
      std::lock_guard<std::mutex> l(mu_);
      done_ = true;
    }
    cv_.notify_all();
    t_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread t_;
};

class ExecAttachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (runs as root in make test)";
    ASSERT_TRUE(fs::exists("/bin/busybox")) << "busybox-static is not installed";
    char tmpl[] = "/tmp/rt-exec-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::string root = dir_ + "/bundle/rootfs";
    for (const char* d : {"bin", "proc", "sys", "dev", "tmp", "etc"})
      fs::create_directories(root + "/" + d);
    fs::copy_file("/bin/busybox", root + "/bin/busybox");
    for (const char* a : {"sh", "sleep", "echo", "cat", "read", "stty"})
      fs::create_symlink("busybox", root + "/bin/" + a);
    RuntimeOptions ro;
    ro.root = dir_ + "/state";
    // The helper is the sampan binary built beside this test.
    ro.self_exe = fs::canonical("/proc/self/exe").parent_path() / "sampan";
    rt_ = std::make_unique<Runtime>(ro);
  }
  void TearDown() override {
    if (!rt_) return;
    for (const auto& id : ids_) {
      Status st = rt_->Delete(id, true);
      EXPECT_TRUE(st.ok()) << st.message();
    }
    EXPECT_FALSE(
        fs::exists("/sys/fs/cgroup/memory/sampan-exec-test-" + std::to_string(::getpid())));
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Creates (and starts) a container running `args`.
  void MakeContainer(const std::string& id, const std::vector<std::string>& args, bool attach,
                     bool start = true, bool terminal = false) {
    json::value spec = json::parse(DefaultSpecJson());
    auto& o = spec.as_object();
    o["process"].as_object()["terminal"] = terminal;
    json::array a;
    for (const auto& s : args) a.emplace_back(s);
    o["process"].as_object()["args"] = std::move(a);
    o["process"].as_object()["env"] = json::array{"PATH=/bin"};
    o["root"].as_object()["readonly"] = false;
    o["linux"].as_object()["cgroupsPath"] =
        "/sampan-exec-test-" + std::to_string(::getpid()) + "/" + id;
    std::ofstream(dir_ + "/bundle/config.json") << json::serialize(spec);
    CreateOptions c;
    c.id = id;
    c.bundle = dir_ + "/bundle";
    c.attach = attach;
    c.log_path = dir_ + "/" + id + ".log";
    ids_.insert(ids_.begin(), id);
    Status st = rt_->Create(c);
    ASSERT_TRUE(st.ok()) << st.message();
    if (start) {
      ASSERT_TRUE(rt_->Start(id).ok());
    }
  }

  ExecOptions ExecOf(const std::string& id, const std::vector<std::string>& args) {
    ExecOptions e;
    e.id = id;
    auto spec = rt_->ContainerSpec(id);
    EXPECT_TRUE(spec.ok());
    e.process = spec->process;
    e.process.args = args;
    return e;
  }

  std::string dir_;
  std::unique_ptr<Runtime> rt_;
  std::vector<std::string> ids_;
};

// Runs `sh -c` with a pipe per stream; checks stdin reaches it and its output comes back.
void CheckStdio(Runtime& rt, ExecOptions e) {
  int in[2], out[2], err[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(err, O_CLOEXEC), 0);
  e.process.args = {"sh", "-c", "read x; echo out:$x; echo err:$x >&2; exit 7"};
  e.stdin_fd = in[0];
  e.stdout_fd = out[1];
  e.stderr_fd = err[1];
  ASSERT_EQ(::write(in[1], "hello\n", 6), 6);
  ::close(in[1]);
  auto p = rt.StartExec(e);
  ASSERT_TRUE(p.ok()) << p.status().message();
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  EXPECT_GT(p->pid, 0);
  std::string o = ReadAll(out[0]), r = ReadAll(err[0]);
  ::close(out[0]);
  ::close(err[0]);
  auto code = rt.WaitExec(*p);
  ASSERT_TRUE(code.ok()) << code.status().message();
  EXPECT_EQ(*code, 7);
  EXPECT_EQ(o, "out:hello\n");
  EXPECT_EQ(r, "err:hello\n");
}

TEST_F(ExecAttachTest, ExecStdioInProcess) {
  std::string id = "exec-direct-" + std::to_string(::getpid());
  MakeContainer(id, {"sleep", "1000"}, false);
  CheckStdio(*rt_, ExecOf(id, {}));
  // Exec (start + wait) returns the status too.
  auto e = ExecOf(id, {"sh", "-c", "exit 5"});
  auto code = rt_->Exec(e);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 5);
}

TEST_F(ExecAttachTest, ExecStdioThroughHelper) {
  ASSERT_TRUE(fs::exists(rt_->options().self_exe)) << "build the sampan binary first";
  std::string id = "exec-helper-" + std::to_string(::getpid());
  MakeContainer(id, {"sleep", "1000"}, false);
  ExtraThread thread;  // from here on Exec goes through `sampan runtime exec`
  CheckStdio(*rt_, ExecOf(id, {}));
  // A missing executable is an error of StartExec, not text on the process's stderr.
  int err[2];
  ASSERT_EQ(::pipe2(err, O_CLOEXEC), 0);
  auto bad = ExecOf(id, {"/no/such/binary"});
  bad.stderr_fd = err[1];
  auto r = rt_->StartExec(bad);
  ::close(err[1]);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/no/such/binary"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(ReadAll(err[0]), "");
  ::close(err[0]);
  // Timeout, kill, wait again.
  auto p = rt_->StartExec(ExecOf(id, {"sleep", "100"}));
  ASSERT_TRUE(p.ok()) << p.status().message();
  auto w = rt_->WaitExec(*p, 100);
  EXPECT_EQ(w.status().code(), Code::kTimeout);
  ASSERT_EQ(::kill(p->pid, SIGKILL), 0);
  w = rt_->WaitExec(*p);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, 128 + SIGKILL);
  // Unknown container.
  auto none = ExecOf(id, {"sh", "-c", "true"});
  none.id = "no-such-container";
  EXPECT_EQ(rt_->StartExec(none).status().code(), Code::kNotFound);
  // Detached: returns the pid, nothing to wait for.
  auto d = ExecOf(id, {"sleep", "100"});
  d.detach = true;
  auto dp = rt_->StartExec(d);
  ASSERT_TRUE(dp.ok()) << dp.status().message();
  EXPECT_EQ(dp->waiter, 0);
  EXPECT_EQ(::kill(dp->pid, 0), 0);
  ::kill(dp->pid, SIGKILL);
}

TEST_F(ExecAttachTest, TtyExecThroughHelper) {
  std::string id = "exec-tty-" + std::to_string(::getpid());
  MakeContainer(id, {"sleep", "1000"}, false);
  // The caller listens; the helper connects and sends the pty master during StartExec.
  std::string sock_path = dir_ + "/console.sock";
  int ls = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a = {};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", sock_path.c_str());
  ASSERT_EQ(::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(ls, 1), 0);
  ExtraThread thread;
  auto e = ExecOf(id, {"sh"});
  e.process.terminal = true;
  e.console_socket = sock_path;
  auto p = rt_->StartExec(e);
  ASSERT_TRUE(p.ok()) << p.status().message();
  int c = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(c, 0);
  std::string name;
  auto master = RecvFd(c, &name);
  ::close(c);
  ::close(ls);
  ASSERT_TRUE(master.ok()) << master.status().message();
  std::string cmd = "echo tty-$((6*7)); exit 4\n";
  ASSERT_EQ(::write(*master, cmd.data(), cmd.size()), static_cast<ssize_t>(cmd.size()));
  std::string out;
  char buf[1024];
  ssize_t n;
  while (out.find("tty-42") == std::string::npos && (n = ::read(*master, buf, sizeof buf)) > 0)
    out.append(buf, static_cast<size_t>(n));
  EXPECT_NE(out.find("tty-42"), std::string::npos) << out;
  auto code = rt_->WaitExec(*p);
  ::close(*master);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 4);
}

// Reads one attach frame (blocking); false at EOF.
bool ReadFrame(int fd, unsigned char* stream, std::string* payload) {
  auto read_n = [&](char* buf, size_t n) {
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::read(fd, buf + got, n - got);
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  };
  char h[5];
  if (!read_n(h, 5)) return false;
  *stream = static_cast<unsigned char>(h[0]);
  uint32_t len = (uint32_t{static_cast<unsigned char>(h[1])} << 24) |
                 (uint32_t{static_cast<unsigned char>(h[2])} << 16) |
                 (uint32_t{static_cast<unsigned char>(h[3])} << 8) |
                 static_cast<unsigned char>(h[4]);
  payload->resize(len);
  return len == 0 || read_n(payload->data(), len);
}

TEST_F(ExecAttachTest, AttachForwardsOutputAndInput) {
  std::string id = "attach-" + std::to_string(::getpid());
  MakeContainer(
      id, {"sh", "-c", "echo ready; while read l; do echo got:$l; echo e:$l >&2; done; exit 3"},
      true, false);
  auto fd = rt_->ConnectAttach(id);
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  struct timeval tv = {10, 0};
  ::setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_TRUE(rt_->Start(id).ok());
  std::string out, err, exit_code;
  auto read_until = [&](const std::string& want_out, const std::string& want_err) {
    unsigned char s;
    std::string p;
    while (out.find(want_out) == std::string::npos || err.find(want_err) == std::string::npos) {
      if (!ReadFrame(*fd, &s, &p)) return false;
      if (s == kAttachStdout) out += p;
      if (s == kAttachStderr) err += p;
      if (s == kAttachExit) exit_code = p;
    }
    return true;
  };
  ASSERT_TRUE(read_until("ready\n", "")) << out;
  std::string frame = AttachFrame(kAttachStdin, "abc\n") + AttachFrame(kAttachStdin, "def\n");
  ASSERT_EQ(::write(*fd, frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
  ASSERT_TRUE(read_until("got:def\n", "e:def\n")) << out << "|" << err;
  EXPECT_EQ(out, "ready\ngot:abc\ngot:def\n");
  EXPECT_EQ(err, "e:abc\ne:def\n");
  // A second client sees later output too.
  auto fd2 = rt_->ConnectAttach(id);
  ASSERT_TRUE(fd2.ok());
  // Closing stdin (empty frame) ends the loop: exit frame, then EOF.
  frame = AttachFrame(kAttachStdin, "");
  ASSERT_EQ(::write(*fd, frame.data(), frame.size()), 5);
  unsigned char s;
  std::string p;
  while (ReadFrame(*fd, &s, &p))
    if (s == kAttachExit) exit_code = p;
  EXPECT_EQ(exit_code, "3");
  std::string exit2;
  while (ReadFrame(*fd2, &s, &p))
    if (s == kAttachExit) exit2 = p;
  EXPECT_EQ(exit2, "3");
  ::close(*fd);
  ::close(*fd2);
  auto st = rt_->State(id);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->status, "stopped");
  EXPECT_EQ(st->exit_code, 3);
  // The CRI log got the same output.
  std::ifstream log(dir_ + "/" + id + ".log");
  std::stringstream ls;
  ls << log.rdbuf();
  EXPECT_NE(ls.str().find(" stdout F got:abc"), std::string::npos) << ls.str();
  EXPECT_NE(ls.str().find(" stderr F e:def"), std::string::npos);
  EXPECT_EQ(rt_->ConnectAttach(id).status().code(), Code::kNotFound);
}

TEST_F(ExecAttachTest, AttachToTerminalKeptByTheMonitor) {
  std::string id = "attach-tty-" + std::to_string(::getpid());
  MakeContainer(id,
                {"sh", "-c",
                 "echo ready; while read l; do echo got:$l; stty size; done; echo bye; exit 4"},
                true, false, true);
  auto fd = rt_->ConnectAttach(id);
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  struct timeval tv = {10, 0};
  ::setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_TRUE(rt_->Start(id).ok());
  std::string out, exit_code;
  auto read_until = [&](const std::string& want) {
    unsigned char s;
    std::string p;
    while (out.find(want) == std::string::npos) {
      if (!ReadFrame(*fd, &s, &p)) return false;
      EXPECT_NE(s, kAttachStderr);  // a terminal has one output stream
      if (s == kAttachStdout) out += p;
      if (s == kAttachExit) exit_code = p;
    }
    return true;
  };
  ASSERT_TRUE(read_until("ready\r\n")) << out;  // the terminal turns \n into \r\n
  // 100 columns, 30 rows, then a line: the terminal echoes it and the shell sees the size.
  std::string size = {0, 100, 0, 30};
  std::string frame = AttachFrame(kAttachResize, size) + AttachFrame(kAttachStdin, "abc\n");
  ASSERT_EQ(::write(*fd, frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
  ASSERT_TRUE(read_until("30 100\r\n")) << out;
  EXPECT_NE(out.find("abc\r\ngot:abc\r\n30 100\r\n"), std::string::npos) << out;
  // Ctrl-D at the start of a line: end of input for `read` on a terminal.
  frame = AttachFrame(kAttachStdin, "\x04");
  ASSERT_EQ(::write(*fd, frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
  unsigned char s;
  std::string p;
  while (ReadFrame(*fd, &s, &p)) {
    if (s == kAttachStdout) out += p;
    if (s == kAttachExit) exit_code = p;
  }
  ::close(*fd);
  EXPECT_NE(out.find("bye"), std::string::npos) << out;
  EXPECT_EQ(exit_code, "4");
  auto st = rt_->State(id);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->exit_code, 4);
  // The log has the terminal's output as stdout.
  std::ifstream log(dir_ + "/" + id + ".log");
  std::stringstream ls;
  ls << log.rdbuf();
  EXPECT_NE(ls.str().find(" stdout F got:abc"), std::string::npos) << ls.str();
}

TEST_F(ExecAttachTest, TerminalWithoutAttachNeedsAConsoleSocket) {
  json::value spec = json::parse(DefaultSpecJson());
  spec.as_object()["process"].as_object()["terminal"] = true;
  std::ofstream(dir_ + "/bundle/config.json") << json::serialize(spec);
  CreateOptions c;
  c.id = "tty-noattach-" + std::to_string(::getpid());
  c.bundle = dir_ + "/bundle";
  EXPECT_EQ(rt_->Create(c).code(), Code::kInvalid);
}

TEST_F(ExecAttachTest, AttachRefusedWithTerminalAndWithout) {
  std::string id = "noattach-" + std::to_string(::getpid());
  MakeContainer(id, {"sleep", "1000"}, false);
  EXPECT_EQ(rt_->ConnectAttach(id).status().code(), Code::kNotFound);
  EXPECT_EQ(rt_->ConnectAttach("no-such").status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace sampan::runtime
