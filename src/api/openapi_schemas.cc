// Schema trees → OpenAPI schema objects.
#include "api/openapi_schemas.h"

namespace sampan::api::openapi_internal {

namespace {

json::object TypeOnly(std::string_view type, std::string_view format = "") {
  json::object o;
  o["type"] = type;
  if (!format.empty()) o["format"] = format;
  return o;
}

json::object Described(json::object o, std::string_view description) {
  o["description"] = description;
  return o;
}

// The package part Kubernetes uses for a group: "" → core, "apps" → apps,
// "rbac.authorization.k8s.io" → rbac, "events.k8s.io" → events.
std::string GroupPackage(std::string_view group) {
  if (group.empty()) return "core";
  return std::string(group.substr(0, group.find('.')));
}

}  // namespace

SchemaWriter::SchemaWriter(const Registry& registry, bool v3) : registry_(registry), v3_(v3) {
  for (const KindInfo* k : registry_.kinds()) {
    if (k->schema && !k->schema->openapi_name.empty()) {
      gvks_[k->schema->openapi_name].insert({k->group, k->version, k->kind});
    }
  }
}

json::object SchemaWriter::Ref(std::string_view name) const {
  json::object o;
  o["$ref"] = std::string(v3_ ? "#/components/schemas/" : "#/definitions/") + std::string(name);
  return o;
}

void SchemaWriter::AddGvk(std::string_view type_name, const Gvk& gvk) {
  gvks_[std::string(type_name)].insert(gvk);
  if (auto it = out_.find(std::string(type_name)); it != out_.end()) {
    json::array arr;
    for (const Gvk& g : gvks_[std::string(type_name)]) {
      arr.push_back(json::object{{"group", g.group}, {"kind", g.kind}, {"version", g.version}});
    }
    it->second["x-kubernetes-group-version-kind"] = std::move(arr);
  }
}

const Schema* SchemaWriter::TypeForGvk(const Gvk& gvk) const {
  if (const KindInfo* k = registry_.FindKind(gvk.group, gvk.version, gvk.kind)) return k->schema;
  std::string name = "io.k8s.api." + GroupPackage(gvk.group) + "." + gvk.version + "." + gvk.kind;
  auto it = registry_.types().find(name);
  return it == registry_.types().end() ? nullptr : it->second.get();
}

json::value SchemaWriter::Inline(const Schema* s) {
  if (s == nullptr) return json::object();
  switch (s->kind) {
    case TypeKind::kString:
      return TypeOnly("string", s->format);
    case TypeKind::kInteger:
      return TypeOnly("integer", s->format.empty() ? "int64" : s->format);
    case TypeKind::kNumber:
      return TypeOnly("number", s->format.empty() ? "double" : s->format);
    case TypeKind::kBoolean:
      return TypeOnly("boolean");
    case TypeKind::kBytes:
      return TypeOnly("string", "byte");
    case TypeKind::kAny: {
      json::object o = TypeOnly("object");
      o["x-kubernetes-preserve-unknown-fields"] = true;
      return o;
    }
    case TypeKind::kQuantity:
      AddWellKnown(kQuantity);
      return Ref(kQuantity);
    case TypeKind::kIntOrString:
      AddWellKnown(kIntOrString);
      return Ref(kIntOrString);
    case TypeKind::kTime:
      AddWellKnown(kTime);
      return Ref(kTime);
    case TypeKind::kMicroTime:
      AddWellKnown(kMicroTime);
      return Ref(kMicroTime);
    case TypeKind::kArray: {
      json::object o = TypeOnly("array");
      o["items"] = Inline(s->element);
      return o;
    }
    case TypeKind::kMap: {
      json::object o = TypeOnly("object");
      o["additionalProperties"] = Inline(s->element);
      return o;
    }
    case TypeKind::kObject:
      if (s->openapi_name.empty()) return ObjectSchema(s);
      return Ref(AddType(s));
  }
  return json::object();
}

json::object SchemaWriter::Property(const Field& f) {
  json::value inner = Inline(f.type);
  json::object p;
  if (inner.is_object() && inner.get_object().contains("$ref")) {
    // OpenAPI 3.0 ignores siblings of $ref, so Kubernetes wraps it in allOf; v2 keeps them.
    if (v3_) {
      p["allOf"] = json::array{std::move(inner)};
    } else {
      p = std::move(inner.get_object());
    }
  } else if (inner.is_object()) {
    p = std::move(inner.get_object());
  }
  if (!f.description.empty()) p["description"] = f.description;
  if (!f.default_json.empty()) {
    boost::system::error_code ec;
    json::value d = json::parse(f.default_json, ec);
    if (!ec) p["default"] = std::move(d);
  }
  if (!f.enum_values.empty()) {
    json::array e;
    for (const std::string& v : f.enum_values) e.push_back(json::string(v));
    p["enum"] = std::move(e);
  }
  if (!f.merge_key.empty()) p["x-kubernetes-patch-merge-key"] = f.merge_key;
  std::string strategy = f.patch_strategy;
  if (strategy.empty() && !f.merge_key.empty()) strategy = "merge";
  if (!strategy.empty()) p["x-kubernetes-patch-strategy"] = strategy;
  return p;
}

json::object SchemaWriter::ObjectSchema(const Schema* s) {
  json::object o;
  if (!s->description.empty()) o["description"] = s->description;
  o["type"] = "object";
  json::object props;
  json::array required;
  for (const Field& f : s->fields) {
    props[f.name] = Property(f);
    if (f.required) required.push_back(json::string(f.name));
  }
  if (!props.empty()) o["properties"] = std::move(props);
  if (!required.empty()) o["required"] = std::move(required);
  if (s->preserve_unknown) o["x-kubernetes-preserve-unknown-fields"] = true;
  return o;
}

std::string SchemaWriter::AddType(const Schema* type) {
  const std::string& name = type->openapi_name;
  if (out_.count(name) || visiting_.count(name)) return name;
  visiting_.insert(name);
  json::object o = ObjectSchema(type);
  visiting_.erase(name);
  out_[name] = std::move(o);
  if (auto it = gvks_.find(name); it != gvks_.end() && !it->second.empty()) {
    Gvk first = *it->second.begin();
    AddGvk(name, first);  // writes the whole array
  }
  return name;
}

void SchemaWriter::AddWellKnown(std::string_view name) {
  std::string key(name);
  if (out_.count(key) || visiting_.count(key)) return;
  if (auto it = registry_.types().find(key); it != registry_.types().end()) {
    AddType(it->second.get());
    return;
  }
  json::object o;
  if (name == kQuantity) {
    o["description"] =
        "A fixed-point number with an optional suffix: \"100m\" (milli), \"2\", \"128Mi\", "
        "\"1G\", \"1e3\".";
    if (v3_) {
      o["oneOf"] = json::array{TypeOnly("string"), TypeOnly("number")};
    } else {
      o["type"] = "string";
    }
  } else if (name == kIntOrString) {
    o = Described(TypeOnly("string", "int-or-string"),
                  "Either an integer or a string (a port number or name, a count or a "
                  "percentage).");
  } else if (name == kTime) {
    o = Described(TypeOnly("string", "date-time"),
                  "A point in time in RFC 3339 form, with a precision of one second.");
  } else if (name == kMicroTime) {
    o = Described(TypeOnly("string", "date-time"),
                  "A point in time in RFC 3339 form, with a precision of one microsecond.");
  } else if (name == kPatch) {
    o = Described(TypeOnly("object"),
                  "The body of a PATCH request: a JSON patch, merge patch, strategic merge "
                  "patch or apply configuration, as the Content-Type says.");
  } else if (name == kListMeta) {
    o = Described(TypeOnly("object"), "Metadata of a list: its resourceVersion and paging token.");
    o["properties"] = json::object{
        {"continue", Described(TypeOnly("string"), "Token to fetch the next page.")},
        {"remainingItemCount",
         Described(TypeOnly("integer", "int64"), "Approximate number of items after this page.")},
        {"resourceVersion", Described(TypeOnly("string"), "Version of the list.")},
        {"selfLink", Described(TypeOnly("string"), "Deprecated; not set.")}};
  } else {
    // Status and DeleteOptions come from the registry's meta types; without them an open object.
    o = Described(TypeOnly("object"), "See the Kubernetes API reference.");
    o["x-kubernetes-preserve-unknown-fields"] = true;
  }
  out_[key] = std::move(o);
}

std::string SchemaWriter::AddListType(const KindInfo& kind) {
  std::string item_name = AddType(kind.schema);
  std::string name = item_name + "List";
  if (auto it = registry_.types().find(name); it != registry_.types().end()) {
    AddType(it->second.get());
  } else if (!out_.count(name)) {
    AddWellKnown(kListMeta);
    json::object props;
    props["apiVersion"] =
        Described(TypeOnly("string"), "The versioned schema of this representation of an object.");
    json::object items = TypeOnly("array");
    items["description"] = "The " + kind.plural + " in the list.";
    items["items"] = Ref(item_name);
    props["items"] = std::move(items);
    props["kind"] = Described(TypeOnly("string"), "The kind of this object, in CamelCase.");
    json::object meta;
    if (v3_) {
      meta["allOf"] = json::array{Ref(kListMeta)};
    } else {
      meta = Ref(kListMeta);
    }
    meta["description"] = "Standard list metadata.";
    props["metadata"] = std::move(meta);
    json::object o = Described(TypeOnly("object"), "A list of " + kind.kind + " objects.");
    o["properties"] = std::move(props);
    o["required"] = json::array{"items"};
    out_[name] = std::move(o);
  }
  AddGvk(name, {kind.group, kind.version, kind.kind + "List"});
  return name;
}

json::object SchemaWriter::Take() {
  json::object o;
  for (auto& [name, schema] : out_) o[name] = std::move(schema);
  out_.clear();
  return o;
}

}  // namespace sampan::api::openapi_internal
