#include "api/openapi.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>

namespace sampan::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kSchema = R"(
package io.k8s.apimachinery.pkg.apis.meta.v1
type ObjectMeta "Metadata."
  name string 1 "Name."
  labels map[string]string 11 "Labels."
  creationTimestamp time 8 "Created."
package io.k8s.api.core.v1
type Pod "A pod."
  apiVersion string - "API version."
  kind string - "Kind."
  metadata ObjectMeta 1 "Metadata."
  spec PodSpec 2 "Spec."
type PodSpec "What runs."
  containers []Container 2 required merge=name "The containers."
  restartPolicy string 3 default="Always" enum=Always|OnFailure|Never "Restart policy."
  overhead map[string]quantity 32 "Overhead."
type Container "One container."
  name string 1 required "Name."
  ports []ContainerPort 6 merge=containerPort "Ports."
  args []string 4 "Arguments."
type ContainerPort "A port."
  containerPort int32 3 required "Port."
  targetPort intorstring 4 "Target."
type Namespace "A namespace."
  metadata ObjectMeta 1 "Metadata."
package io.k8s.api.autoscaling.v1
type Scale "Scale."
  metadata io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta 1 "Metadata."
  spec ScaleSpec 2 "Spec."
type ScaleSpec "Spec."
  replicas int32 1 "Replicas."
package io.k8s.api.apps.v1
type Deployment "A deployment."
  metadata io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta 1 "Metadata."
kind Pod group= version=v1 plural=pods singular=pod scope=Namespaced type=io.k8s.api.core.v1.Pod short=po subresources=status,log
kind Namespace group= version=v1 plural=namespaces singular=namespace scope=Cluster type=io.k8s.api.core.v1.Namespace
kind Deployment group=apps version=v1 plural=deployments singular=deployment scope=Namespaced type=io.k8s.api.apps.v1.Deployment subresources=status,scale
)";

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status st = registry_.Load(kSchema, "test");
    ASSERT_TRUE(st.ok()) << st.ToString();
    st = registry_.Resolve();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  Registry registry_;
};

// Calls `fn` on every "$ref" string in `v`.
void ForEachRef(const json::value& v, const std::function<void(std::string_view)>& fn) {
  if (const json::object* o = v.if_object()) {
    for (const auto& kv : *o) {
      if (kv.key() == "$ref" && kv.value().is_string()) fn(kv.value().get_string());
      ForEachRef(kv.value(), fn);
    }
  } else if (const json::array* a = v.if_array()) {
    for (const json::value& e : *a) ForEachRef(e, fn);
  }
}

// Every $ref of a document names a schema that the document holds.
void ExpectRefsResolve(const json::object& doc, std::string_view prefix,
                       const json::object& schemas) {
  int refs = 0;
  ForEachRef(doc, [&](std::string_view ref) {
    ++refs;
    ASSERT_EQ(ref.substr(0, prefix.size()), prefix) << ref;
    EXPECT_TRUE(schemas.contains(ref.substr(prefix.size()))) << ref;
  });
  EXPECT_GT(refs, 0);
}

