#include "api/codec.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/json_util.h"

namespace sampan::api {
namespace {

namespace json = boost::json;

// ---- JSON --------------------------------------------------------------------

TEST(DecodeJsonTest, ParsesAndReportsDuplicates) {
  std::vector<std::string> dups;
  auto v = DecodeJson(
      R"({"metadata":{"name":"a","name":"b"},"spec":{"containers":[{"name":"c","image":"x","image":"y"}]},"kind":"Pod"})",
      {}, &dups);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(GetString(*v, "metadata.name"), "b");  // the last one wins
  EXPECT_EQ(dups, (std::vector<std::string>{"metadata.name", "spec.containers[0].image"}));
  EXPECT_EQ(
      json::serialize(*v),
      R"({"metadata":{"name":"b"},"spec":{"containers":[{"name":"c","image":"y"}]},"kind":"Pod"})");
  auto scalars = DecodeJson(R"([1,-2,18446744073709551615,1.5,true,null,"\u00e9\n"])");
  ASSERT_TRUE(scalars.ok());
  EXPECT_EQ(json::serialize(*scalars),
            "[1,-2,18446744073709551615,1.5E0,true,null,\"\xc3\xa9\\n\"]");
}

TEST(DecodeJsonTest, DuplicatePathsThroughArraysAndEscapes) {
  std::vector<std::string> dups;
  auto v =
      DecodeJson(R"({"a":[[{"k":1,"k":2}],{"m":{"n":1,"n":2}}],"x":1,"esc\u0041pe":"\u00e9","x":2,)"
                 R"("escApe":"long string with an \"escape\"","escApe":3})",
                 {}, &dups);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(dups, (std::vector<std::string>{"a[0][0].k", "a[1].m.n", "x", "escApe", "escApe"}));
  EXPECT_EQ(json::serialize(*v), R"({"a":[[{"k":2}],{"m":{"n":2}}],"x":2,"escApe":3})");
  dups.clear();
  auto root_array = DecodeJson(R"([{"k":1},{"k":1,"k":2}])", {}, &dups);
  ASSERT_TRUE(root_array.ok());
  EXPECT_EQ(dups, (std::vector<std::string>{"[1].k"}));
  auto strings = DecodeJson(R"({"plain":"abc","escaped":"a\tb\u0041","empty":""})");
  ASSERT_TRUE(strings.ok());
  EXPECT_EQ(json::serialize(*strings), R"({"plain":"abc","escaped":"a\tbA","empty":""})");
}

TEST(DecodeJsonTest, Errors) {
  auto bad = DecodeJson("{\n  \"a\": 1,\n  \"b\": tru\n}");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kBadRequest);
  EXPECT_NE(bad.status().message().find("line 3"), std::string::npos) << bad.status().message();
  EXPECT_FALSE(DecodeJson(R"({"a":1} x)").ok());
  EXPECT_FALSE(DecodeJson(R"({"a":1,})").ok());
  EXPECT_FALSE(DecodeJson(R"({"a":1} // c)").ok());
  EXPECT_EQ(DecodeJson("  ").status().message(), "the request body is empty");
  EXPECT_TRUE(DecodeJson(R"({"a":1}  )"
                         "\n")
                  .ok());

  std::string deep(150, '[');
  deep += std::string(150, ']');
  auto too_deep = DecodeJson(deep);
  ASSERT_FALSE(too_deep.ok());
  EXPECT_NE(too_deep.status().message().find("deeper than 100"), std::string::npos);
  DecodeLimits loose;
  loose.max_depth = 200;
  EXPECT_TRUE(DecodeJson(deep, loose).ok());
}

// ---- YAML --------------------------------------------------------------------

std::string Yaml(std::string_view text) {
  auto v = DecodeYaml(text);
  return v.ok() ? json::serialize(*v) : "ERR:" + v.status().message();
}

