// For tests only (client, scheduler and controller tests link sampan_apiserver):
// an in-process API server on an ephemeral HTTPS port with the memory:// store,
// and a RestClient authenticated with the admin certificate it writes.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "apiserver/apiserver.h"
#include "client/config.h"
#include "client/rest_client.h"

namespace sampan::client::testing {

// Polls `pred` until it holds or `timeout` passes (tests wait for eventual states this way,
// never for fixed times). Returns the last result.
template <typename Pred>
bool Eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

class TestApiServer {
 public:
  TestApiServer() {
    char tmpl[] = "/tmp/sampan-client-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl) ? tmpl : "";
    apiserver::Options opt;
    opt.data_dir = dir_;
    opt.datastore_endpoint = "memory://";
    opt.bind_address = "127.0.0.1";
    opt.https_port = 0;
    opt.write_kubeconfig = dir_ + "/kubeconfig.yaml";
    opt.threads = 2;
    opt.local_storage_class = false;  // no default StorageClass: tests make the classes they use
    opt.ingress_class = false;        // nor an IngressClass
    server_ = apiserver::NewApiServer(opt);
    start_status_ = server_->Start();
    if (start_status_.ok()) thread_ = std::thread([this] { server_->Run(); });
    if (start_status_.ok()) start_status_ = CreateDefaultServiceAccounts();
  }
  ~TestApiServer() {
    if (thread_.joinable()) {
      server_->Stop();
      thread_.join();
    }
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  const Status& start_status() const { return start_status_; }
  std::string kubeconfig() const { return dir_ + "/kubeconfig.yaml"; }
  Result<ClientConfig> Config() const { return LoadKubeconfig(kubeconfig()); }
  Result<std::unique_ptr<RestClient>> NewClient() const {
    ASSIGN_OR_RETURN(ClientConfig cfg, Config());
    return RestClient::New(std::move(cfg));
  }
  // The in-process loopback (client/loopback.h) to this server, as system:admin.
  std::shared_ptr<LoopbackServer> Loopback() const {
    return server_->Loopback("system:admin", {"system:masters"});
  }
  // A client on that loopback instead of HTTPS.
  Result<std::unique_ptr<RestClient>> NewLoopbackClient(
      std::shared_ptr<LoopbackServer> loopback = nullptr) const {
    ASSIGN_OR_RETURN(ClientConfig cfg, Config());
    cfg.loopback = loopback ? std::move(loopback) : Loopback();
    return RestClient::New(std::move(cfg));
  }

 private:
  // The ServiceAccount admission step refuses pods whose namespace has no `default` account;
  // there is no serviceaccounts controller here, so make those of the system namespaces.
  Status CreateDefaultServiceAccounts() {
    ASSIGN_OR_RETURN(std::unique_ptr<RestClient> c, NewClient());
    for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
      boost::json::object sa{{"apiVersion", "v1"},
                             {"kind", "ServiceAccount"},
                             {"metadata", boost::json::object{{"name", "default"}}}};
      auto r = c->Create(resources::kServiceAccounts, ns, sa);
      if (!r.ok() && r.status().code() != Code::kAlreadyExists) return r.status();
    }
    return Status::Ok();
  }

  std::string dir_;
  std::unique_ptr<apiserver::ApiServer> server_;
  Status start_status_;
  std::thread thread_;
};

}  // namespace sampan::client::testing
