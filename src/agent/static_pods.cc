#include "agent/static_pods.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "api/codec.h"
#include "api/json_util.h"
#include "api/strategy.h"
#include "image/digest.h"
#include "util/fs.h"
#include "util/log.h"

namespace sampan::agent {

namespace json = boost::json;
namespace fsys = std::filesystem;
using client::MetaString;
using client::resources::kPods;

namespace {

std::string Annotation(const json::object& pod, const char* key) {
  const json::object* a = client::MetaObject(pod, "annotations");
  if (!a) return "";
  auto it = a->find(key);
  return it != a->end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
}

json::object& MetaOf(json::object& obj) {
  json::value& m = obj["metadata"];
  if (!m.is_object()) m.emplace_object();
  return m.as_object();
}

// One Pod of a manifest made into this node's static pod.
Result<json::object> MakeStaticPod(json::object pod, const std::string& path,
                                   const std::string& node_name) {
  const api::KindInfo* kind = api::BuiltinRegistry().FindKind("", "v1", "Pod");
  if (!kind) return Status(Code::kInternal, "no Pod kind");
  std::string api_version = pod.contains("apiVersion") && pod.at("apiVersion").is_string()
                                ? std::string(pod.at("apiVersion").as_string())
                                : "";
  if (api_version != "v1") return Invalid("apiVersion must be v1, not \"" + api_version + "\"");
  pod.erase("status");
  api::DefaultObject(*kind, pod);
  json::object& early_meta = MetaOf(pod);
  std::string name = early_meta.contains("name") && early_meta.at("name").is_string()
                         ? std::string(early_meta.at("name").as_string())
                         : "";
  if (name.empty()) return Invalid("metadata.name: Required value");
  if (!early_meta.contains("namespace") || !early_meta.at("namespace").is_string() ||
      early_meta.at("namespace").as_string().empty())
    early_meta["namespace"] = "default";
  for (const char* k :
       {"resourceVersion", "creationTimestamp", "deletionTimestamp", "selfLink", "generateName"})
    early_meta.erase(k);
  json::value& spec_v = pod["spec"];
  if (!spec_v.is_object()) spec_v.emplace_object();
  json::object& spec = spec_v.as_object();
  spec["nodeName"] = node_name;
  // As the kubelet: a static pod tolerates every NoExecute taint (it cannot be evicted).
  json::value& tol = spec["tolerations"];
  if (!tol.is_array()) tol.emplace_array();
  bool tolerates = std::any_of(tol.as_array().begin(), tol.as_array().end(), [](auto& t) {
    return api::GetString(t, "operator") == "Exists" && api::GetString(t, "key").empty() &&
           api::GetString(t, "effect") == "NoExecute";
  });
  if (!tolerates)
    tol.as_array().push_back(json::object{{"operator", "Exists"}, {"effect", "NoExecute"}});

  // The uid (and config hash): the pod as read, the node and the file.
  json::object& meta = MetaOf(pod);  // again: adding "spec" may have moved it
  std::string uid = meta.contains("uid") && meta.at("uid").is_string()
                        ? std::string(meta.at("uid").as_string())
                        : "";
  if (uid.empty()) {
    std::string digest = image::DigestOf(api::SerializeSorted(json::value(pod)) +
                                         "\nhost:" + node_name + "\nfile:" + path);
    uid = std::string(image::DigestHex(digest).substr(0, 32));
  }
  meta["uid"] = uid;
  meta["name"] = name + "-" + node_name;
  json::value& anno = meta["annotations"];
  if (!anno.is_object()) anno.emplace_object();
  anno.as_object()[kAnnoConfigHash] = uid;
  anno.as_object()[kAnnoConfigSource] = "file";
  anno.as_object()[kAnnoConfigSeen] = api::NowRfc3339();
  api::PrepareForCreate(*kind, pod);
  RETURN_IF_ERROR(api::ValidateCreate(*kind, pod));
  return pod;
}

// Who a view is: the static uid and, when mirrored, the mirror's uid and resourceVersion.
std::string ViewIdentity(const json::object& view, const std::string& uid) {
  return uid + "/" + MetaString(view, "uid") + "/" + MetaString(view, "resourceVersion");
}

}  // namespace

bool IsMirrorPod(const json::object& pod) {
  const json::object* a = client::MetaObject(pod, "annotations");
  return a && a->contains(kAnnoConfigMirror);
}

bool IsStaticPod(const json::object& pod) {
  std::string source = Annotation(pod, kAnnoConfigSource);
  return !source.empty() && source != "api" && !IsMirrorPod(pod);
}

bool IsStaticPodView(const json::object& pod, const std::string& uid) {
  return IsStaticPod(pod) && Annotation(pod, kAnnoConfigHash) == uid;
}

Result<std::vector<json::object>> LoadStaticPods(const std::string& path,
                                                 const std::string& node_name) {
  auto text = fs::ReadFile(path);
  if (!text.ok()) return text.status();
  auto fail = [&](const Status& st) { return Invalid(path + ": " + st.message()); };
  auto doc = api::DecodeYaml(*text);
  if (!doc.ok()) return fail(doc.status());
  if (!doc->is_object()) return fail(Invalid("not a Pod"));
  std::vector<json::object> items;
  std::string kind = api::GetString(*doc, "kind");
  if (kind == "Pod") {
    items.push_back(doc->as_object());
  } else if (kind == "PodList" || kind == "List") {
    const json::value* list = api::GetPath(*doc, "items");
    if (list && list->is_array())
      for (const auto& it : list->as_array()) {
        if (!it.is_object() || api::GetString(it, "kind", "Pod") != "Pod")
          return fail(Invalid("a list item is not a Pod"));
        json::object p = it.as_object();
        if (!p.contains("apiVersion")) p["apiVersion"] = api::GetString(*doc, "apiVersion", "v1");
        p["kind"] = "Pod";
        items.push_back(std::move(p));
      }
  } else {
    return fail(Invalid("kind \"" + kind + "\" is not Pod"));
  }
  std::vector<json::object> out;
  for (auto& p : items) {
    auto made = MakeStaticPod(std::move(p), path, node_name);
    if (!made.ok()) return fail(made.status());
    out.push_back(std::move(*made));
  }
  return out;
}

json::object MirrorPodFor(const json::object& static_pod, const std::string& node_name,
                          const std::string& node_uid) {
  json::object mirror = static_pod;
  mirror.erase("status");
  json::object& meta = MetaOf(mirror);
  for (const char* k : {"uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "managedFields"})
    meta.erase(k);
  json::value& anno = meta["annotations"];
  if (!anno.is_object()) anno.emplace_object();
  anno.as_object()[kAnnoConfigMirror] = Annotation(static_pod, kAnnoConfigHash);
  meta["ownerReferences"] = json::array{json::object{{"apiVersion", "v1"},
                                                     {"kind", "Node"},
                                                     {"name", node_name},
                                                     {"uid", node_uid},
                                                     {"controller", true}}};
  return mirror;
}

json::object StaticPodView(const json::object& static_pod, const json::object* mirror) {
  json::object view = static_pod;
  if (!mirror || !MetaString(*mirror, "deletionTimestamp").empty() ||
      Annotation(*mirror, kAnnoConfigMirror) != Annotation(static_pod, kAnnoConfigHash))
    return view;
  json::object& meta = MetaOf(view);
  for (const char* k : {"uid", "resourceVersion", "creationTimestamp"}) {
    std::string v = MetaString(*mirror, k);
    if (!v.empty()) meta[k] = v;
  }
  if (auto it = mirror->find("status"); it != mirror->end()) view["status"] = it->value();
  return view;
}

StaticPods::StaticPods(StaticPodOptions o, client::RestClient* client, Hooks hooks)
    : opts_(std::move(o)), client_(client), hooks_(std::move(hooks)) {}

StaticPods::~StaticPods() { Stop(); }

void StaticPods::Start() {
  {
    // No API calls here (the agent must start without the API server): the pods run, the
    // mirrors are the thread's.
    std::lock_guard<std::mutex> l(sync_mu_);
    ReadDir();
    PushViews();
  }
  thread_ = std::thread([this] { Run(); });
}

void StaticPods::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void StaticPods::Wake() {
  std::lock_guard<std::mutex> l(mu_);
  wake_ = true;
  cv_.notify_all();
}

void StaticPods::Run() {
  auto last_read = std::chrono::steady_clock::now();
  while (true) {
    {
      std::unique_lock<std::mutex> l(mu_);
      // Mirrors are retried every second (the Node may not exist yet); files every period.
      auto wait = std::min<std::chrono::milliseconds>(opts_.period, std::chrono::seconds(1));
      cv_.wait_for(l, wait, [this] { return stop_ || wake_; });
      if (stop_) return;
      wake_ = false;
    }
    auto now = std::chrono::steady_clock::now();
    bool read = now - last_read >= opts_.period;
    if (read) last_read = now;
    SyncOnce(read);
  }
}

void StaticPods::SyncOnce(bool read_dir) {
  std::lock_guard<std::mutex> l(sync_mu_);
  if (read_dir) ReadDir();
  SyncMirrors();
}

void StaticPods::ReadDir() {
  std::map<std::string, client::ObjectPtr> found;  // by key
  std::map<std::string, std::string> file_of;      // key -> file, for the newly read
  if (!opts_.dir.empty()) {
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& e : fsys::directory_iterator(opts_.dir, ec)) {
      std::string name = e.path().filename().string();
      if (name.empty() || name[0] == '.' || !e.is_regular_file(ec)) continue;
      files.push_back(e.path().string());
    }
    if (ec && errors_[opts_.dir] != ec.message()) {
      errors_[opts_.dir] = ec.message();
      LOG(WARNING) << "static pods: reading " << opts_.dir << ": " << ec.message();
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      auto pods = LoadStaticPods(f, opts_.node_name);
      if (!pods.ok()) {
        if (errors_[f] != pods.status().message()) {
          errors_[f] = pods.status().message();
          LOG(WARNING) << "static pods: " << pods.status().message();
        }
        // A file caught half-written keeps what it ran before.
        for (const auto& [key, e] : pods_)
          if (e.file == f) found.emplace(key, e.pod);
        continue;
      }
      errors_.erase(f);
      for (auto& p : *pods) {
        std::string key = client::KeyOf(p);
        if (found.count(key)) {
          LOG(WARNING) << "static pods: " << f << ": pod " << key << " is defined twice";
          continue;
        }
        found[key] = std::make_shared<const json::object>(std::move(p));
        file_of[key] = f;
      }
    }
  }
  // Removed or changed files: stop the pods whose hash is gone.
  for (auto it = pods_.begin(); it != pods_.end();) {
    auto f = found.find(it->first);
    if (f != found.end() && MetaString(*f->second, "uid") == it->second.uid) {
      ++it;
      continue;
    }
    LOG(INFO) << "static pod " << it->first << " (" << it->second.uid << ") "
              << (f == found.end() ? "removed" : "changed") << ": stopping it";
    json::object view = *it->second.pod;
    json::object& meta = MetaOf(view);
    meta["deletionTimestamp"] = api::NowRfc3339();
    meta["deletionGracePeriodSeconds"] =
        api::GetInt(json::value(view), "spec.terminationGracePeriodSeconds", 30);
    if (hooks_.stop) hooks_.stop(it->second.uid, std::make_shared<const json::object>(view));
    it = pods_.erase(it);
  }
  for (auto& [key, pod] : found) {
    if (pods_.count(key)) continue;
    Entry e;
    e.uid = MetaString(*pod, "uid");
    e.key = key;
    e.pod = pod;
    e.file = file_of[key];
    LOG(INFO) << "static pod " << key << " (" << e.uid << ") found: starting it";
    pods_.emplace(key, std::move(e));
  }
}

Result<std::string> StaticPods::NodeUid() {
  if (!node_uid_.empty()) return node_uid_;
  ASSIGN_OR_RETURN(json::object node, client_->Get(client::resources::kNodes, "", opts_.node_name));
  node_uid_ = MetaString(node, "uid");
  return node_uid_;
}

void StaticPods::FixMirrors() {
  client::DeleteOptions del;
  del.grace_period_seconds = 0;
  auto remove = [&](const json::object& mirror, const char* why) {
    LOG(INFO) << "deleting mirror pod " << client::KeyOf(mirror) << ": " << why;
    del.precondition_uid = MetaString(mirror, "uid");
    Status st =
        client_->Delete(kPods, MetaString(mirror, "namespace"), MetaString(mirror, "name"), del);
    if (!st.ok() && st.code() != Code::kNotFound && st.code() != Code::kConflict)
      LOG(WARNING) << "deleting mirror pod " << client::KeyOf(mirror) << ": " << st.ToString();
  };
  // Mirror pods of no static pod.
  if (hooks_.list_pods) {
    for (const auto& p : hooks_.list_pods()) {
      if (!IsMirrorPod(*p) || pods_.count(client::KeyOf(*p))) continue;
      remove(*p, "its static pod is gone");
    }
  }
  for (auto& [key, e] : pods_) {
    client::ObjectPtr mirror = hooks_.get_pod ? hooks_.get_pod(key) : nullptr;
    if (mirror) {
      if (!IsMirrorPod(*mirror)) {
        // A pod of the API holds the name; the kubelet leaves it alone, and so do we.
        continue;
      } else if (!MetaString(*mirror, "deletionTimestamp").empty()) {
        remove(*mirror, "it is being deleted (its static pod keeps running)");
        e.recreate_after = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        continue;
      } else if (Annotation(*mirror, kAnnoConfigMirror) != e.uid) {
        remove(*mirror, "its static pod changed");
        e.recreate_after = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        continue;
      }
    }
    if (!mirror && std::chrono::steady_clock::now() >= e.recreate_after) {
      auto node_uid = NodeUid();
      if (node_uid.ok()) {
        auto created = client_->Create(kPods, MetaString(*e.pod, "namespace"),
                                       MirrorPodFor(*e.pod, opts_.node_name, *node_uid));
        if (created.ok()) {
          LOG(INFO) << "mirror pod " << key << " created";
        } else if (created.status().code() != Code::kAlreadyExists) {
          LOG(WARNING) << "creating mirror pod " << key << ": " << created.status().ToString();
        }
        // The worker gets the mirror when the informer delivers it (Wake).
      }
    }
  }
}

void StaticPods::PushViews() {
  for (auto& [key, e] : pods_) {
    client::ObjectPtr mirror = hooks_.get_pod ? hooks_.get_pod(key) : nullptr;
    bool live = mirror && IsMirrorPod(*mirror);  // StaticPodView checks hash and deletion
    json::object view = StaticPodView(*e.pod, live ? mirror.get() : nullptr);
    std::string id = ViewIdentity(view, e.uid);
    if (id == e.pushed) continue;
    e.pushed = id;
    if (hooks_.run) hooks_.run(e.uid, std::make_shared<const json::object>(std::move(view)));
  }
}

}  // namespace sampan::agent
