#include "controllers/serviceaccounts.h"

#include "controllers/util.h"
#include "util/log.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;

namespace {
constexpr const char* kRootCa = "kube-root-ca.crt";

client::ListOptions RootCaOnly() {
  client::ListOptions o;
  o.field_selector = std::string("metadata.name=") + kRootCa;
  return o;
}

}  // namespace

ServiceAccountsController::ServiceAccountsController(client::SharedInformers* informers,
                                                     std::string root_ca_pem)
    : client_(informers->client()),
      root_ca_pem_(std::move(root_ca_pem)),
      namespaces_(informers->For(client::resources::kNamespaces)),
      accounts_(informers->For(client::resources::kServiceAccounts)) {
  namespaces_->AddEventHandler(client::EventHandlers{
      [this](const ObjectPtr& n) { queue_.Add(MetaString(*n, "name")); },
      [this](const ObjectPtr&, const ObjectPtr& n) { queue_.Add(MetaString(*n, "name")); },
      nullptr});
  accounts_->AddEventHandler(client::EventHandlers{nullptr, nullptr, [this](const ObjectPtr& sa) {
                                                     if (MetaString(*sa, "name") == "default")
                                                       queue_.Add(MetaString(*sa, "namespace"));
                                                   }});
  if (root_ca_pem_.empty()) return;
  configmaps_ =
      std::make_unique<client::Informer>(client_, client::resources::kConfigMaps, "", RootCaOnly());
  // The selector makes every event one of ours; the name check keeps that true for any server.
  auto cm_changed = [this](const ObjectPtr& cm) {
    if (MetaString(*cm, "name") == kRootCa) queue_.Add(MetaString(*cm, "namespace"));
  };
  configmaps_->AddEventHandler(
      client::EventHandlers{nullptr,
                            [cm_changed](const ObjectPtr& o, const ObjectPtr& cm) {
                              if (o != cm) cm_changed(cm);
                            },
                            cm_changed});
}

ServiceAccountsController::~ServiceAccountsController() { Stop(); }

void ServiceAccountsController::Run(int workers) {
  if (running_.exchange(true)) return;
  if (configmaps_) configmaps_->Start();
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      namespaces_->WaitForSync(std::chrono::seconds(60));
      accounts_->WaitForSync(std::chrono::seconds(60));
      if (configmaps_) configmaps_->WaitForSync(std::chrono::seconds(60));
      queue_.Process("serviceaccounts", [this](const std::string& ns) { return Sync(ns); });
    });
  }
}

void ServiceAccountsController::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
  if (configmaps_) configmaps_->Stop();
}

Status ServiceAccountsController::Sync(const std::string& ns) {
  ObjectPtr n = namespaces_->Get(ns);
  if (!n || IsDeleting(*n) || Str(Obj(n.get(), "status"), "phase") == "Terminating")
    return Status::Ok();
  if (!accounts_->Get(ns + "/default")) {
    json::object sa{{"apiVersion", "v1"},
                    {"kind", "ServiceAccount"},
                    {"metadata", json::object{{"name", "default"}, {"namespace", ns}}}};
    auto r = client_->Create(client::resources::kServiceAccounts, ns, sa);
    // Forbidden: the namespace began terminating meanwhile.
    if (!r.ok() && r.status().code() != Code::kAlreadyExists &&
        r.status().code() != Code::kForbidden)
      return r.status();
  }
  if (root_ca_pem_.empty()) return Status::Ok();
  json::object data{{"ca.crt", root_ca_pem_}};
  ObjectPtr cm = configmaps_->Get(ns + "/" + kRootCa);
  if (!cm) {
    json::object obj{{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata", json::object{{"name", kRootCa}, {"namespace", ns}}},
                     {"data", data}};
    auto r = client_->Create(client::resources::kConfigMaps, ns, obj);
    if (!r.ok() && r.status().code() != Code::kAlreadyExists &&
        r.status().code() != Code::kForbidden)
      return r.status();
    return Status::Ok();
  }
  const json::object* have = Obj(cm.get(), "data");
  if (have && *have == data) return Status::Ok();
  json::object next = *cm;
  next["data"] = data;
  auto r = client_->Update(client::resources::kConfigMaps, ns, next);
  if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
  return Status::Ok();
}

}  // namespace sampan::controllers
