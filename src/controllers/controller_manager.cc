#include "controllers/controller_manager.h"

#include <unistd.h>

#include <atomic>
#include <mutex>

#include "client/events.h"
#include "client/leader_election.h"
#include "client/shared_informers.h"
#include "controllers/clusterrole_aggregation.h"
#include "controllers/cronjob.h"
#include "controllers/daemonset.h"
#include "controllers/deployment.h"
#include "controllers/endpoints.h"
#include "controllers/endpointslice.h"
#include "controllers/garbage_collector.h"
#include "controllers/ingress_status.h"
#include "controllers/job.h"
#include "controllers/local_path_provisioner.h"
#include "controllers/node_ipam.h"
#include "controllers/node_lifecycle.h"
#include "controllers/persistentvolume_binder.h"
#include "controllers/podgc.h"
#include "controllers/replicaset.h"
#include "controllers/service_lb.h"
#include "controllers/serviceaccounts.h"
#include "controllers/statefulset.h"
#include "controllers/volume_protection.h"
#include "scheduler/scheduler.h"
#include "util/clock.h"
#include "util/log.h"

namespace sampan::controllers {
namespace {

std::string Hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "sampan";
  return buf;
}

NodeLifecycleOptions NodeLifecycleFrom(const ControlPlaneOptions& o) {
  NodeLifecycleOptions n;
  if (o.node_monitor_grace_period.count() > 0) n.grace_period = o.node_monitor_grace_period;
  if (o.node_monitor_period.count() > 0) n.monitor_period = o.node_monitor_period;
  if (o.node_eviction_rate > 0) n.eviction_rate = o.node_eviction_rate;
  return n;
}

PodGcOptions PodGcFrom(const ControlPlaneOptions& o) {
  PodGcOptions p;
  p.terminated_pod_threshold = o.terminated_pod_gc_threshold;
  return p;
}

// The controller set that runs while this process leads "kube-controller-manager".
class Controllers {
 public:
  Controllers(client::RestClient* c, const ControlPlaneOptions& o, const std::string& host)
      : informers_(c),
        recorder_rs_(c, "replicaset-controller", host),
        recorder_rc_(c, "replication-controller", host),
        recorder_d_(c, "deployment-controller", host),
        recorder_ds_(c, "daemonset-controller", host),
        recorder_job_(c, "job-controller", host),
        recorder_cj_(c, "cronjob-controller", host),
        recorder_sts_(c, "statefulset-controller", host),
        rs_(&informers_, &recorder_rs_, false),
        rc_(&informers_, &recorder_rc_, true),
        deployments_(&informers_, &recorder_d_),
        daemonsets_(&informers_, &recorder_ds_),
        jobs_(&informers_, &recorder_job_),
        cronjobs_(&informers_, &recorder_cj_),
        statefulsets_(&informers_, &recorder_sts_),
        accounts_(&informers_, o.root_ca_pem),
        gc_(&informers_),
        recorder_node_(c, "node-controller", host),
        node_lifecycle_(&informers_, &recorder_node_, NodeLifecycleFrom(o)),
        opts_(o),
        recorder_ipam_(c, "node-ipam-controller", host),
        podgc_(&informers_, PodGcFrom(o)),
        recorder_ep_(c, "endpoint-controller", host),
        recorder_eps_(c, "endpoint-slice-controller", host),
        endpoints_(&informers_, &recorder_ep_),
        endpointslices_(&informers_, &recorder_eps_),
        clusterroles_(&informers_),
        recorder_pv_(c, "persistentvolume-controller", host),
        pv_binder_(&informers_, &recorder_pv_),
        pvc_protection_(&informers_),
        pv_protection_(&informers_) {
    if (o.service_lb) service_lb_ = std::make_unique<ServiceLbController>(&informers_);
    if (o.ingress_status) {
      ingress_status_ = std::make_unique<IngressStatusController>(&informers_);
    }
    if (!o.local_storage_path.empty()) {
      local_path_ = std::make_unique<LocalPathProvisioner>(&informers_, &recorder_pv_,
                                                           o.local_storage_path);
    }
    if (o.allocate_node_cidrs) {
      // The options were checked by StartControlPlane, so this cannot fail.
      auto ipam = NodeIpamController::New(&informers_, &recorder_ipam_,
                                          {o.cluster_cidr, o.node_cidr_mask_size});
      SAMPAN_CHECK(ipam.ok());
      node_ipam_ = std::move(*ipam);
    }
  }
  void Start() {
    informers_.Start();
    rs_.Run(opts_.replicaset_workers);
    rc_.Run(opts_.replicaset_workers);
    deployments_.Run(opts_.deployment_workers);
    daemonsets_.Run(2);
    jobs_.Run(5);
    cronjobs_.Run(2);
    statefulsets_.Run(2);
    accounts_.Run(1);
    gc_.Run(opts_.gc_workers);
    node_lifecycle_.Run(2);
    if (node_ipam_) node_ipam_->Run(1);
    podgc_.Run();
    // kube-controller-manager's --concurrent-endpoint-syncs and
    // --concurrent-service-endpoint-syncs default to 5.
    endpoints_.Run(5);
    endpointslices_.Run(5);
    clusterroles_.Run(5);  // kube-controller-manager runs 5 aggregation workers
    pv_binder_.Run(1);
    pvc_protection_.Run(1);
    pv_protection_.Run(1);
    if (local_path_) local_path_->Run(2);
    if (service_lb_) service_lb_->Run(1);
    if (ingress_status_) ingress_status_->Run(1);
  }
  void Stop() {
    rs_.Stop();
    rc_.Stop();
    deployments_.Stop();
    daemonsets_.Stop();
    jobs_.Stop();
    cronjobs_.Stop();
    statefulsets_.Stop();
    accounts_.Stop();
    gc_.Stop();
    node_lifecycle_.Stop();
    if (node_ipam_) node_ipam_->Stop();
    podgc_.Stop();
    endpoints_.Stop();
    endpointslices_.Stop();
    clusterroles_.Stop();
    pv_binder_.Stop();
    pvc_protection_.Stop();
    pv_protection_.Stop();
    if (local_path_) local_path_->Stop();
    if (service_lb_) service_lb_->Stop();
    if (ingress_status_) ingress_status_->Stop();
    informers_.Stop();
  }

