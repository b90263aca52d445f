// Agent: wiring (client, runtime, images, volumes, network), the pod informer feeding one
// PodWorker per pod uid, adoption of containers found at start, cleanup of what belongs to
// pods that no longer exist, and the kubelet API server.
#include "agent/agent.h"

#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "agent/adoption.h"
#include "agent/container_logs.h"
#include "agent/image_gc.h"
#include "agent/ingress.h"
#include "agent/local_volumes.h"
#include "agent/node.h"
#include "agent/node_status.h"
#include "agent/pod_worker.h"
#include "agent/run_dir.h"
#include "agent/service_proxy.h"
#include "agent/serving_cert.h"
#include "agent/static_pods.h"
#include "agent/streaming_backend.h"
#include "client/informer.h"
#include "net/host_ip.h"
#include "streaming/kubelet_server.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"

namespace sampan::agent {

namespace json = boost::json;
namespace fsys = std::filesystem;

namespace {

// The IPv4 nameservers of the host's /etc/resolv.conf: the cluster DNS's upstreams.
std::vector<std::string> HostNameservers() {
  std::vector<std::string> out;
  auto text = fs::ReadFile("/etc/resolv.conf");
  if (!text.ok()) return out;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key, value;
    if (ls >> key >> value && key == "nameserver" && net::ParseIpv4(value).ok()) {
      out.push_back(value);
    }
  }
  return out;
}

std::string DefaultPauseBinary(const std::string& self_exe) {
  std::error_code ec;
  fsys::path exe = fsys::read_symlink(self_exe.empty() ? "/proc/self/exe" : self_exe, ec);
  if (ec) exe = self_exe.empty() ? "/proc/self/exe" : self_exe;
  return (exe.parent_path() / "sampan-pause").string();
}

// DATA_DIR/agent/pause/rootfs: /pause and the empty mount points, read-only for the sandbox.
Status PreparePauseRootfs(const std::string& pause_binary, const std::string& rootfs) {
  for (const char* d : {"dev", "proc", "sys", "etc"})
    RETURN_IF_ERROR(fs::MakeDirs(rootfs + "/" + d, 0755));
  auto bin = fs::ReadFile(pause_binary);
  if (!bin.ok())
    return Invalid("the pause binary " + pause_binary + " cannot be read: " +
                   bin.status().message() + " (build the sampan-pause target)");
  auto have = fs::ReadFile(rootfs + "/pause");
  if (!have.ok() || *have != *bin)
    RETURN_IF_ERROR(fs::WriteFileAtomic(rootfs + "/pause", *bin, 0755));
  for (const char* f : {"etc/hosts", "etc/resolv.conf", "etc/hostname"})
    if (!fs::Exists(rootfs + "/" + f))
      RETURN_IF_ERROR(fs::WriteFileAtomic(rootfs + "/" + f, "", 0644));
  return Status::Ok();
}

class AgentImpl final : public Agent {
 public:
  explicit AgentImpl(AgentOptions o) : opts_(std::move(o)) {}
  ~AgentImpl() override { Stop(); }

  Status Init();
  void Stop() override;
  const std::string& node_name() const override { return opts_.node_name; }
  int kubelet_port() const override { return port_; }

  std::shared_ptr<PodWorker> FindPod(const std::string& ns, const std::string& name);

 private:
  void OnPod(const client::ObjectPtr& pod, bool deleted);
  // The kubelet's admission, pod count only (its other checks — resources, ports, node
  // affinity — are the scheduler's here): true if `pod` may run on this node; otherwise
  // `rejection` says why, the first time only (the pod is remembered as rejected).
  bool AdmitLocked(const json::object& pod, std::string* rejection);
  void Housekeeping();
  void CleanupOrphans();
  void WakeAll();

