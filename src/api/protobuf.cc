// The Kubernetes protobuf envelope ("k8s\0" + runtime.Unknown) and a generic,
// schema-driven decoder of the object inside it.
#include <algorithm>
#include <boost/json.hpp>
#include <cstring>

#include "api/codec.h"
#include "api/json_util.h"
#include "util/base64.h"

namespace sampan::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kMagic("k8s\0", 4);
constexpr size_t kMaxMessageDepth = 100;

enum Wire { kVarint = 0, kFixed64 = 1, kLen = 2, kStartGroup = 3, kEndGroup = 4, kFixed32 = 5 };

// One wire field: its number, type and payload.
struct WireField {
  int tag = 0;
  int wire = 0;
  uint64_t num = 0;       // varint / fixed value
  std::string_view data;  // length-delimited payload
};

class Reader {
 public:
  explicit Reader(std::string_view buf) : p_(buf.data()), end_(buf.data() + buf.size()) {}
  bool done() const { return p_ >= end_; }

  bool Varint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ >= end_) return false;
      uint8_t b = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *out = v;
        return true;
      }
    }
    return false;  // longer than 10 bytes
  }

  bool Fixed(size_t n, uint64_t* out) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(p_[i])) << (8 * i);
    p_ += n;
    *out = v;
    return true;
  }

  // Reads the next field; BadRequest on truncation or an unsupported wire type.
  Status Next(WireField* f) {
    uint64_t key;
    if (!Varint(&key)) return BadRequest("protobuf: truncated field key");
    f->tag = static_cast<int>(key >> 3);
    f->wire = static_cast<int>(key & 7);
    if (f->tag <= 0) return BadRequest("protobuf: invalid field number 0");
    switch (f->wire) {
      case kVarint:
        if (!Varint(&f->num)) return BadRequest(Where(*f) + "truncated varint");
        return Status::Ok();
      case kFixed64:
        if (!Fixed(8, &f->num)) return BadRequest(Where(*f) + "truncated fixed64");
        return Status::Ok();
      case kFixed32:
        if (!Fixed(4, &f->num)) return BadRequest(Where(*f) + "truncated fixed32");
        return Status::Ok();
      case kLen: {
        uint64_t len;
        if (!Varint(&len) || len > static_cast<uint64_t>(end_ - p_))
          return BadRequest(Where(*f) + "length runs past the end of the message");
        f->data = std::string_view(p_, len);
        p_ += len;
        return Status::Ok();
      }
      default:
        return BadRequest(Where(*f) + "unsupported wire type " + std::to_string(f->wire));
    }
  }

  static std::string Where(const WireField& f) {
    return "protobuf: field " + std::to_string(f.tag) + ": ";
  }

 private:
  const char* p_;
  const char* end_;
};

// The field at `tag`; with `inline_tag`, the member at `tag` of the Go-inlined struct that
// protobuf carries as the message at `inline_tag`.
const Field* FieldByTag(const Schema* s, int tag, int inline_tag) {
  for (const auto& f : s->fields) {
    if (f.proto_tag == tag && f.proto_inline_tag == inline_tag) return &f;
  }
  return nullptr;
}

bool IsInlineTag(const Schema* s, int tag) {
  for (const auto& f : s->fields) {
    if (f.proto_inline_tag == tag) return true;
  }
  return false;
}

bool IsScalarNumeric(const Schema* s) {
  return s && (s->kind == TypeKind::kInteger || s->kind == TypeKind::kBoolean ||
               s->kind == TypeKind::kNumber);
}

