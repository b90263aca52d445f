// Static pods (the kubelet's staticPodPath): pods the agent runs from the manifest files of a
// directory, without the API server's scheduler, each mirrored by a read-only "mirror pod" in
// the API so that kubectl sees it.
//
//   DIR/etcd.yaml (Pod "etcd", YAML or JSON; a PodList gives several) on node "n1" becomes the
//   static pod "etcd-n1" (namespace default if none) with
//     metadata.uid                    hash of the pod, the node name and the file path
//     kubernetes.io/config.hash       the same hash
//     kubernetes.io/config.source     "file"
//     kubernetes.io/config.seen       when the agent first read it
//     spec.nodeName                   n1, plus a toleration of every NoExecute taint
//   and its mirror pod "etcd-n1" in the API carries kubernetes.io/config.mirror = the hash and
//   an owner reference to the Node.
//
// The directory is read every `period` (files starting with "." are skipped). A new file
// starts a pod; a changed file (new hash) stops the old pod and starts the new one; a removed
// file stops the pod (gracefully). The mirror pod is created once the Node exists, made
// again when deleted, replaced when its hash is stale; mirror pods of no static pod are
// deleted. Deleting a mirror pod never stops its static pod. The pod's status is written to
// its mirror: the worker of a static pod gets a "view" of it whose metadata.uid,
// resourceVersion, creationTimestamp and status are the mirror's (while there is one), and
// whose uid otherwise is the static pod's own (then no status is written).
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/informer.h"
#include "client/rest_client.h"
#include "util/status.h"

namespace sampan::agent {

inline constexpr char kAnnoConfigSource[] = "kubernetes.io/config.source";
inline constexpr char kAnnoConfigHash[] = "kubernetes.io/config.hash";
inline constexpr char kAnnoConfigSeen[] = "kubernetes.io/config.seen";
inline constexpr char kAnnoConfigMirror[] = "kubernetes.io/config.mirror";

// A pod of the API that mirrors a static pod (it has kubernetes.io/config.mirror).
bool IsMirrorPod(const boost::json::object& pod);
// A pod the agent runs from a file (kubernetes.io/config.source "file").
bool IsStaticPod(const boost::json::object& pod);
// `pod` is the view of the static pod whose uid is `uid` (for the pod worker): a static pod
// whose config hash is that uid (an API pod cannot pass for one by its annotations).
bool IsStaticPodView(const boost::json::object& pod, const std::string& uid);

// The static pods of one manifest file: parsed (YAML or JSON; a Pod, or a PodList/List of
// Pods), defaulted as the API server would, named, hashed and validated. Invalid naming the
// file on a bad manifest.
Result<std::vector<boost::json::object>> LoadStaticPods(const std::string& path,
                                                        const std::string& node_name);

// The mirror pod to create for `static_pod` (no uid, resourceVersion or status).
boost::json::object MirrorPodFor(const boost::json::object& static_pod,
                                 const std::string& node_name, const std::string& node_uid);

// What the worker of `static_pod` gets: the static pod with the mirror's identity and status
// when `mirror` (may be null) is a live mirror of it (same hash, not being deleted).
boost::json::object StaticPodView(const boost::json::object& static_pod,
                                  const boost::json::object* mirror);

struct StaticPodOptions {
  std::string dir;  // empty: no static pods (orphaned mirror pods are still deleted)
  std::chrono::milliseconds period{20000};  // --file-check-frequency
  std::string node_name;
};

class StaticPods {
 public:
  struct Hooks {
    // Run (or update) the static pod `uid` as `view`.
    std::function<void(const std::string& uid, client::ObjectPtr view)> run;
    // Its file is gone or changed: stop it; `view` carries a deletionTimestamp and grace.
    std::function<void(const std::string& uid, client::ObjectPtr view)> stop;
    // The pods of this node in the informer's cache: one by "namespace/name" (null if
    // absent), and all of them.
    std::function<client::ObjectPtr(const std::string& key)> get_pod;
    std::function<std::vector<client::ObjectPtr>()> list_pods;
  };

  StaticPods(StaticPodOptions o, client::RestClient* client, Hooks hooks);
  ~StaticPods();  // Stop()
  // Reads the directory once (so that a restarted agent adopts the static pods' containers
  // before it removes unclaimed ones), then polls it and keeps the mirrors on a thread.
  void Start();
  void Stop();
  // A pod of this node changed in the informer (mirrors are checked at once).
  void Wake();

  // One pass: read the directory (if `read_dir`), start/stop pods, then fix the mirrors.
  // Public for tests.
  void SyncOnce(bool read_dir);

 private:
  struct Entry {
    std::string uid, key;  // key: namespace/name
    std::string file;
    client::ObjectPtr pod;
    std::string pushed;  // identity of the last view given to `run`
    // A mirror deleted here is made again no sooner (as the kubelet, at a later sync): a
    // client waiting for the deletion (kubectl delete --wait) may trip over a pod of the
    // same name that appears within milliseconds.
    std::chrono::steady_clock::time_point recreate_after{};
  };
  void ReadDir();
  void FixMirrors();  // API calls
  void PushViews();   // from the informer's cache
  void SyncMirrors() {
    FixMirrors();
    PushViews();
  }
  Result<std::string> NodeUid();
  void Run();

  StaticPodOptions opts_;
  client::RestClient* client_;
  Hooks hooks_;
  std::map<std::string, Entry> pods_;          // by key; SyncOnce's thread only
  std::map<std::string, std::string> errors_;  // by file: last error logged
  std::string node_uid_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, wake_ = false;  // guarded by mu_
  std::mutex sync_mu_;                // one SyncOnce at a time
  std::thread thread_;
};

}  // namespace sampan::agent
