// Discovery documents: aggregated (v2, v2beta1) and legacy, from the registry's kinds.
#include "api/discovery.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <tuple>

#include "api/media_type.h"

namespace sampan::api {

namespace json = boost::json;

namespace {

// A kube-like version "v<major>[(alpha|beta)<minor>]": level 2 = GA, 1 = beta, 0 = alpha.
struct KubeVersion {
  int major = 0;
  int level = 2;
  int minor = 0;
};

std::optional<KubeVersion> ParseKubeVersion(std::string_view v) {
  if (v.size() < 2 || v[0] != 'v' || !std::isdigit(static_cast<unsigned char>(v[1])) ||
      v[1] == '0') {
    return std::nullopt;
  }
  size_t i = 1;
  KubeVersion out;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) {
    if (out.major > 100000) return std::nullopt;
    out.major = out.major * 10 + (v[i++] - '0');
  }
  if (i == v.size()) return out;
  std::string_view rest = v.substr(i);
  if (rest.substr(0, 5) == "alpha") {
    out.level = 0;
    rest.remove_prefix(5);
  } else if (rest.substr(0, 4) == "beta") {
    out.level = 1;
    rest.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  if (rest.empty() || rest[0] == '0') return std::nullopt;
  for (char c : rest) {
    if (!std::isdigit(static_cast<unsigned char>(c)) || out.minor > 100000) return std::nullopt;
    out.minor = out.minor * 10 + (c - '0');
  }
  return out;
}

struct SubresourceDefault {
  std::string_view name;
  std::string_view group, version, kind;  // kind "" = the parent's kind; "*Options" suffixes below
  std::vector<std::string> verbs;
};

const std::vector<SubresourceDefault>& SubresourceDefaults() {
  static const std::vector<SubresourceDefault> defaults = {
      {"status", "", "", "", {"get", "patch", "update"}},
      {"scale", "autoscaling", "v1", "Scale", {"get", "patch", "update"}},
      {"binding", "", "v1", "Binding", {"create"}},
      {"eviction", "policy", "v1", "Eviction", {"create"}},
      {"log", "", "", "", {"get"}},
      {"exec", "", "v1", "PodExecOptions", {"create", "get"}},
      {"attach", "", "v1", "PodAttachOptions", {"create", "get"}},
      {"portforward", "", "v1", "PodPortForwardOptions", {"create", "get"}},
      {"proxy", "", "v1", "", {"create", "delete", "get", "patch", "update"}},
      {"ephemeralcontainers", "", "", "", {"get", "patch", "update"}},
      {"resize", "", "", "", {"get", "patch", "update"}},
      {"finalize", "", "", "", {"update"}},
      {"token", "authentication.k8s.io", "v1", "TokenRequest", {"create"}},
  };
  return defaults;
}

json::object GroupVersionKindJson(std::string_view group, std::string_view version,
                                  std::string_view kind) {
  json::object o;
  o["group"] = group;
  o["version"] = version;
  o["kind"] = kind;
  return o;
}

json::array StringArray(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v) a.push_back(json::string(s));
  return a;
}

// The distinct groups of the registry in first-seen order.
std::vector<std::string> Groups(const Registry& registry) {
  std::vector<std::string> groups;
  for (const KindInfo* k : registry.kinds()) {
    if (std::find(groups.begin(), groups.end(), k->group) == groups.end()) {
      groups.push_back(k->group);
    }
  }
  return groups;
}

std::vector<const KindInfo*> KindsIn(const Registry& registry, std::string_view group,
                                     std::string_view version) {
  std::vector<const KindInfo*> out;
  for (const KindInfo* k : registry.kinds()) {
    if (k->group == group && k->version == version) out.push_back(k);
  }
  return out;
}

json::object AggregatedResource(const KindInfo& kind) {
  json::object r;
  r["resource"] = kind.plural;
  r["responseKind"] = GroupVersionKindJson(kind.group, kind.version, kind.kind);
  r["scope"] = kind.namespaced ? "Namespaced" : "Cluster";
  r["singularResource"] = kind.singular;
  r["verbs"] = StringArray(ResourceVerbs(kind));
  if (!kind.short_names.empty()) r["shortNames"] = StringArray(kind.short_names);
  if (!kind.categories.empty()) r["categories"] = StringArray(kind.categories);
  json::array subs;
  for (const SubresourceView& s : Subresources(kind)) {
    json::object so;
    so["subresource"] = s.name;
    so["responseKind"] = GroupVersionKindJson(s.group, s.version, s.kind);
    so["verbs"] = StringArray(s.verbs);
    subs.push_back(std::move(so));
  }
  if (!subs.empty()) r["subresources"] = std::move(subs);
  return r;
}

json::object GroupVersionJson(std::string_view group, std::string_view version) {
  json::object o;
  o["groupVersion"] =
      group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
  o["version"] = version;
  return o;
}

json::object GroupJson(const Registry& registry, const std::string& group) {
  json::object g;
  g["name"] = group;
  json::array versions;
  std::vector<std::string> vs = GroupVersions(registry, group);
  for (const std::string& v : vs) versions.push_back(GroupVersionJson(group, v));
  g["versions"] = std::move(versions);
  if (!vs.empty()) g["preferredVersion"] = GroupVersionJson(group, vs.front());
  return g;
}

}  // namespace

