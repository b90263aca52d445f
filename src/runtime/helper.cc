#include "runtime/helper.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/exe_seal.h"
#include "runtime/spawn.h"
#include "runtime/sys.h"

extern char** environ;

namespace sampan::runtime {

void InstallStdio(int in, int out, int err) {
  // Move them out of 0..2 first, so that one target never clobbers another's source.
  int src[3] = {in, out, err}, tmp[3];
  for (int i = 0; i < 3; ++i) tmp[i] = src[i] >= 0 ? ::fcntl(src[i], F_DUPFD_CLOEXEC, 3) : -1;
  for (int i = 0; i < 3; ++i) {
    if (tmp[i] < 0) continue;
    ::dup2(tmp[i], i);
    ::close(tmp[i]);
  }
}

bool ProcessIsMultithreaded() {
  auto t = ReadWholeFile("/proc/self/status");
  if (!t.ok()) return true;
  size_t p = t->find("\nThreads:");
  if (p == std::string::npos) return true;
  return std::atoi(t->c_str() + p + 9) > 1;
}

Result<HelperResult> RunHelperStatus(const RuntimeOptions& opts,
                                     const std::vector<std::string>& args) {
  // Helpers enter containers: run them from a protected copy straight away (one exec, not two).
  int exe_fd = -1;
  if (opts.self_exe.empty()) {
    auto fd = ProtectedExeFd();
    if (fd.ok()) exe_fd = *fd;
  }
  UniqueFd exe_owner(exe_fd);
  std::string exe = opts.self_exe.empty() ? "/proc/self/exe" : opts.self_exe;
  std::vector<std::string> full = {"sampan", "runtime", "--root", opts.root};
  if (opts.systemd_cgroup) full.push_back("--systemd-cgroup");
  full.insert(full.end(), args.begin(), args.end());
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return ErrnoStatus("pipe", errno);
  }
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  UniqueFd devnull_owner(devnull);
  // Nothing else of the caller's may reach the helper, or the container monitors it leaves
  // behind (e.g. the API server's listening socket would outlive the server).
  SpawnRequest req;
  req.exe_fd = exe_fd;
  req.exe_path = exe;
  req.argv = std::move(full);
  req.fds = {devnull, out[1], err[1]};
  auto spawned = SpawnExe(req);
  if (!spawned.ok()) {
    for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
    return spawned.status();
  }
  pid_t pid = *spawned;
  ::close(out[1]);
  ::close(err[1]);
  std::string sout, serr;
  struct pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_count = 2;
  while (open_count > 0) {
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t n = ::read(p[i].fd, buf, sizeof buf);
      if (n <= 0) {
        ::close(p[i].fd);
        p[i].fd = -1;
        --open_count;
      } else {
        (i == 0 ? sout : serr).append(buf, static_cast<size_t>(n));
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  HelperResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = std::move(sout);
  r.err = std::move(serr);
  return r;
}

Result<std::string> RunHelper(const RuntimeOptions& opts, const std::vector<std::string>& args) {
  ASSIGN_OR_RETURN(HelperResult r, RunHelperStatus(opts, args));
  if (r.exit_code == 0) return std::move(r.out);
  std::string msg = r.err.substr(0, r.err.find('\n'));
  const std::string prefix = "sampan runtime: ";
  if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
  if (msg.empty()) msg = "runtime helper failed (exit status " + std::to_string(r.exit_code) + ")";
  if (msg.find("already exists") != std::string::npos) return AlreadyExists(msg);
  if (msg.find("does not exist") != std::string::npos) return NotFound(msg);
  return Internal(msg);
}

}  // namespace sampan::runtime
