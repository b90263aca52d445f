// Decoding request bodies: JSON, YAML (one or many documents) and the Kubernetes
// protobuf envelope ("k8s\0" + runtime.Unknown), all into JSON values.
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/schema.h"
#include "util/status.h"

namespace sampan::api {

struct DecodeLimits {
  size_t max_depth = 100;  // nesting deeper than this is BadRequest
};

// Strict JSON: BadRequest with line/column on a syntax error; duplicate keys are reported
// through `duplicate_fields` (dotted paths) rather than silently merged.
Result<boost::json::value> DecodeJson(std::string_view body, const DecodeLimits& limits = {},
                                      std::vector<std::string>* duplicate_fields = nullptr);

// YAML → JSON (the first document), typed as kubectl's sigs.k8s.io/yaml (go-yaml v2, YAML
// 1.1) does: plain true/false/yes/no/on/off are booleans, plain numbers are numbers
// (integral floats become integers), plain ~/null are null, quoted scalars stay strings;
// anchors, aliases and `<<` merge keys are expanded. BadRequest with the line on a syntax
// error. Repeated keys are reported through `duplicate_fields` (the last one wins).
Result<boost::json::value> DecodeYaml(std::string_view body, const DecodeLimits& limits = {},
                                      std::vector<std::string>* duplicate_fields = nullptr);
// All documents of a multi-document YAML stream (empty documents skipped).
Result<std::vector<boost::json::value>> DecodeYamlStream(std::string_view body);

// The protobuf envelope: returns apiVersion and kind from typeMeta and the object decoded
// with the registry's schema for that kind (fields by proto tag). BadRequest if the
// magic, envelope or message is malformed; NotAcceptable/UnsupportedMedia if the kind is
// unknown to `registry`.
Result<boost::json::value> DecodeProtobuf(std::string_view body, const Registry& registry);

// Decodes one protobuf message (no envelope) by walking `schema` (a kObject) by proto tag.
// Unknown tags are skipped. Zero values that Kubernetes' generated code writes for
// non-pointer fields are dropped where JSON would omit them: empty strings always, false
// bools unless the field has a default; integers are kept (a pointer int such as replicas
// may be 0 on purpose). A zero Time decodes to null, as Go's JSON writes it.
Result<boost::json::value> DecodeProtobufMessage(std::string_view raw, const Schema* schema);

}  // namespace sampan::api