  AgentOptions opts_;
  std::unique_ptr<client::RestClient> client_;
  std::unique_ptr<client::EventRecorder> recorder_;
  std::unique_ptr<TaskQueue> events_;  // pod workers' Events, posted off their threads
  std::unique_ptr<runtime::Runtime> runtime_;
  std::unique_ptr<image::ImageStore> images_;
  std::unique_ptr<volume::VolumeManager> volumes_;
  NodeContext ctx_;
  std::unique_ptr<NodeLoop> node_loop_;
  std::unique_ptr<client::Informer> pods_;
  std::unique_ptr<ServiceProxy> proxy_;
  std::unique_ptr<IngressController> ingress_;
  std::unique_ptr<LocalVolumeCleaner> local_volumes_;  // local-path volumes of this node
  std::unique_ptr<ContainerBackend> backend_;
  std::unique_ptr<streaming::KubeletServer> server_;
  int port_ = 0;

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<PodWorker>> workers_;  // by pod uid; guarded
  std::map<std::string, AdoptedPod> adopted_;                  // not yet claimed; guarded
  std::set<std::string> rejected_;                             // pod uids refused; guarded
  bool stopped_ = false;                                       // guarded
  std::condition_variable cv_;
  std::thread housekeeping_;
  RunLayout layout_;  // runtime state and bundles (run_dir.h)
  // Kubelet managers (container_logs.h, static_pods.h, image_gc.h); started last, stopped
  // first.
  std::unique_ptr<ContainerLogManager> log_manager_;
  std::unique_ptr<StaticPods> static_pods_;
  std::unique_ptr<ImageGcLoop> image_gc_;
  // Static pods: run, or stop with a deletion view (static_pods.h Hooks).
  void RunStaticPod(const std::string& uid, client::ObjectPtr view);
  void StopStaticPod(const std::string& uid, client::ObjectPtr view);
  std::vector<std::string> RunningContainerLogs();
  Result<ImagesInUse> ImagesUsed();
  Status StartManagers();
};

Status AgentImpl::Init() {
  if (opts_.data_dir.empty()) return Invalid("--data-dir must not be empty");
  MachineInfo machine = ReadMachineInfo(opts_.data_dir);
  if (opts_.node_name.empty()) opts_.node_name = machine.hostname;
  if (opts_.node_name.empty()) return Invalid("cannot tell the node name: pass --node-name");
  if (opts_.node_ip.empty()) opts_.node_ip = net::FirstHostIpv4(opts_.bridge);
  std::string agent_dir = opts_.data_dir + "/agent";
  if (opts_.pause_binary.empty()) opts_.pause_binary = DefaultPauseBinary(opts_.self_exe);

  client::ClientConfig cc = opts_.client;
  if (!opts_.kubeconfig.empty()) {
    ASSIGN_OR_RETURN(cc, client::LoadKubeconfig(opts_.kubeconfig));
  }
  cc.user_agent = "sampan-agent/" + opts_.node_name;
  std::string client_ca = cc.ca_pem;
  ASSIGN_OR_RETURN(client_, client::RestClient::New(cc));
  recorder_ = std::make_unique<client::EventRecorder>(client_.get(), "kubelet", opts_.node_name);
  events_ = std::make_unique<TaskQueue>("pod events", 1000);
  ctx_.events = events_.get();

  for (const char* d : {"", "/pods", "/pause", "/network", "/tls"})
    RETURN_IF_ERROR(fs::MakeDirs(agent_dir + d, 0750));
  // Runtime state and bundles on a tmpfs (run_dir.h).
  ASSIGN_OR_RETURN(layout_, PrepareRunLayout(opts_.data_dir, opts_.run_dir, opts_.runtime_root));
  opts_.runtime_root = layout_.runtime_root;
  ::chmod((agent_dir + "/pause").c_str(), 0755);
  RETURN_IF_ERROR(PreparePauseRootfs(opts_.pause_binary, agent_dir + "/pause/rootfs"));

  runtime::RuntimeOptions ro;
  ro.root = opts_.runtime_root;
  if (!opts_.self_exe.empty()) ro.self_exe = opts_.self_exe;
  runtime_ = std::make_unique<runtime::Runtime>(ro);
  ASSIGN_OR_RETURN(images_, image::ImageStore::Open(opts_.data_dir));
  ASSIGN_OR_RETURN(ctx_.registries, image::RegistryConfig::Load(opts_.registries));

  ctx_.client = client_.get();
  ctx_.recorder = recorder_.get();
  ctx_.runtime = runtime_.get();
  ctx_.images = images_.get();
  ctx_.node_name = opts_.node_name;
  ctx_.node_ip = opts_.node_ip;
  ctx_.node_hostname = machine.hostname.empty() ? opts_.node_name : machine.hostname;
  ctx_.agent_dir = agent_dir;
  ctx_.pods_dir = agent_dir + "/pods";
  ctx_.bundles_dir = layout_.bundles_dir;
  ctx_.pause_rootfs = agent_dir + "/pause/rootfs";
  // The kube-dns Service's address unless told otherwise ("none": the host's resolvers).
  ctx_.cluster_dns = opts_.cluster_dns;
  if (ctx_.cluster_dns.empty()) {
    if (auto r = net::ParseCidr(opts_.service_cidr); r.ok()) {
      ctx_.cluster_dns = net::FormatIpv4(r->network + 10);
    }
  } else if (ctx_.cluster_dns == "none") {
    ctx_.cluster_dns.clear();
  }
  ctx_.services = [this] {
    return proxy_ ? proxy_->Services() : std::vector<client::ObjectPtr>{};
  };
  ctx_.cluster_domain = opts_.cluster_domain;
  ctx_.node_memory_capacity = machine.memory_bytes;
  ctx_.volume_options.pods_dir = ctx_.pods_dir;
  ctx_.volume_options.node_allocatable_memory =
      std::max<int64_t>(0, machine.memory_bytes - 100 * 1024 * 1024);
  ctx_.volume_options.node_allocatable_cpu_milli = machine.cpus * 1000;
  ctx_.volume_options.node_allocatable_ephemeral_storage =
      machine.disk_bytes - machine.disk_bytes / 10;
  client::RestClient* rc = client_.get();
  ctx_.getter = [rc](const std::string& kind, const std::string& ns,
                     const std::string& name) -> Result<json::object> {
    const client::Resource* r = &client::resources::kConfigMaps;
    if (kind == "Secret") {
      r = &client::resources::kSecrets;
    } else if (kind == "PersistentVolumeClaim") {
      r = &client::resources::kPersistentVolumeClaims;
    } else if (kind == "PersistentVolume") {
      r = &client::resources::kPersistentVolumes;
    }
    return rc->Get(*r, ns, name);
  };
  // serviceAccountToken projections: a TokenRequest bound to the pod, as the kubelet makes.
  volume::TokenRequester tokens = [rc](const volume::TokenRequestArgs& a)
      -> Result<volume::IssuedToken> {
    json::object spec{{"expirationSeconds", a.expiration_seconds},
                      {"boundObjectRef", json::object{{"kind", "Pod"},
                                                      {"apiVersion", "v1"},
                                                      {"name", a.pod_name},
                                                      {"uid", a.pod_uid}}}};
    if (!a.audience.empty()) spec["audiences"] = json::array{json::value(a.audience)};
    json::object body{{"apiVersion", "authentication.k8s.io/v1"},
                      {"kind", "TokenRequest"},
                      {"spec", std::move(spec)}};
    ASSIGN_OR_RETURN(json::object out, rc->CreateSubresource(client::resources::kServiceAccounts,
                                                             a.ns, a.service_account, "token",
                                                             body));
    const json::value* status = out.if_contains("status");
    const json::value* token =
        status && status->is_object() ? status->as_object().if_contains("token") : nullptr;
    const json::value* exp = status && status->is_object()
                                 ? status->as_object().if_contains("expirationTimestamp")
                                 : nullptr;
    if (!token || !token->is_string() || token->as_string().empty()) {
      return Internal("the API server's TokenRequest answer holds no token");
    }
    volume::IssuedToken t;
    t.token = std::string(token->as_string());
    if (!exp || !exp->is_string() || !ParseRfc3339(exp->as_string(), &t.expires)) {
      t.expires = Clock::Real().NowUnix() + a.expiration_seconds;
    }
    return t;
  };
  volumes_ = std::make_unique<volume::VolumeManager>(ctx_.volume_options, ctx_.getter,
                                                     std::move(tokens));
  ctx_.volumes = volumes_.get();

  // Containers left by an earlier agent, grouped by pod: claimed by the workers of pods
  // that still exist, removed for the others once the informer has synced.
  if (auto list = runtime_->List(); list.ok()) {
    std::vector<RuntimeContainer> mine;
    for (const auto& s : *list) {
      RuntimeContainer c;
      if (FromRuntimeState(s, &c)) mine.push_back(std::move(c));
    }
    adopted_ = GroupByPod(mine);
    // After a reboot the runtime state is gone: the containers' bundles and rootfs dirs go too.
    std::vector<std::string> live;
    for (const auto& s : *list) live.push_back(s.id);
    RemoveStaleContainerFiles(live, ctx_.bundles_dir, images_.get());
    if (!adopted_.empty())
      LOG(INFO) << "found containers of " << adopted_.size() << " pod(s) from an earlier agent";
  } else {
    LOG(WARNING) << "listing runtime containers: " << list.status().ToString();
  }

  // The kubelet API.
  if (opts_.serve_kubelet_api) {
    std::string cert = opts_.tls_cert_file, key = opts_.tls_key_file;
    if (cert.empty() || key.empty()) {
      cert = agent_dir + "/tls/kubelet.crt";
      key = agent_dir + "/tls/kubelet.key";
      RETURN_IF_ERROR(EnsureSelfSignedCert(cert, key, opts_.node_name, opts_.node_ip));
    }
    std::string ca_file = opts_.client_ca_file;
    if (ca_file.empty()) {
      ca_file = agent_dir + "/tls/client-ca.crt";
      RETURN_IF_ERROR(fs::WriteFileAtomic(ca_file, client_ca, 0644));
    }
    backend_ = std::make_unique<ContainerBackend>(
        &ctx_,
        [this](const std::string& ns, const std::string& name) { return FindPod(ns, name); });
    streaming::ServerOptions so;
    so.port = opts_.kubelet_port;
    so.cert_file = cert;
    so.key_file = key;
    so.client_ca_file = ca_file;
    ASSIGN_OR_RETURN(server_, streaming::KubeletServer::Start(so, backend_.get()));
    port_ = server_->port();
  } else {
    port_ = opts_.kubelet_port;
  }

  NodeLoopOptions no;
  no.config.node_name = opts_.node_name;
  no.config.node_ip = opts_.node_ip;
  no.config.kubelet_port = port_;
  no.config.max_pods = opts_.max_pods;
  no.cluster_cidr = opts_.cluster_cidr;
  no.bridge = opts_.bridge;
  no.network_state_dir = agent_dir + "/network";
  no.data_dir = opts_.data_dir;
  node_loop_ = std::make_unique<NodeLoop>(&ctx_, no, [this] { WakeAll(); });
  node_loop_->Start();

  client::ListOptions lo;
  lo.field_selector = "spec.nodeName=" + opts_.node_name;
  pods_ = std::make_unique<client::Informer>(client_.get(), client::resources::kPods, "", lo);
  client::EventHandlers h;
  h.on_add = [this](const client::ObjectPtr& p) { OnPod(p, false); };
  h.on_update = [this](const client::ObjectPtr&, const client::ObjectPtr& p) { OnPod(p, false); };
  h.on_delete = [this](const client::ObjectPtr& p) { OnPod(p, true); };
  pods_->AddEventHandler(std::move(h));
  RETURN_IF_ERROR(StartManagers());
  // As the kubelet, pods start once the Services are known (their variables go into every
  // container); a control plane that does not answer delays that by at most a few seconds.
  auto service_cidr = net::ParseCidr(opts_.service_cidr);
  if (!service_cidr.ok()) {
    return Invalid("--service-cidr " + opts_.service_cidr + ": " +
                   service_cidr.status().message());
  }
  ServiceProxyOptions po;
  po.service_cidr = *service_cidr;
  if (auto dns = net::ParseIpv4(ctx_.cluster_dns); dns.ok() && service_cidr->Contains(*dns)) {
    po.dns_ip = *dns;
    po.dns.zone = opts_.cluster_domain;
    po.dns.upstreams = opts_.cluster_dns_upstreams ? *opts_.cluster_dns_upstreams
                                                   : HostNameservers();
    po.dns.reverse_zones.push_back(*service_cidr);
    if (auto pods = net::ParseCidr(opts_.cluster_cidr); pods.ok()) {
      po.dns.reverse_zones.push_back(*pods);
    }
  }
  proxy_ = std::make_unique<ServiceProxy>(&ctx_, po);
  proxy_->Start();
  local_volumes_ = std::make_unique<LocalVolumeCleaner>(&ctx_);
  local_volumes_->Start();
  IngressOptions io;
  io.http_port = opts_.ingress_http_port;
  io.https_port = opts_.ingress_https_port;
  io.cert_dir = ctx_.agent_dir + "/tls";
  ingress_ = std::make_unique<IngressController>(&ctx_, io);
  ingress_->Start();
  if (!proxy_->WaitForServices(std::chrono::seconds(5))) {
    LOG(WARNING) << "Services not listed yet; pods started now get no service variables";
  }
  pods_->Start();
  housekeeping_ = std::thread([this] { Housekeeping(); });
  LOG(INFO) << "node agent " << opts_.node_name << " started (node IP " << opts_.node_ip
            << ", kubelet port " << port_ << ")";
  return Status::Ok();
}

void AgentImpl::OnPod(const client::ObjectPtr& pod, bool deleted) {
  std::string uid = client::MetaString(*pod, "uid");
  if (uid.empty()) return;
  if (IsMirrorPod(*pod)) {  // never run: its static pod runs from a file
    if (static_pods_) static_pods_->Wake();
    return;
  }
  std::string rejection;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopped_) return;
    auto it = workers_.find(uid);
    if (it == workers_.end()) {
      if (deleted) {
        rejected_.erase(uid);
        return;
      }
      AdoptedPod adopted;
      if (auto a = adopted_.find(uid); a != adopted_.end()) {
        adopted = std::move(a->second);
        adopted_.erase(a);
      } else if (!AdmitLocked(*pod, &rejection)) {
        if (rejection.empty()) return;  // rejected before
      }
      if (rejection.empty()) {
        it = workers_.emplace(uid, std::make_shared<PodWorker>(&ctx_, uid, std::move(adopted)))
                 .first;
      }
    }
    if (rejection.empty()) {
      it->second->Update(pod);
      if (deleted) it->second->MarkDeleted();
      return;
    }
  }
  // As the kubelet's rejectPod: a Warning event with the reason, and the pod Failed.
  LOG(INFO) << "pod " << client::KeyOf(*pod) << " rejected: " << rejection;
  recorder_->Record(*pod, "Warning", "OutOfpods", rejection);
  json::object patch{{"status", json::object{{"phase", "Failed"},
                                             {"reason", "OutOfpods"},
                                             {"message", "Pod was rejected: " + rejection}}}};
  auto r =
      client_->Patch(client::resources::kPods, client::MetaString(*pod, "namespace"),
                     client::MetaString(*pod, "name"), client::PatchType::kMerge, patch, "status");
  if (!r.ok() && r.status().code() != Code::kNotFound)
    LOG(WARNING) << "pod " << client::KeyOf(*pod) << ": " << r.status().ToString();
}

