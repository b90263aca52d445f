// Kinds described once, as data.
//
// Every built-in kind (and, later, every CustomResourceDefinition) is a KindInfo
// plus a tree of Schema nodes. That one description drives validation, defaulting,
// strategic merge patch, protobuf decoding, OpenAPI (kubectl explain), discovery
// and tables. Built-in kinds are written in a small text language (below), kept
// as raw string literals in src/api/kinds/*.cc and loaded once by BuiltinRegistry().
//
// ---- The schema language ----------------------------------------------------
//   # comment to end of line
//   package io.k8s.api.core.v1        OpenAPI package for the `type`s that follow
//   type NAME ["description"]         a named object type; NAME unique within its package
//     [open]                          (option on the type line) unknown fields kept
//     FIELD TYPE TAG [opt=value ...] ["description"]
//                                     one indented line per field, in order
//   kind KIND group=G version=V plural=P singular=S scope=Namespaced|Cluster
//        type=TYPENAME [short=a,b] [categories=all] [subresources=status,scale,...]
//        [verbs=create,get,...]       one line; G empty for the core group; verbs default
//                                     to create delete deletecollection get list patch
//                                     update watch; subresources from a table of known ones
// TYPE: string | int32 | int64 | double | bool | quantity | intorstring | time |
//       microtime | bytes | any | NAME | []TYPE | map[string]TYPE
//       A NAME is looked up in the current package first, then among all packages
//       (must be unique there); a package-qualified name (io.k8s.api.core.v1.Pod) always works.
// TAG:  the protobuf field number of Kubernetes' generated.proto, or - for none; OUTER.INNER
//       for a member of a Go-inlined struct (Volume's VolumeSource: hostPath is 2.1): the field
//       sits directly in this object in JSON, and in protobuf inside the message at OUTER.
// Field options: merge=KEY (x-kubernetes-patch-merge-key, implies strategy merge),
//   strategy=merge|retainKeys|merge,retainKeys|replace, required,
//   default=JSON (e.g. default="Always" or default=30), enum=A|B|C,
//   omitempty (Go leaves the zero value - "", 0, false, empty list or map - out of JSON, so
//   a zero read from protobuf means unset; absent on pointer fields, where 0/false are values).
// -----------------------------------------------------------------------------
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace sampan::api {

enum class TypeKind {
  kString,
  kInteger,      // format int32 / int64; JSON number; protobuf varint
  kNumber,       // double
  kBoolean,
  kObject,       // a named type with fields
  kArray,        // element = item type
  kMap,          // string keys; element = value type
  kQuantity,     // "100m", "1Gi"; protobuf resource.Quantity {1: string}
  kIntOrString,  // 8080 or "http"; protobuf IntOrString {1: type, 2: intVal, 3: strVal}
  kTime,         // RFC 3339 string; protobuf meta.v1.Time {1: seconds, 2: nanos}
  kMicroTime,    // RFC 3339 with microseconds; protobuf MicroTime {1: seconds, 2: nanos}
  kBytes,        // base64 string in JSON; protobuf bytes
  kAny,          // arbitrary JSON, kept as is (RawExtension; protobuf {1: raw bytes})
};

struct Schema;

struct Field {
  std::string name;
  const Schema* type = nullptr;
  int proto_tag = 0;              // 0 = not in protobuf
  int proto_inline_tag = 0;       // nonzero: proto_tag is inside the inlined message at this tag
  std::string description;
  std::string merge_key;          // x-kubernetes-patch-merge-key
  std::string patch_strategy;     // "", "merge", "retainKeys", "merge,retainKeys", "replace"
  bool required = false;
  std::string default_json;       // JSON text of the default; empty = none
  std::vector<std::string> enum_values;
  bool omit_empty = false;        // `omitempty`: a zero value is the same as absent
};

struct Schema {
  TypeKind kind = TypeKind::kString;
  std::string name;               // short name of a named type ("PodSpec"); "" otherwise
  std::string openapi_name;       // "io.k8s.api.core.v1.PodSpec" for named types
  std::string format;             // "int32", "int64", "double", "date-time", "byte", ...
  std::string description;
  std::vector<Field> fields;      // kObject, in declaration order
  const Schema* element = nullptr;  // kArray items, kMap values
  bool preserve_unknown = false;  // kObject declared `open`, and kAny

  const Field* FindField(std::string_view field_name) const;
  // The field with protobuf number `tag`; with inline_tag != 0, the one at `tag` inside the
  // inlined message at `inline_tag` (see TAG above). nullptr if none.
  const Field* FindFieldByTag(int tag, int inline_tag = 0) const;
  // Whether `tag` of this message is an inlined struct (its members have proto_inline_tag == tag).
  bool IsInlineTag(int tag) const;
};

// What a member of a value of schema `s` is: for an object, the field named `key` and its type;
// for a map, the value type (no Field). Both null when `s` is null, another kind, or has no such
// field.
struct Member {
  const Schema* type = nullptr;
  const Field* field = nullptr;
};
Member MemberOf(const Schema* s, std::string_view key);

struct SubresourceInfo {
  std::string name;                // "status", "scale", "log", "exec", ...
  std::string group, version, kind;  // responseKind
  std::vector<std::string> verbs;
};

struct KindInfo {
  std::string group;     // "" for core
  std::string version;   // "v1"
  std::string kind;      // "Pod"
  std::string plural;    // "pods"
  std::string singular;  // "pod"
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  std::vector<std::string> verbs;  // create delete deletecollection get list patch update watch
  std::vector<SubresourceInfo> subresources;
  const Schema* schema = nullptr;

  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  const SubresourceInfo* FindSubresource(std::string_view name) const;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Parses schema-language text and adds its types and kinds. Invalid (with
  // "source:line: reason") on a syntax error or a duplicate name.
  Status Load(std::string_view text, std::string_view source_name);
  // Resolves type references after all Load calls; Invalid naming any unknown type.
  Status Resolve();

  // By OpenAPI name, or by short name when exactly one package has a type of that name.
  const Schema* FindType(std::string_view name) const;
  const KindInfo* FindKind(std::string_view group, std::string_view version,
                           std::string_view kind) const;
  // By plural resource name, singular name or short name, within a group/version.
  const KindInfo* FindResource(std::string_view group, std::string_view version,
                               std::string_view resource) const;
  // All kinds, in registration order (this is the discovery order).
  const std::vector<const KindInfo*>& kinds() const { return kind_list_; }
  // All named types, keyed by their OpenAPI name ("io.k8s.api.core.v1.Pod").
  const std::map<std::string, std::unique_ptr<Schema>, std::less<>>& types() const {
    return types_;
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::map<std::string, std::unique_ptr<Schema>, std::less<>> types_;
  std::vector<std::unique_ptr<KindInfo>> kind_store_;
  std::vector<const KindInfo*> kind_list_;
};

// All built-in kinds, loaded and resolved once (crashes if the built-in text is bad).
const Registry& BuiltinRegistry();

}  // namespace sampan::api
