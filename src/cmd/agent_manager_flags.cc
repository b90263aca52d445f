// The node agent's flags for container log rotation, static pods and image GC (named as the
// kubelet's), shared by `sampan agent` and `sampan server`.
#include <cctype>
#include <chrono>
#include <cstdio>
#include <string>

#include "api/quantity.h"
#include "cmd/agent_flags.h"
#include "cmd/flags.h"

namespace sampan::cmd {

namespace {

// A Go duration ("300ms", "1.5h", "2m30s", "0"); false if malformed.
bool ParseGoDuration(const std::string& s, std::chrono::milliseconds* out) {
  if (s == "0") {
    *out = std::chrono::milliseconds(0);
    return true;
  }
  if (s.empty()) return false;
  double total_ms = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == start) return false;
    char* end = nullptr;
    std::string num = s.substr(start, i - start);
    double n = std::strtod(num.c_str(), &end);
    if (*end) return false;
    size_t u = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string unit = s.substr(u, i - u);
    double ms = unit == "ms"   ? 1
                : unit == "s"  ? 1000
                : unit == "m"  ? 60000
                : unit == "h"  ? 3600000
                : unit == "us" ? 0.001
                : unit == "ns" ? 1e-6
                               : -1;
    if (ms < 0) return false;
    total_ms += n * ms;
  }
  *out = std::chrono::milliseconds(static_cast<int64_t>(total_ms));
  return true;
}

}  // namespace

void PrintAgentManagerFlags(FILE* out) {
  std::fprintf(
      out,
      "  --container-log-max-size Q  rotate a container's log at this size (default 10Mi)\n"
      "  --container-log-max-files N log files kept per container, >= 2 (default 5)\n"
      "  --container-log-monitor-interval D\n"
      "                              how often the logs' sizes are checked (default 10s)\n"
      "  --pod-manifest-path DIR     run the pods of the manifest files in DIR (static pods)\n"
      "  --file-check-frequency D    how often DIR is read again (default 20s)\n"
      "  --image-gc-high-threshold P image GC starts above P%% usage of the image filesystem\n"
      "                              (default 85; 100 turns image GC off)\n"
      "  --image-gc-low-threshold P  image GC frees space down to P%% (default 80)\n"
      "  --image-minimum-gc-age D    unused images younger than D are kept (default 2m;\n"
      "                              the kubelet's --minimum-image-ttl-duration is the same)\n"
      "  --image-gc-period D         how often image GC runs (default 5m)\n"
      "  --ingress-http-port N       the ingress proxy's HTTP port (default 80; -1: off)\n"
      "  --ingress-https-port N      the ingress proxy's HTTPS port (default 443; -1: off)\n");
}

bool ParseAgentManagerFlag(const std::string& a, const std::function<bool(std::string*)>& need,
                           agent::AgentOptions* o, bool* ok) {
  *ok = true;
  std::string v;
  auto bad = [&](const char* what) {
    std::fprintf(stderr, "sampan: invalid value \"%s\" for %s%s\n", v.c_str(), a.c_str(), what);
    *ok = false;
  };
  if (a == "--pod-manifest-path") {
    *ok = need(&o->pod_manifest_path);
  } else if (a == "--container-log-max-size") {
    if (!need(&v)) {
      *ok = false;
    } else if (auto q = api::Quantity::Parse(v); !q.ok() || q->Value() <= 0) {
      bad(" (a quantity such as 10Mi)");
    } else {
      o->container_logs.max_size = q->Value();
    }
  } else if (a == "--container-log-max-files" || a == "--image-gc-high-threshold" ||
             a == "--image-gc-low-threshold") {
    bool files = a == "--container-log-max-files";
    int n = 0;
    if (!need(&v)) {
      *ok = false;
    } else if (!ParseInt(v, &n) || (files && n < 2) || (!files && (n < 0 || n > 100))) {
      bad(files ? " (at least 2)" : " (a percentage, 0-100)");
    } else {
      (files                              ? o->container_logs.max_files
       : a == "--image-gc-high-threshold" ? o->image_gc.high_threshold
                                          : o->image_gc.low_threshold) = n;
    }
  } else if (a == "--container-log-monitor-interval" || a == "--file-check-frequency" ||
             a == "--image-minimum-gc-age" || a == "--minimum-image-ttl-duration" ||
             a == "--image-gc-period") {
    bool min_age = a == "--image-minimum-gc-age" || a == "--minimum-image-ttl-duration";
    std::chrono::milliseconds d{};
    if (!need(&v)) {
      *ok = false;
    } else if (!ParseGoDuration(v, &d) || (!min_age && d.count() <= 0)) {
      bad(" (a duration such as 10s)");
    } else {
      (a == "--container-log-monitor-interval" ? o->container_logs.interval
       : a == "--file-check-frequency"         ? o->file_check_frequency
       : min_age                               ? o->image_gc.min_age
                                               : o->image_gc.period) = d;
    }
  } else if (a == "--ingress-http-port" || a == "--ingress-https-port") {
    int n = 0;
    if (!need(&v)) {
      *ok = false;
    } else if (!ParseInt(v, &n) || n < -1 || n == 0 || n > 65535) {
      bad(" (a port, or -1 for none)");
    } else {
      (a == "--ingress-http-port" ? o->ingress_http_port : o->ingress_https_port) = n;
    }
  } else {
    return false;
  }
  return true;
}

}  // namespace sampan::cmd
