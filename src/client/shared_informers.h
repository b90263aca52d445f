// One Informer per resource, shared by every controller in a process (so pods
// are listed and watched once). Register everything (For(), handlers, indexes)
// before Start(); Start() starts them all, Stop() stops them all.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "client/informer.h"

namespace sampan::client {

class SharedInformers {
 public:
  explicit SharedInformers(RestClient* client,
                           std::chrono::milliseconds resync = std::chrono::milliseconds(0))
      : client_(client), resync_(resync) {}
  ~SharedInformers() { Stop(); }

  // The informer for `r` (all namespaces), created on first use. Not after Start().
  Informer* For(const Resource& r);
  void Start();
  void Stop();
  bool WaitForSync(std::chrono::milliseconds timeout);
  RestClient* client() const { return client_; }

 private:
  RestClient* client_;
  const std::chrono::milliseconds resync_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Informer>> informers_;  // by path; guarded
  bool started_ = false;
};

// The Resource of an object kind (ownerReferences name kinds, not resources);
// nullptr if the kind is not one the client knows.
const Resource* ResourceForKind(std::string_view api_version, std::string_view kind);

}  // namespace sampan::client
