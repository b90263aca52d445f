#include "controllers/clusterrole_aggregation.h"

#include <algorithm>

#include "api/json_util.h"
#include "api/labels.h"
#include "controllers/util.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;

namespace {

bool IsAggregated(const json::object& role) { return Obj(&role, "aggregationRule") != nullptr; }

// A rule without its empty or null fields (Kubernetes compares rules as structs, where an
// absent list and an empty one are the same).
json::value Normalized(const json::value& rule) {
  if (!rule.is_object()) return rule;
  json::object out;
  for (const auto& kv : rule.as_object()) {
    if (kv.value().is_null()) continue;
    if (kv.value().is_array() && kv.value().as_array().empty()) continue;
    out[kv.key()] = kv.value();
  }
  return out;
}

bool SameRules(const json::array& a, const json::array& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!api::JsonEqual(Normalized(a[i]), Normalized(b[i]))) return false;
  }
  return true;
}

}  // namespace

const client::Resource& ClusterRolesResource() {
  static const client::Resource kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles",
                                              "ClusterRole", false};
  return kClusterRoles;
}

Result<json::array> AggregateRules(const json::object& role, const std::vector<ObjectPtr>& all) {
  std::vector<api::LabelSelector> selectors;
  if (const json::array* sels = Arr(Obj(&role, "aggregationRule"), "clusterRoleSelectors")) {
    for (const json::value& s : *sels) {
      ASSIGN_OR_RETURN(api::LabelSelector sel, api::LabelSelector::FromJson(s));
      selectors.push_back(std::move(sel));
    }
  }
  const std::string self = MetaString(role, "name");
  std::vector<ObjectPtr> chosen;
  for (const ObjectPtr& other : all) {
    if (MetaString(*other, "name") == self) continue;
    const json::object* meta = Obj(other.get(), "metadata");
    const json::value* labels = meta ? meta->if_contains("labels") : nullptr;
    for (const api::LabelSelector& sel : selectors) {
      if (sel.Matches(labels)) {
        chosen.push_back(other);
        break;
      }
    }
  }
  std::sort(chosen.begin(), chosen.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    return MetaString(*a, "name") < MetaString(*b, "name");
  });
  json::array rules;
  std::vector<json::value> seen;  // normalized forms of `rules`
  for (const ObjectPtr& other : chosen) {
    const json::array* theirs = Arr(other.get(), "rules");
    if (!theirs) continue;
    for (const json::value& rule : *theirs) {
      json::value norm = Normalized(rule);
      bool dup = std::any_of(seen.begin(), seen.end(),
                             [&](const json::value& s) { return api::JsonEqual(s, norm); });
      if (dup) continue;
      seen.push_back(std::move(norm));
      rules.push_back(rule);
    }
  }
  return rules;
}

ClusterRoleAggregationController::ClusterRoleAggregationController(
    client::SharedInformers* informers)
    : client_(informers->client()), roles_(informers->For(ClusterRolesResource())) {
  // Any role may be selected by any aggregated one (and an aggregated role may itself be
  // selected): every change re-examines every aggregated role.
  roles_->AddEventHandler(client::EventHandlers{[this](const ObjectPtr&) { EnqueueAggregated(); },
                                                [this](const ObjectPtr& o, const ObjectPtr& n) {
                                                  if (o != n) EnqueueAggregated();
                                                },
                                                [this](const ObjectPtr&) { EnqueueAggregated(); }});
}

ClusterRoleAggregationController::~ClusterRoleAggregationController() { Stop(); }

void ClusterRoleAggregationController::EnqueueAggregated() {
  for (const ObjectPtr& role : roles_->List()) {
    if (IsAggregated(*role)) queue_.Add(MetaString(*role, "name"));
  }
}

void ClusterRoleAggregationController::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      roles_->WaitForSync(std::chrono::seconds(60));
      queue_.Process("clusterrole-aggregation",
                     [this](const std::string& name) { return Sync(name); });
    });
  }
}

void ClusterRoleAggregationController::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

Status ClusterRoleAggregationController::Sync(const std::string& name) {
  ObjectPtr role = roles_->Get(name);
  if (!role || !IsAggregated(*role)) return Status::Ok();
  ASSIGN_OR_RETURN(json::array rules, AggregateRules(*role, roles_->List()));
  static const json::array kNone;
  const json::array* have = Arr(role.get(), "rules");
  if (SameRules(have ? *have : kNone, rules)) return Status::Ok();
  json::object next = *role;
  next["rules"] = std::move(rules);
  auto r = client_->Update(ClusterRolesResource(), "", next);
  // NotFound: deleted meanwhile (its delete event ends the matter). Conflict: the cache was
  // behind; the queue retries.
  if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
  return Status::Ok();
}

}  // namespace sampan::controllers
