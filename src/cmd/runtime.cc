// `sampan runtime`: global flags, the sealed re-exec (CVE-2019-5736), subcommand dispatch.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "cmd/commands.h"
#include "cmd/runtime_cli.h"
#include "runtime/exe_seal.h"
#include "runtime/sys.h"

namespace sampan::cmd {
namespace rt {

namespace {
std::string g_log_path;
bool g_log_json = false;
int g_report_fd = -1;

}  // namespace

void SetReportFd(int fd) { g_report_fd = fd; }

int Fail(const Status& st) {
  if (g_report_fd >= 0) {
    std::string line = "E" + st.message() + "\n";
    (void)runtime::WriteAll(g_report_fd, line.data(), line.size());
  } else {
    std::fprintf(stderr, "sampan runtime: %s\n", st.message().c_str());
  }
  if (!g_log_path.empty()) {
    FILE* f = std::fopen(g_log_path.c_str(), "a");
    if (f) {
      std::string ts = runtime::NowRfc3339Nano();
      if (g_log_json) {
        std::string msg;
        for (char c : st.message()) {
          if (c == '"' || c == '\\') msg += '\\';
          msg += c;
        }
        std::fprintf(f, "{\"level\":\"error\",\"msg\":\"%s\",\"time\":\"%s\"}\n", msg.c_str(),
                     ts.c_str());
      } else {
        std::fprintf(f, "time=\"%s\" level=error msg=\"%s\"\n", ts.c_str(), st.message().c_str());
      }
      std::fclose(f);
    }
  }
  return 1;
}

Result<Args> ParseArgs(int argc, char** argv, int first, const std::vector<FlagSpec>& flags,
                       bool stop_at_positional) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--") {
      for (++i; i < argc; ++i) a.positional.push_back(argv[i]);
      break;
    }
    if (s.size() < 2 || s[0] != '-') {
      a.positional.push_back(s);
      if (stop_at_positional && !a.positional.empty()) {
        for (++i; i < argc; ++i) a.positional.push_back(argv[i]);
        break;
      }
      continue;
    }
    std::string name, value;
    bool has_value = false;
    const FlagSpec* f = nullptr;
    if (s[1] == '-') {
      name = s.substr(2);
      size_t eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      for (const auto& fs : flags)
        if (name == fs.name) f = &fs;
    } else {
      for (const auto& fs : flags)
        if (fs.short_name == s[1]) f = &fs;
      if (f && s.size() > 2) {
        value = s.substr(s[2] == '=' ? 3 : 2);
        has_value = true;
      }
    }
    if (!f) return Invalid("unknown flag " + s);
    if (f->takes_value && !has_value) {
      if (i + 1 >= argc) return Invalid("flag " + s + " needs a value");
      value = argv[++i];
    }
    if (!f->takes_value && !has_value) value = "true";
    if (f->repeated) a.lists[f->name].push_back(value);
    a.values[f->name] = value;
  }
  return a;
}

}  // namespace rt

int RuntimeMain(int argc, char** argv) {
  using namespace rt;
  runtime::RuntimeOptions opts;
  int i = 1;
  for (; i < argc; ++i) {
    std::string s = argv[i];
    if (s.empty() || s[0] != '-') break;
    auto value = [&](const std::string& flag) -> std::string {
      size_t eq = s.find('=');
      if (eq != std::string::npos) return s.substr(eq + 1);
      if (i + 1 < argc) return argv[++i];
      std::fprintf(stderr, "sampan runtime: flag %s needs a value\n", flag.c_str());
      std::exit(1);
    };
    std::string name = s.substr(0, s.find('='));
    if (name == "--root") {
      opts.root = runtime::AbsPath(value(name));
    } else if (name == "--log") {
      g_log_path = value(name);
    } else if (name == "--log-format") {
      g_log_json = value(name) == "json";
    } else if (name == "--systemd-cgroup") {
      opts.systemd_cgroup = true;
    } else if (name == "--debug") {
    } else if (name == "--rootless" || name == "--criu") {
      if (s.find('=') == std::string::npos) value(name);
    } else if (name == "--version" || name == "-v") {
      std::printf("sampan runtime version 0.1.0\nspec: 1.0.2\n");
      return 0;
    } else if (name == "--help" || name == "-h") {
      break;
    } else {
      return Fail(Invalid("unknown global flag " + s));
    }
  }
  struct Sub {
    const char* name;
    Cmd fn;
    bool sealed;
  };
  static const Sub kSubs[] = {
      {"spec", CmdSpec, false},     {"create", CmdCreate, true}, {"run", CmdRun, true},
      {"start", CmdStart, false},   {"state", CmdState, false},  {"kill", CmdKill, false},
      {"delete", CmdDelete, false}, {"list", CmdList, false},    {"pause", CmdPause, false},
      {"resume", CmdResume, false}, {"ps", CmdPs, false},        {"events", CmdEvents, false},
      {"exec", CmdExec, true}};
  if (i >= argc || std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0 ||
      std::strcmp(argv[i], "help") == 0) {
    std::printf(
        "Usage: sampan runtime [--root DIR] [--log FILE] [--log-format text|json] "
        "[--systemd-cgroup] <command> [flags] <id>\n\nCommands:");
    for (const auto& s : kSubs) std::printf(" %s", s.name);
    std::printf("\n");
    return i >= argc ? 1 : 0;
  }
  for (const auto& s : kSubs) {
    if (std::strcmp(argv[i], s.name) != 0) continue;
    if (s.sealed && !getenv("SAMPAN_NO_SEAL")) {
      // Rebuild the full command line ("sampan runtime ...") for the re-exec.
      std::vector<char*> full;
      full.push_back(const_cast<char*>("sampan"));
      full.push_back(const_cast<char*>("runtime"));
      for (int k = 1; k < argc; ++k) full.push_back(argv[k]);
      full.push_back(nullptr);
      // CVE-2019-5736: never enter a container from a writable host binary.
      Status st = runtime::RexecProtected(full.data());
      if (!st.ok()) std::fprintf(stderr, "sampan runtime: warning: %s\n", st.message().c_str());
    }
    runtime::Runtime rtm(opts);
    return s.fn(rtm, argc - i, argv + i);
  }
  return Fail(Invalid(std::string("unknown command \"") + argv[i] + "\""));
}

}  // namespace sampan::cmd
