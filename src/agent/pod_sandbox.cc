// PodWorker: the sandbox (pause container, network, /etc files), volumes, teardown and the
// status write.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <sstream>

#include "agent/pod_worker.h"
#include "agent/static_pods.h"
#include "api/json_util.h"
#include "podspec/container_spec.h"
#include "util/fs.h"
#include "util/log.h"

namespace sampan::agent {

namespace json = boost::json;
namespace fsys = std::filesystem;

namespace {

std::string NewSandboxId() {
  std::string u = NewUuid();
  std::string out;
  for (char ch : u)
    if (ch != '-') out += ch;
  return out;
}

// A DNS label from a pod name: at most 63 characters, no trailing '-' or '.'.
std::string Label63(std::string s) {
  if (s.size() > 63) s.resize(63);
  while (!s.empty() && (s.back() == '-' || s.back() == '.')) s.pop_back();
  return s;
}

std::string Strings(const json::value* arr, const std::string& sep) {
  std::string out;
  if (!arr || !arr->is_array()) return out;
  for (const auto& v : arr->as_array()) {
    if (!v.is_string()) continue;
    if (!out.empty()) out += sep;
    out += v.as_string().c_str();
  }
  return out;
}

// Removes the pod's cgroup directories (cgroup v2 and every v1 hierarchy); best effort.
void RemovePodCgroup(const std::string& parent) {
  if (parent.empty()) return;
  std::error_code ec;
  auto try_remove = [](const fsys::path& dir) {
    // Children first (container leaves the runtime did not remove).
    std::error_code ec;
    std::vector<fsys::path> subdirs;
    for (auto it = fsys::recursive_directory_iterator(dir, ec);
         !ec && it != fsys::recursive_directory_iterator(); it.increment(ec))
      if (it->is_directory(ec)) subdirs.push_back(it->path());
    for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) ::rmdir(it->c_str());
    ::rmdir(dir.c_str());
  };
  fsys::path root = "/sys/fs/cgroup";
  if (fs::Exists("/sys/fs/cgroup/cgroup.controllers")) {
    try_remove(root / parent.substr(1));
    return;
  }
  for (const auto& h : fsys::directory_iterator(root, ec)) {
    fsys::path d = h.path() / parent.substr(1);
    if (fsys::is_directory(d, ec)) try_remove(d);
  }
}

// The pod's files are written twice (before the sandbox, and once it has an address); only
// what changed is replaced: each replacement is a new inode and an fsync, which cost more
// than the read on a busy node.
Status WriteIfChanged(const std::string& path, const std::string& data, int mode) {
  if (auto have = fs::ReadFile(path); have.ok() && *have == data) return Status::Ok();
  return fs::WriteFileAtomic(path, data, mode);
}

bool IsMountPoint(const std::string& path) {
  struct stat a, b;
  if (::stat(path.c_str(), &a) != 0) return false;
  std::string parent = fsys::path(path).parent_path().string();
  if (::stat(parent.c_str(), &b) != 0) return false;
  return a.st_dev != b.st_dev;
}

}  // namespace

podspec::SandboxInfo PodWorker::SandboxInfoFor(const json::object& pod) const {
  json::value v(pod);
  podspec::SandboxInfo info;
  {
    std::lock_guard<std::mutex> l(mu_);
    info.pause_pid = sandbox_pid_;
  }
  info.host_network = api::GetBool(v, "spec.hostNetwork");
  info.host_pid = api::GetBool(v, "spec.hostPID");
  info.host_ipc = api::GetBool(v, "spec.hostIPC");
  info.share_pid = api::GetBool(v, "spec.shareProcessNamespace");
  if (info.host_network) {
    info.hostname = ctx_->node_hostname;
  } else {
    std::string h = api::GetString(v, "spec.hostname");
    info.hostname = Label63(h.empty() ? client::MetaString(pod, "name") : h);
  }
  info.etc_hosts = PodDir() + "/etc-hosts";
  info.resolv_conf = PodDir() + "/resolv.conf";
  info.cgroup_parent = podspec::PodCgroupParent(pod);
  info.hostname_file = PodDir() + "/hostname";
  if (!info.host_ipc) info.shm_path = PodDir() + "/shm";
  return info;
}

