// The `sampan runtime` subcommands: each parses its flags and calls the runtime library.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <set>
#include <sstream>
#include <thread>

#include "cmd/runtime_cli.h"
#include "runtime/sys.h"

namespace sampan::cmd::rt {

namespace {

Result<std::string> OneId(const Args& a, const char* cmd) {
  if (a.positional.size() != 1)
    return Invalid(std::string(cmd) + ": expected exactly one container id");
  return a.positional[0];
}

const std::vector<FlagSpec> kCreateFlags = {
    {"bundle", 'b', true},  {"console-socket", 0, true},  {"pid-file", 0, true},
    {"no-pivot", 0, false}, {"no-new-keyring", 0, false}, {"preserve-fds", 0, true},
    {"log-path", 0, true},  {"pidfd-socket", 0, true},    {"detach", 'd', false},
    {"keep", 0, false},     {"no-subreaper", 0, false},   {"attach", 0, false}};

runtime::CreateOptions CreateOpts(const Args& a, const std::string& id) {
  runtime::CreateOptions o;
  o.id = id;
  o.bundle = a.Get("bundle", ".");
  o.console_socket = a.Get("console-socket");
  o.pid_file = a.Get("pid-file");
  o.log_path = a.Get("log-path");
  o.no_pivot = a.Has("no-pivot");
  o.attach = a.Has("attach");
  o.preserve_fds = std::atoi(a.Get("preserve-fds", "0").c_str());
  return o;
}

std::string JsonEscape(const std::string& s) {
  return boost::json::serialize(boost::json::value(s));
}

}  // namespace

int CmdSpec(runtime::Runtime&, int argc, char** argv) {
  auto a = ParseArgs(argc, argv, 1, {{"bundle", 'b', true}, {"rootless", 0, false}}, false);
  if (!a.ok()) return Fail(a.status());
  std::string path = a->Get("bundle", ".") + "/config.json";
  if (runtime::PathExists(path))
    return Fail(AlreadyExists("File " + path + " exists. Remove it first"));
  Status st = runtime::WriteFileAtomic(path, runtime::DefaultSpecJson(), 0644);
  return st.ok() ? 0 : Fail(st);
}

int CmdCreate(runtime::Runtime& r, int argc, char** argv) {
  auto a = ParseArgs(argc, argv, 1, kCreateFlags, false);
  if (!a.ok()) return Fail(a.status());
  auto id = OneId(*a, "create");
  if (!id.ok()) return Fail(id.status());
  Status st = r.Create(CreateOpts(*a, *id));
  return st.ok() ? 0 : Fail(st);
}

int CmdRun(runtime::Runtime& r, int argc, char** argv) {
  auto a = ParseArgs(argc, argv, 1, kCreateFlags, false);
  if (!a.ok()) return Fail(a.status());
  auto id = OneId(*a, "run");
  if (!id.ok()) return Fail(id.status());
  runtime::CreateOptions o = CreateOpts(*a, *id);
  if (a->Has("detach")) {
    Status st = r.Create(o);
    if (st.ok()) st = r.Start(*id);
    if (!st.ok()) {
      (void)r.Delete(*id, true);
      return Fail(st);
    }
    return 0;
  }
  auto code = r.RunForeground(o);
  if (!code.ok()) return Fail(code.status());
  return *code;
}

int CmdStart(runtime::Runtime& r, int argc, char** argv) {
  auto a = ParseArgs(argc, argv, 1, {}, false);
  if (!a.ok()) return Fail(a.status());
  auto id = OneId(*a, "start");
  if (!id.ok()) return Fail(id.status());
  Status st = r.Start(*id);
  return st.ok() ? 0 : Fail(st);
}

int CmdState(runtime::Runtime& r, int argc, char** argv) {
  auto a = ParseArgs(argc, argv, 1, {}, false);
  if (!a.ok()) return Fail(a.status());
  auto id = OneId(*a, "state");
  if (!id.ok()) return Fail(id.status());
  auto s = r.State(*id);
  if (!s.ok()) return Fail(s.status());
  std::printf("%s\n", runtime::StateJson(*s, true).c_str());
  return 0;
}

int CmdKill(runtime::Runtime& r, int argc, char** argv) {
  auto a = ParseArgs(argc, argv, 1, {{"all", 'a', false}}, false);
  if (!a.ok()) return Fail(a.status());
  if (a->positional.empty() || a->positional.size() > 2)
    return Fail(Invalid("kill: usage: kill [--all] <id> [signal]"));
  int sig = SIGTERM;
  if (a->positional.size() == 2) {
    auto s = runtime::ParseSignal(a->positional[1]);
    if (!s) return Fail(Invalid("kill: unknown signal \"" + a->positional[1] + "\""));
    sig = *s;
  }
  Status st = r.Kill(a->positional[0], sig, a->Has("all"));
  return st.ok() ? 0 : Fail(st);
}

int CmdDelete(runtime::Runtime& r, int argc, char** argv) {
  auto a = ParseArgs(argc, argv, 1, {{"force", 'f', false}}, false);
  if (!a.ok()) return Fail(a.status());
  auto id = OneId(*a, "delete");
  if (!id.ok()) return Fail(id.status());
  Status st = r.Delete(*id, a->Has("force"));
  return st.ok() ? 0 : Fail(st);
}

int CmdList(runtime::Runtime& r, int argc, char** argv) {
  auto a = ParseArgs(argc, argv, 1, {{"format", 'f', true}, {"quiet", 'q', false}}, false);
  if (!a.ok()) return Fail(a.status());
  auto list = r.List();
  if (!list.ok()) return Fail(list.status());
  if (a->Has("quiet")) {
    for (const auto& c : *list) std::printf("%s\n", c.id.c_str());
    return 0;
  }
  if (a->Get("format", "table") == "json") {
    std::string out = "[";
    for (size_t i = 0; i < list->size(); ++i) {
      if (i) out += ",";
      out += runtime::StateJson((*list)[i], false);
    }
    std::printf("%s]\n", out.c_str());
    return 0;
  }
  std::printf("%-12s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
              "OWNER");
  for (const auto& c : *list)
    std::printf("%-12s %-8d %-10s %-40s %-30s %s\n", c.id.c_str(), c.pid, c.status.c_str(),
                c.bundle.c_str(), c.created.c_str(), c.owner.c_str());
  return 0;
}

int CmdPause(runtime::Runtime& r, int argc, char** argv) {
  auto a = ParseArgs(argc, argv, 1, {}, false);
  if (!a.ok()) return Fail(a.status());
  auto id = OneId(*a, "pause");
  if (!id.ok()) return Fail(id.status());
  Status st = r.Pause(*id);
  return st.ok() ? 0 : Fail(st);
}

int CmdResume(runtime::Runtime& r, int argc, char** argv) {
  auto a = ParseArgs(argc, argv, 1, {}, false);
  if (!a.ok()) return Fail(a.status());
  auto id = OneId(*a, "resume");
  if (!id.ok()) return Fail(id.status());
  Status st = r.Resume(*id);
  return st.ok() ? 0 : Fail(st);
}

int CmdPs(runtime::Runtime& r, int argc, char** argv) {
  auto a = ParseArgs(argc, argv, 1, {{"format", 'f', true}}, true);
  if (!a.ok()) return Fail(a.status());
  if (a->positional.empty()) return Fail(Invalid("ps: expected a container id"));
  auto pids = r.Pids(a->positional[0]);
  if (!pids.ok()) return Fail(pids.status());
  if (a->Get("format", "table") == "json") {
    std::string out = "[";
    for (size_t i = 0; i < pids->size(); ++i) out += (i ? "," : "") + std::to_string((*pids)[i]);
    std::printf("%s]\n", out.c_str());
    return 0;
  }
  std::string cmd = "ps";
  std::vector<std::string> ps_args(a->positional.begin() + 1, a->positional.end());
  if (ps_args.empty()) ps_args = {"-ef"};
  for (const auto& s : ps_args) cmd += " '" + s + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return Fail(ErrnoStatus("run ps", errno));
  std::set<pid_t> want(pids->begin(), pids->end());
  char line[4096];
  int pid_col = -1;
  bool header = true;
  while (std::fgets(line, sizeof line, p)) {
    std::istringstream in(line);
    std::vector<std::string> cols;
    std::string w;
    while (in >> w) cols.push_back(w);
    if (header) {
      for (size_t i = 0; i < cols.size(); ++i)
        if (cols[i] == "PID") pid_col = static_cast<int>(i);
      std::fputs(line, stdout);
      header = false;
      if (pid_col < 0) {
        ::pclose(p);
        return Fail(Invalid("ps: output has no PID column"));
      }
      continue;
    }
    if (pid_col < static_cast<int>(cols.size()) && want.count(std::atoi(cols[pid_col].c_str())))
      std::fputs(line, stdout);
  }
  ::pclose(p);
  return 0;
}

namespace {
std::string StatsJson(const std::string& id, const runtime::CgroupStats& s) {
  boost::json::object d;
  d["cpu"] = boost::json::object{
      {"usage",
       boost::json::object{
           {"total", s.cpu_usage_ns}, {"user", s.cpu_user_ns}, {"kernel", s.cpu_system_ns}}},
      {"throttling", boost::json::object{{"periods", s.cpu_periods},
                                         {"throttledPeriods", s.cpu_throttled_periods},
                                         {"throttledTime", s.cpu_throttled_ns}}}};
  d["memory"] = boost::json::object{
      {"cache", s.memory_cache},
      {"usage", boost::json::object{{"limit", s.memory_limit},
                                    {"usage", s.memory_usage},
                                    {"max", s.memory_max_usage},
                                    {"failcnt", s.memory_failcnt}}},
      {"swap", boost::json::object{{"limit", s.swap_limit}, {"usage", s.swap_usage}}},
      {"raw", boost::json::object{{"rss", s.memory_rss}, {"oom_kill", s.oom_kills}}}};
  d["pids"] = boost::json::object{{"current", s.pids_current}, {"limit", s.pids_limit}};
  boost::json::object o{{"type", "stats"}, {"id", id}, {"data", std::move(d)}};
  return boost::json::serialize(o);
}
}  // namespace

int CmdEvents(runtime::Runtime& r, int argc, char** argv) {
  auto a = ParseArgs(argc, argv, 1, {{"stats", 0, false}, {"interval", 0, true}}, false);
  if (!a.ok()) return Fail(a.status());
  auto id = OneId(*a, "events");
  if (!id.ok()) return Fail(id.status());
  int interval_ms = 5000;
  if (a->Has("interval")) {
    std::string v = a->Get("interval");
    double n = std::atof(v.c_str());
    if (v.size() > 2 && v.substr(v.size() - 2) == "ms")
      interval_ms = static_cast<int>(n);
    else if (!v.empty() && v.back() == 'm')
      interval_ms = static_cast<int>(n * 60000);
    else
      interval_ms = static_cast<int>(n * 1000);
    if (interval_ms <= 0) return Fail(Invalid("events: --interval must be positive"));
  }
  uint64_t ooms = 0;
  for (bool first = true;; first = false) {
    auto s = r.Stats(*id);
    if (!s.ok()) return first ? Fail(s.status()) : 0;
    if (a->Has("stats")) {
      std::printf("%s\n", StatsJson(*id, *s).c_str());
      return 0;
    }
    if (s->oom_kills > ooms && !first)
      std::printf("{\"type\":\"oom\",\"id\":%s}\n", JsonEscape(*id).c_str());
    ooms = s->oom_kills;
    std::printf("%s\n", StatsJson(*id, *s).c_str());
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
}

int CmdExec(runtime::Runtime& r, int argc, char** argv) {
  auto a = ParseArgs(argc, argv, 1,
                     {{"process", 'p', true},
                      {"console-socket", 0, true},
                      {"cwd", 0, true},
                      {"env", 'e', true, true},
                      {"tty", 't', false},
                      {"user", 'u', true},
                      {"additional-gids", 'g', true, true},
                      {"detach", 'd', false},
                      {"pid-file", 0, true},
                      {"process-label", 0, true},
                      {"apparmor", 0, true},
                      {"no-new-privs", 0, false},
                      {"cap", 'c', true, true},
                      {"preserve-fds", 0, true},
                      {"pidfd-socket", 0, true},
                      {"ignore-paused", 0, false},
                      {"report-fd", 0, true}},
                     true);
  if (!a.ok()) return Fail(a.status());
  if (a->Has("report-fd")) SetReportFd(std::atoi(a->Get("report-fd").c_str()));
  if (a->positional.empty()) return Fail(Invalid("exec: expected a container id"));
  std::string id = a->positional[0];
  runtime::ExecOptions o;
  o.id = id;
  o.console_socket = a->Get("console-socket");
  o.pid_file = a->Get("pid-file");
  o.detach = a->Has("detach");
  o.preserve_fds = std::atoi(a->Get("preserve-fds", "0").c_str());
  if (a->Has("report-fd")) o.report_fd = std::atoi(a->Get("report-fd").c_str());
  if (a->Has("process")) {
    auto text = runtime::ReadWholeFile(a->Get("process"));
    if (!text.ok()) return Fail(text.status());
    auto p = runtime::ParseProcess(*text);
    if (!p.ok()) return Fail(p.status());
    o.process = std::move(*p);
  } else {
    auto spec = r.ContainerSpec(id);
    if (!spec.ok()) return Fail(spec.status());
    o.process = spec->process;
    o.process.args.assign(a->positional.begin() + 1, a->positional.end());
    if (o.process.args.empty()) return Fail(Invalid("exec: no command given"));
    o.process.terminal = a->Has("tty");
    if (a->Has("cwd")) o.process.cwd = a->Get("cwd");
    for (const auto& e : a->lists["env"]) o.process.env.push_back(e);
    if (a->Has("user")) {
      std::string u = a->Get("user");
      size_t c = u.find(':');
      o.process.user.uid = static_cast<uint32_t>(std::atoi(u.substr(0, c).c_str()));
      if (c != std::string::npos)
        o.process.user.gid = static_cast<uint32_t>(std::atoi(u.substr(c + 1).c_str()));
    }
    for (const auto& g : a->lists["additional-gids"])
      o.process.user.additional_gids.push_back(static_cast<uint32_t>(std::atoi(g.c_str())));
    if (a->Has("no-new-privs")) o.process.no_new_privileges = true;
    for (const auto& c : a->lists["cap"]) {
      auto n = runtime::CapabilityFromName(c);
      if (!n) return Fail(Invalid("exec: unknown capability \"" + c + "\""));
      for (auto* set :
           {&o.process.caps.bounding, &o.process.caps.effective, &o.process.caps.permitted})
        set->push_back(*n);
      o.process.caps.present = true;
    }
  }
  auto rc = r.Exec(o);
  if (!rc.ok()) return Fail(rc.status());
  return o.detach ? 0 : *rc;
}

}  // namespace sampan::cmd::rt