int CompareKubeVersions(std::string_view a, std::string_view b) {
  std::optional<KubeVersion> ka = ParseKubeVersion(a), kb = ParseKubeVersion(b);
  if (ka && kb) {
    // Higher level (GA > beta > alpha), then higher major, then higher minor come first.
    auto key = [](const KubeVersion& k) { return std::make_tuple(k.level, k.major, k.minor); };
    if (key(*ka) == key(*kb)) return 0;
    return key(*ka) > key(*kb) ? -1 : 1;
  }
  if (ka) return -1;
  if (kb) return 1;
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

std::vector<std::string> GroupVersions(const Registry& registry, std::string_view group) {
  std::vector<std::string> versions;
  for (const KindInfo* k : registry.kinds()) {
    if (k->group == group &&
        std::find(versions.begin(), versions.end(), k->version) == versions.end()) {
      versions.push_back(k->version);
    }
  }
  std::stable_sort(
      versions.begin(), versions.end(),
      [](const std::string& a, const std::string& b) { return CompareKubeVersions(a, b) < 0; });
  return versions;
}

std::vector<std::string> ResourceVerbs(const KindInfo& kind) {
  if (!kind.verbs.empty()) return kind.verbs;
  return {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
}

std::vector<SubresourceView> Subresources(const KindInfo& kind) {
  std::vector<SubresourceView> out;
  for (const SubresourceInfo& s : kind.subresources) {
    SubresourceView v{s.name, s.group, s.version, s.kind, s.verbs};
    const SubresourceDefault* d = nullptr;
    for (const SubresourceDefault& def : SubresourceDefaults()) {
      if (def.name == s.name) d = &def;
    }
    // A declared kind equal to the parent's (a parser's default) does not override a
    // subresource whose Kubernetes response kind is another one (scale, eviction...).
    bool declared_kind = !s.kind.empty() && !(s.kind == kind.kind && d && !d->kind.empty());
    if (!declared_kind) {
      if (d && !d->kind.empty()) {
        v.group = std::string(d->group);
        v.version = std::string(d->version);
        v.kind = std::string(d->kind);
      } else if (d && s.name == "proxy") {
        v.group = "";
        v.version = "v1";
        v.kind = kind.kind + "ProxyOptions";
      } else {
        v.group = kind.group;
        v.version = kind.version;
        v.kind = kind.kind;
      }
    }
    if (v.verbs.empty()) {
      v.verbs = d ? d->verbs : std::vector<std::string>{"get", "patch", "update"};
    }
    out.push_back(std::move(v));
  }
  return out;
}

DiscoveryFormat NegotiateDiscovery(std::string_view accept) {
  for (const MediaRange& m : ParseAccept(accept)) {
    if (!m.IsJsonCompatible()) continue;
    if (m.as.empty()) return DiscoveryFormat::kLegacy;
    if (m.as == "APIGroupDiscoveryList" && m.g == "apidiscovery.k8s.io") {
      if (m.v == "v2") return DiscoveryFormat::kV2;
      if (m.v == "v2beta1") return DiscoveryFormat::kV2Beta1;
    }
  }
  return DiscoveryFormat::kLegacy;
}

std::string_view DiscoveryContentType(DiscoveryFormat format) {
  switch (format) {
    case DiscoveryFormat::kV2:
      return kDiscoveryV2ContentType;
    case DiscoveryFormat::kV2Beta1:
      return kDiscoveryV2Beta1ContentType;
    case DiscoveryFormat::kLegacy:
      break;
  }
  return kJsonContentType;
}

json::object AggregatedDiscovery(const Registry& registry, bool core, DiscoveryFormat format) {
  json::object list;
  list["kind"] = "APIGroupDiscoveryList";
  list["apiVersion"] = format == DiscoveryFormat::kV2Beta1 ? "apidiscovery.k8s.io/v2beta1"
                                                           : "apidiscovery.k8s.io/v2";
  list["metadata"] = json::object();
  json::array items;
  for (const std::string& group : Groups(registry)) {
    if (group.empty() != core) continue;
    json::object item;
    json::object meta;
    meta["name"] = group;
    item["metadata"] = std::move(meta);
    json::array versions;
    for (const std::string& version : GroupVersions(registry, group)) {
      json::object vo;
      vo["version"] = version;
      json::array resources;
      for (const KindInfo* k : KindsIn(registry, group, version)) {
        resources.push_back(AggregatedResource(*k));
      }
      vo["resources"] = std::move(resources);
      vo["freshness"] = "Current";
      versions.push_back(std::move(vo));
    }
    item["versions"] = std::move(versions);
    items.push_back(std::move(item));
  }
  list["items"] = std::move(items);
  return list;
}

json::object ApiVersions(std::string_view server_address) {
  json::object o;
  o["kind"] = "APIVersions";
  o["versions"] = json::array{"v1"};
  json::object cidr;
  cidr["clientCIDR"] = "0.0.0.0/0";
  cidr["serverAddress"] = server_address;
  o["serverAddressByClientCIDRs"] = json::array{std::move(cidr)};
  return o;
}

json::object ApiGroupList(const Registry& registry) {
  json::object o;
  o["kind"] = "APIGroupList";
  o["apiVersion"] = "v1";
  json::array groups;
  for (const std::string& group : Groups(registry)) {
    if (!group.empty()) groups.push_back(GroupJson(registry, group));
  }
  o["groups"] = std::move(groups);
  return o;
}

Result<json::object> ApiGroup(const Registry& registry, std::string_view group) {
  std::string g(group);
  if (g.empty() || GroupVersions(registry, g).empty()) {
    return NotFound("the server could not find the requested resource");
  }
  json::object o = GroupJson(registry, g);
  json::object out;
  out["kind"] = "APIGroup";
  out["apiVersion"] = "v1";
  for (auto& kv : o) out[kv.key()] = std::move(kv.value());
  return out;
}

Result<json::object> ApiResourceList(const Registry& registry, std::string_view group,
                                     std::string_view version) {
  std::vector<const KindInfo*> kinds = KindsIn(registry, group, version);
  if (kinds.empty()) return NotFound("the server could not find the requested resource");
  json::object o;
  o["kind"] = "APIResourceList";
  o["apiVersion"] = "v1";
  o["groupVersion"] = kinds.front()->ApiVersion();
  json::array resources;
  for (const KindInfo* k : kinds) {
    json::object r;
    r["name"] = k->plural;
    r["singularName"] = k->singular;
    r["namespaced"] = k->namespaced;
    r["kind"] = k->kind;
    r["verbs"] = StringArray(ResourceVerbs(*k));
    if (!k->short_names.empty()) r["shortNames"] = StringArray(k->short_names);
    if (!k->categories.empty()) r["categories"] = StringArray(k->categories);
    resources.push_back(std::move(r));
    for (const SubresourceView& s : Subresources(*k)) {
      json::object sr;
      sr["name"] = k->plural + "/" + s.name;
      sr["singularName"] = "";
      sr["namespaced"] = k->namespaced;
      if (s.group != k->group || s.version != k->version) {
        sr["group"] = s.group;
        sr["version"] = s.version;
      }
      sr["kind"] = s.kind;
      sr["verbs"] = StringArray(s.verbs);
      resources.push_back(std::move(sr));
    }
  }
  o["resources"] = std::move(resources);
  return o;
}

}  // namespace sampan::api
