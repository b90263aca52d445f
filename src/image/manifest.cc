#include "image/manifest.h"

#include <sys/utsname.h>

#include <algorithm>
#include <boost/json.hpp>

#include "image/digest.h"

namespace sampan::image {

namespace json = boost::json;

namespace media {

std::string ManifestAccept() {
  return std::string(kOciIndex) + ", " + std::string(kDockerManifestList) + ", " +
         std::string(kOciManifest) + ", " + std::string(kDockerManifest);
}
bool IsManifest(std::string_view t) { return t == kOciManifest || t == kDockerManifest; }
bool IsIndex(std::string_view t) { return t == kOciIndex || t == kDockerManifestList; }
bool IsLayer(std::string_view t) {
  return t == kOciLayer || t == kOciLayerGzip || t == kOciLayerZstd || t == kDockerLayer ||
         t == kDockerLayerGzip || t == kDockerForeignLayerGzip ||
         t == "application/vnd.oci.image.layer.nondistributable.v1.tar" ||
         t == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" ||
         t == "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
}

}  // namespace media

Platform HostPlatform() {
  Platform p{"linux", "amd64", ""};
  struct utsname u;
  if (::uname(&u) == 0) {
    std::string m = u.machine;
    if (m == "x86_64")
      p.architecture = "amd64";
    else if (m == "aarch64")
      p = {"linux", "arm64", "v8"};
    else if (m.rfind("armv7", 0) == 0)
      p = {"linux", "arm", "v7"};
    else if (m == "i686" || m == "i386")
      p.architecture = "386";
    else if (m == "ppc64le" || m == "s390x" || m == "riscv64")
      p.architecture = m;
  }
  return p;
}

std::string PlatformString(const Platform& p) {
  std::string s = p.os + "/" + p.architecture;
  if (!p.variant.empty()) s += "/" + p.variant;
  return s;
}

namespace {

Result<json::value> ParseJson(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Invalid(std::string(what) + ": malformed JSON: " + ec.message());
  if (!v.is_object()) return Invalid(std::string(what) + ": not a JSON object");
  return v;
}

std::string GetString(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::vector<std::string> GetStrings(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  auto* v = o.if_contains(key);
  if (v && v->is_array()) {
    for (const auto& e : v->as_array())
      if (e.is_string()) out.emplace_back(e.as_string());
  }
  return out;
}

std::vector<std::string> GetKeys(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  auto* v = o.if_contains(key);
  if (v && v->is_object()) {
    for (const auto& kv : v->as_object()) out.emplace_back(kv.key());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<Descriptor> DescriptorFrom(const json::value& v, std::string_view what) {
  if (!v.is_object()) return Invalid(std::string(what) + ": descriptor is not an object");
  const auto& o = v.as_object();
  Descriptor d;
  d.media_type = GetString(o, "mediaType");
  d.digest = GetString(o, "digest");
  if (Status st = ValidateDigest(d.digest); !st.ok()) return st.WithContext(what);
  auto* size = o.if_contains("size");
  if (!size || !(size->is_int64() || size->is_uint64()) ||
      (size->is_int64() && size->as_int64() < 0)) {
    return Invalid(std::string(what) + ": descriptor " + d.digest + " has no valid size");
  }
  d.size = size->is_int64() ? size->as_int64() : static_cast<int64_t>(size->as_uint64());
  if (auto* p = o.if_contains("platform"); p && p->is_object()) {
    const auto& po = p->as_object();
    d.platform =
        Platform{GetString(po, "os"), GetString(po, "architecture"), GetString(po, "variant")};
  }
  if (auto* a = o.if_contains("annotations"); a && a->is_object()) {
    for (const auto& kv : a->as_object())
      if (kv.value().is_string()) d.annotations[kv.key()] = std::string(kv.value().as_string());
  }
  return d;
}

Status CheckSchemaVersion(const json::object& o, std::string_view what) {
  auto* v = o.if_contains("schemaVersion");
  if (!v || !v->is_number() || v->to_number<int64_t>() != 2) {
    return Invalid(std::string(what) + ": unsupported schemaVersion (want 2)");
  }
  return Status::Ok();
}

json::object DescriptorObject(const Descriptor& d) {
  json::object o;
  o["mediaType"] = d.media_type;
  o["digest"] = d.digest;
  o["size"] = d.size;
  if (d.platform) {
    json::object p;
    p["architecture"] = d.platform->architecture;
    p["os"] = d.platform->os;
    if (!d.platform->variant.empty()) p["variant"] = d.platform->variant;
    o["platform"] = std::move(p);
  }
  if (!d.annotations.empty()) {
    json::object a;
    for (const auto& [k, v] : d.annotations) a[k] = v;
    o["annotations"] = std::move(a);
  }
  return o;
}

}  // namespace

DocKind ClassifyDocument(std::string_view text, std::string_view hint) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return DocKind::kUnknown;
  std::string mt = GetString(v.as_object(), "mediaType");
  if (mt.empty()) mt = std::string(hint);
  if (media::IsIndex(mt)) return DocKind::kIndex;
  if (media::IsManifest(mt)) return DocKind::kManifest;
  if (!mt.empty() && mt != "application/json" && mt != "application/octet-stream")
    return DocKind::kUnknown;
  if (v.as_object().contains("manifests")) return DocKind::kIndex;
  if (v.as_object().contains("config") && v.as_object().contains("layers"))
    return DocKind::kManifest;
  return DocKind::kUnknown;
}

Result<Descriptor> ParseDescriptorJson(std::string_view text) {
  ASSIGN_OR_RETURN(json::value v, ParseJson(text, "descriptor"));
  return DescriptorFrom(v, "descriptor");
}

Result<Manifest> ParseManifest(std::string_view text, std::string_view hint) {
  ASSIGN_OR_RETURN(json::value v, ParseJson(text, "manifest"));
  const auto& o = v.as_object();
  RETURN_IF_ERROR(CheckSchemaVersion(o, "manifest"));
  Manifest m;
  m.media_type = GetString(o, "mediaType");
  if (m.media_type.empty()) m.media_type = hint.empty() ? media::kOciManifest : hint;
  if (!media::IsManifest(m.media_type)) {
    return Invalid("manifest: unsupported media type \"" + m.media_type + "\"");
  }
  auto* config = o.if_contains("config");
  if (!config) return Invalid("manifest: no config descriptor");
  ASSIGN_OR_RETURN(m.config, DescriptorFrom(*config, "manifest config"));
  auto* layers = o.if_contains("layers");
  if (!layers || !layers->is_array()) return Invalid("manifest: no layers array");
  for (const auto& l : layers->as_array()) {
    ASSIGN_OR_RETURN(Descriptor d, DescriptorFrom(l, "manifest layer"));
    if (!media::IsLayer(d.media_type)) {
      return Invalid("manifest: unsupported layer media type \"" + d.media_type + "\"");
    }
    m.layers.push_back(std::move(d));
  }
  return m;
}

Result<Index> ParseIndex(std::string_view text, std::string_view hint) {
  ASSIGN_OR_RETURN(json::value v, ParseJson(text, "index"));
  const auto& o = v.as_object();
  RETURN_IF_ERROR(CheckSchemaVersion(o, "index"));
  Index idx;
  idx.media_type = GetString(o, "mediaType");
  if (idx.media_type.empty()) idx.media_type = hint.empty() ? media::kOciIndex : hint;
  if (!media::IsIndex(idx.media_type)) {
    return Invalid("index: unsupported media type \"" + idx.media_type + "\"");
  }
  auto* ms = o.if_contains("manifests");
  if (!ms || !ms->is_array()) return Invalid("index: no manifests array");
  for (const auto& e : ms->as_array()) {
    ASSIGN_OR_RETURN(Descriptor d, DescriptorFrom(e, "index entry"));
    idx.manifests.push_back(std::move(d));
  }
  return idx;
}

Result<ImageConfig> ParseImageConfig(std::string_view text) {
  ASSIGN_OR_RETURN(json::value v, ParseJson(text, "image config"));
  const auto& o = v.as_object();
  ImageConfig c;
  c.architecture = GetString(o, "architecture");
  c.os = GetString(o, "os");
  c.variant = GetString(o, "variant");
  c.created = GetString(o, "created");
  if (c.architecture.empty() || c.os.empty()) {
    return Invalid("image config: architecture and os are required");
  }
  if (auto* cfg = o.if_contains("config"); cfg && cfg->is_object()) {
    const auto& co = cfg->as_object();
    c.user = GetString(co, "User");
    c.env = GetStrings(co, "Env");
    c.entrypoint = GetStrings(co, "Entrypoint");
    c.cmd = GetStrings(co, "Cmd");
    c.working_dir = GetString(co, "WorkingDir");
    c.exposed_ports = GetKeys(co, "ExposedPorts");
    c.volumes = GetKeys(co, "Volumes");
    c.stop_signal = GetString(co, "StopSignal");
    if (auto* l = co.if_contains("Labels"); l && l->is_object()) {
      for (const auto& kv : l->as_object())
        if (kv.value().is_string()) c.labels[kv.key()] = std::string(kv.value().as_string());
    }
  }
  auto* rootfs = o.if_contains("rootfs");
  if (!rootfs || !rootfs->is_object()) return Invalid("image config: no rootfs");
  if (GetString(rootfs->as_object(), "type") != "layers") {
    return Invalid("image config: rootfs.type must be \"layers\"");
  }
  c.diff_ids = GetStrings(rootfs->as_object(), "diff_ids");
  for (const auto& d : c.diff_ids) RETURN_IF_ERROR(ValidateDigest(d).WithContext("diff_id"));
  return c;
}

Result<Descriptor> SelectPlatform(const Index& index, const Platform& want) {
  const Descriptor* best = nullptr;
  for (const auto& d : index.manifests) {
    if (!d.platform || !media::IsManifest(d.media_type)) continue;
    if (d.platform->os != want.os || d.platform->architecture != want.architecture) continue;
    if (!want.variant.empty() && !d.platform->variant.empty() &&
        d.platform->variant != want.variant) {
      continue;
    }
    if (!best || (d.platform->variant == want.variant && best->platform->variant != want.variant))
      best = &d;
  }
  if (best) return *best;
  std::string avail;
  for (const auto& d : index.manifests) {
    if (!d.platform) continue;
    if (!avail.empty()) avail += ", ";
    avail += PlatformString(*d.platform);
  }
  return NotFound("no manifest for platform " + PlatformString(want) +
                  " in the image index (available: " + (avail.empty() ? "none" : avail) + ")");
}

std::string SerializeDescriptor(const Descriptor& d) {
  return json::serialize(DescriptorObject(d));
}

std::string SerializeManifest(const Manifest& m) {
  json::object o;
  o["schemaVersion"] = 2;
  o["mediaType"] = m.media_type;
  o["config"] = DescriptorObject(m.config);
  json::array layers;
  for (const auto& l : m.layers) layers.push_back(DescriptorObject(l));
  o["layers"] = std::move(layers);
  return json::serialize(o);
}

std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  for (const auto& d : diff_ids) {
    if (out.empty())
      out.push_back(d);
    else
      out.push_back(DigestOf(out.back() + " " + d));
  }
  return out;
}

}  // namespace sampan::image
