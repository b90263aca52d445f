#include "controllers/util.h"

#include "util/clock.h"

namespace sampan::controllers {
namespace json = boost::json;

const json::object* ControllerRef(const json::object& obj) {
  const json::array* refs = Arr(Obj(&obj, "metadata"), "ownerReferences");
  if (!refs) return nullptr;
  for (const auto& r : *refs) {
    if (r.is_object()) {
      auto* c = r.as_object().if_contains("controller");
      if (c && c->is_bool() && c->as_bool()) return &r.as_object();
    }
  }
  return nullptr;
}

json::object MakeControllerRef(const json::object& owner) {
  return json::object{{"apiVersion", Str(&owner, "apiVersion")},
                      {"kind", Str(&owner, "kind")},
                      {"name", client::MetaString(owner, "name")},
                      {"uid", client::MetaString(owner, "uid")},
                      {"controller", true},
                      {"blockOwnerDeletion", true}};
}

bool IsDeleting(const json::object& obj) {
  return !client::MetaString(obj, "deletionTimestamp").empty();
}

bool IsPodActive(const json::object& pod) {
  std::string phase = Str(Obj(&pod, "status"), "phase");
  return phase != "Succeeded" && phase != "Failed" && !IsDeleting(pod);
}

namespace {
const json::object* ReadyCondition(const json::object& pod) {
  const json::array* conds = Arr(Obj(&pod, "status"), "conditions");
  if (!conds) return nullptr;
  for (const auto& c : *conds)
    if (c.is_object() && Str(&c.as_object(), "type") == "Ready") return &c.as_object();
  return nullptr;
}
}  // namespace

bool IsPodReady(const json::object& pod) {
  const json::object* c = ReadyCondition(pod);
  return c && Str(c, "status") == "True";
}

bool IsPodAvailable(const json::object& pod, int64_t min_ready_seconds, int64_t now) {
  const json::object* c = ReadyCondition(pod);
  if (!c || Str(c, "status") != "True") return false;
  if (min_ready_seconds <= 0) return true;
  int64_t since = 0;
  if (!ParseRfc3339(Str(c, "lastTransitionTime"), &since)) return false;
  return since + min_ready_seconds <= now;
}

void Expectations::Expect(const std::string& key, int adds, int deletes) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_[key] = Entry{adds, deletes, std::chrono::steady_clock::now()};
}
void Expectations::CreationObserved(const std::string& key) { LowerAdds(key, 1); }
void Expectations::DeletionObserved(const std::string& key) { LowerDeletes(key, 1); }
void Expectations::LowerAdds(const std::string& key, int n) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) it->second.adds -= n;
}
void Expectations::LowerDeletes(const std::string& key, int n) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) it->second.deletes -= n;
}
bool Expectations::Satisfied(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return true;
  if (it->second.adds <= 0 && it->second.deletes <= 0) return true;
  return std::chrono::steady_clock::now() - it->second.set_at > ttl_;
}
void Expectations::Forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(key);
}

}  // namespace sampan::controllers