bool AgentImpl::AdmitLocked(const json::object& pod, std::string* rejection) {
  std::string uid = client::MetaString(pod, "uid");
  if (rejected_.count(uid)) return false;
  const json::object* status = pod.if_contains("status") ? pod.at("status").if_object() : nullptr;
  std::string phase;
  if (status && status->contains("phase") && status->at("phase").is_string())
    phase = status->at("phase").as_string().c_str();
  // Finished pods and pods being deleted are not run, so they take no room.
  if (phase == "Succeeded" || phase == "Failed") return true;
  if (!client::MetaString(pod, "deletionTimestamp").empty()) return true;
  // The pods already admitted here that are still active (the kubelet's activePods).
  int64_t used = 0;
  for (const auto& p : pods_->List()) {
    if (!workers_.count(client::MetaString(*p, "uid"))) continue;
    const json::value* st = p->if_contains("status");
    const json::value* ph = st && st->is_object() ? st->as_object().if_contains("phase") : nullptr;
    std::string other = ph && ph->is_string() ? std::string(ph->as_string()) : "";
    if (other != "Succeeded" && other != "Failed") ++used;
  }
  if (used + 1 <= opts_.max_pods) return true;
  rejected_.insert(uid);
  *rejection =
      "Node didn't have enough resource: pods, requested: 1, used: " + std::to_string(used) +
      ", capacity: " + std::to_string(opts_.max_pods);
  return false;
}

