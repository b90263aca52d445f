#include "client/shared_informers.h"

namespace sampan::client {

Informer* SharedInformers::For(const Resource& r) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string key = r.Path("");
  auto it = informers_.find(key);
  if (it != informers_.end()) return it->second.get();
  SAMPAN_CHECK(!started_);
  auto inf = std::make_unique<Informer>(client_, r, "", ListOptions{}, resync_);
  Informer* raw = inf.get();
  informers_[key] = std::move(inf);
  return raw;
}

void SharedInformers::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return;
  started_ = true;
  for (auto& [k, inf] : informers_) inf->Start();
}

void SharedInformers::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [k, inf] : informers_) inf->Stop();
}

bool SharedInformers::WaitForSync(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<Informer*> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [k, inf] : informers_) all.push_back(inf.get());
  }
  for (Informer* inf : all) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !inf->WaitForSync(left)) return false;
  }
  return true;
}

const Resource* ResourceForKind(std::string_view api_version, std::string_view kind) {
  static const Resource* const kAll[] = {&resources::kPods,
                                         &resources::kNodes,
                                         &resources::kNamespaces,
                                         &resources::kEvents,
                                         &resources::kReplicationControllers,
                                         &resources::kConfigMaps,
                                         &resources::kSecrets,
                                         &resources::kServices,
                                         &resources::kServiceAccounts,
                                         &resources::kEndpoints,
                                         &resources::kReplicaSets,
                                         &resources::kDeployments,
                                         &resources::kDaemonSets,
                                         &resources::kStatefulSets,
                                         &resources::kControllerRevisions,
                                         &resources::kJobs,
                                         &resources::kCronJobs,
                                         &resources::kLeases};
  std::string_view group = api_version;
  if (auto slash = api_version.find('/'); slash != std::string_view::npos) {
    group = api_version.substr(0, slash);
  } else {
    group = "";
  }
  for (const Resource* r : kAll)
    if (r->kind == kind && r->group == group) return r;
  return nullptr;
}

}  // namespace sampan::client
