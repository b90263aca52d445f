// Scheduler throughput through the API: creates N pending pods with T client
// threads while watching them, and reports when each was seen bound (nodeName set
// in a watch event) — pods/s bound end to end, and its ratio to kube-scheduler's
// scheduler_perf floor of 680 pods/s (5,000 nodes / 10,000 pods).
//
//   scheduler_bench --kubeconfig FILE [--pods 10000] [--threads 16] [--namespace bench]
//                   [--timeout 600] [--scheduler-cmd "sampan scheduler --kubeconfig FILE"]
//
// With --scheduler-cmd the pods are all created first (the server runs no scheduler), then
// the command starts one and the throughput is the bind window's, as scheduler_perf measures.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/config.h"
#include "client/rest_client.h"

namespace json = boost::json;
using namespace sampan;
using Clock = std::chrono::steady_clock;

namespace {

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string Str(const json::object& o, std::string_view a, std::string_view b) {
  auto* x = o.if_contains(a);
  if (!x || !x->is_object()) return "";
  auto* y = x->as_object().if_contains(b);
  return y && y->is_string() ? std::string(y->as_string()) : "";
}

}  // namespace

int main(int argc, char** argv) {
  std::string kubeconfig, ns = "bench";
  int pods = 10000, threads = 16, timeout = 600;
  // Pending first (scheduler_perf's way): every pod is created while no scheduler runs, then
  // this command starts one, and the throughput is taken over the bind window.
  std::string scheduler_cmd;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--kubeconfig")
      kubeconfig = v;
    else if (a == "--pods")
      pods = std::stoi(v);
    else if (a == "--threads")
      threads = std::stoi(v);
    else if (a == "--namespace")
      ns = v;
    else if (a == "--timeout")
      timeout = std::stoi(v);
    else if (a == "--scheduler-cmd")
      scheduler_cmd = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  auto cfg = client::LoadKubeconfig(kubeconfig);
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", cfg.status().ToString().c_str());
    return 1;
  }
  cfg->user_agent = "scheduler-bench";
  auto c = client::RestClient::New(*cfg);
  if (!c.ok()) return 1;
  client::RestClient* rest = c->get();
  namespace res = client::resources;
  json::object nso{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}};
  (void)rest->Create(res::kNamespaces, "", nso);

  // Watch first, from the list's version, so no binding is missed.
  auto list = rest->List(res::kPods, ns, {});
  if (!list.ok()) return 1;
  client::ListOptions wo;
  wo.resource_version = Str(*list, "metadata", "resourceVersion");
  wo.timeout_seconds = timeout + 60;
  auto watch = rest->Watch(res::kPods, ns, wo);
  if (!watch.ok()) {
    std::fprintf(stderr, "watch: %s\n", watch.status().ToString().c_str());
    return 1;
  }
  std::mutex mu;
  std::map<std::string, Clock::time_point> bound_at, created_at;
  std::atomic<int> bound{0}, running{0};
  std::set<std::string> running_seen;
  std::thread watcher([&] {
    client::WatchEvent ev;
    for (;;) {
      auto more = (*watch)->Next(&ev);
      if (!more.ok() || !*more) return;
      std::string name = Str(ev.object, "metadata", "name");
      auto now = Clock::now();
      std::lock_guard<std::mutex> lock(mu);
      if (!Str(ev.object, "spec", "nodeName").empty() && bound_at.emplace(name, now).second)
        ++bound;
      if (Str(ev.object, "status", "phase") == "Running" && running_seen.insert(name).second)
        ++running;
    }
  });

  json::object tmpl = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x",
      "labels":{"app":"bench"}},"spec":{"containers":[{"name":"pause",
      "image":"registry.k8s.io/pause:3.10","resources":{"requests":{"cpu":"100m",
      "memory":"100Mi"}}}]}})")
                          .as_object();
  std::atomic<int> next{0}, failed{0};
  const auto start = Clock::now();
  std::vector<std::thread> creators;
  for (int t = 0; t < threads; ++t) {
    creators.emplace_back([&] {
      for (int i = next++; i < pods; i = next++) {
        json::object pod = tmpl;
        std::string name = "pod-" + std::to_string(i);
        pod["metadata"].as_object()["name"] = name;
        auto t0 = Clock::now();
        auto r = rest->Create(res::kPods, ns, pod);
        if (!r.ok()) {
          ++failed;
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        created_at[name] = t0;
      }
    });
  }
  for (auto& t : creators) t.join();
  const auto created = Clock::now();
  const int ok_pods = pods - failed.load();
  pid_t scheduler_pid = -1;
  if (!scheduler_cmd.empty()) {
    std::printf("pending first: %d pods bound before the scheduler started\n", bound.load());
    const char* sh_argv[] = {"/bin/sh", "-c", scheduler_cmd.c_str(), nullptr};
    if (posix_spawn(&scheduler_pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(sh_argv),
                    environ) != 0) {
      std::fprintf(stderr, "could not start: %s\n", scheduler_cmd.c_str());
      return 1;
    }
  }
  while (bound.load() < ok_pods && Clock::now() - start < std::chrono::seconds(timeout))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto all_bound = Clock::now();
  // Give the hollow nodes a moment to report the last pods Running (reported, not required).
  while (running.load() < ok_pods && Clock::now() - all_bound < std::chrono::seconds(30))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*watch)->Cancel();
  watcher.join();
  if (scheduler_pid > 0) {
    kill(scheduler_pid, SIGTERM);
    waitpid(scheduler_pid, nullptr, 0);
  }

  std::lock_guard<std::mutex> lock(mu);
  std::vector<double> latency;
  Clock::time_point first_bind = Clock::time_point::max(), last_bind = start;
  for (const auto& [name, t] : bound_at) {
    first_bind = std::min(first_bind, t);
    last_bind = std::max(last_bind, t);
    auto it = created_at.find(name);
    if (it != created_at.end()) latency.push_back(Secs(t - it->second) * 1000);
  }
  std::sort(latency.begin(), latency.end());
  auto pct = [&](double p) {
    return latency.empty() ? 0.0
                           : latency[std::min(latency.size() - 1, size_t(p * latency.size()))];
  };
  const double create_s = Secs(created - start);
  const double e2e_s = Secs(last_bind - start);
  const double bind_window_s = bound_at.size() > 1 ? Secs(last_bind - first_bind) : 0;
  const double window_rate = bind_window_s > 0 ? bound_at.size() / bind_window_s : 0.0;
  // With the pods pending first, the creates are not part of what is measured.
  const double e2e_rate = e2e_s > 0 ? bound_at.size() / e2e_s : 0;
  const double rate = !scheduler_cmd.empty() ? window_rate : e2e_rate;
  std::printf(
      "pods created:            %d (%d failed) in %.2f s = %.0f creates/s (%d client threads)\n",
      ok_pods, failed.load(), create_s, ok_pods / create_s, threads);
  std::printf("pods bound:              %zu of %d\n", bound_at.size(), ok_pods);
  std::printf("first create → last bind: %.2f s\n", e2e_s);
  std::printf("first bind → last bind:   %.2f s\n", bind_window_s);
  std::printf("throughput (end to end): %.0f pods/s bound\n", e2e_rate);
  std::printf("throughput (bind window): %.0f pods/s\n", window_rate);
  std::printf("create→bound latency ms: p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n", pct(0.5),
              pct(0.9), pct(0.99), latency.empty() ? 0.0 : latency.back());
  std::printf("pods Running (hollow):   %d\n", running.load());
  std::printf("ratio to 680 pods/s (scheduler_perf floor): %.2f  (target 3,400 = 5.00; %s)\n",
              rate / 680.0, scheduler_cmd.empty() ? "end to end" : "bind window, pods pending first");
  return bound_at.size() == static_cast<size_t>(ok_pods) ? 0 : 1;
}
