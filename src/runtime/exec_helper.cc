// Runtime::StartExec for multithreaded callers (the kubelet): the exec runs in a
// `sampan runtime exec` child that gets the caller's stdio descriptors and reports on a pipe.
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "runtime/exe_seal.h"
#include "runtime/helper.h"
#include "runtime/runtime.h"
#include "runtime/spawn.h"
#include "runtime/state.h"
#include "runtime/sys.h"

extern char** environ;

namespace sampan::runtime {

namespace {

// The status an error line from the helper stands for.
Status HelperError(std::string msg) {
  if (msg.empty()) msg = "exec helper failed";
  if (msg.find("does not exist") != std::string::npos) return NotFound(msg);
  if (msg.find("cannot exec in container") != std::string::npos ||
      msg.find("is stopped") != std::string::npos)
    return Conflict(msg);
  if (msg.find("process.terminal") != std::string::npos ||
      msg.find("must not be empty") != std::string::npos)
    return Invalid(msg);
  return Internal(msg);
}

}  // namespace

Result<ExecProcess> StartExecViaHelper(const RuntimeOptions& ro, const ExecOptions& opts) {
  static std::atomic<uint64_t> seq{0};
  if (!ValidContainerId(opts.id) || !PathExists(ro.root + "/" + opts.id))
    return NotFound("container \"" + opts.id + "\" does not exist");
  std::string path = ro.root + "/" + opts.id + "/exec-" + std::to_string(::getpid()) + "-" +
                     std::to_string(seq++) + ".json";
  RETURN_IF_ERROR(WriteFileAtomic(path, ProcessToJson(opts.process), 0600));
  const int report_target = 3 + opts.preserve_fds;
  std::vector<std::string> full = {"sampan", "runtime", "--root", ro.root};
  if (ro.systemd_cgroup) full.push_back("--systemd-cgroup");
  full.insert(full.end(),
              {"exec", "--process", path, "--report-fd", std::to_string(report_target)});
  if (!opts.console_socket.empty())
    full.insert(full.end(), {"--console-socket", opts.console_socket});
  if (!opts.pid_file.empty()) full.insert(full.end(), {"--pid-file", AbsPath(opts.pid_file)});
  if (opts.detach) full.push_back("--detach");
  if (opts.preserve_fds)
    full.insert(full.end(), {"--preserve-fds", std::to_string(opts.preserve_fds)});
  full.push_back(opts.id);
  // Helpers enter containers: run them from a protected copy straight away.
  int exe_fd = -1;
  if (ro.self_exe.empty()) {
    auto fd = ProtectedExeFd();
    if (fd.ok()) exe_fd = *fd;
  }
  UniqueFd exe_owner(exe_fd);
  std::string exe_path = ro.self_exe.empty() ? "/proc/self/exe" : ro.self_exe;
  auto cleanup = [&](Status st) {
    ::unlink(path.c_str());
    return st;
  };
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) return cleanup(ErrnoStatus("open /dev/null", errno));
  UniqueFd devnull_owner(devnull);
  int rep[2];
  if (::pipe2(rep, O_CLOEXEC) != 0) return cleanup(ErrnoStatus("pipe", errno));
  // The helper's descriptors: its stdio, the caller's preserved fds 3..report-1 as they are,
  // the report pipe; nothing else of the caller's (other threads' pipes and sockets).
  SpawnRequest req;
  req.exe_fd = exe_fd;
  req.exe_path = exe_path;
  req.argv = std::move(full);
  req.fds = {opts.stdin_fd >= 0 ? opts.stdin_fd : devnull,
             opts.stdout_fd >= 0 ? opts.stdout_fd : devnull,
             opts.stderr_fd >= 0 ? opts.stderr_fd : devnull};
  for (int fd = 3; fd < report_target; ++fd) req.fds.push_back(fd);
  req.fds.push_back(rep[1]);
  auto spawned = SpawnExe(req);
  if (!spawned.ok()) {
    ::close(rep[0]);
    ::close(rep[1]);
    return cleanup(spawned.status());
  }
  pid_t pid = *spawned;
  ::close(rep[1]);
  // One line: "P<pid>" once the process runs, or "E<message>".
  std::string line;
  char buf[4096];
  while (line.find('\n') == std::string::npos) {
    ssize_t n = ::read(rep[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  ::close(rep[0]);
  ::unlink(path.c_str());
  line = line.substr(0, line.find('\n'));
  if (line.size() > 1 && line[0] == 'P') {
    ExecProcess p;
    p.pid = static_cast<pid_t>(std::atoi(line.c_str() + 1));
    p.waiter = pid;
    if (opts.detach) {
      // The helper exits once the process runs; nothing is left to wait for.
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      p.waiter = 0;
    }
    return p;
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!line.empty() && line[0] == 'E') return HelperError(line.substr(1));
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return Internal("exec helper exited with status " + std::to_string(code) +
                  " before the process started");
}

}  // namespace sampan::runtime
