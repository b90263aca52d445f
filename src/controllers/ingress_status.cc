#include "controllers/ingress_status.h"

#include <algorithm>
#include <tuple>

#include "controllers/service_lb.h"
#include "controllers/util.h"
#include "ingress/routes.h"
#include "util/log.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;

IngressStatusController::IngressStatusController(client::SharedInformers* informers)
    : client_(informers->client()),
      ingresses_(informers->For(client::resources::kIngresses)),
      classes_(informers->For(client::resources::kIngressClasses)),
      nodes_(informers->For(client::resources::kNodes)) {
  ingresses_->AddEventHandler(client::EventHandlers{
      [this](const ObjectPtr& i) { queue_.Add(client::KeyOf(*i)); },
      [this](const ObjectPtr&, const ObjectPtr& i) { queue_.Add(client::KeyOf(*i)); }, nullptr});
  auto all = [this](const ObjectPtr&) { EnqueueAll(); };
  classes_->AddEventHandler(client::EventHandlers{
      all, [this](const ObjectPtr&, const ObjectPtr&) { EnqueueAll(); }, all});
  nodes_->AddEventHandler(client::EventHandlers{all,
                                                [this](const ObjectPtr& o, const ObjectPtr& n) {
                                                  if (LoadBalancerNodeKey(*o) !=
                                                      LoadBalancerNodeKey(*n))
                                                    EnqueueAll();
                                                },
                                                all});
}

IngressStatusController::~IngressStatusController() { Stop(); }

void IngressStatusController::EnqueueAll() {
  for (const ObjectPtr& i : ingresses_->List()) queue_.Add(client::KeyOf(*i));
}

void IngressStatusController::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      ingresses_->WaitForSync(std::chrono::seconds(60));
      classes_->WaitForSync(std::chrono::seconds(60));
      nodes_->WaitForSync(std::chrono::seconds(60));
      queue_.Process("ingress-status", [this](const std::string& key) { return Sync(key); });
    });
  }
}

void IngressStatusController::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

Status IngressStatusController::Sync(const std::string& key) {
  ObjectPtr ing = ingresses_->Get(key);
  if (!ing || IsDeleting(*ing) || !ingress::IsOurs(*ing, classes_->List())) return Status::Ok();
  std::vector<std::string> want;
  for (auto& [name, address] : LoadBalancerNodes(nodes_->List())) want.push_back(address);
  std::sort(want.begin(), want.end());
  want.erase(std::unique(want.begin(), want.end()), want.end());
  if (LoadBalancerIps(*ing) == want) return Status::Ok();
  json::object next = WithLoadBalancerIps(*ing, want, false);
  auto r =
      client_->UpdateStatus(client::resources::kIngresses, MetaString(*ing, "namespace"), next);
  if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
  return Status::Ok();
}

}  // namespace sampan::controllers
