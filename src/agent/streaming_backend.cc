#include "agent/streaming_backend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "util/clock.h"
#include "util/fs.h"

extern char** environ;

namespace sampan::agent {

namespace {

// Receives one fd sent with SCM_RIGHTS (the pty master from --console-socket).
int ReceiveFd(int sock) {
  char data[256];
  struct iovec iov = {data, sizeof data};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0) return -1;
  for (auto* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return fd;
    }
  }
  return -1;
}

}  // namespace

Result<ContainerInfo> ContainerBackend::Resolve(const streaming::ContainerRef& ref,
                                                std::shared_ptr<PodWorker>* worker) {
  std::shared_ptr<PodWorker> w = lookup_(ref.ns, ref.pod);
  if (!w) return NotFound("pod \"" + ref.pod + "\" not found on node " + ctx_->node_name);
  if (worker) *worker = w;
  std::string name = ref.container;
  if (name.empty()) {
    auto names = w->ContainerNames();
    if (names.size() != 1) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : " ") + n;
      return BadRequest("a container name must be specified for pod " + ref.pod +
                        ", choose one of: [" + list + "]");
    }
    name = names[0];
  }
  auto info = w->FindContainer(name);
  if (!info) return BadRequest("container " + name + " is not valid for pod " + ref.pod);
  return *info;
}

Result<streaming::ProcessHandle> ContainerBackend::Exec(const streaming::ExecRequest& req) {
  ASSIGN_OR_RETURN(ContainerInfo info, Resolve(req.ref));
  if (!info.running || info.id.empty())
    return Conflict("container not found (\"" + info.name + "\"): container is not running");
  if (req.command.empty())
    return BadRequest("you must specify at least one command for the container");
  ASSIGN_OR_RETURN(runtime::Spec spec, ctx_->runtime->ContainerSpec(info.id));
  runtime::Process p = spec.process;
  p.args = req.command;
  p.terminal = req.tty;
  std::string tag = RandomSuffix(10);
  std::string process_file = ctx_->agent_dir + "/exec-" + tag + ".json";
  RETURN_IF_ERROR(fs::WriteFileAtomic(process_file, runtime::ProcessToJson(p), 0600));

  std::string exe = ctx_->runtime->options().self_exe.empty() ? "/proc/self/exe"
                                                              : ctx_->runtime->options().self_exe;
  std::vector<std::string> args = {exe,    "runtime",   "--root",    ctx_->runtime->options().root,
                                   "exec", "--process", process_file};
  int listener = -1;
  std::string sock_path;
  if (req.tty) {
    sock_path = ctx_->agent_dir + "/exec-" + tag + ".sock";
    listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    if (sock_path.size() >= sizeof addr.sun_path) return Internal("console socket path too long");
    std::strcpy(addr.sun_path, sock_path.c_str());
    if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener, 1) != 0) {
      int e = errno;
      if (listener >= 0) ::close(listener);
      ::unlink(process_file.c_str());
      return ErrnoStatus("console socket", e);
    }
    args.insert(args.end(), {"--console-socket", sock_path});
  }
  args.push_back(info.id);

  // Pipes: [0] read end, [1] write end. The child gets in[0], out[1], err[1].
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  auto close_all = [&] {
    for (int* p : {in, out, err})
      for (int i = 0; i < 2; ++i)
        if (p[i] >= 0) ::close(p[i]), p[i] = -1;
  };
  if (!req.tty) {
    if ((req.stdin && ::pipe2(in, O_CLOEXEC) != 0) ||
        (req.stdout && ::pipe2(out, O_CLOEXEC) != 0) ||
        (req.stderr && ::pipe2(err, O_CLOEXEC) != 0)) {
      int e = errno;
      close_all();
      return ErrnoStatus("pipe", e);
    }
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  auto dup_or_null = [&](int fd, int target, int flags) {
    if (fd >= 0)
      posix_spawn_file_actions_adddup2(&fa, fd, target);
    else
      posix_spawn_file_actions_addopen(&fa, target, "/dev/null", flags, 0);
  };
  dup_or_null(in[0], 0, O_RDONLY);
  dup_or_null(out[1], 1, O_WRONLY);
  dup_or_null(err[1], 2, O_WRONLY);
  // Nothing else of the agent's process (listening sockets, other clients' pipes) leaks
  // into the helper and the process it runs.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  int rc = ::posix_spawn(&pid, exe.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (in[0] >= 0) ::close(in[0]), in[0] = -1;
  if (out[1] >= 0) ::close(out[1]), out[1] = -1;
  if (err[1] >= 0) ::close(err[1]), err[1] = -1;
  if (rc != 0) {
    close_all();
    if (listener >= 0) ::close(listener), ::unlink(sock_path.c_str());
    ::unlink(process_file.c_str());
    return ErrnoStatus("starting the exec helper", rc);
  }

  streaming::ProcessHandle h;
  if (req.tty) {
    struct pollfd pfd = {listener, POLLIN, 0};
    int master = -1;
    if (::poll(&pfd, 1, 10000) == 1) {
      int conn = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn >= 0) {
        master = ReceiveFd(conn);
        ::close(conn);
      }
    }
    ::close(listener);
    ::unlink(sock_path.c_str());
    if (master < 0) {
      ::kill(pid, SIGKILL);
      int status;
      ::waitpid(pid, &status, 0);
      ::unlink(process_file.c_str());
      return Internal("exec: the runtime did not hand over a terminal");
    }
    h.tty = master;
    h.resize = [master](uint16_t width, uint16_t height) {
      struct winsize ws = {};
      ws.ws_col = width;
      ws.ws_row = height;
      ::ioctl(master, TIOCSWINSZ, &ws);
    };
  } else {
    h.stdin_fd = in[1];
    h.stdout_fd = out[0];
    h.stderr_fd = err[0];
  }
  h.wait = [pid, process_file]() -> Result<int> {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) return ErrnoStatus("waiting for the exec helper", errno);
    }
    ::unlink(process_file.c_str());
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
  };
  h.cancel = [pid] { ::kill(pid, SIGKILL); };
  return h;
}