TEST(DecodeYamlTest, TypesLikeSigsK8sYaml) {
  EXPECT_EQ(Yaml("a: true\nb: false\nc: yes\nd: No\ne: on\nf: OFF\ng: y\n"),
            R"({"a":true,"b":false,"c":true,"d":false,"e":true,"f":false,"g":true})");
  EXPECT_EQ(Yaml("a: \"true\"\nb: 'yes'\nc: \"80\"\nd: '1.5'\n"),
            R"({"a":"true","b":"yes","c":"80","d":"1.5"})");
  EXPECT_EQ(
      Yaml("a: 80\nb: -3\nc: 1.5\nd: 1.0\ne: 1e3\nf: 0x1F\ng: 0777\nh: 1_000\ni: +7\nj: .5\n"),
      R"({"a":80,"b":-3,"c":1.5E0,"d":1,"e":1000,"f":31,"g":511,"h":1000,"i":7,"j":5E-1})");
  EXPECT_EQ(Yaml("a: ~\nb: null\nc:\nd: Null\n"), R"({"a":null,"b":null,"c":null,"d":null})");
  EXPECT_EQ(Yaml("a: 1.2.3\nb: 10Gi\nc: 100m\nd: v1\ne: 0.0.0.0/0\nf: 1e\n"),
            R"({"a":"1.2.3","b":"10Gi","c":"100m","d":"v1","e":"0.0.0.0/0","f":"1e"})");
  EXPECT_EQ(Yaml("a: !!str 80\nb: !!int \"42\"\nc: |\n  true\nd: >\n  folded\n  text\n"),
            R"({"a":"80","b":42,"c":"true\n","d":"folded text\n"})");
  // Plain keys are resolved too, then printed: the well-known `on:`/`y:` surprise.
  EXPECT_EQ(Yaml("on: push\n1: one\n~: x\n\"y\": 3\n"),
            R"({"true":"push","1":"one","null":"x","y":3})");
  EXPECT_EQ(Yaml("y: 2\n"), R"({"true":2})");
  EXPECT_EQ(Yaml("a: 18446744073709551615\n"), R"({"a":18446744073709551615})");
  EXPECT_EQ(Yaml("a: .inf\n").rfind("ERR:", 0), 0u);
}

TEST(DecodeYamlTest, StructureAnchorsAndMerge) {
  EXPECT_EQ(
      Yaml(R"(
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web, tier: "fe"}
spec:
  containers:
  - name: c
    image: nginx
    ports:
    - containerPort: 80
    args: [a, "b", 3]
)"),
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web","tier":"fe"}},)"
      R"("spec":{"containers":[{"name":"c","image":"nginx","ports":[{"containerPort":80}],"args":["a","b",3]}]}})");
  EXPECT_EQ(Yaml("base: &b {p: 1, q: 2}\nother: *b\nm:\n  <<: *b\n  q: 3\n"),
            R"({"base":{"p":1,"q":2},"other":{"p":1,"q":2},"m":{"q":3,"p":1}})");
  EXPECT_EQ(Yaml("a: &a {x: 1}\nb: &b {x: 2, z: 2}\nm:\n  <<: [*a, *b]\n"),
            R"({"a":{"x":1},"b":{"x":2,"z":2},"m":{"x":1,"z":2}})");
  EXPECT_EQ(Yaml(""), "null");
  EXPECT_EQ(Yaml("- 1\n- two\n"), R"([1,"two"])");
}

