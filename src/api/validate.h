// Generic, schema-driven checks of an object: types, enums, required fields and
// unknown fields, as `fieldValidation=Strict|Warn|Ignore` asks.
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <vector>

#include "api/schema.h"
#include "util/status.h"

namespace sampan::api {

enum class FieldValidation { kStrict, kWarn, kIgnore };

struct SchemaCheck {
  std::vector<std::string> unknown_fields;  // dotted paths: "spec.foo", "spec.containers[0].bar"
  // Duplicate keys found while decoding (DecodeJson's `duplicate_fields`); the caller copies
  // them in so that one policy (Strict/Warn/Ignore) treats both.
  std::vector<std::string> duplicate_fields;
  std::vector<Cause> errors;                // type/enum/required violations (field + message)
};

// Walks `obj` against `schema`. Never fails itself: problems are collected.
SchemaCheck CheckAgainstSchema(const boost::json::value& obj, const Schema* schema);

// Applies the policy: Strict → BadRequest `strict decoding error: unknown field "spec.foo", ...`
// if unknown fields; Warn → fills `warnings` with `unknown field "spec.foo"`; errors →
// Invalid with causes (kind/name in the message filled by the caller).
Status ApplyFieldValidation(const SchemaCheck& check, FieldValidation mode,
                            std::vector<std::string>* warnings);

// Sets each absent field that has a schema default, recursively (into existing objects
// and array items). Does not create absent parent objects.
void ApplySchemaDefaults(boost::json::value& obj, const Schema* schema);

// Rewrites values into the form Kubernetes stores after decoding into its Go types:
// quantities in canonical form ("0.5" → "500m", 1 → "1", "1024Mi" → "1Gi") and times as
// UTC RFC 3339 ("...+02:00" → "...Z"; MicroTime with six fraction digits). Values that do
// not parse are left alone (CheckAgainstSchema reports them).
void CanonicalizeBySchema(boost::json::value& obj, const Schema* schema);

// Name rules (apimachinery validation). Each returns the list of problems ("" = fine).
std::vector<std::string> IsDns1123Subdomain(std::string_view value);  // <=253, [a-z0-9.-]
std::vector<std::string> IsDns1123Label(std::string_view value);      // <=63, [a-z0-9-]
std::vector<std::string> IsDns1035Label(std::string_view value);      // starts with letter
std::vector<std::string> IsQualifiedName(std::string_view value);     // label keys
std::vector<std::string> IsValidLabelValue(std::string_view value);

// Validates metadata common to all kinds: name (per `name_rule`: subdomain or label),
// generateName, namespace presence per scope, labels, annotations (total size <= 256 KiB),
// ownerReferences, finalizers. Appends causes with "metadata.*" fields.
enum class NameRule { kSubdomain, kDns1123Label, kDns1035Label, kPathSegment };
void ValidateObjectMeta(const boost::json::object& meta, bool namespaced, NameRule rule,
                        std::vector<Cause>* causes);

}  // namespace sampan::api