 private:
  client::SharedInformers informers_;
  client::EventRecorder recorder_rs_, recorder_rc_, recorder_d_;
  client::EventRecorder recorder_ds_, recorder_job_, recorder_cj_, recorder_sts_;
  ReplicaSetController rs_, rc_;
  DeploymentController deployments_;
  DaemonSetController daemonsets_;
  JobController jobs_;
  CronJobController cronjobs_;
  StatefulSetController statefulsets_;
  ServiceAccountsController accounts_;
  GarbageCollector gc_;
  client::EventRecorder recorder_node_;
  NodeLifecycleController node_lifecycle_;
  ControlPlaneOptions opts_;
  client::EventRecorder recorder_ipam_;
  std::unique_ptr<NodeIpamController> node_ipam_;
  PodGcController podgc_;
  client::EventRecorder recorder_ep_, recorder_eps_;
  EndpointsController endpoints_;
  EndpointSliceController endpointslices_;
  ClusterRoleAggregationController clusterroles_;
  client::EventRecorder recorder_pv_;
  PersistentVolumeBinderController pv_binder_;
  PvcProtectionController pvc_protection_;
  PvProtectionController pv_protection_;
  std::unique_ptr<LocalPathProvisioner> local_path_;
  std::unique_ptr<ServiceLbController> service_lb_;
  std::unique_ptr<IngressStatusController> ingress_status_;
};

class ControlPlaneImpl final : public ControlPlane {
 public:
  ControlPlaneImpl(std::unique_ptr<client::RestClient> c, ControlPlaneOptions o)
      : client_(std::move(c)), opts_(std::move(o)) {
    host_ = Hostname();
    if (opts_.identity.empty()) opts_.identity = host_ + "_" + NewUuid();
  }
  ~ControlPlaneImpl() override { Stop(); }

