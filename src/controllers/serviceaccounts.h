// Per-namespace defaults that pods rely on: the ServiceAccount "default"
// (Kubernetes' serviceaccount controller; no token Secret is created, as since
// 1.24) and the ConfigMap "kube-root-ca.crt" holding the cluster CA under
// "ca.crt" (Kubernetes' root-ca-cert-publisher). Both are re-created if deleted
// and the ConfigMap is corrected if edited. Terminating namespaces are skipped.
// Threading as the other controllers: handlers enqueue namespace names.
//
// ConfigMaps are watched through an informer of this controller's own that selects
// metadata.name=kube-root-ca.crt (the API server filters the watch before encoding
// anything), not the shared all-ConfigMaps informer: this controller would otherwise
// receive and decode every ConfigMap write in the cluster to act on one name.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/shared_informers.h"
#include "client/workqueue.h"

namespace sampan::controllers {

class ServiceAccountsController {
 public:
  // `root_ca_pem` empty: no kube-root-ca.crt ConfigMaps are published (and none are watched).
  ServiceAccountsController(client::SharedInformers* informers, std::string root_ca_pem);
  ~ServiceAccountsController();
  // Starts this controller's ConfigMap informer (the shared ones are started by their owner)
  // and the workers.
  void Run(int workers);
  void Stop();
  Status Sync(const std::string& ns);  // public for tests

 private:
  client::RestClient* client_;
  const std::string root_ca_pem_;
  client::Informer* namespaces_;
  client::Informer* accounts_;
  std::unique_ptr<client::Informer> configmaps_;  // kube-root-ca.crt only; null without a CA
  client::WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

}  // namespace sampan::controllers