Status PodWorker::WritePodFiles(const json::object& pod, const podspec::SandboxInfo& info) {
  json::value v(pod);
  RETURN_IF_ERROR(fs::MakeDirs(PodDir(), 0750));
  // /etc/hosts: the kubelet-managed file (hostNetwork pods get the node's own).
  std::string hosts;
  if (info.host_network) {
    auto r = fs::ReadFile("/etc/hosts");
    hosts = r.ok() ? *r : "127.0.0.1\tlocalhost\n";
  } else {
    hosts =
        "# Kubernetes-managed hosts file.\n"
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "fe00::0\tip6-mcastprefix\n"
        "fe00::1\tip6-allnodes\n"
        "fe00::2\tip6-allrouters\n";
    std::string sub = api::GetString(v, "spec.subdomain");
    if (!pod_ip_.empty()) {
      if (!sub.empty()) {
        hosts += pod_ip_ + "\t" + info.hostname + "." + sub + "." +
                 client::MetaString(pod, "namespace") + ".svc." + ctx_->cluster_domain + "\t" +
                 info.hostname + "\n";
      } else {
        hosts += pod_ip_ + "\t" + info.hostname + "\n";
      }
    }
  }
  if (const json::value* aliases = api::GetPath(v, "spec.hostAliases");
      aliases && aliases->is_array() && !aliases->as_array().empty()) {
    hosts += "\n# Entries added by HostAliases.\n";
    for (const auto& a : aliases->as_array())
      hosts += api::GetString(a, "ip") + "\t" + Strings(api::GetPath(a, "hostnames"), "\t") + "\n";
  }
  RETURN_IF_ERROR(WriteIfChanged(info.etc_hosts, hosts, 0644));

  // /etc/resolv.conf by dnsPolicy.
  std::string policy = api::GetString(v, "spec.dnsPolicy", "ClusterFirst");
  if (policy == "ClusterFirstWithHostNet")
    policy = "ClusterFirst";
  else if (policy == "ClusterFirst" && info.host_network)
    policy = "Default";
  std::vector<std::string> nameservers, searches, options;
  auto host_resolv = fs::ReadFile("/etc/resolv.conf");
  auto parse_host = [&](std::vector<std::string>* ns, std::vector<std::string>* search,
                        std::vector<std::string>* opts) {
    if (!host_resolv.ok()) return;
    std::istringstream in(*host_resolv);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string key, word;
      ls >> key;
      while (ls >> word) {
        if (key == "nameserver" && ns) ns->push_back(word);
        if ((key == "search" || key == "domain") && search) search->push_back(word);
        if (key == "options" && opts) opts->push_back(word);
      }
    }
  };
  if (policy == "ClusterFirst" && !ctx_->cluster_dns.empty()) {
    std::string ns = client::MetaString(pod, "namespace");
    nameservers.push_back(ctx_->cluster_dns);
    searches = {ns + ".svc." + ctx_->cluster_domain, "svc." + ctx_->cluster_domain,
                ctx_->cluster_domain};
    parse_host(nullptr, &searches, nullptr);
    options.push_back("ndots:5");
  } else if (policy != "None") {
    // Default (and ClusterFirst without a cluster DNS, as the kubelet falls back).
    parse_host(&nameservers, &searches, &options);
  }
  if (const json::value* cfg = api::GetPath(v, "spec.dnsConfig"); cfg && cfg->is_object()) {
    if (const json::value* a = api::GetPath(*cfg, "nameservers"); a && a->is_array())
      for (const auto& s : a->as_array())
        if (s.is_string()) nameservers.push_back(s.as_string().c_str());
    if (const json::value* a = api::GetPath(*cfg, "searches"); a && a->is_array())
      for (const auto& s : a->as_array())
        if (s.is_string()) searches.push_back(s.as_string().c_str());
    if (const json::value* a = api::GetPath(*cfg, "options"); a && a->is_array())
      for (const auto& o : a->as_array()) {
        std::string name = api::GetString(o, "name"), value = api::GetString(o, "value");
        std::string opt = value.empty() ? name : name + ":" + value;
        options.erase(
            std::remove_if(options.begin(), options.end(),
                           [&](const std::string& x) { return x.substr(0, x.find(':')) == name; }),
            options.end());
        options.push_back(opt);
      }
  }
  if (nameservers.size() > 3) nameservers.resize(3);
  if (searches.size() > 32) searches.resize(32);
  std::string resolv;
  for (const auto& n : nameservers) resolv += "nameserver " + n + "\n";
  if (!searches.empty()) {
    resolv += "search";
    for (const auto& s : searches) resolv += " " + s;
    resolv += "\n";
  }
  if (!options.empty()) {
    resolv += "options";
    for (const auto& o : options) resolv += " " + o;
    resolv += "\n";
  }
  RETURN_IF_ERROR(WriteIfChanged(info.resolv_conf, resolv, 0644));
  RETURN_IF_ERROR(WriteIfChanged(info.hostname_file, info.hostname + "\n", 0644));
  // The pod's /dev/shm: one tmpfs shared by its containers (the IPC namespace is shared).
  if (!info.shm_path.empty() && !IsMountPoint(info.shm_path)) {
    RETURN_IF_ERROR(fs::MakeDirs(info.shm_path, 01777));
    if (::mount("shm", info.shm_path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "mode=1777,size=65536k") != 0)
      return ErrnoStatus("mounting the pod's /dev/shm", errno);
  }
  return Status::Ok();
}

