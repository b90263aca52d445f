// A Kubernetes REST client: typed paths, JSON bodies (boost::json), errors as
// sampan::Status mapped from the server's metav1.Status (reason → Code), and
// watches as a blocking stream of events.
//
// Thread safety: a RestClient is safe to use from many threads at once; it keeps
// a small pool of keep-alive connections. A WatchStream is read by one thread;
// its Cancel() may be called from any thread.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "client/config.h"
#include "util/status.h"
#include "util/url.h"

namespace sampan::client {

// One API resource: where it lives and how it is addressed.
struct Resource {
  std::string group;    // "" for the core group
  std::string version;  // "v1"
  std::string plural;   // "pods"
  std::string kind;     // "Pod"
  bool namespaced = true;

  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  // "/api/v1/namespaces/NS/pods/NAME/SUB"; empty ns on a namespaced resource = all namespaces.
  std::string Path(std::string_view ns, std::string_view name = {},
                   std::string_view subresource = {}) const;
};

// The resources the control plane uses.
namespace resources {
extern const Resource kPods, kNodes, kNamespaces, kEvents, kReplicationControllers, kReplicaSets,
    kDeployments, kDaemonSets, kStatefulSets, kJobs, kCronJobs, kLeases, kConfigMaps, kSecrets,
    kServices, kServiceAccounts, kEndpoints, kControllerRevisions, kEndpointSlices,
    kPersistentVolumes, kPersistentVolumeClaims, kStorageClasses, kIngresses, kIngressClasses;
// By plural ("pods") or "plural.group" ("deployments.apps"); nullptr if unknown.
const Resource* Find(std::string_view name);
}  // namespace resources

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // list: "" = most recent; "0" = any (cache); watch: start after
  int64_t limit = 0;             // list page size (0 = no paging)
  std::string continue_token;
  int timeout_seconds = 0;      // watch: server closes the stream after this (0 = server default)
  bool allow_bookmarks = true;  // watch
};

enum class PatchType { kMerge, kStrategicMerge, kJson };

struct DeleteOptions {
  std::optional<std::string> propagation_policy;  // "Background" | "Foreground" | "Orphan"
  std::optional<int64_t> grace_period_seconds;
  std::string precondition_uid;
  std::string precondition_resource_version;
};

struct WatchEvent {
  std::string type;  // ADDED | MODIFIED | DELETED | BOOKMARK | ERROR
  boost::json::object object;
  // Set instead of `object` when the event came as an object over the in-process loopback:
  // the API server's own immutable copy, shared rather than parsed.
  std::shared_ptr<const boost::json::object> shared;
  const boost::json::object& obj() const { return shared ? *shared : object; }
};

class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // Blocks for the next event. false when the server ended the stream (or Cancel()).
  // An ERROR event is returned as the Status it carries (410 → Gone).
  virtual Result<bool> Next(WatchEvent* event) = 0;
  // Ends the stream; a blocked Next() returns false. Thread-safe.
  virtual void Cancel() = 0;
};

// Maps a metav1.Status object (or, without one, the HTTP code) to a Status.
Status StatusFromResponse(int http_code, std::string_view body);

class RestClient {
 public:
  virtual ~RestClient() = default;
  static Result<std::unique_ptr<RestClient>> New(ClientConfig config);

  virtual Result<boost::json::object> Get(const Resource& r, std::string_view ns,
                                          std::string_view name) = 0;
  // One page of a list (a *List object with items and metadata.continue).
  virtual Result<boost::json::object> List(const Resource& r, std::string_view ns,
                                           const ListOptions& opts) = 0;
  // Every page, merged into one list; metadata.resourceVersion is the first page's.
  // Gone if a continue token expired midway.
  virtual Result<boost::json::object> ListAll(const Resource& r, std::string_view ns,
                                              ListOptions opts) = 0;
  virtual Result<boost::json::object> Create(const Resource& r, std::string_view ns,
                                             const boost::json::object& obj) = 0;
  // PUT of the object (name from metadata.name); Conflict on a stale resourceVersion.
  virtual Result<boost::json::object> Update(const Resource& r, std::string_view ns,
                                             const boost::json::object& obj) = 0;
  virtual Result<boost::json::object> UpdateStatus(const Resource& r, std::string_view ns,
                                                   const boost::json::object& obj) = 0;
  // `patch` is the JSON document of the patch (an array for kJson).
  virtual Result<boost::json::object> Patch(const Resource& r, std::string_view ns,
                                            std::string_view name, PatchType type,
                                            const boost::json::value& patch,
                                            std::string_view subresource = {}) = 0;
  virtual Status Delete(const Resource& r, std::string_view ns, std::string_view name,
                        const DeleteOptions& opts = {}) = 0;
  // Subresources: GET (scale), PUT (scale, status), POST (binding, eviction).
  virtual Result<boost::json::object> GetSubresource(const Resource& r, std::string_view ns,
                                                     std::string_view name,
                                                     std::string_view sub) = 0;
  virtual Result<boost::json::object> UpdateSubresource(const Resource& r, std::string_view ns,
                                                        std::string_view name, std::string_view sub,
                                                        const boost::json::object& body) = 0;
  virtual Result<boost::json::object> CreateSubresource(const Resource& r, std::string_view ns,
                                                        std::string_view name, std::string_view sub,
                                                        const boost::json::object& body) = 0;
  // Starts a watch (opts.resource_version: events after it).
  virtual Result<std::unique_ptr<WatchStream>> Watch(const Resource& r, std::string_view ns,
                                                     const ListOptions& opts) = 0;

  // A raw request: `path` includes the query. The parsed JSON body on 2xx (null if empty).
  virtual Result<boost::json::value> Do(std::string_view method, std::string_view path,
                                        std::string_view body = {},
                                        std::string_view content_type = {}) = 0;
};

using url::QueryEscape;  // percent-encodes a query parameter value

}  // namespace sampan::client