TEST(DecodeYamlTest, ErrorsAndDuplicates) {
  auto bad = DecodeYaml("a: 1\nb: [1, 2\nc: 3\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kBadRequest);
  EXPECT_EQ(bad.status().message().rfind("error converting YAML to JSON: yaml: line ", 0), 0u)
      << bad.status().message();
  EXPECT_FALSE(DecodeYaml("a: b: c\n").ok());
  EXPECT_FALSE(DecodeYaml("[a]: 1\n").ok());

  std::vector<std::string> dups;
  auto v = DecodeYaml("metadata:\n  name: a\n  name: b\n", {}, &dups);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(GetString(*v, "metadata.name"), "b");
  EXPECT_EQ(dups, std::vector<std::string>{"metadata.name"});

  std::string deep;
  for (int i = 0; i < 120; ++i) deep += std::string(i * 2, ' ') + "k:\n";
  EXPECT_NE(Yaml(deep).find("nesting deeper than 100"), std::string::npos);

  // Deep flow nesting is refused by the parser (or by our limit), never a stack overflow.
  std::string flow(100000, '[');
  EXPECT_FALSE(DecodeYaml(flow + std::string(100000, ']')).ok());
  EXPECT_FALSE(DecodeYamlStream(flow).ok());

  // Alias expansion is bounded ("billion laughs").
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  std::string prev = "a";
  for (char c = 'b'; c <= 'h'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" +
            prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + "]\n";
    prev = std::string(1, c);
  }
  EXPECT_NE(Yaml(bomb).find("too large"), std::string::npos);
}

TEST(DecodeYamlTest, MultiDocumentStream) {
  auto docs = DecodeYamlStream("---\na: 1\n---\n---\n# only a comment\n---\nb: [x]\n...\n");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ(json::serialize((*docs)[0]), R"({"a":1})");
  EXPECT_EQ(json::serialize((*docs)[1]), R"({"b":["x"]})");
  EXPECT_FALSE(DecodeYamlStream("a: 1\n---\nb: [\n").ok());
  EXPECT_TRUE(DecodeYamlStream("")->empty());
}

// ---- Protobuf ----------------------------------------------------------------

// A tiny protobuf writer for building test messages.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Key(int tag, int wire) { return Varint(static_cast<uint64_t>(tag) << 3 | wire); }
std::string Len(int tag, std::string_view payload) {
  return Key(tag, 2) + Varint(payload.size()) + std::string(payload);
}
std::string Int(int tag, int64_t v) { return Key(tag, 0) + Varint(static_cast<uint64_t>(v)); }
std::string Double(int tag, double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  std::string out = Key(tag, 1);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(bits >> (8 * i)));
  return out;
}
std::string Envelope(std::string_view api_version, std::string_view kind, std::string_view raw) {
  return std::string("k8s\0", 4) + Len(1, Len(1, api_version) + Len(2, kind)) + Len(2, raw) +
         Len(3, "") + Len(4, "");
}
std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

constexpr char kWidgetSchema[] = R"(
package io.example.v1
type Meta
  name string 1
  generateName string 2
  generation int64 7
  creationTimestamp time 8
  labels map[string]string 11
  finalizers []string 14
type Port
  port int32 1
  target intorstring 2
type Source
  path string 1
type WidgetSpec
  replicas int32 1
  paused bool 2
  enabled bool 3 default=true
  cpu quantity 4
  data bytes 5
  ports []Port 6
  ids []int32 7
  weights []double 8
  extra any 9
  at microtime 10
  ratio double 12
  byName map[string]Port 13
  delta int32 14
  hostPath Source 15.1
  volumeName string 15.2
type Tree
  child Tree 1
  name string 2
type Widget
  apiVersion string -
  kind string -
  metadata Meta 1
  spec WidgetSpec 2
kind Widget group=example.com version=v1 plural=widgets singular=widget scope=Namespaced type=Widget
)";

class ProtobufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.Load(kWidgetSchema, "widget").ok());
    ASSERT_TRUE(registry_.Resolve().ok());
  }
  Registry registry_;
};

TEST_F(ProtobufTest, DecodesEveryFieldShape) {
  std::string meta = Len(1, "w1") + Len(2, "") + Int(7, 0) + Len(8, "") +
                     Len(11, Len(1, "app") + Len(2, "web")) + Len(11, Len(1, "empty")) +
                     Len(14, "a") + Len(14, "b") + Len(99, "unknown field");
  std::string spec =
      Int(1, 0) +                                 // replicas 0 is kept
      Int(2, 0) +                                 // paused false: dropped
      Int(3, 0) +                                 // enabled false: has a default, kept
      Len(4, Len(1, "500m")) +                    // Quantity
      Len(5, std::string("\x00\xff\x10hi", 5)) +  // bytes → base64
      Len(6, Int(1, 80) + Len(2, Int(1, 1) + Len(3, "http"))) +     // IntOrString string
      Len(6, Int(1, 81) + Len(2, Int(1, 0) + Int(2, 8080))) +       // IntOrString int
      Len(7, Varint(1) + Varint(2) + Varint(300)) +                 // packed int32
      Int(7, 4) +                                                   // and one unpacked
      Double(8, 0.5) +                                              // unpacked double
      Len(9, Len(1, R"({"free":["form"]})")) +                      // RawExtension
      Len(10, Int(1, 1704164645) + Int(2, 123456000)) +             // MicroTime
      Double(12, 2.5) + Len(13, Len(1, "p") + Len(2, Int(1, 9))) +  // map of messages
      Int(14, -5) +                                       // negative int32: 10-byte varint
      Len(15, Len(1, Len(1, "/data")) + Len(2, "vol")) +  // Go-inlined struct at 15
      Key(30, 5) + std::string(4, '\x01');                // unknown fixed32, skipped
  std::string raw = Len(1, meta) + Len(2, spec) + Len(3, Len(1, "ignored status"));
  auto v = DecodeProtobuf(Envelope("example.com/v1", "Widget", raw), registry_);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(
      json::serialize(*v),
      R"({"apiVersion":"example.com/v1","kind":"Widget",)"
      R"("metadata":{"name":"w1","generation":0,"creationTimestamp":null,"labels":{"app":"web","empty":""},"finalizers":["a","b"]},)"
      R"("spec":{"replicas":0,"enabled":false,"cpu":"500m","data":"AP8QaGk=",)"
      R"("ports":[{"port":80,"target":"http"},{"port":81,"target":8080}],"ids":[1,2,300,4],"weights":[5E-1],)"
      R"("extra":{"free":["form"]},"at":"2024-01-02T03:04:05.123456Z","ratio":2.5E0,"byName":{"p":{"port":9}},"delta":-5,)"
      R"("hostPath":{"path":"/data"},"volumeName":"vol"}})");
}