std::shared_ptr<PodWorker> AgentImpl::FindPod(const std::string& ns, const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  std::shared_ptr<PodWorker> found;
  for (const auto& [uid, w] : workers_) {
    if (w->Finished() || w->ns() != ns || w->name() != name) continue;
    found = w;
  }
  return found;
}

void AgentImpl::WakeAll() {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [uid, w] : workers_) w->Wake();
}

void AgentImpl::Housekeeping() {
  bool orphans_done = false;
  while (true) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait_for(l, std::chrono::seconds(2), [this] { return stopped_; });
      if (stopped_) return;
    }
    if (!orphans_done && pods_->HasSynced()) {
      CleanupOrphans();
      orphans_done = true;
    }
    // Drop finished workers (their threads have ended).
    std::vector<std::shared_ptr<PodWorker>> done;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (auto it = workers_.begin(); it != workers_.end();) {
        if (it->second->Finished()) {
          done.push_back(it->second);
          it = workers_.erase(it);
        } else {
          ++it;
        }
      }
    }
    done.clear();  // joins outside the lock
  }
}

void AgentImpl::CleanupOrphans() {
  // Containers of pods that no longer exist: a worker tears each pod down.
  std::set<std::string> known;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [uid, a] : adopted_) {
      LOG(INFO) << "removing containers of pod " << a.ns << "/" << a.name << " (" << uid
                << "): the pod no longer exists";
      auto w = std::make_shared<PodWorker>(&ctx_, uid, std::move(a));
      w->MarkDeleted();
      workers_.emplace(uid, std::move(w));
    }
    adopted_.clear();
    for (const auto& [uid, w] : workers_) known.insert(uid);
  }
  // Volumes and addresses of pods with no containers at all.
  for (const auto& uid : volumes_->PodsOnDisk()) {
    if (known.count(uid)) continue;
    LOG(INFO) << "removing the volumes of vanished pod " << uid;
    if (Status st = volumes_->TearDown(uid); !st.ok())
      LOG(WARNING) << "pod " << uid << ": " << st.ToString();
  }
  if (net::PodNetwork* n = ctx_.network()) {
    for (const auto& uid : n->Pods()) {
      if (known.count(uid)) continue;
      LOG(INFO) << "releasing the address of vanished pod " << uid;
      (void)n->Detach(uid);
    }
  }
}

