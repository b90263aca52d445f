#include "controllers/local_path_provisioner.h"

#include "api/persistent_volumes.h"
#include "controllers/util.h"
#include "util/log.h"

namespace sampan::controllers {

namespace json = boost::json;
using client::MetaString;
using client::ObjectPtr;

namespace {

constexpr std::string_view kSelectedNode = "volume.kubernetes.io/selected-node";
constexpr std::string_view kProvisionedBy = "pv.kubernetes.io/provisioned-by";

std::string Annotation(const json::object& obj, std::string_view key) {
  return Str(Obj(Obj(&obj, "metadata"), "annotations"), key);
}

json::array CopyArray(const json::array* a) { return a ? *a : json::array(); }

}  // namespace

json::object LocalPathVolume(const json::object& pvc, const json::object& storage_class,
                             std::string_view node_name, std::string_view hostname,
                             std::string_view default_dir) {
  const json::object* meta = Obj(&pvc, "metadata");
  const std::string uid = Str(meta, "uid"), ns = Str(meta, "namespace"), name = Str(meta, "name");
  std::string dir = Str(Obj(&storage_class, "parameters"), "path");
  if (dir.empty()) dir = std::string(default_dir);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const json::object* spec = Obj(&pvc, "spec");
  std::string reclaim = Str(&storage_class, "reclaimPolicy");
  if (reclaim.empty()) reclaim = "Delete";
  std::string mode = Str(spec, "volumeMode");
  if (mode.empty()) mode = "Filesystem";
  json::object capacity;
  if (const json::object* req = Obj(Obj(spec, "resources"), "requests")) {
    if (const json::value* s = req->if_contains("storage")) capacity["storage"] = *s;
  }
  json::object pv_spec;
  pv_spec["capacity"] = std::move(capacity);
  pv_spec["accessModes"] = CopyArray(Arr(spec, "accessModes"));
  pv_spec["persistentVolumeReclaimPolicy"] = reclaim;
  pv_spec["storageClassName"] = Str(Obj(&storage_class, "metadata"), "name");
  pv_spec["volumeMode"] = mode;
  if (const json::array* opts = Arr(&storage_class, "mountOptions"))
    pv_spec["mountOptions"] = *opts;
  pv_spec["hostPath"] = json::object{{"path", dir + "/pvc-" + uid + "_" + ns + "_" + name},
                                     {"type", "DirectoryOrCreate"}};
  json::object expr{{"key", "kubernetes.io/hostname"},
                    {"operator", "In"},
                    {"values", json::array{json::string(hostname)}}};
  json::object term{{"matchExpressions", json::array{expr}}};
  pv_spec["nodeAffinity"] =
      json::object{{"required", json::object{{"nodeSelectorTerms", json::array{term}}}}};
  pv_spec["claimRef"] = json::object{{"kind", "PersistentVolumeClaim"},
                                     {"apiVersion", "v1"},
                                     {"namespace", ns},
                                     {"name", name},
                                     {"uid", uid}};
  json::object annotations{{kProvisionedBy, kLocalPathProvisioner},
                           {kSelectedNode, json::string(node_name)}};
  json::object pv_meta{{"name", "pvc-" + uid}, {"annotations", std::move(annotations)}};
  return json::object{{"apiVersion", "v1"},
                      {"kind", "PersistentVolume"},
                      {"metadata", std::move(pv_meta)},
                      {"spec", std::move(pv_spec)}};
}

LocalPathProvisioner::LocalPathProvisioner(client::SharedInformers* informers,
                                           client::EventRecorder* recorder, std::string default_dir)
    : client_(informers->client()),
      recorder_(recorder),
      default_dir_(std::move(default_dir)),
      claims_(informers->For(client::resources::kPersistentVolumeClaims)),
      volumes_(informers->For(client::resources::kPersistentVolumes)),
      classes_(informers->For(client::resources::kStorageClasses)),
      nodes_(informers->For(client::resources::kNodes)) {
  auto enqueue = [this](const ObjectPtr& c) {
    queue_.Add(MetaString(*c, "namespace") + "/" + MetaString(*c, "name"));
  };
  claims_->AddEventHandler(client::EventHandlers{
      enqueue, [enqueue](const ObjectPtr&, const ObjectPtr& c) { enqueue(c); }, nullptr});
  // A volume of ours deleted while its claim still waits (someone deleted it by hand): make it
  // again.
  volumes_->AddEventHandler(
      client::EventHandlers{nullptr, nullptr, [this](const ObjectPtr& pv) {
                              if (Annotation(*pv, kProvisionedBy) != kLocalPathProvisioner) return;
                              const json::object* ref = Obj(Obj(pv.get(), "spec"), "claimRef");
                              if (ref) queue_.Add(Str(ref, "namespace") + "/" + Str(ref, "name"));
                            }});
}

LocalPathProvisioner::~LocalPathProvisioner() { Stop(); }

void LocalPathProvisioner::Run(int workers) {
  if (running_.exchange(true)) return;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      for (client::Informer* inf : {claims_, volumes_, classes_, nodes_}) {
        inf->WaitForSync(std::chrono::seconds(60));
      }
      queue_.Process("local-path-provisioner",
                     [this](const std::string& key) { return Sync(key); });
    });
  }
}

