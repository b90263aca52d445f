// Pod spec defaults (Kubernetes' SetDefaults_PodSpec, _Container, _Volume, _Probe, _Pod...),
// shared by Pod and every kind that carries a pod template.
#include <boost/json.hpp>
#include <vector>

#include "api/strategy_internal.h"

namespace sampan::api::strategy {

const std::vector<std::string_view>& PodVolumeSources() {
  static const auto* sources = new std::vector<std::string_view>{"hostPath",
                                                                 "emptyDir",
                                                                 "gcePersistentDisk",
                                                                 "awsElasticBlockStore",
                                                                 "gitRepo",
                                                                 "secret",
                                                                 "nfs",
                                                                 "iscsi",
                                                                 "glusterfs",
                                                                 "persistentVolumeClaim",
                                                                 "rbd",
                                                                 "flexVolume",
                                                                 "cinder",
                                                                 "cephfs",
                                                                 "flocker",
                                                                 "downwardAPI",
                                                                 "fc",
                                                                 "azureFile",
                                                                 "configMap",
                                                                 "vsphereVolume",
                                                                 "quobyte",
                                                                 "azureDisk",
                                                                 "photonPersistentDisk",
                                                                 "projected",
                                                                 "portworxVolume",
                                                                 "scaleIO",
                                                                 "storageos",
                                                                 "csi",
                                                                 "ephemeral",
                                                                 "image"};
  return *sources;
}
namespace {

// ---- defaults -------------------------------------------------------------------------------

// Always when the image has no tag or the tag "latest"; IfNotPresent for other tags and digests.
std::string_view PullPolicyFor(std::string_view image) {
  if (image.find('@') != std::string_view::npos) {
    // A digest: only "name:tag@digest" with tag latest would be Always; Kubernetes reads the
    // tag of such a reference, so follow it.
    image = image.substr(0, image.find('@'));
    size_t slash = image.rfind('/');
    size_t colon = image.rfind(':');
    bool has_tag =
        colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash);
    return has_tag && image.substr(colon + 1) == "latest" ? "Always" : "IfNotPresent";
  }
  size_t slash = image.rfind('/');
  size_t colon = image.rfind(':');
  bool has_tag =
      colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash);
  if (!has_tag) return "Always";
  return image.substr(colon + 1) == "latest" ? "Always" : "IfNotPresent";
}

void DefaultHttpGet(json::object& probe_or_handler) {
  if (json::object* get = MutObj(probe_or_handler, "httpGet")) {
    SetDefault(*get, "path", "/");
    SetDefault(*get, "scheme", "HTTP");
  }
}

void DefaultProbe(json::object& c, std::string_view key) {
  json::object* probe = MutObj(c, key);
  if (probe == nullptr) return;
  SetDefault(*probe, "timeoutSeconds", 1);
  SetDefault(*probe, "periodSeconds", 10);
  SetDefault(*probe, "successThreshold", 1);
  SetDefault(*probe, "failureThreshold", 3);
  DefaultHttpGet(*probe);
}

void DefaultFieldRef(json::object& holder) {
  if (json::object* ref = MutObj(holder, "fieldRef")) SetDefault(*ref, "apiVersion", "v1");
}

void DefaultContainer(json::object& c) {
  SetDefault(c, "terminationMessagePath", "/dev/termination-log");
  SetDefault(c, "terminationMessagePolicy", "File");
  SetDefault(c, "imagePullPolicy", json::string(PullPolicyFor(Str(c, "image").value_or(""))));
  if (json::array* ports = MutArr(c, "ports")) {
    for (json::value& p : *ports) {
      if (p.is_object()) SetDefault(p.as_object(), "protocol", "TCP");
    }
  }
  DefaultProbe(c, "livenessProbe");
  DefaultProbe(c, "readinessProbe");
  DefaultProbe(c, "startupProbe");
  if (json::object* lc = MutObj(c, "lifecycle")) {
    for (const char* hook : {"postStart", "preStop"}) {
      if (json::object* h = MutObj(*lc, hook)) DefaultHttpGet(*h);
    }
  }
  if (json::array* env = MutArr(c, "env")) {
    for (json::value& e : *env) {
      if (!e.is_object()) continue;
      if (json::object* from = MutObj(e.as_object(), "valueFrom")) DefaultFieldRef(*from);
    }
  }
}