TEST_F(OpenApiTest, CorePaths) {
  Result<json::object> doc = OpenApiV3Document(registry_, "", "v1");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_EQ((*doc)["openapi"], "3.0.0");
  const json::object& paths = (*doc)["paths"].as_object();
  for (const char* p :
       {"/api/v1/namespaces/{namespace}/pods", "/api/v1/namespaces/{namespace}/pods/{name}",
        "/api/v1/pods", "/api/v1/namespaces/{namespace}/pods/{name}/status", "/api/v1/namespaces",
        "/api/v1/namespaces/{name}"}) {
    EXPECT_TRUE(paths.contains(p)) << p;
  }
  EXPECT_FALSE(paths.contains("/api/v1/namespaces/{namespace}/pods/{name}/log"));
  const json::object& item = paths.at("/api/v1/namespaces/{namespace}/pods/{name}").as_object();
  for (const char* m : {"get", "put", "patch", "delete"}) {
    ASSERT_TRUE(item.contains(m)) << m;
    EXPECT_EQ(json::serialize(item.at(m).at("x-kubernetes-group-version-kind")),
              R"({"group":"","version":"v1","kind":"Pod"})");
  }
  EXPECT_EQ(item.at("get").at("x-kubernetes-action"), "get");
  EXPECT_EQ(item.at("put").at("x-kubernetes-action"), "put");
  EXPECT_EQ(paths.at("/api/v1/namespaces/{namespace}/pods").at("get").at("x-kubernetes-action"),
            "list");
  EXPECT_EQ(paths.at("/api/v1/namespaces/{namespace}/pods").at("post").at("x-kubernetes-action"),
            "post");
  EXPECT_EQ(
      json::serialize(
          paths.at("/api/v1/namespaces/{name}").at("get").at("x-kubernetes-group-version-kind")),
      R"({"group":"","version":"v1","kind":"Namespace"})");

  // What kubectl create/apply look for on the patch operation.
  const json::object& patch = item.at("patch").as_object();
  EXPECT_EQ(patch.at("x-kubernetes-action"), "patch");
  std::set<std::string> params;
  for (const json::value& p : patch.at("parameters").as_array()) {
    params.insert(std::string(p.at("name").as_string()));
    if (p.at("name") == "fieldValidation") EXPECT_EQ(p.at("in"), "query");
  }
  for (const char* p : {"fieldValidation", "dryRun", "fieldManager", "force"}) {
    EXPECT_TRUE(params.count(p)) << p;
  }
  const json::object& content = patch.at("requestBody").at("content").as_object();
  for (const char* ct :
       {"application/json-patch+json", "application/merge-patch+json",
        "application/strategic-merge-patch+json", "application/apply-patch+yaml"}) {
    EXPECT_TRUE(content.contains(ct)) << ct;
  }
  // Path-level parameters name the path's placeholders.
  std::set<std::string> path_params;
  for (const json::value& p : item.at("parameters").as_array()) {
    if (p.at("in") == "path") path_params.insert(std::string(p.at("name").as_string()));
  }
  EXPECT_EQ(path_params, (std::set<std::string>{"name", "namespace"}));
}