void AgentImpl::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopped_) return;
    stopped_ = true;
    cv_.notify_all();
  }
  if (housekeeping_.joinable()) housekeeping_.join();
  if (static_pods_) static_pods_->Stop();
  if (log_manager_) log_manager_->Stop();
  if (image_gc_) image_gc_->Stop();
  if (pods_) pods_->Stop();
  if (proxy_) proxy_->Stop();
  if (ingress_) ingress_->Stop();
  if (local_volumes_) local_volumes_->Stop();
  if (node_loop_) node_loop_->Stop();
  if (server_) server_->Stop();
  std::map<std::string, std::shared_ptr<PodWorker>> workers;
  {
    std::lock_guard<std::mutex> l(mu_);
    workers.swap(workers_);
  }
  for (auto& [uid, w] : workers) w->Stop();
  if (events_) events_->Stop(std::chrono::seconds(2));  // what the workers said last
  ReleaseRunLayout(layout_);  // only when no container is left in it
}

// --- kubelet managers: container log rotation, static pods, image GC ---

Status AgentImpl::StartManagers() {
  RETURN_IF_ERROR(ValidateContainerLogOptions(opts_.container_logs));
  RETURN_IF_ERROR(ValidateImageGcOptions(opts_.image_gc));
  if (opts_.file_check_frequency.count() <= 0)
    return Invalid("--file-check-frequency must be greater than 0");

  log_manager_ = std::make_unique<ContainerLogManager>(opts_.container_logs,
                                                       [this] { return RunningContainerLogs(); });
  log_manager_->Start();

  StaticPodOptions so;
  so.dir = opts_.pod_manifest_path;
  so.period = opts_.file_check_frequency;
  so.node_name = opts_.node_name;
  StaticPods::Hooks hooks;
  hooks.run = [this](const std::string& uid, client::ObjectPtr v) { RunStaticPod(uid, v); };
  hooks.stop = [this](const std::string& uid, client::ObjectPtr v) { StopStaticPod(uid, v); };
  hooks.get_pod = [this](const std::string& key) { return pods_->Get(key); };
  hooks.list_pods = [this] { return pods_->List(); };
  static_pods_ = std::make_unique<StaticPods>(so, client_.get(), std::move(hooks));
  static_pods_->Start();  // claims the static pods' adopted containers before cleanup

  auto gc =
      std::make_unique<ImageGc>(opts_.image_gc, images_.get(), [this] { return ImagesUsed(); });
  client::EventRecorder* recorder = recorder_.get();
  std::string node = opts_.node_name;
  NodeLoop* node_loop = node_loop_.get();
  image_gc_ = std::make_unique<ImageGcLoop>(
      std::move(gc), opts_.image_gc.period,
      [recorder, node, node_loop](const Result<ImageGcResult>& r) {
        json::object ref{{"kind", "Node"},
                         {"apiVersion", "v1"},
                         {"metadata", json::object{{"name", node}, {"uid", node}}}};
        if (!r.ok()) {
          recorder->Record(ref, "Warning", "ImageGCFailed", r.status().message());
          return;
        }
        if (!r->removed.empty() && node_loop) node_loop->RequestStatus();
        if (r->ran && r->bytes_freed < r->bytes_to_free)
          recorder->Record(ref, "Warning", "FreeDiskSpaceFailed",
                           "Failed to garbage collect required amount of images. Attempted to "
                           "free " +
                               std::to_string(r->bytes_to_free) + " bytes, but only found " +
                               std::to_string(r->bytes_freed) + " bytes eligible to free.");
      });
  image_gc_->Start();
  return Status::Ok();
}