void LocalPathProvisioner::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

Status LocalPathProvisioner::Sync(const std::string& key) {
  ObjectPtr pvc = claims_->Get(key);
  if (!pvc || IsDeleting(*pvc)) return Status::Ok();
  const json::object* spec = Obj(pvc.get(), "spec");
  if (!Str(spec, "volumeName").empty() || Str(Obj(pvc.get(), "status"), "phase") == "Bound") {
    return Status::Ok();
  }
  const std::optional<std::string> class_name = api::ClaimStorageClass(*pvc);
  if (!class_name || class_name->empty()) return Status::Ok();
  ObjectPtr sc = classes_->Get(*class_name);
  if (!sc || Str(sc.get(), "provisioner") != kLocalPathProvisioner) return Status::Ok();
  const std::string node_name = Annotation(*pvc, kSelectedNode);
  if (node_name.empty()) {
    if (Str(sc.get(), "volumeBindingMode") != "WaitForFirstConsumer") {
      recorder_->Record(
          *pvc, "Warning", "ProvisioningFailed",
          "the local-path provisioner needs the node of the pod: the StorageClass \"" +
              *class_name + "\" must use volumeBindingMode WaitForFirstConsumer");
    }
    return Status::Ok();  // the scheduler names the node when a pod uses the claim
  }
  const std::string uid = MetaString(*pvc, "uid");
  if (ObjectPtr existing = volumes_->Get("pvc-" + uid)) return Status::Ok();  // the binder's now
  std::string hostname = node_name;
  if (ObjectPtr node = nodes_->Get(node_name)) {
    std::string label = Str(Obj(Obj(node.get(), "metadata"), "labels"), "kubernetes.io/hostname");
    if (!label.empty()) hostname = label;
  }
  json::object pv = LocalPathVolume(*pvc, *sc, node_name, hostname, default_dir_);
  recorder_->Record(*pvc, "Normal", "Provisioning",
                    "External provisioner is provisioning volume for claim \"" + key + "\"");
  auto created = client_->Create(client::resources::kPersistentVolumes, "", pv);
  if (!created.ok() && created.status().code() != Code::kAlreadyExists) {
    recorder_->Record(*pvc, "Warning", "ProvisioningFailed",
                      "failed to provision volume with StorageClass \"" + *class_name +
                          "\": " + created.status().message());
    return created.status();
  }
  recorder_->Record(*pvc, "Normal", "ProvisioningSucceeded",
                    "Successfully provisioned volume pvc-" + uid);
  return Status::Ok();
}

}  // namespace sampan::controllers
