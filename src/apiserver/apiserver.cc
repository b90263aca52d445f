#include "apiserver/apiserver.h"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>
#include <memory>
#include <thread>

#include "api/schema.h"
#include "apiserver/api_handler.h"
#include "apiserver/certs.h"
#include "apiserver/class_admission.h"
#include "apiserver/http.h"
#include "apiserver/kubernetes_service.h"
#include "apiserver/loopback.h"
#include "apiserver/namespace_controller.h"
#include "apiserver/node_join.h"
#include "apiserver/object_cache.h"
#include "apiserver/priority_admission.h"
#include "apiserver/rbac.h"
#include "apiserver/rbac_bootstrap.h"
#include "apiserver/rest.h"
#include "apiserver/rest_internal.h"
#include "apiserver/review.h"
#include "apiserver/sa_tokens.h"
#include "net/host_ip.h"
#include "store/backend.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/thread_name.h"

namespace sampan::apiserver {

namespace {

constexpr auto kCompactEvery = std::chrono::minutes(5);

class ApiServerImpl final : public ApiServer {
 public:
  explicit ApiServerImpl(Options o) : opt_(std::move(o)) {}

  ~ApiServerImpl() override {
    loopback_gate_->Close();
    io_.stop();
    for (auto& io : more_io_) io->stop();
    for (auto& t : threads_) t.join();
  }

