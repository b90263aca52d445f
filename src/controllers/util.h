// Internal helpers shared by the controllers: owner references, pod state, and
// the per-owner expectations that stop a controller from acting twice on an
// action its informer has not reflected yet.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "api/json_util.h"
#include "client/informer.h"

namespace sampan::controllers {

using api::Arr;
using api::Int;
using api::Obj;
using api::Str;

// The ownerReference with controller=true, or nullptr.
const boost::json::object* ControllerRef(const boost::json::object& obj);
// An ownerReference naming `owner` as the controller (blockOwnerDeletion set).
boost::json::object MakeControllerRef(const boost::json::object& owner);
bool IsDeleting(const boost::json::object& obj);
// Not Succeeded/Failed and not being deleted.
bool IsPodActive(const boost::json::object& pod);
bool IsPodReady(const boost::json::object& pod);
// Ready for at least min_ready_seconds at `now` (unix seconds).
bool IsPodAvailable(const boost::json::object& pod, int64_t min_ready_seconds, int64_t now);

// Per-owner counts of creations/deletions issued but not yet observed. An owner
// whose expectations are pending is not resized again (they expire after `ttl`).
class Expectations {
 public:
  explicit Expectations(std::chrono::seconds ttl = std::chrono::minutes(5)) : ttl_(ttl) {}
  void Expect(const std::string& key, int adds, int deletes);
  void CreationObserved(const std::string& key);
  void DeletionObserved(const std::string& key);
  void LowerAdds(const std::string& key, int n);
  void LowerDeletes(const std::string& key, int n);
  bool Satisfied(const std::string& key);
  void Forget(const std::string& key);

 private:
  struct Entry {
    int adds = 0, deletes = 0;
    std::chrono::steady_clock::time_point set_at;
  };
  const std::chrono::seconds ttl_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;  // guarded
};

}  // namespace sampan::controllers
