// What configMap, secret and downwardAPI sources put in a volume (the kubelet's
// MakePayload and CollectData).
#include "util/base64.h"
#include "volume/volume_internal.h"
#include "volume/volumes.h"

namespace sampan::volume::internal {

namespace json = boost::json;

Result<json::object> GetObject(const ObjectGetter& getter, const std::string& kind,
                               const std::string& ns, const std::string& name) {
  // The kubelet's object managers name the resource in the singular, lower case.
  std::string resource = kind == "ConfigMap" ? "configmap" : kind == "Secret" ? "secret" : kind;
  if (!getter) return Internal("no object getter to read " + resource + " \"" + name + "\"");
  Result<json::object> r = getter(kind, ns, name);
  if (!r.ok() && r.status().code() == Code::kNotFound) {
    return NotFound(resource + " \"" + name + "\" not found");
  }
  return r;
}

Result<std::map<std::string, std::string>> ObjectData(const json::object& obj,
                                                      const std::string& kind,
                                                      bool include_binary) {
  std::map<std::string, std::string> out;
  const bool secret = kind == "Secret";
  if (const json::object* data = Obj(obj, "data")) {
    for (const auto& kv : *data) {
      if (!kv.value().is_string()) continue;
      std::string_view text = kv.value().as_string();
      if (secret) {
        std::optional<std::string> bytes = Base64Decode(text);
        if (!bytes) {
          return Invalid("secret data key " + std::string(kv.key()) + " is not valid base64");
        }
        out[std::string(kv.key())] = std::move(*bytes);
      } else {
        out[std::string(kv.key())] = std::string(text);
      }
    }
  }
  if (!secret && include_binary) {
    if (const json::object* bin = Obj(obj, "binaryData")) {
      for (const auto& kv : *bin) {
        if (!kv.value().is_string()) continue;
        std::optional<std::string> bytes = Base64Decode(kv.value().as_string());
        if (!bytes) {
          return Invalid("configmap binaryData key " + std::string(kv.key()) +
                         " is not valid base64");
        }
        // data and binaryData keys are disjoint (API validation); data wins if not.
        out.emplace(std::string(kv.key()), std::move(*bytes));
      }
    }
  }
  return out;
}

Result<Payload> MakeKeyPayload(const std::string& kind, const json::array* items,
                               const std::map<std::string, std::string>& data, int default_mode,
                               bool optional) {
  Payload payload;
  if (items == nullptr || items->empty()) {
    for (const auto& [k, v] : data) payload[k] = FileProjection{v, default_mode, std::nullopt};
    return payload;
  }
  for (const json::value& iv : *items) {
    if (!iv.is_object()) continue;
    const json::object& item = iv.as_object();
    std::string key = Str(item, "key");
    auto it = data.find(key);
    if (it == data.end()) {
      if (optional) continue;
      return Invalid(kind == "Secret" ? "references non-existent secret key: " + key
                                      : "configmap references non-existent config key: " + key);
    }
    int mode = static_cast<int>(Int(item, "mode").value_or(default_mode));
    payload[Str(item, "path")] = FileProjection{it->second, mode, std::nullopt};
  }
  return payload;
}

Result<Payload> CollectDownwardApi(const json::array* items, const json::object& pod,
                                   int default_mode, const VolumeOptions& node) {
  Payload payload;
  std::vector<std::string> errors;
  if (items == nullptr) return payload;
  for (const json::value& iv : *items) {
    if (!iv.is_object()) continue;
    const json::object& item = iv.as_object();
    FileProjection file;
    file.mode = static_cast<int>(Int(item, "mode").value_or(default_mode));
    if (const json::object* f = Obj(item, "fieldRef")) {
      Result<std::string> v = ExtractMetadataField(pod, Str(*f, "fieldPath"));
      if (v.ok()) {
        file.data = *v;
      } else {
        errors.push_back(v.status().message());
      }
    } else if (const json::object* r = Obj(item, "resourceFieldRef")) {
      std::string divisor;
      if (const json::value* d = r->if_contains("divisor")) {
        if (d->is_string()) {
          divisor = std::string(d->as_string());
        } else if (d->is_int64()) {
          divisor = std::to_string(d->as_int64());
        }
      }
      Result<std::string> v =
          ResourceFieldValue(pod, Str(*r, "containerName"), Str(*r, "resource"), divisor, node);
      if (v.ok()) {
        file.data = *v;
      } else {
        errors.push_back(v.status().message());
      }
    }
    payload[CleanPath(Str(item, "path"))] = std::move(file);
  }
  if (!errors.empty()) return Invalid(AggregateMessages(errors));
  return payload;
}

}  // namespace sampan::volume::internal
