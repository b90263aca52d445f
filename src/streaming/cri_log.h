// Container logs in the CRI file format ("<RFC3339Nano time> <stdout|stderr> <P|F> <text>"
// per line), read back the way the kubelet serves /containerLogs: partial lines joined,
// optional timestamps, tailLines, sinceSeconds/sinceTime, limitBytes, and follow.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "util/status.h"

namespace sampan::streaming {

struct CriEntry {
  int64_t time_ns = 0;   // Unix nanoseconds
  std::string stream;    // "stdout" or "stderr"
  bool partial = false;  // "P": the line continues in the next entry
  std::string text;      // without the trailing newline
};

// Parses one line (without its '\n'). BadRequest if it is not in CRI format.
Result<CriEntry> ParseCriLine(std::string_view line);
// One entry in CRI format, with the trailing newline (for writers of log files).
std::string FormatCriLine(int64_t time_ns, std::string_view stream, bool partial,
                          std::string_view text);
// RFC 3339 with nanoseconds, trailing zeros trimmed (Go's time.RFC3339Nano), UTC.
std::string FormatRfc3339Nano(int64_t time_ns);
// Parses RFC 3339 ("2024-01-02T03:04:05Z", fractions and numeric offsets allowed).
Result<int64_t> ParseRfc3339(std::string_view s);

struct LogReadOptions {
  bool follow = false, timestamps = false;
  std::optional<int64_t> tail_lines, limit_bytes;
  std::optional<int64_t> since_ns;  // absolute: entries older than this are skipped
};

// Streams the log at `path` into `sink` (chunks of rendered output; sink returns false
// to stop). With follow, keeps reading as the file grows until `still_running` returns
// false and the end is reached, or `stop` returns true (polled a few times a second).
Status StreamCriLog(const std::string& path, const LogReadOptions& opts,
                    const std::function<bool(std::string_view)>& sink,
                    const std::function<bool()>& still_running, const std::function<bool()>& stop);

}  // namespace sampan::streaming
