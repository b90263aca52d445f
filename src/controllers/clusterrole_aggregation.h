// Kubernetes' clusterrole-aggregation controller: every ClusterRole with
// aggregationRule.clusterRoleSelectors gets as its `rules` the union of the rules of every
// other ClusterRole whose labels match any of the selectors (matchLabels and
// matchExpressions). Order: the selected roles sorted by name, each role's rules in order,
// exact duplicates dropped (rules equal once empty fields are ignored). The role is updated
// only when its rules differ, so a converged cluster is never written to. The bootstrap roles
// admin, edit and view are built this way (apiserver/rbac_bootstrap.h).
// Threading as the other controllers: any ClusterRole add/update/delete enqueues the name of
// every aggregated ClusterRole; workers Sync() them from the informer's cache.
#pragma once

#include <atomic>
#include <boost/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "client/shared_informers.h"
#include "client/workqueue.h"

namespace sampan::controllers {

// rbac.authorization.k8s.io/v1 clusterroles (the client's resources list has no RBAC kinds).
const client::Resource& ClusterRolesResource();

class ClusterRoleAggregationController {
 public:
  explicit ClusterRoleAggregationController(client::SharedInformers* informers);
  ~ClusterRoleAggregationController();
  void Run(int workers);
  void Stop();
  // Brings the rules of the ClusterRole `name` up to date (no-op unless it is aggregated).
  // Public for tests.
  Status Sync(const std::string& name);

 private:
  void EnqueueAggregated();

  client::RestClient* client_;
  client::Informer* roles_;
  client::WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

// The rules `role` aggregates from `all` (the ClusterRoles to choose from; `role` itself,
// matched by name, is skipped). A selector that does not parse is an error (BadRequest), as
// in Kubernetes.
Result<boost::json::array> AggregateRules(const boost::json::object& role,
                                          const std::vector<client::ObjectPtr>& all);

}  // namespace sampan::controllers