void AgentImpl::RunStaticPod(const std::string& uid, client::ObjectPtr view) {
  std::lock_guard<std::mutex> l(mu_);
  if (stopped_) return;
  auto it = workers_.find(uid);
  if (it == workers_.end()) {
    AdoptedPod adopted;
    if (auto a = adopted_.find(uid); a != adopted_.end()) {
      adopted = std::move(a->second);
      adopted_.erase(a);
    }
    it = workers_.emplace(uid, std::make_shared<PodWorker>(&ctx_, uid, std::move(adopted))).first;
  }
  it->second->Update(std::move(view));
}

void AgentImpl::StopStaticPod(const std::string& uid, client::ObjectPtr view) {
  std::lock_guard<std::mutex> l(mu_);
  if (auto it = workers_.find(uid); it != workers_.end()) it->second->Update(std::move(view));
}

// The current log of each running container (the layout of PodWorker::LogPath).
std::vector<std::string> AgentImpl::RunningContainerLogs() {
  std::vector<std::string> out;
  auto list = runtime_->List();
  if (!list.ok()) return out;
  for (const auto& s : *list) {
    RuntimeContainer c;
    if (!FromRuntimeState(s, &c) || c.sandbox || c.exited || s.status != "running") continue;
    out.push_back(ctx_.pods_dir + "/" + c.pod_uid + "/logs/" + c.container_name + "/" +
                  std::to_string(c.restart_count) + ".log");
  }
  return out;
}

// Images of every container the runtime knows here, running or exited (as the kubelet).
Result<ImagesInUse> AgentImpl::ImagesUsed() {
  ASSIGN_OR_RETURN(auto list, runtime_->List());
  ImagesInUse used;
  for (const auto& s : list) {
    RuntimeContainer c;
    if (!FromRuntimeState(s, &c) || c.sandbox) continue;
    if (!c.image.empty()) used.names.insert(c.image);
    if (auto at = c.image_id.find('@'); at != std::string::npos)
      used.manifest_digests.insert(c.image_id.substr(at + 1));
  }
  return used;
}

}  // namespace

Result<std::unique_ptr<Agent>> Agent::Start(const AgentOptions& options) {
  auto a = std::make_unique<AgentImpl>(options);
  RETURN_IF_ERROR(a->Init());
  return std::unique_ptr<Agent>(std::move(a));
}

}  // namespace sampan::agent
