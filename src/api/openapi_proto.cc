// The swagger 2.0 document as protobuf: the gnostic openapi_v2.Document message that
// kubectl decodes from GET /openapi/v2 (field numbers from gnostic's OpenAPIv2.proto).
// Vendor extensions, defaults and enum values travel as openapi_v2.Any{yaml}, which
// kubectl parses as YAML; compact JSON is valid YAML, so that is what is written.
#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/openapi.h"

namespace sampan::api {

namespace json = boost::json;

namespace {

// A protobuf message under construction (only the wire types the document needs).
class Message {
 public:
  void Bytes(int field, std::string_view bytes) {
    Key(field, 2);
    Varint(bytes.size());
    out_.append(bytes);
  }
  void String(int field, const json::value* v) {
    if (v != nullptr && v->is_string() && !v->get_string().empty()) Bytes(field, v->get_string());
  }
  void Bool(int field, const json::value* v) {
    if (v != nullptr && v->is_bool() && v->get_bool()) {
      Key(field, 0);
      Varint(1);
    }
  }
  void Sub(int field, const Message& m) { Bytes(field, m.out_); }
  const std::string& bytes() const { return out_; }

 private:
  void Key(int field, int wire) { Varint((static_cast<uint64_t>(field) << 3) | wire); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  std::string out_;
};

const json::value* Get(const json::object& o, std::string_view key) { return o.if_contains(key); }

const json::object& AsObject(const json::value* v) {
  static const json::object kEmpty;
  return v != nullptr && v->is_object() ? v->get_object() : kEmpty;
}

// openapi_v2.Any{yaml = 2}.
Message AnyOf(const json::value& v) {
  Message any;
  any.Bytes(2, json::serialize(v));
  return any;
}

// NamedAny{name = 1, value = 2} for every "x-..." key of `o`, as field `field`.
void VendorExtensions(const json::object& o, int field, Message* m) {
  for (const auto& kv : o) {
    if (!kv.key().starts_with("x-")) continue;
    Message named;
    named.Bytes(1, kv.key());
    named.Sub(2, AnyOf(kv.value()));
    m->Sub(field, named);
  }
}

Message SchemaMessage(const json::object& s) {
  Message m;
  m.String(1, Get(s, "$ref"));
  m.String(2, Get(s, "format"));
  m.String(4, Get(s, "description"));
  if (const json::value* d = Get(s, "default")) m.Sub(5, AnyOf(*d));
  if (const json::value* r = Get(s, "required"); r && r->is_array()) {
    for (const json::value& name : r->get_array()) m.String(19, &name);
  }
  if (const json::value* e = Get(s, "enum"); e && e->is_array()) {
    for (const json::value& v : e->get_array()) m.Sub(20, AnyOf(v));
  }
  if (const json::value* ap = Get(s, "additionalProperties")) {
    Message item;  // AdditionalPropertiesItem{schema = 1 | boolean = 2}
    if (ap->is_object()) {
      item.Sub(1, SchemaMessage(ap->get_object()));
    } else {
      item.Bool(2, ap);
    }
    m.Sub(21, item);
  }
  if (const json::value* t = Get(s, "type"); t && t->is_string()) {
    Message type;  // TypeItem{repeated value = 1}
    type.String(1, t);
    m.Sub(22, type);
  }
  if (const json::value* items = Get(s, "items"); items && items->is_object()) {
    Message item;  // ItemsItem{repeated schema = 1}
    item.Sub(1, SchemaMessage(items->get_object()));
    m.Sub(23, item);
  }
  if (const json::value* all = Get(s, "allOf"); all && all->is_array()) {
    for (const json::value& sub : all->get_array()) m.Sub(24, SchemaMessage(AsObject(&sub)));
  }
  if (const json::value* props = Get(s, "properties"); props && props->is_object()) {
    Message properties;  // Properties{repeated NamedSchema additional_properties = 1}
    for (const auto& kv : props->get_object()) {
      Message named;
      named.Bytes(1, kv.key());
      named.Sub(2, SchemaMessage(AsObject(&kv.value())));
      properties.Sub(1, named);
    }
    m.Sub(25, properties);
  }
  VendorExtensions(s, 31, &m);
  return m;
}

// ParametersItem{parameter = 1: Parameter{body_parameter = 1 | non_body_parameter = 2}}.
Message ParameterMessage(const json::object& p) {
  std::string_view in =
      p.contains("in") && p.at("in").is_string() ? std::string_view(p.at("in").get_string()) : "";
  Message param;
  if (in == "body") {
    Message body;  // BodyParameter
    body.String(1, Get(p, "description"));
    body.String(2, Get(p, "name"));
    body.String(3, Get(p, "in"));
    body.Bool(4, Get(p, "required"));
    if (const json::value* s = Get(p, "schema")) body.Sub(5, SchemaMessage(AsObject(s)));
    param.Sub(1, body);
  } else {
    // Query (3), path (4), header (1) and form (2) sub-schemas share their first four fields;
    // type and uniqueItems sit at 6/20 for query and form, 5/19 for path and header.
    int which = in == "path" ? 4 : in == "header" ? 1 : in == "formData" ? 2 : 3;
    bool short_form = which == 4 || which == 1;
    Message sub;
    sub.Bool(1, Get(p, "required"));
    sub.String(2, Get(p, "in"));
    sub.String(3, Get(p, "description"));
    sub.String(4, Get(p, "name"));
    sub.String(short_form ? 5 : 6, Get(p, "type"));
    sub.Bool(short_form ? 19 : 20, Get(p, "uniqueItems"));
    Message non_body;
    non_body.Sub(which, sub);
    param.Sub(2, non_body);
  }
  Message item;
  item.Sub(1, param);
  return item;
}

Message OperationMessage(const json::object& op) {
  Message m;
  auto strings = [&](std::string_view key, int field) {
    if (const json::value* v = Get(op, key); v && v->is_array()) {
      for (const json::value& s : v->get_array()) m.String(field, &s);
    }
  };
  strings("tags", 1);
  m.String(3, Get(op, "description"));
  m.String(5, Get(op, "operationId"));
  strings("produces", 6);
  strings("consumes", 7);
  if (const json::value* params = Get(op, "parameters"); params && params->is_array()) {
    for (const json::value& p : params->get_array()) m.Sub(8, ParameterMessage(AsObject(&p)));
  }
  Message responses;  // Responses{repeated NamedResponseValue response_code = 1}
  for (const auto& kv : AsObject(Get(op, "responses"))) {
    const json::object& r = AsObject(&kv.value());
    Message response;  // Response{description = 1, schema = 2: SchemaItem{schema = 1}}
    response.String(1, Get(r, "description"));
    if (const json::value* s = Get(r, "schema")) {
      Message item;
      item.Sub(1, SchemaMessage(AsObject(s)));
      response.Sub(2, item);
    }
    Message value;  // ResponseValue{response = 1}
    value.Sub(1, response);
    Message named;
    named.Bytes(1, kv.key());
    named.Sub(2, value);
    responses.Sub(1, named);
  }
  m.Sub(9, responses);
  strings("schemes", 10);
  VendorExtensions(op, 13, &m);
  return m;
}

Message PathItemMessage(const json::object& item) {
  static constexpr std::pair<std::string_view, int> kMethods[] = {
      {"get", 2},     {"put", 3},  {"post", 4}, {"delete", 5},
      {"options", 6}, {"head", 7}, {"patch", 8}};
  Message m;
  for (const auto& [method, field] : kMethods) {
    if (const json::value* op = Get(item, method); op && op->is_object()) {
      m.Sub(field, OperationMessage(op->get_object()));
    }
  }
  if (const json::value* params = Get(item, "parameters"); params && params->is_array()) {
    for (const json::value& p : params->get_array()) m.Sub(9, ParameterMessage(AsObject(&p)));
  }
  return m;
}

}  // namespace

std::string OpenApiV2Protobuf(const json::object& doc) {
  Message m;
  m.String(1, Get(doc, "swagger"));
  const json::object& info = AsObject(Get(doc, "info"));
  Message info_msg;
  info_msg.String(1, Get(info, "title"));
  info_msg.String(2, Get(info, "version"));
  m.Sub(2, info_msg);
  Message paths;  // Paths{repeated NamedPathItem path = 2}
  for (const auto& kv : AsObject(Get(doc, "paths"))) {
    Message named;
    named.Bytes(1, kv.key());
    named.Sub(2, PathItemMessage(AsObject(&kv.value())));
    paths.Sub(2, named);
  }
  m.Sub(8, paths);
  Message defs;  // Definitions{repeated NamedSchema additional_properties = 1}
  for (const auto& kv : AsObject(Get(doc, "definitions"))) {
    Message named;
    named.Bytes(1, kv.key());
    named.Sub(2, SchemaMessage(AsObject(&kv.value())));
    defs.Sub(1, named);
  }
  m.Sub(9, defs);
  return m.bytes();
}

}  // namespace sampan::api