  Status Start() override {
    const std::string server_dir = opt_.data_dir + "/server";
    RETURN_IF_ERROR(fs::MakeDirs(server_dir + "/db", 0700));
    std::string url = opt_.datastore_endpoint.empty()
                          ? "sqlite://" + server_dir + "/db/state.db"
                          : opt_.datastore_endpoint;
    ASSIGN_OR_RETURN(backend_, store::OpenBackend(url));
    cache_ = std::make_unique<ObjectCache>(*backend_);
    RETURN_IF_ERROR(cache_->Start());
    registry_ = &api::BuiltinRegistry();
    rest_ = std::make_unique<Rest>(*backend_, *cache_, *registry_);
    if (const api::KindInfo* svc = registry_->FindKind("", "v1", "Service")) {
      services_ = std::make_unique<ServiceAllocator>(opt_.service_network, *cache_,
                                                     ResourcePrefix(*svc));
      rest_->SetServiceAllocator(services_.get());
    }
    handler_ = std::make_unique<ApiHandler>(*rest_, *registry_);
    authz_ = std::make_unique<Authorizer>(*cache_, *registry_,
                                          opt_.authorization_mode == "AlwaysAllow"
                                              ? Authorizer::Mode::kAlwaysAllow
                                              : Authorizer::Mode::kRbac);
    handler_->SetAuthorizer(authz_.get());
    rest_->AddWriteCheck([authz = authz_.get()](const api::KindInfo& kind, const json::object& obj,
                                                const Identity* who) {
      return authz->CheckEscalation(kind, obj, who);
    });

    // Pods reach this server at the `kubernetes` Service's clusterIP and the advertised
    // address: both are names of the serving certificate.
    std::vector<std::string> sans = opt_.tls_sans;
    sans.push_back(net::FormatIpv4(opt_.service_network.ApiServiceIp()));
    if (std::string adv = AdvertiseAddress(); !adv.empty()) sans.push_back(adv);
    ASSIGN_OR_RETURN(TlsFiles tls, EnsurePki(server_dir + "/tls", sans));
    ServerOptions so;
    so.bind_address = opt_.bind_address;
    so.https_port = opt_.https_port;
    so.http_port = opt_.http_port;
    so.cert_file = tls.serving_cert;
    so.key_file = tls.serving_key;
    so.client_ca_file = tls.ca_cert;
    handler_->SetKubeletClient(tls.kubelet_client_cert, tls.kubelet_client_key);
    {  // the node token and the join endpoints (node_join.h)
      ASSIGN_OR_RETURN(std::string ca_pem, fs::ReadFile(tls.ca_cert));
      ASSIGN_OR_RETURN(std::string token,
                       EnsureNodeToken(server_dir + "/node-token", ca_pem, opt_.node_token));
      node_join_ = std::make_unique<NodeJoin>(tls, std::move(ca_pem), std::move(token),
                                              server_dir + "/tls/issued");
      handler_->SetNodeJoin(node_join_.get());
    }
    ApiHandler* h = handler_.get();
    handle_ = [h](Request& req, Responder& res) { return h->Handle(req, res); };
    // One io_context per API thread, each run by its own thread: connections and in-process
    // requests are dealt out round robin. Threads sharing one io_context contend for its queue
    // and wake each other for every handler.
    for (int i = 1; i < std::max(1, opt_.threads); ++i) {
      more_io_.push_back(std::make_unique<asio::io_context>(1));
      guards_.push_back(asio::make_work_guard(*more_io_.back()));
    }
    so.connection_io = Picker();
    ASSIGN_OR_RETURN(sa_tokens_, ServiceAccountTokens::Load(server_dir + "/tls/service-account.key"));
    handler_->SetServiceAccountTokens(sa_tokens_.get());
    handler_->SetTokenReviewer(
        [this](std::string_view token, const std::vector<std::string>& audiences) {
          return CheckToken(token, audiences);
        });
    http_ = NewHttpServer(io_, so, handle_, TokenAuthenticator(AuthenticateToken()));
    ASSIGN_OR_RETURN(port_, http_->Start());
    handler_->SetAdvertiseAddress("127.0.0.1:" + std::to_string(port_));
    std::string kubeconfig = opt_.write_kubeconfig.empty() ? opt_.data_dir + "/kubeconfig.yaml"
                                                           : opt_.write_kubeconfig;
    RETURN_IF_ERROR(WriteKubeconfig(kubeconfig, "https://127.0.0.1:" + std::to_string(port_),
                                    tls.ca_cert, tls.admin_cert, tls.admin_key));
    LOG(INFO) << "API server listening on https://" << opt_.bind_address << ":" << port_
              << (http_->http_port() >= 0
                      ? " and http://127.0.0.1:" + std::to_string(http_->http_port())
                      : std::string())
              << "; kubeconfig written to " << kubeconfig;

    // System namespaces, then readiness.
    std::promise<Status> boot;
    asio::co_spawn(asio::make_strand(io_), EnsureSystemNamespaces(*rest_),
                   [&boot](std::exception_ptr e, Status st) {
                     boot.set_value(e ? Internal("bootstrap failed") : st);
                   });
    for (int i = 0; i < std::max(1, opt_.threads); ++i) threads_.emplace_back([this, i] {
      util::NameThisThread("api-" + std::to_string(i));
      (i == 0 ? io_ : *more_io_[i - 1]).run();
    });
    RETURN_IF_ERROR(boot.get_future().get());
    std::promise<Status> classes;  // the built-in PriorityClasses
    asio::co_spawn(asio::make_strand(io_), EnsureSystemPriorityClasses(*rest_),
                   [&classes](std::exception_ptr e, Status st) {
                     classes.set_value(e ? Internal("bootstrap failed") : st);
                   });
    RETURN_IF_ERROR(classes.get_future().get());
    std::promise<Status> policy;  // the default RBAC roles and bindings
    asio::co_spawn(asio::make_strand(io_), EnsureBootstrapPolicy(*rest_),
                   [&policy](std::exception_ptr e, Status st) {
                     policy.set_value(e ? Internal("bootstrap failed") : st);
                   });
    RETURN_IF_ERROR(policy.get_future().get());
    if (opt_.local_storage_class) {
      std::promise<Status> storage;  // the default StorageClass local-path
      asio::co_spawn(asio::make_strand(io_), EnsureLocalPathStorageClass(*rest_),
                     [&storage](std::exception_ptr e, Status st) {
                       storage.set_value(e ? Internal("bootstrap failed") : st);
                     });
      RETURN_IF_ERROR(storage.get_future().get());
    }
    if (opt_.ingress_class) {
      std::promise<Status> ingress;  // the IngressClass `sampan`
      asio::co_spawn(asio::make_strand(io_), EnsureSampanIngressClass(*rest_),
                     [&ingress](std::exception_ptr e, Status st) {
                       ingress.set_value(e ? Internal("bootstrap failed") : st);
                     });
      RETURN_IF_ERROR(ingress.get_future().get());
    }
    std::promise<Status> kubernetes;  // the `kubernetes` Service and its endpoints
    asio::co_spawn(asio::make_strand(io_),
                   EnsureKubernetesService(*rest_, AdvertiseAddress(), port_),
                   [&kubernetes](std::exception_ptr e, Status st) {
                     kubernetes.set_value(e ? Internal("bootstrap failed") : st);
                   });
    RETURN_IF_ERROR(kubernetes.get_future().get());
    ns_controller_ = std::make_unique<NamespaceController>(*rest_);
    asio::co_spawn(asio::make_strand(io_), ns_controller_->Run(), asio::detached);
    asio::co_spawn(asio::make_strand(io_), CompactLoop(), asio::detached);
    asio::co_spawn(asio::make_strand(io_), KubernetesServiceLoop(), asio::detached);
    handler_->SetReady(true);
    return Status::Ok();
  }

