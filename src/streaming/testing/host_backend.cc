#include "streaming/testing/host_backend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <thread>

#include "streaming/cri_log.h"
#include "util/fs.h"

namespace sampan::streaming::testing {

namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

// fork + exec with the given fds as 0/1/2 (-1: /dev/null). With `tty_slave`, the child
// starts a session with that terminal as its controlling one.
Result<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& cwd, int in, int out,
                    int err, bool tty) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return ErrnoStatus("fork", errno);
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    setsid();
    int devnull = open("/dev/null", O_RDWR);
    int fds[3] = {in >= 0 ? in : devnull, out >= 0 ? out : devnull, err >= 0 ? err : devnull};
    for (int i = 0; i < 3; ++i) dup2(fds[i], i);
    if (tty) ioctl(0, TIOCSCTTY, 0);
    for (int fd = 3; fd < 1024; ++fd) close(fd);
    if (chdir(cwd.c_str()) != 0) _exit(127);
    execvp(args[0], args.data());
    const char msg[] = "exec failed\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  return pid;
}

}  // namespace

// A container: its main process, restarted if asked, with output fanned out to log files
// and to attached clients.
struct HostBackend::Container {
  std::string name, dir;
  std::vector<std::string> argv;
  bool keep_stdin = false, restart = false;

  std::mutex mu;
  std::condition_variable changed;
  int instance = 0;      // index of the current log file
  bool running = false;  // the current instance is running
  int stdin_w = -1;      // write end of the main process's stdin pipe
  pid_t pid = -1;
  int last_exit = 0;
  bool stopping = false;
  struct Tap {
    int out = -1, err = -1;  // write ends of an attached client's pipes
    bool gone = false;
  };
  std::vector<std::shared_ptr<Tap>> taps;
  std::thread supervisor;

  std::string LogFile(int i) const { return dir + "/" + std::to_string(i) + ".log"; }

