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

// YAML → JSON (a single document). BadRequest with line on a syntax error.
Result<boost::json::value> DecodeYaml(std::string_view body, const DecodeLimits& limits = {});
// All documents of a multi-document YAML stream (empty documents skipped).
Result<std::vector<boost::json::value>> DecodeYamlStream(std::string_view body);

// The protobuf envelope: returns apiVersion and kind from typeMeta and the object decoded
// with the registry's schema for that kind (fields by proto tag). BadRequest if the
// magic, envelope or message is malformed; NotAcceptable/UnsupportedMedia if the kind is
// unknown to `registry`.
Result<boost::json::value> DecodeProtobuf(std::string_view body, const Registry& registry);

}  // namespace sampan::api