void DefaultVolume(json::object& v) {
  bool any = false;
  for (std::string_view s : PodVolumeSources()) any = any || Has(v, s);
  if (!any) v["emptyDir"] = json::object();
  for (const char* s : {"secret", "configMap", "downwardAPI", "projected"}) {
    if (json::object* src = MutObj(v, s)) SetDefault(*src, "defaultMode", 420);
  }
  if (json::object* hp = MutObj(v, "hostPath")) SetDefault(*hp, "type", "");
  if (json::object* dapi = MutObj(v, "downwardAPI")) {
    if (json::array* items = MutArr(*dapi, "items")) {
      for (json::value& it : *items) {
        if (it.is_object()) DefaultFieldRef(it.as_object());
      }
    }
  }
  if (json::object* proj = MutObj(v, "projected")) {
    if (json::array* sources = MutArr(*proj, "sources")) {
      for (json::value& s : *sources) {
        if (!s.is_object()) continue;
        if (json::object* tok = MutObj(s.as_object(), "serviceAccountToken")) {
          SetDefault(*tok, "expirationSeconds", 3600);
        }
        if (json::object* dapi = MutObj(s.as_object(), "downwardAPI")) {
          if (json::array* items = MutArr(*dapi, "items")) {
            for (json::value& it : *items) {
              if (it.is_object()) DefaultFieldRef(it.as_object());
            }
          }
        }
      }
    }
  }
}

template <typename F>
void ForEachContainer(json::object& spec, F&& f) {
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    if (json::array* cs = MutArr(spec, list)) {
      for (json::value& c : *cs) {
        if (c.is_object()) f(c.as_object(), std::string_view(list));
      }
    }
  }
}

}  // namespace

void DefaultPodSpec(json::object& spec) {
  SetDefault(spec, "dnsPolicy", "ClusterFirst");
  SetDefault(spec, "restartPolicy", "Always");
  SetDefault(spec, "terminationGracePeriodSeconds", 30);
  SetDefault(spec, "securityContext", json::object());
  SetDefault(spec, "schedulerName", "default-scheduler");
  ForEachContainer(spec, [](json::object& c, std::string_view) { DefaultContainer(c); });
  if (json::array* volumes = MutArr(spec, "volumes")) {
    for (json::value& v : *volumes) {
      if (v.is_object()) DefaultVolume(v.as_object());
    }
  }
  // With the host network, a container port is a host port.
  if (Bool(spec, "hostNetwork").value_or(false)) {
    ForEachContainer(spec, [](json::object& c, std::string_view) {
      if (json::array* ports = MutArr(c, "ports")) {
        for (json::value& p : *ports) {
          if (!p.is_object()) continue;
          json::object& po = p.as_object();
          if (Has(po, "hostPort") || !Has(po, "containerPort")) continue;
          json::value port = po["containerPort"];  // copied before the insertion moves it
          po["hostPort"] = std::move(port);
        }
      }
    });
  }
}

void DefaultPodTemplate(json::object& tmpl) { DefaultPodSpec(EnsureObj(tmpl, "spec")); }

// Pod-only defaults on top of the spec's (not applied inside templates).
void DefaultPod(json::object& pod) {
  json::object& spec = EnsureObj(pod, "spec");
  DefaultPodSpec(spec);
  SetDefault(spec, "enableServiceLinks", true);
  // Requests default to limits, per resource.
  ForEachContainer(spec, [](json::object& c, std::string_view list) {
    if (list == "ephemeralContainers") return;
    json::object* res = MutObj(c, "resources");
    if (res == nullptr) return;
    const json::object* found = Obj(*res, "limits");
    if (found == nullptr || found->empty()) return;
    const json::object limits = *found;  // EnsureObj below may move what `found` points at
    json::object& requests = EnsureObj(*res, "requests");
    for (const auto& kv : limits) {
      if (!requests.contains(kv.key())) requests[kv.key()] = kv.value();
    }
  });
  // What the Priority admission sets when no priority class applies.
  if (!Has(spec, "priorityClassName")) {
    SetDefault(spec, "priority", 0);
    SetDefault(spec, "preemptionPolicy", "PreemptLowerPriority");
  }
  // What the DefaultTolerationSeconds admission plugin adds: tolerate the node lifecycle's
  // not-ready and unreachable NoExecute taints for 300 s, unless the pod says otherwise.
  for (const char* key : {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}) {
    bool has = false;
    if (const json::array* tols = Arr(spec, "tolerations")) {
      for (const json::value& t : *tols) {
        if (!t.is_object()) continue;
        std::string tkey(Str(t.as_object(), "key").value_or(""));
        std::string effect(Str(t.as_object(), "effect").value_or(""));
        if ((tkey == key || tkey.empty()) && (effect == "NoExecute" || effect.empty())) has = true;
      }
    }
    if (!has) {
      if (!Has(spec, "tolerations") || !spec["tolerations"].is_array()) {
        spec["tolerations"] = json::array();
      }
      spec["tolerations"].as_array().push_back(json::object{{"key", key},
                                                            {"operator", "Exists"},
                                                            {"effect", "NoExecute"},
                                                            {"tolerationSeconds", 300}});
    }
  }
  // A pod that has no status yet is Pending (PrepareForCreate sets this too). Last: adding
  // "status" to `pod` may move `spec`.
  std::string qos = PodQosClass(spec);
  json::object& status = EnsureObj(pod, "status");
  SetDefault(status, "phase", "Pending");
  if (!Has(status, "qosClass")) status["qosClass"] = qos;
}

}  // namespace sampan::api::strategy