  std::string AdvertiseAddress() const {
    if (!opt_.advertise_address.empty()) return opt_.advertise_address;
    auto bound = net::ParseIpv4(opt_.bind_address);
    if (bound.ok() && *bound != 0 && (*bound >> 24) != 127) return opt_.bind_address;
    return net::FirstHostIpv4();
  }

  void Run() override {
    std::unique_lock lk(mu_);
    stop_cv_.wait(lk, [this] { return stopping_; });
  }

  void Stop() override {
    std::lock_guard lk(mu_);
    stopping_ = true;
    stop_cv_.notify_all();
  }

  int https_port() const override { return port_; }

  std::shared_ptr<client::LoopbackServer> Loopback(std::string user,
                                                   std::vector<std::string> groups) override {
    Identity id{std::move(user), std::move(groups), true};
    return NewLoopbackServer(io_, handle_, std::move(id), loopback_gate_, Picker());
  }

 private:
  // Deals connections and requests out over the threads' io_contexts, round robin; empty (the
  // callers then use io_) when there is only one.
  IoPicker Picker() {
    if (more_io_.empty()) return {};
    return [this]() -> asio::io_context& {
      size_t n = next_io_.fetch_add(1, std::memory_order_relaxed) % (more_io_.size() + 1);
      return n == 0 ? io_ : *more_io_[n - 1];
    };
  }

