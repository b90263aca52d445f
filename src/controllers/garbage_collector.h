// The garbage collector: deletes objects whose owners (ownerReferences) are
// gone, and carries out the Foreground and Orphan deletion policies the API
// server records as finalizers on a deleted owner:
//  - dangling owner (no object with that uid): the dependent is deleted, or only
//    the reference dropped if another owner is still there;
//  - owner with finalizer "orphan": owner references to it are removed from its
//    dependents, then the finalizer;
//  - owner with finalizer "foregroundDeletion": its dependents are deleted
//    (foreground themselves when they block), and the finalizer is removed once
//    no dependent with blockOwnerDeletion=true remains.
// Owners are confirmed absent with a live GET before anything is deleted.
//
// Scope: the resources in MonitoredResources() (workloads, pods and the common
// core kinds). Threading: informer handlers enqueue; Run() starts workers.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "client/shared_informers.h"
#include "client/workqueue.h"

namespace sampan::controllers {

const std::vector<const client::Resource*>& MonitoredResources();

class GarbageCollector {
 public:
  explicit GarbageCollector(client::SharedInformers* informers);
  ~GarbageCollector();
  void Run(int workers);
  void Stop();
  // Processes one item "plural|ns/name" (public for tests).
  Status Process(const std::string& item);

 private:
  struct Item {
    const client::Resource* resource;
    std::string key;
  };
  void EnqueueObject(const client::Resource& r, const boost::json::object& obj);
  void EnqueueDependents(const std::string& owner_uid);
  std::vector<Item> Dependents(const std::string& owner_uid) const;
  Status HandleOrphan(const client::Resource& r, const boost::json::object& owner);
  Status HandleForeground(const client::Resource& r, const boost::json::object& owner);
  Status CheckOwners(const client::Resource& r, const boost::json::object& obj);
  Status RemoveFinalizer(const client::Resource& r, const boost::json::object& obj,
                         const std::string& finalizer);
  // Live state of an owner reference: 0 = absent, 1 = present, 2 = present and
  // waiting for its dependents (foreground deletion); error if unknown.
  Result<int> OwnerState(const boost::json::object& ref, const std::string& dependent_ns,
                         bool dependent_namespaced);

  client::RestClient* client_;
  std::vector<std::pair<const client::Resource*, client::Informer*>> informers_;
  client::WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::atomic<bool> running_{false};
};

}  // namespace sampan::controllers