bool PodWorker::EnsureSandbox(const json::object& pod) {
  if (sandbox_ready_) {
    // The pause process must still be there; if it died, everything starts again.
    auto st = ctx_->runtime->State(sandbox_id_);
    if (st.ok() && st->status == "running") return true;
    Event(pod, "Normal", "SandboxChanged",
          "Pod sandbox changed, it will be killed and re-created.");
    KillPod(pod, 0);
    TearDownSandbox();
  }
  json::value v(pod);
  auto t0 = std::chrono::steady_clock::now();
  auto t_created = t0;
  bool host_network = api::GetBool(v, "spec.hostNetwork");
  net::PodNetwork* network = ctx_->network();
  if (!host_network && !network) {
    std::string msg = "network is not ready: container runtime network not ready: " +
                      (ctx_->network_error().empty() ? std::string("waiting for the node's podCIDR")
                                                     : ctx_->network_error());
    if (pod_error_ != msg) Event(pod, "Warning", "NetworkNotReady", msg);
    pod_error_ = msg;
    return false;
  }
  auto fail = [&](const std::string& what, const Status& st) {
    std::string msg = "Failed to create pod sandbox: " + what + ": " + st.message();
    Event(pod, "Warning", "FailedCreatePodSandBox", msg);
    pod_error_ = msg;
    return false;
  };
  if (sandbox_id_.empty() || [&] {
        auto st = ctx_->runtime->State(sandbox_id_);
        return !st.ok() || st->status != "running";
      }()) {
    if (!sandbox_id_.empty()) TearDownSandbox();
    std::string id = NewSandboxId();
    std::string bundle = ctx_->bundles_dir + "/" + id;
    if (Status st = fs::MakeDirs(bundle, 0755); !st.ok()) return fail("bundle", st);
    podspec::SandboxInfo info = SandboxInfoFor(pod);
    // The pod's files (and its /dev/shm) exist before the sandbox that may bind them;
    // /etc/hosts is written again once the pod has its address.
    if (Status st = WritePodFiles(pod, info); !st.ok()) return fail("pod files", st);
    boost::system::error_code ec;
    json::value cfg = json::parse(podspec::SandboxConfigJson(pod, info, ctx_->pause_rootfs), ec);
    if (ec || !cfg.is_object()) return fail("config", Internal("bad sandbox configuration"));
    json::object& anno = cfg.as_object()["annotations"].emplace_object();
    anno[kAnnoPodUid] = uid_;
    anno[kAnnoPodName] = client::MetaString(pod, "name");
    anno[kAnnoPodNamespace] = client::MetaString(pod, "namespace");
    anno[kAnnoContainerType] = "sandbox";
    anno[kAnnoStartedAt] = std::to_string(static_cast<int64_t>(Now()));
    if (Status st = fs::WriteFileAtomic(bundle + "/config.json", api::SerializeJson(cfg), 0600);
        !st.ok())
      return fail("config", st);
    runtime::CreateOptions co;
    co.id = id;
    co.bundle = bundle;
    // A log file of its own: without one the pause process would inherit the stdio of the
    // runtime helper, whose output pipes the caller reads to the end.
    co.log_path = bundle + "/pause.log";
    if (Status st = ctx_->runtime->Create(co); !st.ok()) {
      std::error_code rec;
      fsys::remove_all(bundle, rec);
      return fail("create", st);
    }
    sandbox_id_ = id;
    t_created = std::chrono::steady_clock::now();
    if (Status st = ctx_->runtime->Start(id); !st.ok()) {
      TearDownSandbox();
      return fail("start", st);
    }
  }
  auto state = ctx_->runtime->State(sandbox_id_);
  if (!state.ok()) {
    TearDownSandbox();
    return fail("state", state.status());
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    sandbox_pid_ = state->pid;
  }
  auto t_sandbox = std::chrono::steady_clock::now();
  if (!host_network) {
    auto addr = network->Attach(uid_, "/proc/" + std::to_string(state->pid) + "/ns/net");
    if (!addr.ok()) {
      TearDownSandbox();
      return fail("network", addr.status());
    }
    pod_ip_ = addr->ip;
    std::vector<net::HostPort> ports;
    const json::value* list = api::GetPath(v, "spec.containers");
    if (list && list->is_array()) {
      for (const auto& c : list->as_array()) {
        const json::value* ps = api::GetPath(c, "ports");
        if (!ps || !ps->is_array()) continue;
        for (const auto& p : ps->as_array()) {
          if (api::GetInt(p, "hostPort") <= 0) continue;
          net::HostPort hp;
          hp.protocol = api::GetString(p, "protocol", "TCP");
          hp.host_port = static_cast<int>(api::GetInt(p, "hostPort"));
          hp.container_port = static_cast<int>(api::GetInt(p, "containerPort"));
          hp.host_ip = api::GetString(p, "hostIP");
          ports.push_back(hp);
        }
      }
    }
    if (!ports.empty()) {
      if (Status st = network->SetHostPorts(uid_, ports); !st.ok()) {
        TearDownSandbox();
        return fail("hostPort", st);
      }
    }
  } else {
    pod_ip_ = ctx_->node_ip;
  }
  auto t_network = std::chrono::steady_clock::now();
  if (Status st = WritePodFiles(pod, SandboxInfoFor(pod)); !st.ok()) {
    TearDownSandbox();
    return fail("pod files", st);
  }
  sandbox_ready_ = true;
  auto t_end = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
  };
  LOG(DEBUG) << "pod " << client::KeyOf(pod) << ": sandbox ready in " << ms(t0, t_end)
             << " ms (pause container " << ms(t0, t_sandbox) << " [create " << ms(t0, t_created)
             << "], network " << ms(t_sandbox, t_network) << ", files " << ms(t_network, t_end)
             << ")";
  return true;
}

