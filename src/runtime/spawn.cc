#include "runtime/spawn.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/sys.h"

extern char** environ;

namespace sampan::runtime {

namespace {

// Everything the child touches is prepared by the caller: between clone and execve the child
// runs on the caller's memory while the caller's other threads keep running, so it must not
// allocate, lock or write anything but its own stack and the `exec_errno` slot.
struct ChildArgs {
  char* const* argv;
  char* const* envp;
  int exe_fd;
  const char* exe_path;  // nullptr: none
  const int* fds;
  int* tmp;  // scratch, fds_count entries
  int fds_count;
  const sigset_t* mask;  // the caller's signal mask, restored just before execve
  volatile int exec_errno;
};

int ChildMain(void* p) {
  auto* a = static_cast<ChildArgs*>(p);
  // The caller's signal handlers would run on its memory: default them while every signal is
  // still blocked (the dispositions are the child's own: no CLONE_SIGHAND).
  for (int sig = 1; sig < _NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction sa;
    if (::sigaction(sig, nullptr, &sa) != 0) continue;
    if (sa.sa_handler == SIG_IGN || sa.sa_handler == SIG_DFL) continue;
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = 0;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, nullptr);
  }
  const int n = a->fds_count;
  // Sources first go above the target range, so one target never clobbers another's source.
  for (int i = 0; i < n; ++i)
    a->tmp[i] = a->fds[i] >= 0 ? ::fcntl(a->fds[i], F_DUPFD_CLOEXEC, n) : -1;
  int exe = a->exe_fd >= 0 ? ::fcntl(a->exe_fd, F_DUPFD_CLOEXEC, n) : -1;
  for (int i = 0; i < n; ++i) {
    if (a->tmp[i] >= 0) {
      ::dup2(a->tmp[i], i);  // clears close-on-exec of i
      ::close(a->tmp[i]);
    } else {
      ::close(i);
    }
  }
  // Nothing else of the caller's (other threads' sockets and pipes) may reach the program.
  if (::syscall(SYS_close_range, static_cast<unsigned>(n), ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    if (exe >= 0) {
      if (exe > n) ::syscall(SYS_close_range, static_cast<unsigned>(n), exe - 1U, 0U);
      ::syscall(SYS_close_range, exe + 1U, ~0U, 0U);
    } else {
      ::syscall(SYS_close_range, static_cast<unsigned>(n), ~0U, 0U);
    }
  }
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, a->mask, nullptr, _NSIG / 8);
  int err = 0;
  if (exe >= 0) {
    ::syscall(SYS_execveat, exe, "", a->argv, a->envp, AT_EMPTY_PATH);
    err = errno;
  }
  if (a->exe_path != nullptr) {
    ::execve(a->exe_path, a->argv, a->envp);
    err = errno;
  }
  a->exec_errno = err != 0 ? err : ENOEXEC;
  ::_exit(127);
}

constexpr size_t kStackSize = 256 * 1024;  // touched only as far as the child goes (a few KiB)

}  // namespace

Result<pid_t> SpawnExe(const SpawnRequest& req) {
  if (req.argv.empty()) return Invalid("spawn: empty argv");
  if (req.exe_fd < 0 && req.exe_path.empty()) return Invalid("spawn: no program");
  std::vector<std::string> args = req.argv;
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_copy;
  std::vector<char*> envp;
  if (req.env != nullptr) {
    env_copy = *req.env;
    for (auto& s : env_copy) envp.push_back(s.data());
    envp.push_back(nullptr);
  }
  std::vector<int> tmp(req.fds.size() + 1);
  sigset_t all, old;
  ::sigfillset(&all);
  ChildArgs a{};
  a.argv = argv.data();
  a.envp = req.env != nullptr ? envp.data() : environ;
  a.exe_fd = req.exe_fd;
  a.exe_path = req.exe_path.empty() ? nullptr : req.exe_path.c_str();
  a.fds = req.fds.data();
  a.tmp = tmp.data();
  a.fds_count = static_cast<int>(req.fds.size());
  a.mask = &old;
  a.exec_errno = 0;
  void* stack = ::mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return ErrnoStatus("spawn: stack", errno);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  // CLONE_VFORK: this thread resumes once the child has executed the program or exited.
  pid_t pid = ::clone(ChildMain, static_cast<char*>(stack) + kStackSize,
                      CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
  int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::munmap(stack, kStackSize);
  if (pid < 0) return ErrnoStatus("spawn: clone", clone_errno);
  if (a.exec_errno != 0) {
    int err = a.exec_errno;
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return ErrnoStatus("exec " + (req.exe_path.empty() ? args[0] : req.exe_path), err);
  }
  return pid;
}

}  // namespace sampan::runtime