  void Start() {
    if (opts_.enable_scheduler) {
      if (opts_.leader_elect) {
        sched_elector_ = MakeElector(
            opts_.scheduler_name == "default-scheduler" ? "kube-scheduler" : opts_.scheduler_name,
            [this] { StartScheduler(); }, [this] { StopScheduler(); });
        sched_elector_->Start();
      } else {
        StartScheduler();
      }
    }
    if (opts_.enable_controllers) {
      if (opts_.leader_elect) {
        ctrl_elector_ = MakeElector(
            "kube-controller-manager", [this] { StartControllers(); },
            [this] { StopControllers(); });
        ctrl_elector_->Start();
      } else {
        StartControllers();
      }
    }
  }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    if (sched_elector_) sched_elector_->Stop();  // calls StopScheduler if leading
    if (ctrl_elector_) ctrl_elector_->Stop();
    StopScheduler();
    StopControllers();
  }

  bool scheduler_leading() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return scheduler_ != nullptr;
  }
  bool controllers_leading() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return controllers_ != nullptr;
  }

 private:
  std::unique_ptr<client::LeaderElector> MakeElector(const std::string& name,
                                                     std::function<void()> on_start,
                                                     std::function<void()> on_stop) {
    client::LeaderElectionConfig cfg;
    cfg.lease_name = name;
    cfg.identity = opts_.identity;
    return std::make_unique<client::LeaderElector>(client_.get(), cfg, std::move(on_start),
                                                   std::move(on_stop));
  }

  void StartScheduler() {
    std::lock_guard<std::mutex> lock(mu_);
    if (scheduler_) return;
    scheduler::SchedulerOptions so;
    so.scheduler_name = opts_.scheduler_name;
    scheduler_ = std::make_unique<scheduler::Scheduler>(client_.get(), so);
    scheduler_->Start();
    LOG(INFO) << "scheduler started";
  }
  void StopScheduler() {
    std::unique_ptr<scheduler::Scheduler> s;
    {
      std::lock_guard<std::mutex> lock(mu_);
      s = std::move(scheduler_);
    }
    if (s) s->Stop();
  }
  void StartControllers() {
    std::lock_guard<std::mutex> lock(mu_);
    if (controllers_) return;
    controllers_ = std::make_unique<Controllers>(client_.get(), opts_, host_);
    controllers_->Start();
    LOG(INFO)
        << "controllers started (replicaset, replicationcontroller, deployment, daemonset, job, "
           "cronjob, statefulset, "
           "serviceaccount, root-ca, garbage collector, pod gc, endpoints, endpointslice, "
           "clusterrole-aggregation, persistentvolume-binder, pvc-protection, pv-protection, "
           "local-path provisioner)";
  }
  void StopControllers() {
    std::unique_ptr<Controllers> c;
    {
      std::lock_guard<std::mutex> lock(mu_);
      c = std::move(controllers_);
    }
    if (c) c->Stop();
  }

  std::unique_ptr<client::RestClient> client_;
  ControlPlaneOptions opts_;
  std::string host_;
  mutable std::mutex mu_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;  // guarded by mu_
  std::unique_ptr<Controllers> controllers_;         // guarded by mu_
  std::unique_ptr<client::LeaderElector> sched_elector_, ctrl_elector_;
  std::atomic<bool> stopped_{false};
};

}  // namespace

Result<std::unique_ptr<ControlPlane>> StartControlPlane(const ControlPlaneOptions& options) {
  client::ClientConfig cfg = options.client;
  if (!options.kubeconfig.empty()) {
    ASSIGN_OR_RETURN(cfg, client::LoadKubeconfig(options.kubeconfig));
  }
  if (cfg.server.empty()) return Invalid("control plane: no API server URL or kubeconfig given");
  if (options.enable_controllers && options.allocate_node_cidrs) {
    auto cluster = net::ParseCidr(options.cluster_cidr);
    if (!cluster.ok()) return cluster.status().WithContext("control plane: cluster CIDR");
    auto blocks = net::CidrSet::New(*cluster, options.node_cidr_mask_size);
    if (!blocks.ok()) return blocks.status().WithContext("control plane: node CIDR mask size");
  }
  cfg.user_agent = "sampan-controller-manager";
  ASSIGN_OR_RETURN(auto rest, client::RestClient::New(cfg));
  ControlPlaneOptions opts = options;
  if (opts.root_ca_pem.empty()) opts.root_ca_pem = cfg.ca_pem;
  auto cp = std::make_unique<ControlPlaneImpl>(std::move(rest), opts);
  cp->Start();
  return std::unique_ptr<ControlPlane>(std::move(cp));
}

}  // namespace sampan::controllers
