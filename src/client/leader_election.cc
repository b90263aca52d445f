#include "client/leader_election.h"

#include "client/informer.h"
#include "util/clock.h"
#include "util/log.h"

namespace sampan::client {
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

LeaderElector::LeaderElector(RestClient* client, LeaderElectionConfig config,
                             std::function<void()> on_started, std::function<void()> on_stopped)
    : client_(client),
      cfg_(std::move(config)),
      on_started_(std::move(on_started)),
      on_stopped_(std::move(on_stopped)) {}

LeaderElector::~LeaderElector() { Stop(); }

void LeaderElector::Start() {
  thread_ = std::thread([this] { Loop(); });
}

bool LeaderElector::IsLeader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leader_;
}

bool LeaderElector::Sleep(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopping_; });
  return !stopping_;
}

void LeaderElector::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

bool LeaderElector::TryAcquireOrRenew() {
  const int64_t now_ns = Clock::Real().NowUnixNanos();
  const std::string now =
      FormatRfc3339Micro(now_ns / 1000000000, static_cast<int32_t>(now_ns % 1000000000));
  const int64_t duration_s = std::max<int64_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(cfg_.lease_duration).count());
  auto got = client_->Get(resources::kLeases, cfg_.lease_namespace, cfg_.lease_name);
  if (!got.ok()) {
    if (got.status().code() != Code::kNotFound) {
      LOG(WARNING) << "leader election: reading lease " << cfg_.lease_namespace << "/"
                   << cfg_.lease_name << ": " << got.status().ToString();
      return false;
    }
    json::object lease{
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", json::object{{"name", cfg_.lease_name}, {"namespace", cfg_.lease_namespace}}},
        {"spec", json::object{{"holderIdentity", cfg_.identity},
                              {"leaseDurationSeconds", duration_s},
                              {"acquireTime", now},
                              {"renewTime", now},
                              {"leaseTransitions", 0}}}};
    auto created = client_->Create(resources::kLeases, cfg_.lease_namespace, lease);
    return created.ok();
  }
  json::object lease = std::move(*got);
  json::object spec;
  if (auto* s = lease.if_contains("spec"); s && s->is_object()) spec = s->as_object();
  auto str = [&](const char* k) -> std::string {
    auto* v = spec.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  std::string holder = str("holderIdentity");
  std::string record = holder + "|" + str("renewTime");
  int64_t their_duration = duration_s;
  if (auto* d = spec.if_contains("leaseDurationSeconds"); d && d->is_int64())
    their_duration = d->as_int64();
  auto steady_now = SteadyClock::now();
  if (record != observed_record_) {
    observed_record_ = record;
    observed_at_ = steady_now;
  }
  bool ours = holder == cfg_.identity;
  if (!ours && !holder.empty() &&
      observed_at_ + std::chrono::seconds(their_duration) > steady_now) {
    return false;  // someone else holds a live lease
  }
  int64_t transitions = 0;
  if (auto* t = spec.if_contains("leaseTransitions"); t && t->is_int64())
    transitions = t->as_int64();
  if (!ours) {
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = transitions + 1;
  }
  spec["holderIdentity"] = cfg_.identity;
  spec["leaseDurationSeconds"] = duration_s;
  spec["renewTime"] = now;
  lease["spec"] = std::move(spec);
  auto updated = client_->Update(resources::kLeases, cfg_.lease_namespace, lease);
  if (!updated.ok()) {
    if (updated.status().code() != Code::kConflict)
      LOG(WARNING) << "leader election: updating lease: " << updated.status().ToString();
    return false;
  }
  if (auto* s = updated->if_contains("spec"); s && s->is_object()) {
    auto* r = s->as_object().if_contains("renewTime");
    observed_record_ =
        cfg_.identity + "|" + (r && r->is_string() ? std::string(r->as_string()) : "");
    observed_at_ = steady_now;
  }
  return true;
}

void LeaderElector::Release() {
  auto got = client_->Get(resources::kLeases, cfg_.lease_namespace, cfg_.lease_name);
  if (!got.ok()) return;
  auto* s = got->if_contains("spec");
  if (!s || !s->is_object()) return;
  auto* h = s->as_object().if_contains("holderIdentity");
  if (!h || !h->is_string() || h->as_string() != cfg_.identity) return;
  s->as_object()["holderIdentity"] = "";
  s->as_object()["leaseDurationSeconds"] = 1;
  auto r = client_->Update(resources::kLeases, cfg_.lease_namespace, *got);
  if (!r.ok()) LOG(WARNING) << "leader election: releasing lease: " << r.status().ToString();
}

void LeaderElector::Loop() {
  for (;;) {
    // Campaign until we hold the lease.
    while (!TryAcquireOrRenew()) {
      if (!Sleep(cfg_.retry_period)) return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
      leader_ = true;
    }
    LOG(INFO) << "leader election: " << cfg_.identity << " became leader of "
              << cfg_.lease_namespace << "/" << cfg_.lease_name;
    if (on_started_) on_started_();
    // Renew; give up when no renewal succeeded within renew_deadline.
    auto last_renew = SteadyClock::now();
    bool stopping = false;
    for (;;) {
      if (!Sleep(cfg_.retry_period)) {
        stopping = true;
        break;
      }
      if (TryAcquireOrRenew()) {
        last_renew = SteadyClock::now();
      } else if (SteadyClock::now() - last_renew > cfg_.renew_deadline) {
        break;
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      leader_ = false;
    }
    LOG(INFO) << "leader election: " << cfg_.identity << " stopped leading";
    if (on_stopped_) on_stopped_();
    if (stopping) {
      if (cfg_.release_on_stop) Release();
      return;
    }
  }
  // Stopped right after acquiring.
  if (cfg_.release_on_stop) Release();
}

}  // namespace sampan::client