  // A service account token this server signed, valid for one of `audiences` (empty: the API
  // server's own), for an account (and a bound object) that still exists with the uid the
  // token names: who it authenticates, as TokenReview reports it.
  std::optional<ReviewedToken> CheckToken(std::string_view token,
                                          const std::vector<std::string>& audiences) const {
    const std::vector<std::string> own{std::string(kServiceAccountIssuer)};
    const std::vector<std::string>& want = audiences.empty() ? own : audiences;
    auto claims = sa_tokens_->Verify(token, Clock::Real().NowUnix(), want);
    if (!claims) return std::nullopt;
    auto live_uid = [this](std::string_view kind, std::string_view ns, std::string_view name) {
      const api::KindInfo* k = registry_->FindKind("", "v1", kind);
      ObjectPtr obj = k ? cache_->Get(ObjectKey(*k, ns, name)) : nullptr;
      if (!obj || !internal::MetaString(obj->obj, "deletionTimestamp").empty()) return std::string();
      return std::string(internal::MetaString(obj->obj, "uid"));
    };
    if (live_uid("ServiceAccount", claims->ns, claims->name) != claims->uid) return std::nullopt;
    if (!claims->bound_kind.empty() &&
        live_uid(claims->bound_kind, claims->bound_kind == "Node" ? "" : claims->ns,
                 claims->bound_name) != claims->bound_uid) {
      return std::nullopt;
    }
    ReviewedToken t;
    t.user.user = "system:serviceaccount:" + claims->ns + ":" + claims->name;
    t.user.groups = {"system:serviceaccounts", "system:serviceaccounts:" + claims->ns};
    t.user.authenticated = true;
    t.uid = claims->uid;
    // As Kubernetes' extra fields for a token bound to a pod (or node).
    if (claims->bound_kind == "Pod") {
      t.extra.emplace_back("authentication.kubernetes.io/pod-name", claims->bound_name);
      t.extra.emplace_back("authentication.kubernetes.io/pod-uid", claims->bound_uid);
    } else if (claims->bound_kind == "Node") {
      t.extra.emplace_back("authentication.kubernetes.io/node-name", claims->bound_name);
      t.extra.emplace_back("authentication.kubernetes.io/node-uid", claims->bound_uid);
    }
    if (!claims->id.empty()) {
      t.extra.emplace_back("authentication.kubernetes.io/credential-id", "JTI=" + claims->id);
    }
    for (const auto& a : want) {
      if (std::find(claims->audiences.begin(), claims->audiences.end(), a) !=
          claims->audiences.end()) {
        t.audiences.push_back(a);
      }
    }
    return t;
  }

  // Bearer tokens on requests: service account tokens for the API server (CheckToken).
  TokenAuthenticator AuthenticateToken() {
    return [this](std::string_view token, Identity* out) {
      auto t = CheckToken(token, {});
      if (!t) return false;
      // (the transport adds system:authenticated to every authenticated identity)
      *out = std::move(t->user);
      return true;
    };
  }

  // Kubernetes compacts the store every five minutes, to the revision seen at the previous tick.
  // As Kubernetes' bootstrap controller: the `kubernetes` Service and its endpoints come back
  // within seconds when deleted or edited (a write happens only when something differs).
  asio::awaitable<void> KubernetesServiceLoop() {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex);
    const std::string address = AdvertiseAddress();
    for (;;) {
      timer.expires_after(std::chrono::seconds(10));
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      Status st = co_await EnsureKubernetesService(*rest_, address, port_);
      if (!st.ok()) LOG(WARNING) << "kubernetes Service: " << st.ToString();
    }
  }

  asio::awaitable<void> CompactLoop() {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex);
    int64_t previous = 0;
    for (;;) {
      timer.expires_after(kCompactEvery);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      if (previous > 0) {
        Status st = backend_->Compact(previous);
        if (!st.ok()) LOG(WARNING) << "compaction to " << previous << ": " << st.ToString();
      }
      previous = backend_->CurrentRevision();
    }
  }

  Options opt_;
  asio::io_context io_;                                    // thread 0's; timers, bootstrap
  std::vector<std::unique_ptr<asio::io_context>> more_io_;  // threads 1..N-1
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::atomic<size_t> next_io_{0};
  std::vector<std::thread> threads_;
  std::unique_ptr<store::Backend> backend_;
  std::unique_ptr<ObjectCache> cache_;
  const api::Registry* registry_ = nullptr;
  std::unique_ptr<Rest> rest_;
  std::unique_ptr<ServiceAllocator> services_;
  std::unique_ptr<ApiHandler> handler_;
  std::unique_ptr<Authorizer> authz_;  // after cache_: it watches the cache
  Handler handle_;  // the request path every transport shares
  std::unique_ptr<ServiceAccountTokens> sa_tokens_;
  std::unique_ptr<NodeJoin> node_join_;
  std::unique_ptr<HttpServer> http_;
  std::shared_ptr<LoopbackGate> loopback_gate_ = NewLoopbackGate();
  std::unique_ptr<NamespaceController> ns_controller_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
};

}  // namespace

std::unique_ptr<ApiServer> NewApiServer(Options options) {
  return std::make_unique<ApiServerImpl>(std::move(options));
}

}  // namespace sampan::apiserver