class Decoder {
 public:
  Result<json::object> Message(std::string_view raw, const Schema* s, size_t depth) {
    if (depth > kMaxMessageDepth) return Status(BadRequest("protobuf: messages nested too deeply"));
    if (!s || s->kind != TypeKind::kObject)
      return Status(Internal("protobuf: no object schema to decode with"));
    json::object out;
    Reader r(raw);
    while (!r.done()) {
      WireField wf;
      RETURN_IF_ERROR(r.Next(&wf));
      if (const Field* f = FieldByTag(s, wf.tag, 0)) {
        RETURN_IF_ERROR(Put(out, wf, *f, s, depth));
      } else if (wf.wire == kLen && IsInlineTag(s, wf.tag)) {
        // A Go-inlined struct: its members sit directly in this JSON object.
        Reader inner(wf.data);
        while (!inner.done()) {
          WireField iwf;
          RETURN_IF_ERROR(inner.Next(&iwf));
          if (const Field* f = FieldByTag(s, iwf.tag, wf.tag)) {
            RETURN_IF_ERROR(Put(out, iwf, *f, s, depth));
          }
        }
      }
      // Anything else is a field this schema does not know: skipped.
    }
    return out;
  }

 private:
  // Stores one wire field into `out` as field `f` of `s`.
  Status Put(json::object& out, const WireField& wf, const Field& f, const Schema* s,
             size_t depth) {
    const Schema* t = f.type;
    if (!t) return Status::Ok();
    const std::string where = s->name + "." + f.name + ": ";
    if (t->kind == TypeKind::kArray) {
      json::value& slot = out[f.name];
      if (!slot.is_array()) slot = json::array();
      if (wf.wire == kLen && IsScalarNumeric(t->element)) {
        // Packed repeated scalars.
        bool is_double = t->element->kind == TypeKind::kNumber;
        Reader packed(wf.data);
        while (!packed.done()) {
          uint64_t v;
          if (!(is_double ? packed.Fixed(8, &v) : packed.Varint(&v)))
            return BadRequest("protobuf: " + where + "truncated packed list");
          WireField item{wf.tag, is_double ? kFixed64 : kVarint, v, {}};
          auto jv = Single(item, t->element, depth, where);
          if (!jv.ok()) return jv.status();
          slot.as_array().push_back(std::move(*jv));
        }
      } else {
        auto jv = Single(wf, t->element, depth, where);
        if (!jv.ok()) return jv.status();
        slot.as_array().push_back(std::move(*jv));
      }
      return Status::Ok();
    }
    if (t->kind == TypeKind::kMap) {
      if (wf.wire != kLen) return BadRequest("protobuf: " + where + "map entry must be a message");
      json::value& slot = out[f.name];
      if (!slot.is_object()) slot = json::object();
      std::string key;
      json::value value = ZeroValue(t->element);
      Reader entry(wf.data);
      while (!entry.done()) {
        WireField ef;
        RETURN_IF_ERROR(entry.Next(&ef));
        if (ef.tag == 1 && ef.wire == kLen) {
          key = std::string(ef.data);
        } else if (ef.tag == 1 && ef.wire == kVarint) {
          key = std::to_string(static_cast<int64_t>(ef.num));
        } else if (ef.tag == 2) {
          auto v = Single(ef, t->element, depth, where);
          if (!v.ok()) return v.status();
          value = std::move(*v);
        }
      }
      slot.as_object()[key] = std::move(value);
      return Status::Ok();
    }
    auto jv = Single(wf, t, depth, where);
    if (!jv.ok()) return jv.status();
    // Kubernetes' marshaller writes non-pointer fields even when unset; JSON omits them.
    // An `omitempty` number is unset at zero too (ServiceBackendPort.number beside a name).
    bool drop = (jv->is_string() && jv->as_string().empty() && t->kind == TypeKind::kString) ||
                (jv->is_bool() && !jv->as_bool() && f.default_json.empty()) ||
                (f.omit_empty && ((jv->is_int64() && jv->get_int64() == 0) ||
                                  (jv->is_uint64() && jv->get_uint64() == 0) ||
                                  (jv->is_double() && jv->get_double() == 0)));
    if (drop) {
      out.erase(f.name);
    } else {
      out[f.name] = std::move(*jv);
    }
    return Status::Ok();
  }

