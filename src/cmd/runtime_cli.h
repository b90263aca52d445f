// Shared pieces of the `sampan runtime` subcommands (runc's command line).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/runtime.h"
#include "util/status.h"

namespace sampan::cmd::rt {

// Parsed flags of one subcommand: values by long name, repeated flags in order, positionals.
struct Args {
  std::map<std::string, std::string> values;
  std::map<std::string, std::vector<std::string>> lists;
  std::vector<std::string> positional;
  bool Has(const std::string& k) const { return values.count(k) > 0; }
  std::string Get(const std::string& k, const std::string& d = "") const {
    auto it = values.find(k);
    return it == values.end() ? d : it->second;
  }
};

// One flag: long name, short letter (0 = none), whether it takes a value, repeatable.
struct FlagSpec {
  const char* name;
  char short_name;
  bool takes_value;
  bool repeated = false;
};

// Parses argv[first..]; flags stop at the first positional when `stop_at_positional`
// (for exec/ps, whose trailing words belong to the command). Invalid on unknown flags.
Result<Args> ParseArgs(int argc, char** argv, int first, const std::vector<FlagSpec>& flags,
                       bool stop_at_positional);

// Prints "sampan runtime: <message>" (and logs it to --log); returns 1. With a report fd
// (`exec --report-fd`, the library's helper protocol) the message goes there as
// "E<message>\n" instead of stderr, which belongs to the exec'd process.
int Fail(const Status& st);
void SetReportFd(int fd);

using Cmd = int (*)(runtime::Runtime&, int, char**);
int CmdSpec(runtime::Runtime&, int, char**);
int CmdCreate(runtime::Runtime&, int, char**);
int CmdRun(runtime::Runtime&, int, char**);
int CmdStart(runtime::Runtime&, int, char**);
int CmdState(runtime::Runtime&, int, char**);
int CmdKill(runtime::Runtime&, int, char**);
int CmdDelete(runtime::Runtime&, int, char**);
int CmdList(runtime::Runtime&, int, char**);
int CmdPause(runtime::Runtime&, int, char**);
int CmdResume(runtime::Runtime&, int, char**);
int CmdPs(runtime::Runtime&, int, char**);
int CmdEvents(runtime::Runtime&, int, char**);
int CmdExec(runtime::Runtime&, int, char**);

}  // namespace sampan::cmd::rt
