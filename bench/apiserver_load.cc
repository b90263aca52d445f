// apiserver_load: a lean HTTPS load generator for bench/apiserver.sh — durable creates or gets of
// ConfigMaps, or GET /livez (the cheapest request the server answers: the ceiling that TLS, HTTP and
// the loopback network put on any request on this machine), with N concurrent keep-alive
// connections, one thread each. It uses sampan's client
// transport directly (no JSON parsing of replies) so that, on a small machine, the client costs
// far less CPU than the server it measures. Not a test.
//
//   apiserver_load --kubeconfig FILE --op create|get|livez [--concurrency N] [--count N]
//                  [--duration S] [--prefix P] [--existing N] [--namespace NS] [--value-bytes B]
//
// Prints one JSON line: op, concurrency, ok, errors, seconds, per_second, p50_ms, p99_ms, connect_s,
// client_cpu_s (this process's user+system CPU time).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cpu_seconds.h"
#include "client/config.h"
#include "client/transport.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace http = boost::beast::http;
using sampan::client::internal::Dialer;
using sampan::client::internal::Request;

struct Options {
  std::string kubeconfig, op = "create", prefix = "cm", ns = "bench";
  int concurrency = 1;
  long count = 5000;
  double duration = 15;
  long existing = 1000;
  size_t value_bytes = 256;
};

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "apiserver_load: %s\n", msg.c_str());
  std::exit(1);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--kubeconfig") o.kubeconfig = next();
    else if (a == "--op") o.op = next();
    else if (a == "--concurrency") o.concurrency = std::atoi(next().c_str());
    else if (a == "--count") o.count = std::atol(next().c_str());
    else if (a == "--duration") o.duration = std::atof(next().c_str());
    else if (a == "--prefix") o.prefix = next();
    else if (a == "--existing") o.existing = std::atol(next().c_str());
    else if (a == "--namespace") o.ns = next();
    else if (a == "--value-bytes") o.value_bytes = std::strtoul(next().c_str(), nullptr, 10);
    else Die("unknown flag " + a);
  }
  if (o.kubeconfig.empty()) Die("--kubeconfig is required");
  if (o.op != "create" && o.op != "get" && o.op != "livez") Die("--op must be create, get or livez");
  if (o.concurrency < 1) Die("--concurrency must be >= 1");
  if (o.existing < 1) o.existing = 1;
  return o;
}


}  // namespace

int main(int argc, char** argv) {
  Options o = Parse(argc, argv);
  auto cfg = sampan::client::LoadKubeconfig(o.kubeconfig);
  if (!cfg.ok()) Die(cfg.status().ToString());
  auto dialer = Dialer::New(*cfg);
  if (!dialer.ok()) Die(dialer.status().ToString());
  const auto& ep = (*dialer)->endpoint();
  const std::string host = ep.host + ":" + ep.port;
  const std::string collection = ep.base_path + "/api/v1/namespaces/" + o.ns + "/configmaps";
  const std::string value(o.value_bytes, 'v');

  std::atomic<long> next{0}, ok{0}, errors{0};
  std::mutex mu;
  std::vector<double> latencies_ms;
  std::string first_error;
  // Every client connects (TLS handshake with the client certificate) before the clock starts:
  // the figure is requests per second on established keep-alive connections, and at c=256 the
  // handshakes alone were a tenth of a one-second run. Their time is reported as connect_s.
  const auto connect_start = Clock::now();
  std::latch connected(o.concurrency), go(1);
  Clock::time_point start, deadline;

  auto worker = [&] {
    std::vector<double> mine;
    auto conn = (*dialer)->Connect(std::chrono::seconds(10));
    connected.count_down();
    go.wait();
    for (;;) {
      long i = next.fetch_add(1);
      if (i >= o.count || Clock::now() >= deadline) break;
      if (!conn.ok()) {
        conn = (*dialer)->Connect(std::chrono::seconds(10));
        if (!conn.ok()) {
          errors++;
          std::lock_guard<std::mutex> l(mu);
          if (first_error.empty()) first_error = conn.status().ToString();
          continue;
        }
      }
      Request req;
      req.version(11);
      req.set(http::field::host, host);
      req.set(http::field::accept, "application/json");
      req.set(http::field::user_agent, "apiserver_load");
      if (o.op == "create") {
        req.method(http::verb::post);
        req.target(collection);
        req.set(http::field::content_type, "application/json");
        req.body() = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" +
                     o.prefix + "-" + std::to_string(i) + "\"},\"data\":{\"v\":\"" + value + "\"}}";
      } else if (o.op == "get") {
        req.method(http::verb::get);
        req.target(collection + "/" + o.prefix + "-" + std::to_string(i % o.existing));
      } else {
        req.method(http::verb::get);
        req.target(ep.base_path + "/livez");
      }
      req.prepare_payload();
      auto t0 = Clock::now();
      auto resp = (*conn)->RoundTrip(req, std::chrono::seconds(30));
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      int want = o.op == "create" ? 201 : 200;
      if (resp.ok() && static_cast<int>(resp->result_int()) == want) {
        ok++;
        mine.push_back(ms);
      } else {
        errors++;
        std::lock_guard<std::mutex> l(mu);
        if (first_error.empty()) {
          first_error = resp.ok() ? std::to_string(resp->result_int()) + " " + resp->body().substr(0, 200)
                                  : resp.status().ToString();
        }
      }
      if (!resp.ok() || !(*conn)->reusable()) conn = (*dialer)->Connect(std::chrono::seconds(10));
    }
    std::lock_guard<std::mutex> l(mu);
    latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < o.concurrency; ++t) threads.emplace_back(worker);
  connected.wait();
  start = Clock::now();
  deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration));
  double connect_secs = std::chrono::duration<double>(start - connect_start).count();
  go.count_down();
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();

  std::sort(latencies_ms.begin(), latencies_ms.end());
  std::string err = first_error.substr(0, 120);
  for (char& c : err) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  auto pct = [&](double p) {
    if (latencies_ms.empty()) return 0.0;
    size_t idx = std::min(latencies_ms.size() - 1, static_cast<size_t>(p * latencies_ms.size()));
    return latencies_ms[idx];
  };
  std::printf(
      "{\"op\": \"%s\", \"concurrency\": %d, \"ok\": %ld, \"errors\": %ld, \"seconds\": %.3f, "
      "\"per_second\": %.1f, \"p50_ms\": %.2f, \"p99_ms\": %.2f, \"connect_s\": %.3f, "
      "\"client_cpu_s\": %.2f, \"client\": \"apiserver_load (C++)\"%s%s%s}\n",
      o.op.c_str(), o.concurrency, ok.load(), errors.load(), secs, ok.load() / secs, pct(0.50),
      pct(0.99), connect_secs, ProcessCpuSeconds(), first_error.empty() ? "" : ", \"first_error\": \"",
      err.c_str(), first_error.empty() ? "" : "\"");
  return errors.load() > 0 && ok.load() == 0 ? 1 : 0;
}