  static json::value ZeroValue(const Schema* t) {
    if (!t) return nullptr;
    switch (t->kind) {
      case TypeKind::kString:
      case TypeKind::kBytes:
        return json::string();
      case TypeKind::kInteger:
        return 0;
      case TypeKind::kNumber:
        return 0.0;
      case TypeKind::kBoolean:
        return false;
      case TypeKind::kObject:
        return json::object();
      case TypeKind::kQuantity:
        return "0";
      default:
        return nullptr;
    }
  }

  Result<json::value> Single(const WireField& wf, const Schema* t, size_t depth,
                             const std::string& where) {
    auto wrong = [&] {
      return Status(BadRequest("protobuf: " + where + "wire type " + std::to_string(wf.wire) +
                               " does not fit field type"));
    };
    if (!t) return json::value(nullptr);
    switch (t->kind) {
      case TypeKind::kString:
        if (wf.wire != kLen) return wrong();
        return json::value(json::string(wf.data));
      case TypeKind::kBytes:
        if (wf.wire != kLen) return wrong();
        return json::value(json::string(Base64Encode(wf.data)));
      case TypeKind::kInteger:
        if (wf.wire == kVarint || wf.wire == kFixed64)
          return json::value(static_cast<int64_t>(wf.num));
        if (wf.wire == kFixed32)
          return json::value(static_cast<int64_t>(static_cast<int32_t>(wf.num)));
        return wrong();
      case TypeKind::kBoolean:
        if (wf.wire != kVarint) return wrong();
        return json::value(wf.num != 0);
      case TypeKind::kNumber: {
        if (wf.wire == kFixed64) {
          double d;
          std::memcpy(&d, &wf.num, sizeof d);
          return json::value(d);
        }
        if (wf.wire == kFixed32) {
          float fl;
          uint32_t bits = static_cast<uint32_t>(wf.num);
          std::memcpy(&fl, &bits, sizeof fl);
          return json::value(static_cast<double>(fl));
        }
        return wrong();
      }
      case TypeKind::kObject: {
        if (wf.wire != kLen) return wrong();
        ASSIGN_OR_RETURN(json::object o, Message(wf.data, t, depth + 1));
        return json::value(std::move(o));
      }
      case TypeKind::kQuantity: {
        // resource.Quantity {1: string}
        if (wf.wire != kLen) return wrong();
        std::string text = "0";
        RETURN_IF_ERROR(ForEach(wf.data, [&](const WireField& f) {
          if (f.tag == 1 && f.wire == kLen) text = std::string(f.data);
        }));
        return json::value(json::string(text));
      }
      case TypeKind::kIntOrString: {
        // intstr.IntOrString {1: type (0 int, 1 string), 2: intVal, 3: strVal}
        if (wf.wire != kLen) return wrong();
        int64_t type = 0, int_val = 0;
        std::string str_val;
        RETURN_IF_ERROR(ForEach(wf.data, [&](const WireField& f) {
          if (f.tag == 1 && f.wire == kVarint) type = static_cast<int64_t>(f.num);
          if (f.tag == 2 && f.wire == kVarint) int_val = static_cast<int32_t>(f.num);
          if (f.tag == 3 && f.wire == kLen) str_val = std::string(f.data);
        }));
        if (type == 1) return json::value(json::string(str_val));
        return json::value(int_val);
      }
      case TypeKind::kTime:
      case TypeKind::kMicroTime: {
        // meta.v1.Time / MicroTime {1: seconds, 2: nanos}
        if (wf.wire != kLen) return wrong();
        int64_t seconds = 0;
        int32_t nanos = 0;
        RETURN_IF_ERROR(ForEach(wf.data, [&](const WireField& f) {
          if (f.tag == 1 && f.wire == kVarint) seconds = static_cast<int64_t>(f.num);
          if (f.tag == 2 && f.wire == kVarint) nanos = static_cast<int32_t>(f.num);
        }));
        if (seconds == 0 && nanos == 0) return json::value(nullptr);  // Go's zero time
        if (t->kind == TypeKind::kTime) return json::value(FormatRfc3339(seconds));
        return json::value(FormatRfc3339Micro(seconds, nanos));
      }
      case TypeKind::kAny: {
        // runtime.RawExtension {1: raw}: raw holds JSON.
        if (wf.wire != kLen) return wrong();
        std::string_view raw;
        RETURN_IF_ERROR(ForEach(wf.data, [&](const WireField& f) {
          if (f.tag == 1 && f.wire == kLen) raw = f.data;
        }));
        if (raw.empty()) return json::value(nullptr);
        auto v = DecodeJson(raw);
        if (!v.ok())
          return Status(BadRequest("protobuf: " + where +
                                   "embedded object is not JSON: " + v.status().message()));
        return v;
      }
      case TypeKind::kArray:
      case TypeKind::kMap:
        return Status(BadRequest("protobuf: " + where + "nested lists/maps are not supported"));
    }
    return wrong();
  }