TEST_F(ProtobufTest, EnvelopeErrors) {
  EXPECT_EQ(DecodeProtobuf("{\"kind\":\"Widget\"}", registry_).status().code(), Code::kBadRequest);
  EXPECT_EQ(DecodeProtobuf(Envelope("example.com/v1", "Gadget", ""), registry_).status().code(),
            Code::kUnsupportedMedia);
  EXPECT_EQ(DecodeProtobuf(Envelope("example.com/v2", "Widget", ""), registry_).status().code(),
            Code::kUnsupportedMedia);
  EXPECT_EQ(DecodeProtobuf(Envelope("", "Widget", ""), registry_).status().code(),
            Code::kBadRequest);
  std::string gz = std::string("k8s\0", 4) + Len(1, Len(1, "example.com/v1") + Len(2, "Widget")) +
                   Len(3, "gzip");
  EXPECT_EQ(DecodeProtobuf(gz, registry_).status().code(), Code::kUnsupportedMedia);
  // Truncated and malformed messages never crash and are BadRequest.
  std::string good = Envelope("example.com/v1", "Widget", Len(1, Len(1, "w1")));
  ASSERT_TRUE(DecodeProtobuf(good, registry_).ok());
  for (size_t cut = 4; cut < good.size(); ++cut) {
    auto r = DecodeProtobuf(good.substr(0, cut), registry_);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kBadRequest) << cut;
    }
  }
  EXPECT_EQ(DecodeProtobuf(Envelope("example.com/v1", "Widget", Len(1, Int(1, 5))), registry_)
                .status()
                .code(),
            Code::kBadRequest);  // name as a varint: wrong wire type
  EXPECT_EQ(
      DecodeProtobuf(Envelope("example.com/v1", "Widget", Key(1, 3)), registry_).status().code(),
      Code::kBadRequest);  // groups are not supported
  // Messages nested past the limit are refused, not recursed into without bound.
  const Schema* tree = registry_.FindType("io.example.v1.Tree");
  ASSERT_NE(tree, nullptr);
  auto nest = [](int levels) {
    std::string m = Len(2, "leaf");
    for (int i = 0; i < levels; ++i) m = Len(1, m);
    return m;
  };
  auto shallow = DecodeProtobufMessage(nest(3), tree);
  ASSERT_TRUE(shallow.ok()) << shallow.status().ToString();
  EXPECT_EQ(json::serialize(*shallow), R"({"child":{"child":{"child":{"name":"leaf"}}}})");
  EXPECT_EQ(DecodeProtobufMessage(nest(150), tree).status().code(), Code::kBadRequest);
}

// Bodies the real kubectl 1.32 POSTed for `kubectl create ...` (recorded with a stub HTTP
// server), decoded with the built-in kind schemas.
constexpr char kCreateNamespaceBar[] =  // kubectl create namespace bar
    "6b3873000a0f0a02763112094e616d657370616365121b0a130a03626172120"
    "01a0022002a00320038004200120"
    "01a020a001a002200";
constexpr char
    kCreateDeployment[] =  // create deployment web --image=nginx:1.25 --replicas=0 --port=80
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412c4010a260a0377656212001a0764656661"
    "756c7422002a003200380042005a0a0a036170701203776562128b010800120c0a0a0a0361707012037765621a"
    "710a1c0a0012001a0022002a003200380042005a0a0a036170701203776562125112330a056e67696e78120a6e"
    "67696e783a312e32352a00320a0a001000185022002a0042006a007200800100880100900100a201001a003200"
    "42004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038"
    "001a002200";
