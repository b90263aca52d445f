#include "agent/local_volumes.h"

#include <filesystem>
#include <system_error>

#include "agent/node_context.h"
#include "api/json_util.h"
#include "api/persistent_volumes.h"
#include "client/events.h"
#include "util/log.h"

namespace sampan::agent {

namespace json = boost::json;
using api::Obj;
using api::Str;

std::string LocalVolumeToDelete(const json::object& pv, const std::string& node_name) {
  const json::object* meta = Obj(&pv, "metadata");
  const json::object* annotations = Obj(meta, "annotations");
  if (Str(annotations, "pv.kubernetes.io/provisioned-by") != api::kLocalPathProvisioner) return "";
  if (Str(annotations, "volume.kubernetes.io/selected-node") != node_name) return "";
  const json::object* spec = Obj(&pv, "spec");
  if (Str(spec, "persistentVolumeReclaimPolicy") != "Delete") return "";
  if (Str(Obj(&pv, "status"), "phase") != "Released") return "";
  const std::string path = Str(Obj(spec, "hostPath"), "path");
  const json::object* ref = Obj(spec, "claimRef");
  // pvc-<claim uid>_<ns>_<name>: the volume is named pvc-<claim uid> too.
  const std::string want = Str(meta, "name") + "_" + Str(ref, "namespace") + "_" + Str(ref, "name");
  const std::filesystem::path p(path);
  if (path.empty() || p.is_relative() || !ref || p.filename() != want ||
      want.rfind("pvc-", 0) != 0) {
    return "";
  }
  return path;
}

LocalVolumeCleaner::LocalVolumeCleaner(NodeContext* ctx)
    : ctx_(ctx),
      volumes_(
          std::make_unique<client::Informer>(ctx->client, client::resources::kPersistentVolumes)) {
  auto enqueue = [this](const client::ObjectPtr& pv) {
    queue_.Add(client::MetaString(*pv, "name"));
  };
  volumes_->AddEventHandler(client::EventHandlers{
      enqueue, [enqueue](const client::ObjectPtr&, const client::ObjectPtr& pv) { enqueue(pv); },
      nullptr});
}

LocalVolumeCleaner::~LocalVolumeCleaner() { Stop(); }

void LocalVolumeCleaner::Start() {
  if (running_.exchange(true)) return;
  volumes_->Start();
  worker_ = std::thread([this] {
    volumes_->WaitForSync(std::chrono::seconds(60));
    queue_.Process("local-volumes", [this](const std::string& name) { return Sync(name); });
  });
}

void LocalVolumeCleaner::Stop() {
  if (!running_.exchange(false)) return;
  queue_.ShutDown();
  if (worker_.joinable()) worker_.join();
  volumes_->Stop();
}

Status LocalVolumeCleaner::Sync(const std::string& name) {
  client::ObjectPtr pv = volumes_->Get(name);
  if (!pv) return Status::Ok();
  const std::string dir = LocalVolumeToDelete(*pv, ctx_->node_name);
  if (dir.empty()) return Status::Ok();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) {
    std::string msg = "failed to remove the volume's directory " + dir + ": " + ec.message();
    if (ctx_->recorder) ctx_->recorder->Record(*pv, "Warning", "VolumeFailedDelete", msg);
    return Internal(msg);
  }
  LOG(INFO) << "removed local volume " << name << " (" << dir << ")";
  Status st = ctx_->client->Delete(client::resources::kPersistentVolumes, "", name);
  if (!st.ok() && st.code() != Code::kNotFound) return st;
  return Status::Ok();
}

}  // namespace sampan::agent