  template <typename Fn>
  static Status ForEach(std::string_view data, Fn fn) {
    Reader r(data);
    while (!r.done()) {
      WireField f;
      RETURN_IF_ERROR(r.Next(&f));
      fn(f);
    }
    return Status::Ok();
  }
};

}  // namespace

Result<json::value> DecodeProtobufMessage(std::string_view raw, const Schema* schema) {
  Decoder d;
  ASSIGN_OR_RETURN(json::object o, d.Message(raw, schema, 0));
  return json::value(std::move(o));
}

Result<json::value> DecodeProtobuf(std::string_view body, const Registry& registry) {
  if (body.substr(0, kMagic.size()) != kMagic)
    return Status(BadRequest("protobuf body does not start with the \"k8s\\x00\" prefix"));
  // runtime.Unknown {1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding,
  // 4: contentType}
  std::string api_version, kind, encoding;
  std::string_view raw;
  Reader r(body.substr(kMagic.size()));
  while (!r.done()) {
    WireField f;
    RETURN_IF_ERROR(r.Next(&f));
    if (f.tag == 1 && f.wire == kLen) {
      Reader tm(f.data);
      while (!tm.done()) {
        WireField t;
        RETURN_IF_ERROR(tm.Next(&t));
        if (t.tag == 1 && t.wire == kLen) api_version = std::string(t.data);
        if (t.tag == 2 && t.wire == kLen) kind = std::string(t.data);
      }
    } else if (f.tag == 2 && f.wire == kLen) {
      raw = f.data;
    } else if (f.tag == 3 && f.wire == kLen) {
      encoding = std::string(f.data);
    }
  }
  if (!encoding.empty())
    return Status(Code::kUnsupportedMedia,
                  "protobuf content encoding \"" + encoding + "\" is not supported");
  if (kind.empty()) return Status(BadRequest("protobuf envelope: Object 'Kind' is missing"));
  if (api_version.empty())
    return Status(BadRequest("protobuf envelope: Object 'apiVersion' is missing"));
  std::string_view group, version = api_version;
  if (size_t slash = api_version.find('/'); slash != std::string::npos) {
    group = std::string_view(api_version).substr(0, slash);
    version = std::string_view(api_version).substr(slash + 1);
  }
  const KindInfo* info = registry.FindKind(group, version, kind);
  const Schema* schema = info ? info->schema : nullptr;
  // A subresource's body (TokenRequest, Scale, Eviction) is a type but not a resource kind.
  if (!schema && std::none_of(registry.kinds().begin(), registry.kinds().end(),
                              [&](const KindInfo* k) { return k->kind == kind; })) {
    schema = registry.FindType(kind);
  }
  if (!schema)
    return Status(Code::kUnsupportedMedia,
                  "no kind \"" + kind + "\" is registered for version \"" + api_version + "\"");
  Decoder d;
  ASSIGN_OR_RETURN(json::object fields, d.Message(raw, schema, 0));
  json::object out;
  out["apiVersion"] = api_version;
  out["kind"] = kind;
  for (auto& kv : fields) {
    if (kv.key() != "apiVersion" && kv.key() != "kind") out[kv.key()] = std::move(kv.value());
  }
  return json::value(std::move(out));
}

}  // namespace sampan::api