json::object PodWorker::WithAddresses(const json::object& pod) const {
  json::object out = pod;
  json::value& st = out["status"];
  if (!st.is_object()) st.emplace_object();
  json::object& o = st.as_object();
  if (!pod_ip_.empty()) {
    o["podIP"] = pod_ip_;
    o["podIPs"] = json::array{json::object{{"ip", pod_ip_}}};
  }
  if (!ctx_->node_ip.empty()) {
    o["hostIP"] = ctx_->node_ip;
    o["hostIPs"] = json::array{json::object{{"ip", ctx_->node_ip}}};
  }
  return out;
}

bool PodWorker::EnsureVolumes(const json::object& pod) {
  auto now = std::chrono::steady_clock::now();
  // configMap/secret/downwardAPI contents follow their sources: refreshed every minute.
  if (volumes_ready_ && now - volumes_refreshed_ < std::chrono::seconds(60)) return true;
  auto r = ctx_->volumes->SetUp(WithAddresses(pod));
  volumes_refreshed_ = now;
  if (!r.ok()) {
    if (volumes_ready_) {
      LOG(WARNING) << "refreshing volumes of pod " << client::KeyOf(pod) << ": "
                   << r.status().ToString();
      return true;
    }
    std::string msg = "MountVolume.SetUp failed: " + r.status().message();
    if (pod_error_ != msg) Event(pod, "Warning", "FailedMount", msg);
    pod_error_ = msg;
    return false;
  }
  volume_map_ = std::move(*r);
  volumes_ready_ = true;
  return true;
}

void PodWorker::TearDownSandbox() {
  for (auto& c : containers_) {
    StopProbers(*c);
    if (!c->id.empty()) {
      RemoveInstance(c->id);
      c->id.clear();
      if (c->running) {
        c->running = false;
        c->exited = true;
      }
      PublishInfo(*c);
    }
  }
  if (net::PodNetwork* n = ctx_->network()) {
    if (Status st = n->Detach(uid_); !st.ok())
      LOG(WARNING) << "pod " << uid_ << ": detaching network: " << st.ToString();
  }
  if (!sandbox_id_.empty()) RemoveInstance(sandbox_id_);
  sandbox_id_.clear();
  std::string shm = PodDir() + "/shm";
  if (IsMountPoint(shm)) ::umount2(shm.c_str(), MNT_DETACH);
  sandbox_ready_ = false;
  std::lock_guard<std::mutex> l(mu_);
  sandbox_pid_ = 0;
}

