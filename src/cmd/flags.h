// Command-line flags as sampan's subcommands take them: "--name value" or "--name=value".
//
//   FlagCursor flags("sampan server", argc, argv);
//   while (flags.Next()) {
//     if (flags.name() == "--data-dir") { if (!flags.Value(&dir)) return 2; }
//     ...
//   }
#pragma once

#include <climits>
#include <string>

namespace sampan::cmd {

// Parses a whole decimal int; false for anything else (empty, trailing text, out of range).
bool ParseInt(const std::string& s, int* out);

class FlagCursor {
 public:
  FlagCursor(std::string command, int argc, char** argv)
      : command_(std::move(command)), argc_(argc), argv_(argv) {}
  // Moves to the next argument; false when none is left.
  bool Next();
  // The argument, without an inline "=value" ("--port" for "--port=80").
  const std::string& name() const { return name_; }
  // The flag's value: the inline one, else the next argument. Prints
  // "<command>: flag X needs a value" and returns false when there is none.
  bool Value(std::string* out);
  // An int value in [min, max]; prints "<command>: invalid value "v" for X[: why]" otherwise.
  bool Int(int* out, int min = INT_MIN, int max = INT_MAX, const char* why = nullptr);
  // A boolean flag: "--x" or "--x=true" sets true, "--x=false" false (never takes the next
  // argument); prints "<command>: invalid value ..." for anything else.
  bool Bool(bool* out);

 private:
  std::string command_;
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string name_, inline_value_;
  bool has_inline_ = false;
};

}  // namespace sampan::cmd