namespace {

bool ReadFull(int fd, char* buf, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, buf, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    buf += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool WriteFull(int fd, const char* buf, size_t n) {
  while (n > 0) {
    ssize_t r = ::send(fd, buf, n, MSG_NOSIGNAL);
    if (r < 0 && errno == ENOTSOCK) r = ::write(fd, buf, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    buf += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

constexpr char kStdinFrame = 0, kResizeFrame = 4;

}  // namespace

// One attach session: the runtime's framed attach socket (see Runtime::ConnectAttach) bridged
// to the client's pipes, or to one socket end standing for the terminal.
struct ContainerBackend::AttachSession {
  int sock = -1;   // the monitor's attach socket
  int local = -1;  // terminal: the agent's end of the client's socket pair
  std::mutex mu;   // guards writes to `sock` and the fields below
  std::condition_variable cv;
  bool done = false;
  int exit_code = -1;  // from the exit frame, if the container ended
  ~AttachSession() {
    if (sock >= 0) ::close(sock);
    if (local >= 0) ::close(local);
  }
  bool Send(char stream, const char* data, uint32_t len) {
    char hdr[5] = {stream, static_cast<char>(len >> 24), static_cast<char>(len >> 16),
                   static_cast<char>(len >> 8), static_cast<char>(len)};
    std::lock_guard<std::mutex> l(mu);
    return WriteFull(sock, hdr, 5) && (len == 0 || WriteFull(sock, data, len));
  }
  // The client went away: with stdinOnce the container's stdin closes now (before the
  // monitor sees this client leave), then output stops; the threads end as their fds close.
  void Detach(bool close_stdin) {
    if (close_stdin) (void)Send(kStdinFrame, nullptr, 0);
    ::shutdown(sock, SHUT_RD);
  }
  Result<int> Wait() {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return done; });
    return exit_code < 0 ? 0 : exit_code;
  }
};

void ContainerBackend::StartOutputPump(std::shared_ptr<AttachSession> session, int out_w,
                                       int err_w) {
  // Container output → the client, until the container ends or the client leaves. A
  // terminal's end (`session->local`) is only shut down for writing: the session owns it.
  std::thread([session, out_w, err_w] {
    char hdr[5];
    std::string payload;
    while (ReadFull(session->sock, hdr, 5)) {
      uint32_t len = (static_cast<uint8_t>(hdr[1]) << 24) | (static_cast<uint8_t>(hdr[2]) << 16) |
                     (static_cast<uint8_t>(hdr[3]) << 8) | static_cast<uint8_t>(hdr[4]);
      payload.resize(len);
      if (len && !ReadFull(session->sock, payload.data(), len)) break;
      int target = hdr[0] == 1 ? out_w : hdr[0] == 2 ? err_w : -1;
      if (target >= 0) (void)WriteFull(target, payload.data(), payload.size());
      if (hdr[0] == 3) {
        std::lock_guard<std::mutex> l(session->mu);
        session->exit_code = std::atoi(payload.c_str());
      }
    }
    if (out_w >= 0 && out_w == session->local) {
      ::shutdown(out_w, SHUT_WR);
    } else if (out_w >= 0) {
      ::close(out_w);
    }
    if (err_w >= 0) ::close(err_w);
    std::lock_guard<std::mutex> l(session->mu);
    session->done = true;
    session->cv.notify_all();
  }).detach();
}

Result<streaming::ProcessHandle> ContainerBackend::Attach(const streaming::ExecRequest& req) {
  ASSIGN_OR_RETURN(ContainerInfo info, Resolve(req.ref));
  if (!info.running || info.id.empty())
    return Conflict("container " + info.name + " is not running");
  if (req.tty && !info.tty)
    return BadRequest("Unable to use a TTY - container " + info.name + " did not allocate one");
  ASSIGN_OR_RETURN(int sock, ctx_->runtime->ConnectAttach(info.id));
  auto session = std::make_shared<AttachSession>();
  session->sock = sock;
  bool want_stdin = req.stdin && info.stdin;
  bool once = info.stdin_once;
  if (info.tty) return AttachTerminal(session, want_stdin, once);
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if ((want_stdin && ::pipe2(in, O_CLOEXEC) != 0) || (req.stdout && ::pipe2(out, O_CLOEXEC) != 0) ||
      (req.stderr && ::pipe2(err, O_CLOEXEC) != 0)) {
    int e = errno;
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
      if (fd >= 0) ::close(fd);
    return ErrnoStatus("pipe", e);
  }
  // Container output → the client's pipes, until the container ends or the client leaves.
  StartOutputPump(session, out[1], err[1]);
  if (want_stdin) {
    int in_r = in[0];
    std::thread([session, in_r, once] {
      char buf[32768];
      while (true) {
        ssize_t n = ::read(in_r, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (!session->Send(kStdinFrame, buf, static_cast<uint32_t>(n))) break;
      }
      // The client closed its stdin: with stdinOnce the container's stdin closes too.
      if (once) (void)session->Send(kStdinFrame, nullptr, 0);
      ::close(in_r);
    }).detach();
  }
  streaming::ProcessHandle h;
  h.stdin_fd = in[1];
  h.stdout_fd = out[0];
  h.stderr_fd = err[0];
  h.wait = [session]() -> Result<int> { return session->Wait(); };
  h.cancel = [session, want_stdin, once] { session->Detach(want_stdin && once); };
  return h;
}

Result<streaming::ProcessHandle> ContainerBackend::AttachTerminal(
    std::shared_ptr<AttachSession> session, bool want_stdin, bool stdin_once) {
  // The client's side of the terminal is one socket end (`tty` of the handle); the other end
  // is bridged to the monitor's framed attach socket, which owns the pty master.
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return ErrnoStatus("socketpair", errno);
  int local = pair[1];
  session->local = local;
  StartOutputPump(session, local, -1);
  std::thread([session, local, want_stdin, stdin_once] {
    char buf[32768];
    while (true) {
      ssize_t n = ::read(local, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (want_stdin && !session->Send(kStdinFrame, buf, static_cast<uint32_t>(n))) break;
    }
    // The client left (or closed its side): with stdinOnce its stdin ends for good.
    if (want_stdin && stdin_once) (void)session->Send(kStdinFrame, nullptr, 0);
  }).detach();
  streaming::ProcessHandle h;
  h.tty = pair[0];
  h.wait = [session]() -> Result<int> { return session->Wait(); };
  h.resize = [session](uint16_t width, uint16_t height) {
    char size[4] = {static_cast<char>(width >> 8), static_cast<char>(width),
                    static_cast<char>(height >> 8), static_cast<char>(height)};
    (void)session->Send(kResizeFrame, size, 4);
  };
  h.cancel = [session, want_stdin, stdin_once] { session->Detach(want_stdin && stdin_once); };
  return h;
}

Result<int> ContainerBackend::PortForward(const std::string& ns, const std::string& pod, int port) {
  std::shared_ptr<PodWorker> w = lookup_(ns, pod);
  if (!w) return NotFound("pod \"" + pod + "\" not found on node " + ctx_->node_name);
  pid_t pid = w->SandboxPid();
  if (pid <= 0) return Conflict("pod \"" + pod + "\" has no running sandbox");
  std::string netns = "/proc/" + std::to_string(pid) + "/ns/net";
  // setns changes only the calling thread's namespace: connect from a short-lived thread.
  Result<int> result = Internal("port-forward: no result");
  std::thread t([&] {
    int nsfd = ::open(netns.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
      result = ErrnoStatus("opening " + netns, errno);
      return;
    }
    if (::setns(nsfd, CLONE_NEWNET) != 0) {
      result = ErrnoStatus("entering the pod's network namespace", errno);
      ::close(nsfd);
      return;
    }
    ::close(nsfd);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      int e = errno;
      if (fd >= 0) ::close(fd);
      result =
          Status(Code::kInternal, "failed to connect to localhost:" + std::to_string(port) +
                                      " inside namespace of pod " + pod + ": " + std::strerror(e));
      return;
    }
    result = fd;
  });
  t.join();
  return result;
}

Result<std::string> ContainerBackend::LogPath(const streaming::LogRequest& req) {
  ASSIGN_OR_RETURN(ContainerInfo info, Resolve(req.ref));
  if (req.previous) {
    if (info.previous_log_path.empty() || !fs::Exists(info.previous_log_path))
      return BadRequest("previous terminated container \"" + info.name + "\" in pod \"" +
                        req.ref.pod + "\" not found");
    return info.previous_log_path;
  }
  if (!fs::Exists(info.log_path))
    return BadRequest("container \"" + info.name + "\" in pod \"" + req.ref.pod +
                      "\" is waiting to start: ContainerCreating");
  return info.log_path;
}

bool ContainerBackend::StillRunning(const streaming::LogRequest& req) {
  if (req.previous) return false;
  auto info = Resolve(req.ref);
  return info.ok() && info->running;
}

}  // namespace sampan::agent
