#include "runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>

#include "runtime/spawn.h"
#include "runtime/sys.h"

namespace sampan::runtime {

namespace {

Status RunOne(const Hook& h, std::string_view state, const std::string& field) {
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return ErrnoStatus(field + ": pipe", errno);
  // The hook gets the state on stdin and our stdout/stderr; no other descriptor of ours.
  SpawnRequest req;
  req.exe_path = h.path;
  req.argv = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
  req.env = &h.env;
  req.fds = {in[0], 1, 2};
  auto spawned = SpawnExe(req);
  if (!spawned.ok()) {
    ::close(in[0]);
    ::close(in[1]);
    return Internal(field + ": cannot execute " + h.path + ": " + spawned.status().message());
  }
  pid_t pid = *spawned;
  ::close(in[0]);
  // The hook may not read its stdin; a closed pipe must not kill us.
  signal(SIGPIPE, SIG_IGN);
  (void)WriteAll(in[1], state.data(), state.size());
  ::close(in[1]);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(h.timeout.value_or(0));
  while (true) {
    pid_t r = ::waitpid(pid, &status, h.timeout ? WNOHANG : 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return ErrnoStatus(field + ": wait", errno);
    if (h.timeout && std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return Status(Code::kTimeout,
                    field + ": timed out after " + std::to_string(*h.timeout) + "s");
    }
    if (r == 0) ::usleep(2000);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return Internal(field + ": cannot execute " + h.path);
  if (WIFEXITED(status))
    return Internal(field + ": exit status " + std::to_string(WEXITSTATUS(status)));
  return Internal(field + ": killed by signal " + std::to_string(WTERMSIG(status)));
}

}  // namespace

Status RunHooks(const std::vector<Hook>& hooks, std::string_view state, std::string_view kind) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    std::string field = "hooks." + std::string(kind) + "[" + std::to_string(i) + "]";
    RETURN_IF_ERROR(RunOne(hooks[i], state, field));
  }
  return Status();
}

Status RunHooksWarn(const std::vector<Hook>& hooks, std::string_view state, std::string_view kind) {
  Status first;
  for (size_t i = 0; i < hooks.size(); ++i) {
    std::string field = "hooks." + std::string(kind) + "[" + std::to_string(i) + "]";
    Status st = RunOne(hooks[i], state, field);
    if (!st.ok()) {
      std::fprintf(stderr, "sampan runtime: warning: %s\n", st.message().c_str());
      if (first.ok()) first = st;
    }
  }
  return first;
}

}  // namespace sampan::runtime