void PodWorker::TearDownAll() {
  TearDownSandbox();
  for (const auto& rc : adopted_.stale) RemoveInstance(rc.id);
  adopted_.stale.clear();
  for (const auto& [name, rc] : adopted_.containers) RemoveInstance(rc.id);
  adopted_.containers.clear();
  if (adopted_.has_sandbox) {
    RemoveInstance(adopted_.sandbox.id);
    adopted_.has_sandbox = false;
  }
  client::ObjectPtr pod;
  {
    std::lock_guard<std::mutex> l(mu_);
    pod = pod_;
  }
  if (pod) RemovePodCgroup(podspec::PodCgroupParent(*pod));
  if (Status st = ctx_->volumes->TearDown(uid_); !st.ok())
    LOG(WARNING) << "pod " << uid_ << ": removing volumes: " << st.ToString();
  volumes_ready_ = false;
}

void PodWorker::WriteStatus(const json::object& pod) {
  auto compute = [&](const json::object& base) {
    PodStatusInputs in;
    in.pod = &base;
    for (const auto& c : containers_)
      (c->init ? in.init_containers : c->ephemeral ? in.ephemeral_containers : in.containers)
          .push_back(c->view);
    in.sandbox_ready = sandbox_ready_;
    in.host_ip = ctx_->node_ip;
    in.pod_ip = pod_ip_;
    in.start_time = start_time_;
    in.failed_reason = failed_reason_;
    in.failed_message = failed_message_;
    in.qos_class = podspec::QosClass(base);
    in.now = static_cast<int64_t>(Now());
    return ComputePodStatus(in);
  };
  auto status_of = [](const json::object& p) {
    auto it = p.find("status");
    return it != p.end() && it->value().is_object() ? it->value().as_object() : json::object();
  };
  // The API object whose status this is: the pod, or a static pod's mirror (static_pods.h),
  // whose uid the view carries; a static pod without a mirror has nowhere to write it.
  const std::string api_uid = client::MetaString(pod, "uid");
  if (IsStaticPodView(pod, uid_) && api_uid == uid_) return;
  json::object st = compute(pod);
  if (SameStatus(st, status_of(pod)) || SameStatus(st, last_status_)) {
    last_status_ = st;
    return;
  }
  // The whole status is replaced, but only over the version it was computed from (the
  // uid and resourceVersion tests), so conditions others set meanwhile are never lost.
  std::string ns = client::MetaString(pod, "namespace"), name = client::MetaString(pod, "name");
  auto patch_over = [&](const json::object& base, const json::object& status) {
    json::array patch{json::object{{"op", "test"}, {"path", "/metadata/uid"}, {"value", api_uid}},
                      json::object{{"op", "test"},
                                   {"path", "/metadata/resourceVersion"},
                                   {"value", client::MetaString(base, "resourceVersion")}},
                      json::object{{"op", "add"}, {"path", "/status"}, {"value", status}}};
    return ctx_->client->Patch(client::resources::kPods, ns, name, client::PatchType::kJson, patch,
                               "status");
  };
  auto r = patch_over(pod, st);
  if (!r.ok() && r.status().code() != Code::kNotFound) {
    // A stale copy: compute again over the current object, once.
    auto fresh = ctx_->client->Get(client::resources::kPods, ns, name);
    if (fresh.ok() && client::MetaString(*fresh, "uid") == api_uid) {
      st = compute(*fresh);
      if (SameStatus(st, status_of(*fresh)))
        r = std::move(fresh);
      else
        r = patch_over(*fresh, st);
    }
  }
  if (!r.ok()) {
    LOG(WARNING) << "pod " << client::KeyOf(pod) << ": writing status: " << r.status().ToString();
    last_status_ = json::object();  // try again next time
    return;
  }
  LOG(DEBUG) << "pod " << client::KeyOf(pod) << ": status written (phase "
             << api::GetString(json::value(st), "phase") << ")";
  last_status_ = st;
}

}  // namespace sampan::agent