  void Supervise() {
    for (;;) {
      int out[2], err[2], in[2] = {-1, -1};
      if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return;
      if (keep_stdin && pipe2(in, O_CLOEXEC) != 0) return;
      auto pid_or = Spawn(argv, dir, in[0], out[1], err[1], false);
      close(out[1]);
      close(err[1]);
      if (in[0] >= 0) close(in[0]);
      {
        std::lock_guard lk(mu);
        running = pid_or.ok();
        pid = pid_or.ok() ? *pid_or : -1;
        stdin_w = in[1];
        changed.notify_all();
      }
      int log = open(LogFile(instance).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      std::string pending[2];
      pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
      int open_fds = 2;
      while (open_fds > 0) {
        if (poll(p, 2, -1) < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; ++i) {
          if (p[i].fd < 0 || !p[i].revents) continue;
          char buf[16384];
          ssize_t n = read(p[i].fd, buf, sizeof buf);
          if (n <= 0) {
            close(p[i].fd);
            p[i].fd = -1;
            --open_fds;
            continue;
          }
          std::string_view chunk(buf, n);
          // Complete lines go to the log at once; a trailing partial line waits for its end.
          pending[i].append(chunk);
          size_t start = 0, nl;
          std::string lines;
          while ((nl = pending[i].find('\n', start)) != std::string::npos) {
            lines += FormatCriLine(NowNs(), i == 0 ? "stdout" : "stderr", false,
                                   std::string_view(pending[i]).substr(start, nl - start));
            start = nl + 1;
          }
          pending[i].erase(0, start);
          if (!lines.empty() && log >= 0) (void)!write(log, lines.data(), lines.size());
          std::lock_guard lk(mu);
          for (auto& t : taps) {
            int fd = i == 0 ? t->out : t->err;
            if (fd >= 0 && !t->gone && write(fd, chunk.data(), chunk.size()) < 0 && errno == EPIPE)
              t->gone = true;
          }
        }
      }
      for (int i = 0; i < 2; ++i) {
        if (!pending[i].empty() && log >= 0) {
          std::string line =
              FormatCriLine(NowNs(), i == 0 ? "stdout" : "stderr", false, pending[i]);
          (void)!write(log, line.data(), line.size());
        }
      }
      if (log >= 0) close(log);
      int status = 0;
      if (pid_or.ok()) waitpid(*pid_or, &status, 0);
      std::unique_lock lk(mu);
      if (stdin_w >= 0) close(stdin_w);
      stdin_w = -1;
      running = false;
      last_exit = pid_or.ok() ? ExitCode(status) : 127;
      for (auto& t : taps) {
        if (t->out >= 0) close(t->out);
        if (t->err >= 0) close(t->err);
        t->out = t->err = -1;
      }
      taps.clear();
      changed.notify_all();
      if (!restart || stopping) return;
      ++instance;
      // The next instance's log exists (empty) from now on, as while a container waits to restart.
      int fresh = open(LogFile(instance).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fresh >= 0) close(fresh);
      lk.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      lk.lock();
      if (stopping) return;
    }
  }
};

HostBackend::HostBackend(std::string root) : root_(std::move(root)) {}

HostBackend::~HostBackend() {
  std::lock_guard lk(mu_);
  for (auto& [key, containers] : pods_) {
    for (auto& c : containers) {
      {
        std::lock_guard clk(c->mu);
        c->stopping = true;
        if (c->running && c->pid > 0) kill(c->pid, SIGKILL);
      }
      if (c->supervisor.joinable()) c->supervisor.join();
    }
  }
}

Status HostBackend::Run(const std::string& ns, const std::string& pod, const std::string& container,
                        const std::vector<std::string>& argv, bool keep_stdin, bool restart) {
  if (argv.empty()) return BadRequest("a command is required");
  auto c = std::make_shared<Container>();
  c->name = container;
  c->dir = root_ + "/" + ns + "/" + pod + "/" + container;
  c->argv = argv;
  c->keep_stdin = keep_stdin;
  c->restart = restart;
  RETURN_IF_ERROR(fs::MakeDirs(c->dir, 0755));
  {
    std::lock_guard lk(mu_);
    auto& list = pods_[ns + "/" + pod];
    for (auto& other : list)
      if (other->name == container) return AlreadyExists("container " + container + " exists");
    list.push_back(c);
  }
  Container* raw = c.get();
  c->supervisor = std::thread([raw] { raw->Supervise(); });
  std::unique_lock lk(c->mu);
  c->changed.wait_for(lk, std::chrono::seconds(5), [&] { return c->running || c->pid < 0; });
  return Status::Ok();
}

int HostBackend::Restarts(const std::string& ns, const std::string& pod,
                          const std::string& container) {
  auto c = Find(ContainerRef{ns, pod, container});
  if (!c.ok()) return -1;
  std::lock_guard lk((*c)->mu);
  return (*c)->instance;
}

Result<std::shared_ptr<HostBackend::Container>> HostBackend::Find(const ContainerRef& ref) {
  std::lock_guard lk(mu_);
  auto it = pods_.find(ref.ns + "/" + ref.pod);
  if (it == pods_.end()) return NotFound("pod " + ref.ns + "/" + ref.pod + " is not on this node");
  if (ref.container.empty()) return it->second.front();
  for (auto& c : it->second)
    if (c->name == ref.container) return c;
  return NotFound("container " + ref.container + " is not in pod " + ref.pod);
}

Result<ProcessHandle> HostBackend::Exec(const ExecRequest& req) {
  auto c_or = Find(req.ref);
  if (!c_or.ok()) return c_or.status();
  auto c = *c_or;
  {
    std::lock_guard lk(c->mu);
    if (!c->running) return Conflict("container " + c->name + " is not running");
  }
  if (req.command.empty()) return Invalid("a command is required");
  ProcessHandle h;
  pid_t pid;
  if (req.tty) {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0)
      return ErrnoStatus("open a pseudo-terminal", errno);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) {
      close(master);
      return ErrnoStatus("open the terminal", errno);
    }
    auto p = Spawn(req.command, c->dir, slave, slave, slave, true);
    close(slave);
    if (!p.ok()) {
      close(master);
      return p.status();
    }
    pid = *p;
    h.tty = master;
    h.resize = [master](uint16_t w, uint16_t hgt) {
      winsize ws{};
      ws.ws_col = w;
      ws.ws_row = hgt;
      ioctl(master, TIOCSWINSZ, &ws);
    };
  } else {
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    if ((req.stdin && pipe2(in, O_CLOEXEC) != 0) || (req.stdout && pipe2(out, O_CLOEXEC) != 0) ||
        (req.stderr && pipe2(err, O_CLOEXEC) != 0))
      return ErrnoStatus("pipe", errno);
    auto p = Spawn(req.command, c->dir, in[0], out[1], err[1], false);
    for (int fd : {in[0], out[1], err[1]})
      if (fd >= 0) close(fd);
    if (!p.ok()) {
      for (int fd : {in[1], out[0], err[0]})
        if (fd >= 0) close(fd);
      return p.status();
    }
    pid = *p;
    h.stdin_fd = in[1];
    h.stdout_fd = out[0];
    h.stderr_fd = err[0];
  }
  h.wait = [pid]() -> Result<int> {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) return ErrnoStatus("wait", errno);
    }
    return ExitCode(status);
  };
  h.cancel = [pid] { kill(-pid, SIGKILL); };  // the child leads its own session/group
  return h;
}

