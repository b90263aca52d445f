#include "apiserver/node_restriction.h"

#include <algorithm>
#include <set>

#include "api/json_util.h"
#include "apiserver/rest.h"

namespace sampan::apiserver {

namespace json = boost::json;
using api::Arr;
using api::Obj;
using api::Str;

namespace {

constexpr std::string_view kNodePrefix = "system:node:";

std::string NameOf(const json::object& o) { return Str(Obj(&o, "metadata"), "name"); }

// `resource "name" is forbidden: why`, as Kubernetes' admission.NewForbidden.
Status Refuse(const api::KindInfo& kind, const std::string& name, const std::string& why) {
  return Forbidden(QualifiedResource(kind) + " \"" + name + "\" is forbidden: " + why);
}

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

bool Is(const api::KindInfo& kind, std::string_view group, std::string_view k) {
  return kind.group == group && kind.kind == k;
}

std::string LabelNamespace(const std::string& key) {
  auto slash = key.find('/');
  return slash == std::string::npos ? "" : key.substr(0, slash);
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// kubelet's IsKubeletLabel.
bool IsKubeletLabel(const std::string& key) {
  static const std::set<std::string> kLabels = {"kubernetes.io/hostname",
                                                "topology.kubernetes.io/zone",
                                                "topology.kubernetes.io/region",
                                                "failure-domain.beta.kubernetes.io/zone",
                                                "failure-domain.beta.kubernetes.io/region",
                                                "beta.kubernetes.io/instance-type",
                                                "node.kubernetes.io/instance-type",
                                                "beta.kubernetes.io/os",
                                                "beta.kubernetes.io/arch",
                                                "kubernetes.io/os",
                                                "kubernetes.io/arch"};
  if (kLabels.count(key)) return true;
  const std::string ns = LabelNamespace(key);
  for (std::string_view allowed : {"kubelet.kubernetes.io", "node.kubernetes.io"}) {
    if (ns == allowed || EndsWith(ns, "." + std::string(allowed))) return true;
  }
  return false;
}

// The label keys that differ between `a` and `b` and that a node may not set, sorted.
std::string ForbiddenLabels(const json::object* a, const json::object* b) {
  std::set<std::string> modified;
  auto diff = [&](const json::object* x, const json::object* y) {
    for (const auto& kv : x ? *x : json::object{}) {
      const json::value* other = y ? y->if_contains(kv.key()) : nullptr;
      if (!other || *other != kv.value()) modified.insert(std::string(kv.key()));
    }
  };
  diff(a, b);
  diff(b, a);
  std::string out;
  for (const std::string& key : modified) {
    const std::string ns = LabelNamespace(key);
    bool restricted =
        ns == "node-restriction.kubernetes.io" || EndsWith(ns, ".node-restriction.kubernetes.io");
    bool k8s = ns == "kubernetes.io" || EndsWith(ns, ".kubernetes.io") || ns == "k8s.io" ||
               EndsWith(ns, ".k8s.io");
    if (restricted || (k8s && !IsKubeletLabel(key))) out += (out.empty() ? "" : ", ") + key;
  }
  return out;
}

const json::object* Labels(const json::object& o) { return Obj(Obj(&o, "metadata"), "labels"); }

ObjectPtr GetObject(const api::Registry& registry, const ObjectCache& cache, std::string_view group,
                    std::string_view kind, std::string_view ns, std::string_view name) {
  const api::KindInfo* k = registry.FindKind(group, "v1", kind);
  return k ? cache.Get(ObjectKey(*k, ns, name)) : nullptr;
}

Status AdmitMirrorPod(const std::string& node, const api::KindInfo& kind, const json::object& pod,
                      const api::Registry& registry, const ObjectCache& cache) {
  const std::string name = NameOf(pod);
  auto refuse = [&](const std::string& why) { return Refuse(kind, name, why); };
  const json::object* annotations = Obj(Obj(&pod, "metadata"), "annotations");
  if (!annotations || !annotations->contains("kubernetes.io/config.mirror")) {
    return refuse("pod does not have \"kubernetes.io/config.mirror\" annotation, node " +
                  Quote(node) + " can only create mirror pods");
  }
  const json::object* spec = Obj(&pod, "spec");
  if (Str(spec, "nodeName") != node) {
    return refuse("node " + Quote(node) + " can only create pods with spec.nodeName set to itself");
  }
  const json::array* owners = Arr(Obj(&pod, "metadata"), "ownerReferences");
  if (owners && owners->size() > 1) {
    return refuse("node " + Quote(node) +
                  " can only create pods with a single owner reference set to itself");
  }
  const json::object* owner =
      owners && !owners->empty() && (*owners)[0].is_object() ? &(*owners)[0].as_object() : nullptr;
  if (!owner || Str(owner, "apiVersion") != "v1" || Str(owner, "kind") != "Node" ||
      Str(owner, "name") != node) {
    return refuse("node " + Quote(node) +
                  " can only create pods with an owner reference set to itself");
  }
  const json::value* controller = owner->if_contains("controller");
  if (!controller || !controller->is_bool() || !controller->as_bool()) {
    return refuse("node " + Quote(node) +
                  " can only create pods with a controller owner reference set to itself");
  }
  const json::value* block = owner->if_contains("blockOwnerDeletion");
  if (block && block->is_bool() && block->as_bool()) {
    return refuse("node " + Quote(node) + " must not set blockOwnerDeletion on an owner reference");
  }
  ObjectPtr self = GetObject(registry, cache, "", "Node", "", node);
  if (!self) return NotFound("nodes " + Quote(node) + " not found");
  const std::string uid = Str(Obj(&self->obj, "metadata"), "uid");
  if (Str(owner, "uid") != uid) {
    return refuse("node " + node + " UID mismatch: expected " + Str(owner, "uid") + " got " + uid);
  }
  if (!Str(spec, "serviceAccountName").empty()) {
    return refuse("node " + Quote(node) + " can not create pods that reference a service account");
  }
  // Secrets, ConfigMaps and claims, wherever the spec names them.
  bool secrets = Arr(spec, "imagePullSecrets") && !Arr(spec, "imagePullSecrets")->empty();
  bool configmaps = false, claims = false;
  const json::array* volumes = Arr(spec, "volumes");
  for (const json::value& v : volumes ? *volumes : json::array{}) {
    if (!v.is_object()) continue;
    const json::object& vol = v.as_object();
    secrets = secrets || Obj(&vol, "secret") != nullptr;
    configmaps = configmaps || Obj(&vol, "configMap") != nullptr;
    claims = claims || Obj(&vol, "persistentVolumeClaim") != nullptr;
    if (const json::array* sources = Arr(Obj(&vol, "projected"), "sources")) {
      for (const json::value& s : *sources) {
        if (!s.is_object()) continue;
        secrets = secrets || Obj(&s.as_object(), "secret") != nullptr;
        configmaps = configmaps || Obj(&s.as_object(), "configMap") != nullptr;
      }
    }
    // Volume plugins with a secretRef (cephfs, rbd, iscsi, ...): any secretRef counts.
    for (const auto& kv : vol) {
      if (kv.value().is_object() && Obj(&kv.value().as_object(), "secretRef")) secrets = true;
    }
  }
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    const json::array* cs = Arr(spec, list);
    for (const json::value& c : cs ? *cs : json::array{}) {
      if (!c.is_object()) continue;
      const json::array* from = Arr(&c.as_object(), "envFrom");
      for (const json::value& f : from ? *from : json::array{}) {
        if (!f.is_object()) continue;
        secrets = secrets || Obj(&f.as_object(), "secretRef") != nullptr;
        configmaps = configmaps || Obj(&f.as_object(), "configMapRef") != nullptr;
      }
      const json::array* env = Arr(&c.as_object(), "env");
      for (const json::value& e : env ? *env : json::array{}) {
        if (!e.is_object()) continue;
        const json::object* source = Obj(&e.as_object(), "valueFrom");
        secrets = secrets || Obj(source, "secretKeyRef") != nullptr;
        configmaps = configmaps || Obj(source, "configMapKeyRef") != nullptr;
      }
    }
  }
  if (secrets) return refuse("node " + Quote(node) + " can not create pods that reference secrets");
  if (configmaps) {
    return refuse("node " + Quote(node) + " can not create pods that reference configmaps");
  }
  if (claims) {
    return refuse("node " + Quote(node) +
                  " can not create pods that reference persistentvolumeclaims");
  }
  return Status::Ok();
}

}  // namespace

std::optional<std::string> NodeNameOf(const Identity* who) {
  if (!who) return std::nullopt;
  if (std::find(who->groups.begin(), who->groups.end(), "system:nodes") == who->groups.end()) {
    return std::nullopt;
  }
  if (who->user.rfind(kNodePrefix, 0) != 0) return std::string();
  return who->user.substr(kNodePrefix.size());
}

Status AdmitNodeWrite(const Identity* who, const api::KindInfo& kind, std::string_view subresource,
                      const json::object* existing, const json::object& obj,
                      const api::Registry& registry, const ObjectCache& cache) {
  auto node_name = NodeNameOf(who);
  if (!node_name) return Status::Ok();
  const std::string& node = *node_name;
  const std::string name = NameOf(existing ? *existing : obj);
  if (node.empty()) {
    return Refuse(kind, name, "could not determine node from user " + Quote(who->user));
  }
  const bool create = existing == nullptr;
  if (Is(kind, "", "Pod")) {
    if (subresource == "status") {
      if (Str(Obj(existing, "spec"), "nodeName") != node) {
        return Refuse(kind, name,
                      "node " + Quote(node) +
                          " can only update pod status for pods with spec.nodeName "
                          "set to itself");
      }
      const json::object* a = existing ? Labels(*existing) : nullptr;
      const json::object* b = Labels(obj);
      if ((a && !a->empty()) != (b && !b->empty()) || (a && b && *a != *b)) {
        return Refuse(kind, name,
                      "node " + Quote(node) + " cannot update labels through pod status");
      }
      return Status::Ok();
    }
    if (!subresource.empty()) {
      return Refuse(kind, name,
                    "unexpected pod subresource " + Quote(std::string(subresource)) +
                        ", only 'status' and 'eviction' are allowed");
    }
    if (create) return AdmitMirrorPod(node, kind, obj, registry, cache);
    return Refuse(kind, name,
                  "unexpected operation \"UPDATE\", node " + Quote(node) +
                      " can only create and delete mirror pods");
  }
  if (Is(kind, "", "Node")) {
    if (name != node) {
      return Refuse(kind, name,
                    "node " + Quote(node) + " is not allowed to modify node " + Quote(name));
    }
    const json::object* spec = Obj(&obj, "spec");
    if (create) {
      if (Obj(spec, "configSource")) {
        return Refuse(
            kind, name,
            "node " + Quote(node) + " is not allowed to create pods with a non-nil configSource");
      }
      if (std::string bad = ForbiddenLabels(Labels(obj), nullptr); !bad.empty()) {
        return Refuse(
            kind, name,
            "node " + Quote(node) + " is not allowed to set the following labels: " + bad);
      }
      return Status::Ok();
    }
    const json::object* old_spec = Obj(existing, "spec");
    const json::object* source = Obj(spec, "configSource");
    const json::object* old_source = Obj(old_spec, "configSource");
    if (source && (!old_source || *source != *old_source)) {
      return Refuse(kind, name,
                    "node " + Quote(node) +
                        " is not allowed to update configSource to a new non-nil "
                        "configSource");
    }
    const json::array* taints = Arr(spec, "taints");
    const json::array* old_taints = Arr(old_spec, "taints");
    const bool none = !taints || taints->empty(), old_none = !old_taints || old_taints->empty();
    if (none != old_none || (!none && *taints != *old_taints)) {
      return Refuse(kind, name, "node " + Quote(node) + " is not allowed to modify taints");
    }
    if (std::string bad = ForbiddenLabels(Labels(obj), Labels(*existing)); !bad.empty()) {
      return Refuse(kind, name, "is not allowed to modify labels: " + bad);
    }
    return Status::Ok();
  }
  if (Is(kind, "", "PersistentVolumeClaim")) {
    if (subresource != "status" || create) return Refuse(kind, name, "may only update PVC status");
    json::object a = *existing, b = obj;
    for (json::object* o : {&a, &b}) {
      if (json::value* m = o->if_contains("metadata"); m && m->is_object()) {
        m->as_object().erase("resourceVersion");
        m->as_object().erase("managedFields");
      }
      if (json::value* s = o->if_contains("status"); s && s->is_object()) {
        s->as_object().erase("capacity");
        s->as_object().erase("conditions");
      }
    }
    if (a != b) {
      return Refuse(kind, name,
                    "node " + Quote(node) +
                        " is not allowed to update fields other than "
                        "status.capacity and status.conditions");
    }
    return Status::Ok();
  }
  if (Is(kind, "coordination.k8s.io", "Lease")) {
    if (Str(Obj(&obj, "metadata"), "namespace") != "kube-node-lease") {
      return Refuse(kind, name,
                    "can only access leases in the \"kube-node-lease\" system namespace");
    }
    if (name != node) {
      return Refuse(kind, name,
                    "can only access node lease with the same name as the requesting node");
    }
  }
  return Status::Ok();
}

Status AdmitNodeDelete(const Identity* who, const api::KindInfo& kind,
                       const json::object& existing) {
  auto node_name = NodeNameOf(who);
  if (!node_name) return Status::Ok();
  const std::string& node = *node_name;
  const std::string name = NameOf(existing);
  if (node.empty()) {
    return Refuse(kind, name, "could not determine node from user " + Quote(who->user));
  }
  if (Is(kind, "", "Pod") && Str(Obj(&existing, "spec"), "nodeName") != node) {
    return Refuse(kind, name,
                  "node " + Quote(node) + " can only delete pods with spec.nodeName set to itself");
  }
  if (Is(kind, "", "Node") && name != node) {
    return Refuse(kind, name,
                  "node " + Quote(node) + " is not allowed to modify node " + Quote(name));
  }
  if (Is(kind, "coordination.k8s.io", "Lease") &&
      (Str(Obj(&existing, "metadata"), "namespace") != "kube-node-lease" || name != node)) {
    return Refuse(kind, name,
                  "can only access node lease with the same name as the requesting node");
  }
  return Status::Ok();
}

Status AdmitNodeTokenRequest(const Identity* who, std::string_view ns, std::string_view account,
                             const json::object& token_request, const api::Registry& registry,
                             const ObjectCache& cache) {
  auto node_name = NodeNameOf(who);
  if (!node_name) return Status::Ok();
  auto refuse = [&](const std::string& why) {
    return Forbidden("serviceaccounts \"" + std::string(account) + "\" is forbidden: " + why);
  };
  const json::object* ref = Obj(Obj(&token_request, "spec"), "boundObjectRef");
  if (!ref || Str(ref, "apiVersion") != "v1" || Str(ref, "kind") != "Pod" ||
      Str(ref, "name").empty()) {
    return refuse("node requested token not bound to a pod");
  }
  if (Str(ref, "uid").empty())
    return refuse("node requested token with a pod binding without a uid");
  ObjectPtr pod = GetObject(registry, cache, "", "Pod", ns, Str(ref, "name"));
  if (!pod) return NotFound("pods \"" + Str(ref, "name") + "\" not found");
  if (Str(Obj(&pod->obj, "metadata"), "uid") != Str(ref, "uid")) {
    return refuse("the UID in the bound object reference (" + Str(ref, "uid") +
                  ") does not match the UID in record. The object might have been deleted and "
                  "then recreated");
  }
  if (Str(Obj(&pod->obj, "spec"), "nodeName") != *node_name) {
    return refuse("node requested token bound to a pod scheduled on a different node");
  }
  return Status::Ok();
}

}  // namespace sampan::apiserver
