// Per-namespace defaults that pods rely on: the ServiceAccount "default"
// (Kubernetes' serviceaccount controller; no token Secret is created, as since
// 1.24) and the ConfigMap "kube-root-ca.crt" holding the cluster CA under
// "ca.crt" (Kubernetes' root-ca-cert-publisher). Both are re-created if deleted
// and the ConfigMap is corrected if edited. Terminating namespaces are skipped.
// Threading as the other controllers: handlers enqueue namespace names.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "client/shared_informers.h"
#include "client/workqueue.h"

namespace sampan::controllers {

class ServiceAccountsController {
 public:
  // `root_ca_pem` empty: no kube-root-ca.crt ConfigMaps are published.
  ServiceAccountsController(client::SharedInformers* informers, std::string root_ca_pem);
  ~ServiceAccountsController();
  void Run(int workers);
  void Stop();
  Status Sync(const std::string& ns);  // public for tests

 private:
  client::RestClient* client_;
  const std::string root_ca_pem_;
  client::Informer* namespaces_;
  client::Informer* accounts_;
  client::Informer* configmaps_;
  client::WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

}  // namespace sampan::controllers