TEST_F(OpenApiTest, CoreSchemas) {
  Result<json::object> doc = OpenApiV3Document(registry_, "", "v1");
  ASSERT_TRUE(doc.ok());
  const json::object& schemas = (*doc)["components"].at("schemas").as_object();
  ExpectRefsResolve(*doc, "#/components/schemas/", schemas);

  const json::object& pod = schemas.at("io.k8s.api.core.v1.Pod").as_object();
  EXPECT_EQ(json::serialize(pod.at("x-kubernetes-group-version-kind")),
            R"([{"group":"","kind":"Pod","version":"v1"}])");
  EXPECT_EQ(pod.at("description"), "A pod.");
  EXPECT_EQ(pod.at("type"), "object");
  EXPECT_EQ(json::serialize(pod.at("properties").at("spec")),
            R"({"allOf":[{"$ref":"#/components/schemas/io.k8s.api.core.v1.PodSpec"}],)"
            R"("description":"Spec."})");

  const json::object& spec = schemas.at("io.k8s.api.core.v1.PodSpec").as_object();
  EXPECT_EQ(
      json::serialize(spec.at("properties").at("containers")),
      R"({"type":"array","items":{"$ref":"#/components/schemas/io.k8s.api.core.v1.Container"},)"
      R"("description":"The containers.","x-kubernetes-patch-merge-key":"name",)"
      R"("x-kubernetes-patch-strategy":"merge"})");
  EXPECT_EQ(json::serialize(spec.at("required")), R"(["containers"])");
  EXPECT_EQ(json::serialize(spec.at("properties").at("restartPolicy")),
            R"({"type":"string","description":"Restart policy.","default":"Always",)"
            R"("enum":["Always","OnFailure","Never"]})");
  EXPECT_EQ(json::serialize(spec.at("properties").at("overhead").at("additionalProperties")),
            R"({"$ref":"#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"})");

  const json::object& port = schemas.at("io.k8s.api.core.v1.ContainerPort").as_object();
  EXPECT_EQ(json::serialize(port.at("properties").at("containerPort")),
            R"({"type":"integer","format":"int32","description":"Port."})");
  EXPECT_EQ(
      json::serialize(schemas.at("io.k8s.apimachinery.pkg.util.intstr.IntOrString").at("format")),
      R"("int-or-string")");
  EXPECT_EQ(schemas.at("io.k8s.apimachinery.pkg.apis.meta.v1.Time").at("format"), "date-time");
  EXPECT_TRUE(
      schemas.at("io.k8s.apimachinery.pkg.api.resource.Quantity").as_object().contains("oneOf"));

  // The generated list type and the patch body type.
  const json::object& list = schemas.at("io.k8s.api.core.v1.PodList").as_object();
  EXPECT_EQ(json::serialize(list.at("x-kubernetes-group-version-kind")),
            R"([{"group":"","kind":"PodList","version":"v1"}])");
  EXPECT_EQ(json::serialize(list.at("properties").at("items").at("items")),
            R"({"$ref":"#/components/schemas/io.k8s.api.core.v1.Pod"})");
  EXPECT_TRUE(schemas.contains("io.k8s.apimachinery.pkg.apis.meta.v1.Patch"));
  // Kinds of other group-versions stay out of this document.
  EXPECT_FALSE(schemas.contains("io.k8s.api.apps.v1.Deployment"));
}

TEST_F(OpenApiTest, ScaleSubresource) {
  Result<json::object> doc = OpenApiV3Document(registry_, "apps", "v1");
  ASSERT_TRUE(doc.ok());
  const json::object& paths = (*doc)["paths"].as_object();
  const json::object& scale =
      paths.at("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale").as_object();
  EXPECT_EQ(json::serialize(scale.at("patch").at("x-kubernetes-group-version-kind")),
            R"({"group":"autoscaling","version":"v1","kind":"Scale"})");
  const json::object& schemas = (*doc)["components"].at("schemas").as_object();
  EXPECT_EQ(
      json::serialize(
          schemas.at("io.k8s.api.autoscaling.v1.Scale").at("x-kubernetes-group-version-kind")),
      R"([{"group":"autoscaling","kind":"Scale","version":"v1"}])");
  ExpectRefsResolve(*doc, "#/components/schemas/", schemas);
  EXPECT_EQ(OpenApiV3Document(registry_, "apps", "v2").status().code(), Code::kNotFound);
}

TEST_F(OpenApiTest, RootAndHashes) {
  OpenApiV3Set set = BuildOpenApiV3(registry_);
  ASSERT_EQ(set.documents.size(), 2u);
  ASSERT_TRUE(set.documents.count("api/v1"));
  ASSERT_TRUE(set.documents.count("apis/apps/v1"));
  EXPECT_EQ(set.hashes["api/v1"], OpenApiHash(set.documents["api/v1"]));
  EXPECT_NE(set.hashes["api/v1"], set.hashes["apis/apps/v1"]);
  json::value root = json::parse(set.root);
  EXPECT_EQ(root.at("paths").at("api/v1").at("serverRelativeURL").as_string(),
            "/openapi/v3/api/v1?hash=" + set.hashes["api/v1"]);
  EXPECT_EQ(root.at("paths").at("apis/apps/v1").at("serverRelativeURL").as_string(),
            "/openapi/v3/apis/apps/v1?hash=" + set.hashes["apis/apps/v1"]);
  // Stable: the same registry gives the same text and hashes.
  OpenApiV3Set again = BuildOpenApiV3(registry_);
  EXPECT_EQ(again.root, set.root);
  EXPECT_EQ(again.documents, set.documents);
  EXPECT_EQ(OpenApiV3Key("", "v1"), "api/v1");
  EXPECT_EQ(OpenApiV3Key("coordination.k8s.io", "v1"), "apis/coordination.k8s.io/v1");
  EXPECT_EQ(OpenApiHash("a").size(), 32u);
  EXPECT_NE(OpenApiHash("a"), OpenApiHash("b"));
}

TEST_F(OpenApiTest, SwaggerV2) {
  json::object doc = OpenApiV2Document(registry_);
  EXPECT_EQ(doc["swagger"], "2.0");
  const json::object& defs = doc["definitions"].as_object();
  ExpectRefsResolve(doc, "#/definitions/", defs);
  EXPECT_EQ(json::serialize(defs.at("io.k8s.api.core.v1.Pod").at("properties").at("spec")),
            R"({"$ref":"#/definitions/io.k8s.api.core.v1.PodSpec","description":"Spec."})");
  EXPECT_EQ(defs.at("io.k8s.apimachinery.pkg.api.resource.Quantity").at("type"), "string");
  const json::object& patch =
      doc["paths"].at("/api/v1/namespaces/{namespace}/pods/{name}").at("patch").as_object();
  EXPECT_EQ(json::serialize(patch.at("consumes")),
            R"(["application/apply-patch+yaml","application/json-patch+json",)"
            R"("application/merge-patch+json","application/strategic-merge-patch+json"])");
  bool has_body = false;
  for (const json::value& p : patch.at("parameters").as_array()) {
    if (p.at("in") == "body") has_body = true;
  }
  EXPECT_TRUE(has_body);
  EXPECT_TRUE(
      doc["paths"].as_object().contains("/apis/apps/v1/namespaces/{namespace}/deployments"));
}

// A length-delimited or varint protobuf field, for reading back the v2 protobuf.
struct PbField {
  int number;
  int wire;
  uint64_t varint = 0;
  std::string_view bytes;
};

std::vector<PbField> ParsePb(std::string_view in) {
  std::vector<PbField> out;
  auto varint = [&](uint64_t* v) {
    *v = 0;
    for (int shift = 0; !in.empty(); shift += 7) {
      uint8_t b = static_cast<uint8_t>(in.front());
      in.remove_prefix(1);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  };
  while (!in.empty()) {
    uint64_t key;
    if (!varint(&key)) ADD_FAILURE() << "truncated key";
    PbField f{static_cast<int>(key >> 3), static_cast<int>(key & 7)};
    if (f.wire == 0) {
      varint(&f.varint);
    } else if (f.wire == 2) {
      uint64_t len;
      varint(&len);
      if (len > in.size()) {
        ADD_FAILURE() << "truncated field " << f.number;
        return out;
      }
      f.bytes = in.substr(0, len);
      in.remove_prefix(len);
    } else {
      ADD_FAILURE() << "unexpected wire type " << f.wire;
      return out;
    }
    out.push_back(f);
  }
  return out;
}

std::vector<PbField> Fields(std::string_view in, int number) {
  std::vector<PbField> out;
  for (const PbField& f : ParsePb(in)) {
    if (f.number == number) out.push_back(f);
  }
  return out;
}

TEST_F(OpenApiTest, SwaggerV2Protobuf) {
  std::string pb = OpenApiV2Protobuf(OpenApiV2Document(registry_));
  // Document{swagger = 1, info = 2, paths = 8, definitions = 9}.
  ASSERT_EQ(Fields(pb, 1).size(), 1u);
  EXPECT_EQ(Fields(pb, 1)[0].bytes, "2.0");
  EXPECT_EQ(Fields(Fields(pb, 2)[0].bytes, 1)[0].bytes, "Kubernetes");
  // Definitions{NamedSchema additional_properties = 1 {name = 1, value = 2}}.
  std::map<std::string, std::string_view> defs;
  for (const PbField& named : Fields(Fields(pb, 9)[0].bytes, 1)) {
    defs[std::string(Fields(named.bytes, 1)[0].bytes)] = Fields(named.bytes, 2)[0].bytes;
  }
  ASSERT_TRUE(defs.count("io.k8s.api.core.v1.Pod"));
  std::string_view pod = defs["io.k8s.api.core.v1.Pod"];
  EXPECT_EQ(Fields(pod, 4)[0].bytes, "A pod.");                       // description
  EXPECT_EQ(Fields(Fields(pod, 22)[0].bytes, 1)[0].bytes, "object");  // type
  // Vendor extension (31): NamedAny{name, Any{yaml = 2}} with the GVK list.
  std::vector<PbField> ext = Fields(pod, 31);
  ASSERT_EQ(ext.size(), 1u);
  EXPECT_EQ(Fields(ext[0].bytes, 1)[0].bytes, "x-kubernetes-group-version-kind");
  EXPECT_EQ(Fields(Fields(ext[0].bytes, 2)[0].bytes, 2)[0].bytes,
            R"([{"group":"","kind":"Pod","version":"v1"}])");
  // PodSpec.containers: properties (25) → NamedSchema → items (23) → $ref (1), and the
  // patch merge key as a vendor extension.
  std::string_view spec = defs["io.k8s.api.core.v1.PodSpec"];
  std::string_view containers;
  for (const PbField& named : Fields(Fields(spec, 25)[0].bytes, 1)) {
    if (Fields(named.bytes, 1)[0].bytes == "containers")
      containers = Fields(named.bytes, 2)[0].bytes;
  }
  ASSERT_FALSE(containers.empty());
  std::string_view item = Fields(Fields(containers, 23)[0].bytes, 1)[0].bytes;
  EXPECT_EQ(Fields(item, 1)[0].bytes, "#/definitions/io.k8s.api.core.v1.Container");
  bool merge_key = false;
  for (const PbField& e : Fields(containers, 31)) {
    merge_key |= Fields(e.bytes, 1)[0].bytes == "x-kubernetes-patch-merge-key" &&
                 Fields(Fields(e.bytes, 2)[0].bytes, 2)[0].bytes == "\"name\"";
  }
  EXPECT_TRUE(merge_key);
  // Paths{NamedPathItem path = 2}: the pod item path has a patch (8) with the GVK extension.
  bool found = false;
  for (const PbField& named : Fields(Fields(pb, 8)[0].bytes, 2)) {
    if (Fields(named.bytes, 1)[0].bytes != "/api/v1/namespaces/{namespace}/pods/{name}") continue;
    std::string_view patch = Fields(Fields(named.bytes, 2)[0].bytes, 8)[0].bytes;
    for (const PbField& e : Fields(patch, 13)) {
      found |= Fields(e.bytes, 1)[0].bytes == "x-kubernetes-group-version-kind";
    }
  }
  EXPECT_TRUE(found);
}

TEST(OpenApiBuiltinTest, EveryKindIsExplainable) {
  const Registry& r = BuiltinRegistry();
  OpenApiV3Set set = BuildOpenApiV3(r);
  std::map<std::string, json::object> docs;
  for (const auto& [key, text] : set.documents) docs[key] = json::parse(text).as_object();
  for (auto& [key, doc] : docs) {
    SCOPED_TRACE(key);
    ExpectRefsResolve(doc, "#/components/schemas/", doc["components"].at("schemas").as_object());
  }
  for (const KindInfo* k : r.kinds()) {
    SCOPED_TRACE(k->ApiVersion() + " " + k->kind);
    std::string key = OpenApiV3Key(k->group, k->version);
    ASSERT_TRUE(docs.count(key));
    json::object& doc = docs[key];
    std::string base = "/" + key + (k->namespaced ? "/namespaces/{namespace}/" : "/") + k->plural;
    std::string gvk = json::serialize(
        json::object{{"group", k->group}, {"version", k->version}, {"kind", k->kind}});
    // A path for the resource whose operations carry the GVK object (what explain needs).
    bool found = false;
    for (const char* suffix : {"", "/{name}"}) {
      const json::value* path = doc["paths"].as_object().if_contains(base + suffix);
      if (path == nullptr) continue;
      for (const auto& kv : path->as_object()) {
        if (kv.key() == "parameters") continue;
        EXPECT_EQ(json::serialize(kv.value().at("x-kubernetes-group-version-kind")), gvk);
        found = true;
      }
    }
    EXPECT_TRUE(found);
    // The kind's schema lists its GVK.
    const json::object& schema =
        doc["components"].at("schemas").at(k->schema->openapi_name).as_object();
    bool listed = false;
    for (const json::value& g : schema.at("x-kubernetes-group-version-kind").as_array()) {
      listed |= g.at("kind").as_string() == k->kind && g.at("group").as_string() == k->group &&
                g.at("version").as_string() == k->version;
    }
    EXPECT_TRUE(listed);
    EXPECT_TRUE(schema.contains("description"));
  }
  // kubectl create -f: the Pod item path's patch has fieldValidation.
  const json::value& patch =
      docs["api/v1"]["paths"].at("/api/v1/namespaces/{namespace}/pods/{name}").at("patch");
  bool field_validation = false;
  for (const json::value& p : patch.at("parameters").as_array()) {
    field_validation |= p.at("name") == "fieldValidation";
  }
  EXPECT_TRUE(field_validation);
  // Strategic merge patch metadata that kubectl apply reads from the v3 schemas.
  const json::object& spec =
      docs["api/v1"]["components"].at("schemas").at("io.k8s.api.core.v1.PodSpec").as_object();
  EXPECT_EQ(spec.at("properties").at("containers").at("x-kubernetes-patch-merge-key"), "name");
  json::object v2 = OpenApiV2Document(r);
  ExpectRefsResolve(v2, "#/definitions/", v2["definitions"].as_object());
  EXPECT_GT(OpenApiV2Protobuf(v2).size(), 1000u);
}

}  // namespace
}  // namespace sampan::api
