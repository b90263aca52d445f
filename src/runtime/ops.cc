// Runtime: start, state, list, kill, delete, pause/resume, pids, stats.
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "runtime/hooks.h"
#include "runtime/launch.h"
#include "runtime/runtime.h"
#include "runtime/state.h"
#include "runtime/sys.h"

namespace sampan::runtime {

namespace {

ContainerState ToState(const StateDir& dir, const StoredState& s) {
  ContainerState c;
  c.id = s.id;
  c.bundle = s.bundle;
  c.rootfs = s.rootfs;
  c.created = s.created;
  c.annotations = s.annotations;
  ExitInfo e = dir.LoadExit(s.id);
  c.status = ComputeStatus(dir, s, e);
  // The init just died: give its monitor a moment to reap it and record the exit.
  if (c.status == "stopped" && !e.present && s.monitor_pid > 0 && s.monitor_pid != ::getpid()) {
    for (int i = 0; i < 500 && !e.present && ProcessAlive(s.monitor_pid); ++i) {
      ::usleep(1000);
      e = dir.LoadExit(s.id);
    }
  }
  c.pid = c.status == "stopped" ? 0 : s.pid;
  c.exited = e.present;
  c.exit_code = e.exit_code;
  c.finished_at = e.finished_at;
  c.oom_killed = e.oom_killed;
  struct stat st;
  if (::stat(dir.Dir(s.id).c_str(), &st) == 0) {
    struct passwd* pw = ::getpwuid(st.st_uid);
    c.owner = pw ? pw->pw_name : std::to_string(st.st_uid);
  }
  return c;
}

Cgroup CgroupOf(const StoredState& s) {
  return Cgroup::Open(s.cgroup_mode, s.cgroup_path, s.cgroup_depth);
}

bool HasNamespace(const StoredState& s, const char* name) {
  for (const auto& n : s.namespaces)
    if (n == name) return true;
  return false;
}

// Waits for a process that is not our child to disappear.
bool WaitGone(pid_t pid, uint64_t start, int timeout_ms) {
  int fd = PidfdOpen(pid);
  if (fd < 0) return true;
  UniqueFd f(fd);
  if (ProcessStartTime(pid) != start) return true;
  struct pollfd p = {fd, POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  return rc > 0;
}

}  // namespace

std::string StateJson(const ContainerState& s, bool with_exit) {
  boost::json::object o;
  o["ociVersion"] = s.oci_version;
  o["id"] = s.id;
  o["pid"] = s.pid;
  o["status"] = s.status;
  o["bundle"] = s.bundle;
  o["rootfs"] = s.rootfs;
  o["created"] = s.created;
  o["owner"] = s.owner;
  if (!s.annotations.empty()) {
    boost::json::object a;
    for (const auto& [k, v] : s.annotations) a[k] = v;
    o["annotations"] = std::move(a);
  }
  if (with_exit && s.exited) {
    o["exitCode"] = s.exit_code;
    o["finishedAt"] = s.finished_at;
    o["oomKilled"] = s.oom_killed;
  }
  return boost::json::serialize(o);
}

std::optional<int> ParseSignal(const std::string& in) {
  if (in.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(in[0]))) {
    int n = std::atoi(in.c_str());
    if (n <= 0 || n > 64) return std::nullopt;
    return n;
  }
  std::string s = in;
  for (char& c : s) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  if (s.rfind("SIG", 0) == 0) s = s.substr(3);
  static const std::pair<const char*, int> kSignals[] = {
      {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
      {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
      {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
      {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
      {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
      {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
      {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
      {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
      {"SYS", SIGSYS}};
  for (auto [n, v] : kSignals)
    if (s == n) return v;
  return std::nullopt;
}

Runtime::Runtime(RuntimeOptions opts) : opts_(std::move(opts)) {}

Result<ContainerState> Runtime::State(const std::string& id) const {
  StateDir dir(opts_.root);
  ASSIGN_OR_RETURN(StoredState s, dir.Load(id));
  return ToState(dir, s);
}

Result<std::vector<ContainerState>> Runtime::List() const {
  StateDir dir(opts_.root);
  std::vector<ContainerState> out;
  for (const auto& id : dir.Ids()) {
    auto s = dir.Load(id);
    if (s.ok()) out.push_back(ToState(dir, *s));
  }
  return out;
}

Result<Spec> Runtime::ContainerSpec(const std::string& id) const {
  StateDir dir(opts_.root);
  ASSIGN_OR_RETURN(std::string text, dir.LoadConfig(id));
  return ParseSpec(text);
}

Status Runtime::Start(const std::string& id) {
  StateDir dir(opts_.root);
  ASSIGN_OR_RETURN(StoredState s, dir.Load(id));
  std::string status = ComputeStatus(dir, s, dir.LoadExit(id));
  if (status != "created")
    return Conflict("cannot start container \"" + id + "\": it is " + status + ", not created");
  auto spec = ContainerSpec(id);
  // prestart hooks run at start, before the process executes (the runtime-tools suite checks
  // this timing), with the container's namespaces already in place.
  if (spec.ok() && !spec->hooks.prestart.empty()) {
    Status st = RunHooks(spec->hooks.prestart, HookStateJson(*spec, id, s.pid, s.bundle, "created"),
                         "prestart");
    if (!st.ok()) {
      // The lifecycle goes on at "delete": the container must be gone afterwards.
      (void)Delete(id, true);
      return st;
    }
  }
  // Take hold of the init before opening the FIFO: opening it lets the init exec at once, and a
  // process that exits immediately may already be reaped by the time we would look for it.
  int pidfd = PidfdOpen(s.pid);
  if (pidfd < 0) return Conflict("cannot start container \"" + id + "\": its init is gone");
  UniqueFd pf(pidfd);
  std::string fifo = dir.FifoPath(id);
  int fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open " + fifo, errno);
  UniqueFd f(fd);
  struct pollfd p[2] = {{fd, POLLIN, 0}, {pidfd, POLLIN, 0}};
  for (;;) {
    int rc = ::poll(p, 2, 10000);
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) return Status(Code::kTimeout, "container \"" + id + "\" did not respond to start");
    if (p[0].revents & POLLIN) break;
    if (p[1].revents) return Conflict("cannot start container \"" + id + "\": its init exited");
    if (p[0].revents & POLLHUP) return Internal("container \"" + id + "\" closed its start fifo");
  }
  char c;
  if (::read(fd, &c, 1) != 1) return Internal("container \"" + id + "\": start handshake failed");
  ::unlink(fifo.c_str());
  // The init holds the FIFO open until execve closes it: EOF means the process is running.
  struct pollfd h = {fd, POLLIN, 0};
  for (int i = 0; i < 100; ++i) {
    if (::poll(&h, 1, 50) < 0 && errno != EINTR) break;
    if (h.revents & POLLHUP) break;
    if ((h.revents & POLLIN) && ::read(fd, &c, 1) == 0) break;
  }
  if (spec.ok() && !spec->hooks.poststart.empty()) {
    // A failing poststart hook is only a warning (runtime-spec lifecycle).
    (void)RunHooksWarn(spec->hooks.poststart, HookStateJson(*spec, id, s.pid, s.bundle, "running"),
                       "poststart");
  }
  return Status();
}

Status Runtime::Kill(const std::string& id, int sig, bool all) {
  StateDir dir(opts_.root);
  ASSIGN_OR_RETURN(StoredState s, dir.Load(id));
  std::string status = ComputeStatus(dir, s, dir.LoadExit(id));
  if (status == "stopped" && !all)
    return Conflict("cannot kill container \"" + id + "\": it is stopped");
  if (all) return CgroupOf(s).SignalAll(sig);
  int pidfd = PidfdOpen(s.pid);
  if (pidfd < 0) return Conflict("cannot kill container \"" + id + "\": its init is gone");
  UniqueFd f(pidfd);
  if (ProcessStartTime(s.pid) != s.pid_start)
    return Conflict("container \"" + id + "\" is stopped");
  if (PidfdSendSignal(pidfd, sig) != 0) return ErrnoStatus("kill container \"" + id + "\"", errno);
  return Status();
}

Status Runtime::Delete(const std::string& id, bool force) {
  StateDir dir(opts_.root);
  auto loaded = dir.Load(id);
  if (!loaded.ok()) {
    if (loaded.status().code() == Code::kNotFound && force) return Status();
    if (loaded.status().code() == Code::kUnavailable && force) return dir.Remove(id);
    return loaded.status();
  }
  const StoredState& s = *loaded;
  std::string status = ComputeStatus(dir, s, dir.LoadExit(id));
  // The spec says delete MUST fail for any container that is not stopped, "created" included.
  if (status != "stopped" && !force)
    return Conflict("cannot delete container \"" + id + "\" that is " + status +
                    " (stop it or use --force)");
  Cgroup cg = CgroupOf(s);
  if (status != "stopped") {
    if (status == "paused") (void)cg.Thaw();
    if (ProcessStartTime(s.pid) == s.pid_start) {
      int pidfd = PidfdOpen(s.pid);
      if (pidfd >= 0) {
        PidfdSendSignal(pidfd, SIGKILL);
        ::close(pidfd);
      }
    }
    WaitGone(s.pid, s.pid_start, 5000);
  }
  // Without a pid namespace the init's death does not end the rest.
  if (!HasNamespace(s, "pid") || status != "stopped") {
    (void)cg.SignalAll(SIGKILL);
  }
  cg.WaitEmpty(2000);
  if (s.monitor_pid > 0 && s.monitor_pid != ::getpid()) {
    uint64_t mstart = ProcessStartTime(s.monitor_pid);
    if (mstart != 0) WaitGone(s.monitor_pid, mstart, 2000);
  }
  auto spec = ContainerSpec(id);
  Status hooks;
  if (spec.ok() && !spec->hooks.poststop.empty()) {
    // A failing poststop hook is only a warning (runtime-spec lifecycle).
    hooks = RunHooksWarn(spec->hooks.poststop, HookStateJson(*spec, id, 0, s.bundle, "stopped"),
                         "poststop");
  }
  Status st = cg.Destroy();
  Status rm = dir.Remove(id);
  if (!st.ok()) return st;
  return rm;
}

Status Runtime::Pause(const std::string& id) {
  StateDir dir(opts_.root);
  ASSIGN_OR_RETURN(StoredState s, dir.Load(id));
  std::string status = ComputeStatus(dir, s, dir.LoadExit(id));
  if (status != "running")
    return Conflict("cannot pause container \"" + id + "\": it is " + status);
  return CgroupOf(s).Freeze();
}

Status Runtime::Resume(const std::string& id) {
  StateDir dir(opts_.root);
  ASSIGN_OR_RETURN(StoredState s, dir.Load(id));
  std::string status = ComputeStatus(dir, s, dir.LoadExit(id));
  if (status != "paused")
    return Conflict("cannot resume container \"" + id + "\": it is " + status);
  return CgroupOf(s).Thaw();
}

Result<std::vector<pid_t>> Runtime::Pids(const std::string& id) const {
  StateDir dir(opts_.root);
  ASSIGN_OR_RETURN(StoredState s, dir.Load(id));
  return CgroupOf(s).Pids();
}

Result<CgroupStats> Runtime::Stats(const std::string& id) const {
  StateDir dir(opts_.root);
  ASSIGN_OR_RETURN(StoredState s, dir.Load(id));
  std::string status = ComputeStatus(dir, s, dir.LoadExit(id));
  if (status == "stopped") return Conflict("container \"" + id + "\" is stopped");
  return CgroupOf(s).Stats();
}

}  // namespace sampan::runtime