constexpr char kCreateConfigMap[] =  // create configmap cm --from-literal=a=b
    "6b3873000a0f0a0276311209436f6e6669674d617012230a190a02636d12001a0764656661756c7422002a0032"
    "003800420012060a01611201621a002200";
constexpr char kCreateSecret[] =  // create secret generic s --from-literal=k=v
    "6b3873000a0c0a027631120653656372657412240a180a017312001a0764656661756c7422002a003200380042"
    "0012060a016b1201761a001a002200";
constexpr char kCreateJob[] =  // create job j --image=busybox -- echo hi
    "6b3873000a0f0a0862617463682f763112034a6f621289010a180a016a12001a0764656661756c7422002a0032"
    "0038004200126332610a100a0012001a0022002a00320038004200124d122a0a016a120762757379626f781a04"
    "6563686f1a0268692a0042006a007200800100880100900100a201001a054e65766572320042004a0052005800"
    "600068008201008a01009a0100c201001a082000280030003a001a002200";

json::value DecodeCapture(const char* hex) {
  auto v = DecodeProtobuf(FromHex(hex), BuiltinRegistry());
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : json::value();
}

TEST(ProtobufBuiltinTest, KubectlCreateNamespace) {
  // Its first 30 bytes are also the capture quoted in KUBECTL.md §8.
  EXPECT_EQ(std::string(kCreateNamespaceBar)
                .rfind("6b3873000a0f0a02763112094e616d657370616365121b0a130a03626172", 0),
            0u);
  EXPECT_EQ(
      json::serialize(DecodeCapture(kCreateNamespaceBar)),
      // generation is `omitempty`: the 0 kubectl's marshaller writes means unset, as in JSON.
      R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bar","creationTimestamp":null},"spec":{},"status":{}})");
}

TEST(ProtobufBuiltinTest, KubectlCreateWorkloadsAndConfig) {
  json::value d = DecodeCapture(kCreateDeployment);
  EXPECT_EQ(GetString(d, "apiVersion"), "apps/v1");
  EXPECT_EQ(GetString(d, "kind"), "Deployment");
  EXPECT_EQ(GetString(d, "metadata.name"), "web");
  EXPECT_EQ(GetString(d, "metadata.namespace"), "default");
  EXPECT_EQ(GetString(d, "metadata.labels.app"), "web");
  ASSERT_NE(GetPath(d, "spec.replicas"), nullptr);  // --replicas=0 survives
  EXPECT_EQ(GetInt(d, "spec.replicas", -1), 0);
  EXPECT_EQ(GetString(d, "spec.selector.matchLabels.app"), "web");
  const json::value* containers = GetPath(d, "spec.template.spec.containers");
  ASSERT_TRUE(containers && containers->is_array() && containers->as_array().size() == 1);
  const json::value& c = containers->as_array()[0];
  EXPECT_EQ(GetString(c, "name"), "nginx");
  EXPECT_EQ(GetString(c, "image"), "nginx:1.25");
  EXPECT_EQ(GetPath(c, "terminationMessagePath"), nullptr);  // empty strings dropped
  EXPECT_EQ(GetInt(c.at("ports").at(0), "containerPort"), 80);
  EXPECT_TRUE(GetPath(d, "spec.template.metadata.creationTimestamp")->is_null());

  json::value cm = DecodeCapture(kCreateConfigMap);
  EXPECT_EQ(SerializeJson(cm.at("data")), R"({"a":"b"})");
  json::value secret = DecodeCapture(kCreateSecret);
  EXPECT_EQ(SerializeJson(secret.at("data")), R"({"k":"dg=="})");  // bytes → base64
  EXPECT_EQ(GetPath(secret, "type"), nullptr);

  json::value job = DecodeCapture(kCreateJob);
  EXPECT_EQ(GetString(job, "kind"), "Job");
  const json::value& jc = job.at("spec").at("template").at("spec").at("containers").at(0);
  EXPECT_EQ(SerializeJson(jc.at("command")), R"(["echo","hi"])");
  EXPECT_EQ(GetString(job, "spec.template.spec.restartPolicy"), "Never");
}

}  // namespace
}  // namespace sampan::api
