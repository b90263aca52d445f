// Generic REST storage for every kind, as Kubernetes' generic registry does it:
// one implementation of create/get/list/update/patch/delete driven by the kind's
// description (api::KindInfo) and its strategy (api/strategy.h), over the store
// and the watch cache.
//
// Stored form: the object's JSON without metadata.resourceVersion, under
// /registry/[<group>/]<plural>/[<namespace>/]<name>; the store revision of its
// last write is its resourceVersion. Every write answers only after the watch
// cache has applied it, so reads (served from the cache) see it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <string>
#include <vector>

#include "api/schema.h"
#include "apiserver/object_cache.h"
#include "store/backend.h"
#include "util/clock.h"
#include "util/status.h"

namespace sampan::apiserver {

namespace asio = boost::asio;
namespace json = boost::json;

class ServiceAllocator;
struct Identity;  // apiserver/http.h

// "/registry/pods/" or "/registry/apps/deployments/".
std::string ResourcePrefix(const api::KindInfo& kind);
// The key of one object; `ns` ignored for cluster-scoped kinds.
std::string ObjectKey(const api::KindInfo& kind, std::string_view ns, std::string_view name);
// The prefix listing one namespace (or all namespaces when `ns` is empty).
std::string ListPrefix(const api::KindInfo& kind, std::string_view ns);
// "pods", "deployments.apps": how Kubernetes names a resource in error messages.
std::string QualifiedResource(const api::KindInfo& kind);

struct WriteOptions {
  bool dry_run = false;
  std::string field_validation = "Strict";  // Strict | Warn | Ignore
  std::string field_manager;
  std::vector<std::string>* warnings = nullptr;  // receives Warn-mode messages
  std::vector<std::string> duplicate_fields;     // repeated keys found while decoding the body
  // Internal writers that change what clients may not (pods/binding sets spec.nodeName).
  bool skip_update_validation = false;
  // Server-side apply: take fields other managers own (the `force` query parameter).
  bool force = false;
  // The manager of a write that names none: the User-Agent up to its first '/', as Kubernetes.
  std::string default_manager;
  // Set by a server-side apply that created the object (answered 201, not 200).
  bool* created = nullptr;
  // A create made by server-side apply: the object's metadata.managedFields.
  const json::array* managed_fields = nullptr;
  // Who asks for the write (for admission that depends on the user, such as RBAC's escalation
  // check); null for the server's own writes, which no such check applies to.
  const Identity* identity = nullptr;
  // The subresource written ("status"), for admission that tells them apart (NodeRestriction).
  std::string subresource;
};

struct DeleteOptions {
  bool dry_run = false;
  int64_t grace_period_seconds = -1;  // -1 = the object's default
  std::string propagation_policy;     // Orphan | Background | Foreground
  std::string precondition_uid;
  std::string precondition_resource_version;
  const Identity* identity = nullptr;  // who asks (null: the server itself)
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;
  std::string continue_token;
};

struct ListOutcome {
  std::vector<ObjectPtr> items;
  int64_t revision = 0;
  std::string continue_token;
  int64_t remaining = -1;  // remainingItemCount when paged, else -1
};

enum class PatchType { kJson, kMerge, kStrategic, kApply };

class Rest {
 public:
  Rest(store::Backend& backend, ObjectCache& cache, const api::Registry& registry,
       const Clock& clock = Clock::Real());

  asio::awaitable<Result<ObjectPtr>> Create(const api::KindInfo& kind, std::string ns,
                                            json::value body, WriteOptions opts);
  Result<ObjectPtr> Get(const api::KindInfo& kind, std::string_view ns, std::string_view name);
  Result<ListOutcome> List(const api::KindInfo& kind, std::string_view ns, const ListOptions& opts);
  // PUT of the object ("" subresource) or its status.
  asio::awaitable<Result<ObjectPtr>> Update(const api::KindInfo& kind, std::string ns,
                                            std::string name, std::string subresource,
                                            json::value body, WriteOptions opts);
  asio::awaitable<Result<ObjectPtr>> Patch(const api::KindInfo& kind, std::string ns,
                                           std::string name, std::string subresource,
                                           PatchType type, json::value patch, WriteOptions opts);
  // Returns the object as it was deleted, or (for a graceful/finalized delete) as updated.
  asio::awaitable<Result<ObjectPtr>> Delete(const api::KindInfo& kind, std::string ns,
                                            std::string name, DeleteOptions opts);

  // Read-modify-write with retries on conflict: `mutate` edits a copy of the
  // current object (returns non-OK to abort). Used by in-process controllers.
  asio::awaitable<Result<ObjectPtr>> Mutate(const api::KindInfo& kind, std::string ns,
                                            std::string name,
                                            std::function<Status(json::object&)> mutate,
                                            WriteOptions opts);

  // The autoscaling/v1 Scale view of an object with spec.replicas.
  Result<json::object> ScaleOf(const api::KindInfo& kind, const json::object& obj) const;

  // Builds the Invalid/NotFound/... Status Kubernetes returns for this kind.
  Status NotFoundError(const api::KindInfo& kind, std::string_view name) const;
  Status InvalidError(const api::KindInfo& kind, std::string_view name,
                      std::vector<Cause> causes) const;

  // A request body as an object of `kind`: checked against the schema (unknown fields per
  // opts.field_validation), kind and apiVersion filled in.
  Result<json::object> Decode(const api::KindInfo& kind, json::value body,
                              const WriteOptions& opts) const;

  // A check run on every create and update, after validation, with the object about to be
  // written and the requesting user (opts.identity; null for the server's own writes). A
  // non-OK answer refuses the write. Set before serving.
  using WriteCheck = std::function<Status(const api::KindInfo& kind, const json::object& obj,
                                          const Identity* who)>;
  void AddWriteCheck(WriteCheck check) { write_checks_.push_back(std::move(check)); }

  // Services get their clusterIP and node ports from `a` (none without one). Set before
  // serving; `a` outlives this.
  void SetServiceAllocator(ServiceAllocator* a) { services_ = a; }
  ServiceAllocator* service_allocator() const { return services_; }

  ObjectCache& cache() { return cache_; }
  const api::Registry& registry() const { return registry_; }

 private:
  // Server-side apply (a PATCH of type application/apply-patch+yaml) of the object itself.
  asio::awaitable<Result<ObjectPtr>> Apply(const api::KindInfo& kind, std::string ns,
                                           std::string name, json::value body, WriteOptions opts);
  asio::awaitable<Result<ObjectPtr>> WriteUpdate(const api::KindInfo& kind, const ObjectPtr& cur,
                                                 json::object next, const WriteOptions& opts);
  asio::awaitable<Result<ObjectPtr>> FinishDelete(const api::KindInfo& kind, const ObjectPtr& cur,
                                                  bool dry_run);
  // Waits until the cache has applied every write the store has committed.
  asio::awaitable<void> CatchUp();
  Status CheckNamespaceAcceptsWrites(const api::KindInfo& kind, std::string_view ns) const;

  store::Backend& backend_;
  ObjectCache& cache_;
  const api::Registry& registry_;
  const Clock& clock_;
  ServiceAllocator* services_ = nullptr;
  std::vector<WriteCheck> write_checks_;
  Status RunWriteChecks(const api::KindInfo& kind, const json::object& obj,
                        const WriteOptions& opts) const;
};

// True for core/v1 Services.
bool IsService(const api::KindInfo& kind);

}  // namespace sampan::apiserver
