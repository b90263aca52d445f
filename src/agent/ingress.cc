#include "agent/ingress.h"

#include "agent/node_context.h"
#include "agent/serving_cert.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/thread_name.h"

namespace sampan::agent {

IngressController::IngressController(NodeContext* ctx, IngressOptions options)
    : ctx_(ctx), opts_(std::move(options)) {}

IngressController::~IngressController() { Stop(); }

void IngressController::Wake() {
  {
    std::lock_guard<std::mutex> l(mu_);
    dirty_ = true;
  }
  cv_.notify_all();
}

void IngressController::Start() {
  if (opts_.http_port < 0 && opts_.https_port < 0) return;
  ingresses_ = std::make_unique<client::Informer>(ctx_->client, client::resources::kIngresses);
  classes_ = std::make_unique<client::Informer>(ctx_->client, client::resources::kIngressClasses);
  services_ = std::make_unique<client::Informer>(ctx_->client, client::resources::kServices);
  client::ListOptions tls_only;
  tls_only.field_selector = "type=kubernetes.io/tls";
  secrets_ =
      std::make_unique<client::Informer>(ctx_->client, client::resources::kSecrets, "", tls_only);
  for (client::Informer* inf :
       {ingresses_.get(), classes_.get(), services_.get(), secrets_.get()}) {
    inf->AddEventHandler(client::OnAnyChange([this] { Wake(); }));
    inf->Start();
  }
  thread_ = std::thread([this] {
    util::NameThisThread("ingress");
    Loop();
  });
}

void IngressController::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (proxy_) proxy_->Stop();
  for (auto* inf : {&ingresses_, &classes_, &services_, &secrets_}) {
    if (*inf) (*inf)->Stop();
  }
}

int IngressController::http_port() const { return http_port_.load(); }
int IngressController::https_port() const { return https_port_.load(); }

void IngressController::Loop() {
  std::string last_warnings;
  std::string last_error;  // a failure to start is logged once, not at every retry
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      // Wakes every few seconds while the proxy is not up yet (a port taken is retried).
      cv_.wait_for(l, std::chrono::seconds(proxy_ ? 60 : 5), [&] { return stopping_ || dirty_; });
      if (stopping_) return;
      cv_.wait_for(l, std::chrono::milliseconds(50), [&] { return stopping_; });
      if (stopping_) return;
      dirty_ = false;
    }
    if (!ingresses_->HasSynced() || !classes_->HasSynced() || !services_->HasSynced() ||
        !secrets_->HasSynced()) {
      std::lock_guard<std::mutex> l(mu_);
      dirty_ = true;
      continue;
    }
    auto table = ingress::RouteTable::Build(ingresses_->List(), classes_->List(), services_->List(),
                                            secrets_->List());
    std::string warnings;
    for (const std::string& w : table->warnings()) warnings += w + "; ";
    if (warnings != last_warnings && !warnings.empty()) LOG(WARNING) << "ingress: " << warnings;
    last_warnings = warnings;
    {
      std::lock_guard<std::mutex> l(table_mu_);
      table_ = std::move(table);
    }
    if (proxy_) continue;
    ingress::ProxyOptions po;
    po.bind_address = opts_.bind_address;
    po.http_port = opts_.http_port;
    po.https_port = opts_.https_port;
    po.router = [this](std::string_view host, std::string_view path, bool) {
      std::shared_ptr<const ingress::RouteTable> t;
      {
        std::lock_guard<std::mutex> l(table_mu_);
        t = table_;
      }
      return t->Route(host, path);
    };
    po.certificates = [this](std::string_view name) {
      std::shared_ptr<const ingress::RouteTable> t;
      {
        std::lock_guard<std::mutex> l(table_mu_);
        t = table_;
      }
      return t->CertificateFor(name);
    };
    if (opts_.https_port >= 0) {
      const std::string crt = opts_.cert_dir + "/ingress-default.crt";
      const std::string key = opts_.cert_dir + "/ingress-default.key";
      Status st = EnsureSelfSignedCert(crt, key, ctx_->node_name, ctx_->node_ip);
      auto crt_pem = st.ok() ? fs::ReadFile(crt) : Result<std::string>(st);
      auto key_pem = crt_pem.ok() ? fs::ReadFile(key) : Result<std::string>(crt_pem.status());
      if (!key_pem.ok()) {  // retried at the next wake (5 s)
        std::string error = "default certificate: " + key_pem.status().ToString();
        if (error != last_error) LOG(WARNING) << "ingress: " << error;
        last_error = std::move(error);
        continue;
      }
      po.default_certificate = ingress::Certificate{*crt_pem, *key_pem};
    }
    auto proxy = ingress::Proxy::Start(std::move(po));
    if (!proxy.ok()) {  // a port taken: retried at the next wake (5 s)
      std::string error = proxy.status().ToString();
      if (error != last_error) LOG(WARNING) << "ingress: " << error << " (retrying every 5 s)";
      last_error = std::move(error);
      continue;
    }
    proxy_ = std::move(*proxy);
    http_port_ = proxy_->http_port();
    https_port_ = proxy_->https_port();
    LOG(INFO) << "ingress: serving HTTP on port " << http_port_.load() << " and HTTPS on port "
              << https_port_.load();
  }
}

}  // namespace sampan::agent