Result<ProcessHandle> HostBackend::Attach(const ExecRequest& req) {
  auto c_or = Find(req.ref);
  if (!c_or.ok()) return c_or.status();
  auto c = *c_or;
  if (req.tty) return BadRequest("the main processes of this node have no terminal");
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  if ((req.stdout && pipe2(out, O_CLOEXEC) != 0) || (req.stderr && pipe2(err, O_CLOEXEC) != 0))
    return ErrnoStatus("pipe", errno);
  auto tap = std::make_shared<Container::Tap>();
  tap->out = out[1];
  tap->err = err[1];
  ProcessHandle h;
  h.stdout_fd = out[0];
  h.stderr_fd = err[0];
  int instance;
  {
    std::lock_guard lk(c->mu);
    if (!c->running) {
      for (int fd : {out[0], out[1], err[0], err[1]})
        if (fd >= 0) close(fd);
      return Conflict("container " + c->name + " is not running");
    }
    if (req.stdin) {
      if (c->stdin_w < 0) {
        for (int fd : {out[0], out[1], err[0], err[1]})
          if (fd >= 0) close(fd);
        return BadRequest("container " + c->name + " does not keep stdin open (stdin: true)");
      }
      h.stdin_fd = fcntl(c->stdin_w, F_DUPFD_CLOEXEC, 0);
    }
    c->taps.push_back(tap);
    instance = c->instance;
  }
  h.wait = [c, instance, tap]() -> Result<int> {
    std::unique_lock lk(c->mu);
    c->changed.wait(lk, [&] { return !(c->running && c->instance == instance) || tap->gone; });
    return c->last_exit;
  };
  h.cancel = [c, tap] {
    std::lock_guard lk(c->mu);
    tap->gone = true;
    for (auto it = c->taps.begin(); it != c->taps.end(); ++it) {
      if (*it == tap) {
        if (tap->out >= 0) close(tap->out);
        if (tap->err >= 0) close(tap->err);
        tap->out = tap->err = -1;
        c->taps.erase(it);
        break;
      }
    }
    c->changed.notify_all();
  };
  return h;
}

Result<int> HostBackend::PortForward(const std::string& ns, const std::string& pod, int port) {
  {
    std::lock_guard lk(mu_);
    if (!pods_.count(ns + "/" + pod))
      return NotFound("pod " + ns + "/" + pod + " is not on this node");
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int e = errno;
    close(fd);
    return Status(Code::kInternal,
                  "dial tcp4 127.0.0.1:" + std::to_string(port) + ": connect: " + std::strerror(e));
  }
  return fd;
}

Result<std::string> HostBackend::LogPath(const LogRequest& req) {
  auto c_or = Find(req.ref);
  if (!c_or.ok()) return c_or.status();
  auto c = *c_or;
  std::lock_guard lk(c->mu);
  if (req.previous) {
    if (c->instance == 0)
      return BadRequest("previous terminated container \"" + c->name + "\" in pod \"" +
                        req.ref.pod + "\" not found");
    return c->LogFile(c->instance - 1);
  }
  return c->LogFile(c->instance);
}

bool HostBackend::StillRunning(const LogRequest& req) {
  if (req.previous) return false;
  auto c = Find(req.ref);
  if (!c.ok()) return false;
  std::lock_guard lk((*c)->mu);
  return (*c)->running;
}

}  // namespace sampan::streaming::testing
