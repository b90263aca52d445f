#include "api/validate.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/json_util.h"

namespace sampan::api {
namespace {

namespace json = boost::json;

Field F(std::string name, const Schema* type) {
  Field f;
  f.name = std::move(name);
  f.type = type;
  return f;
}

// A small hand-built schema: Widget{metadata: Meta, spec: WidgetSpec}.
class SchemaFixture : public ::testing::Test {
 protected:
  SchemaFixture() {
    str_.kind = TypeKind::kString;
    i32_.kind = TypeKind::kInteger;
    i32_.format = "int32";
    boolean_.kind = TypeKind::kBoolean;
    qty_.kind = TypeKind::kQuantity;
    time_.kind = TypeKind::kTime;
    bytes_.kind = TypeKind::kBytes;
    ios_.kind = TypeKind::kIntOrString;
    labels_.kind = TypeKind::kMap;
    labels_.element = &str_;
    meta_.kind = TypeKind::kObject;
    meta_.name = "ObjectMeta";
    meta_.fields = {F("name", &str_), F("labels", &labels_), F("creationTimestamp", &time_)};
    port_.kind = TypeKind::kObject;
    port_.fields = {F("containerPort", &i32_), F("protocol", &str_), F("target", &ios_)};
    port_.fields[0].required = true;
    port_.fields[1].default_json = "\"TCP\"";
    port_.fields[1].enum_values = {"TCP", "UDP", "SCTP"};
    ports_.kind = TypeKind::kArray;
    ports_.element = &port_;
    extra_.kind = TypeKind::kObject;
    extra_.preserve_unknown = true;
    spec_.kind = TypeKind::kObject;
    spec_.fields = {F("replicas", &i32_), F("paused", &boolean_), F("cpu", &qty_),
                    F("data", &bytes_),   F("ports", &ports_),    F("extra", &extra_)};
    spec_.fields[0].default_json = "1";
    root_.kind = TypeKind::kObject;
    root_.fields = {F("apiVersion", &str_), F("kind", &str_), F("metadata", &meta_),
                    F("spec", &spec_)};
  }
  Schema str_, i32_, boolean_, qty_, time_, bytes_, ios_, labels_, meta_, port_, ports_, extra_,
      spec_, root_;
};

TEST_F(SchemaFixture, AcceptsAValidObject) {
  auto obj = json::parse(R"({"apiVersion":"v1","kind":"Widget",
      "metadata":{"name":"w","labels":{"a":"b"},"creationTimestamp":"2024-01-02T03:04:05Z"},
      "spec":{"replicas":3,"paused":false,"cpu":"100m","data":"aGVsbG8=",
              "ports":[{"containerPort":80,"protocol":"UDP","target":"http"},{"containerPort":81,"target":8}],
              "extra":{"anything":{"goes":[1,2]}}}})");
  SchemaCheck c = CheckAgainstSchema(obj, &root_);
  EXPECT_TRUE(c.unknown_fields.empty());
  EXPECT_TRUE(c.errors.empty()) << c.errors[0].field << ": " << c.errors[0].message;
  EXPECT_TRUE(ApplyFieldValidation(c, FieldValidation::kStrict, nullptr).ok());
}

TEST_F(SchemaFixture, ReportsUnknownFieldsByPolicy) {
  auto obj = json::parse(R"({"spec":{"foo":1,"ports":[{"containerPort":1,"bar":2}]},"top":0})");
  SchemaCheck c = CheckAgainstSchema(obj, &root_);
  EXPECT_EQ(c.unknown_fields, (std::vector<std::string>{"spec.foo", "spec.ports[0].bar", "top"}));
  Status strict = ApplyFieldValidation(c, FieldValidation::kStrict, nullptr);
  EXPECT_EQ(strict.code(), Code::kBadRequest);
  EXPECT_EQ(strict.message(),
            "strict decoding error: unknown field \"spec.foo\", unknown field "
            "\"spec.ports[0].bar\", unknown field \"top\"");
  std::vector<std::string> warnings;
  EXPECT_TRUE(ApplyFieldValidation(c, FieldValidation::kWarn, &warnings).ok());
  EXPECT_EQ(warnings.size(), 3u);
  EXPECT_EQ(warnings[0], "unknown field \"spec.foo\"");
  EXPECT_TRUE(ApplyFieldValidation(c, FieldValidation::kIgnore, nullptr).ok());

  c.duplicate_fields.push_back("metadata.name");
  EXPECT_NE(ApplyFieldValidation(c, FieldValidation::kStrict, nullptr)
                .message()
                .find("duplicate field \"metadata.name\""),
            std::string::npos);
}

TEST_F(SchemaFixture, ReportsTypeEnumAndRequiredErrors) {
  auto obj = json::parse(R"({"metadata":{"labels":{"a":1},"creationTimestamp":"yesterday"},
      "spec":{"replicas":"three","paused":"yes","cpu":"lots","data":"!!",
              "ports":[{"protocol":"ICMP"},{"containerPort":4294967296}]}})");
  SchemaCheck c = CheckAgainstSchema(obj, &root_);
  std::map<std::string, std::string> by_field;
  for (const auto& e : c.errors) by_field[e.field] += e.message;
  EXPECT_EQ(by_field["spec.replicas"], "Invalid value: \"three\": must be of type integer");
  EXPECT_EQ(by_field["spec.paused"], "Invalid value: \"yes\": must be of type boolean");
  EXPECT_EQ(by_field["metadata.labels[a]"], "Invalid value: 1: must be of type string");
  EXPECT_NE(by_field["spec.cpu"].find("quantities must match"), std::string::npos);
  EXPECT_NE(by_field["spec.data"].find("base64"), std::string::npos);
  EXPECT_NE(by_field["metadata.creationTimestamp"].find("RFC 3339"), std::string::npos);
  EXPECT_EQ(by_field["spec.ports[0].protocol"],
            "Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\"");
  EXPECT_EQ(by_field["spec.ports[0].containerPort"], "Required value");
  EXPECT_EQ(by_field["spec.ports[1].containerPort"],
            "Invalid value: 4294967296: must be of type int32");
  Status st = ApplyFieldValidation(c, FieldValidation::kIgnore, nullptr);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_EQ(st.causes().size(), c.errors.size());
  EXPECT_EQ(st.message().front(), '[');
}

TEST_F(SchemaFixture, AppliesDefaults) {
  auto obj = json::parse(
      R"({"spec":{"ports":[{"containerPort":80},{"containerPort":53,"protocol":"UDP"}]}})");
  ApplySchemaDefaults(obj, &root_);
  EXPECT_EQ(
      json::serialize(obj),
      R"({"spec":{"ports":[{"containerPort":80,"protocol":"TCP"},{"containerPort":53,"protocol":"UDP"}],"replicas":1}})");
  auto no_spec = json::parse(R"({"metadata":{}})");
  ApplySchemaDefaults(no_spec, &root_);
  EXPECT_EQ(json::serialize(no_spec), R"({"metadata":{}})");  // parents are not created
}

TEST_F(SchemaFixture, CanonicalizesQuantitiesAndTimes) {
  Schema micro;
  micro.kind = TypeKind::kMicroTime;
  Schema res;
  res.kind = TypeKind::kMap;
  res.element = &qty_;
  spec_.fields.push_back(F("limits", &res));
  spec_.fields.push_back(F("renewTime", &micro));
  auto obj = json::parse(R"({"metadata":{"creationTimestamp":"2024-01-02T05:04:05.9+02:00"},
      "spec":{"cpu":"0.5","limits":{"memory":"1024Mi","cpu":1,"gpu":0.25,"bad":"lots"},
              "renewTime":"2024-01-02T03:04:05.123456789Z","replicas":2}})");
  CanonicalizeBySchema(obj, &root_);
  EXPECT_EQ(SerializeJson(obj),
            R"({"metadata":{"creationTimestamp":"2024-01-02T03:04:05Z"},)"
            R"("spec":{"cpu":"500m","limits":{"memory":"1Gi","cpu":"1","gpu":"250m","bad":"lots"},)"
            R"("renewTime":"2024-01-02T03:04:05.123456Z","replicas":2}})");
}

TEST(NameRulesTest, Messages) {
  EXPECT_TRUE(IsDns1123Subdomain("example.com").empty());
  EXPECT_TRUE(IsDns1123Subdomain("a").empty());
  auto sub = IsDns1123Subdomain("Bad_Name");
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(
      sub[0],
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
      "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
      "regex used for validation is "
      "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
  EXPECT_FALSE(IsDns1123Subdomain("a..b").empty());
  EXPECT_FALSE(IsDns1123Subdomain("-a").empty());
  EXPECT_FALSE(IsDns1123Subdomain("").empty());
  EXPECT_EQ(IsDns1123Subdomain(std::string(254, 'a'))[0], "must be no more than 253 characters");

  EXPECT_TRUE(IsDns1123Label("my-name").empty());
  EXPECT_TRUE(IsDns1123Label("123-abc").empty());
  EXPECT_FALSE(IsDns1123Label("a.b").empty());
  EXPECT_NE(IsDns1123Label("A")[0].find("(e.g. 'my-name',  or '123-abc'"), std::string::npos);
  EXPECT_EQ(IsDns1123Label(std::string(64, 'a'))[0], "must be no more than 63 characters");

  EXPECT_TRUE(IsDns1035Label("abc-123").empty());
  EXPECT_NE(IsDns1035Label("1abc")[0].find("a DNS-1035 label"), std::string::npos);

  EXPECT_TRUE(IsQualifiedName("app").empty());
  EXPECT_TRUE(IsQualifiedName("example.com/My_Name.x").empty());
  EXPECT_EQ(IsQualifiedName("/a")[0], "prefix part must be non-empty");
  EXPECT_EQ(IsQualifiedName("a/")[0], "name part must be non-empty");
  EXPECT_NE(IsQualifiedName("Bad.com/x")[0].find("prefix part a lowercase RFC 1123 subdomain"),
            std::string::npos);
  EXPECT_NE(IsQualifiedName("a/b/c")[0].find("a qualified name must consist of"),
            std::string::npos);
  EXPECT_NE(IsQualifiedName("_a")[0].find("name part must consist of alphanumeric"),
            std::string::npos);
  EXPECT_EQ(IsQualifiedName(std::string(64, 'a'))[0],
            "name part must be no more than 63 characters");

  EXPECT_TRUE(IsValidLabelValue("").empty());
  EXPECT_TRUE(IsValidLabelValue("v1.2_x-y").empty());
  EXPECT_NE(IsValidLabelValue("a b")[0].find("a valid label must be an empty string"),
            std::string::npos);
}

std::vector<Cause> Meta(std::string_view text, bool namespaced,
                        NameRule rule = NameRule::kSubdomain) {
  std::vector<Cause> causes;
  ValidateObjectMeta(json::parse(text).as_object(), namespaced, rule, &causes);
  return causes;
}

TEST(ObjectMetaTest, Names) {
  EXPECT_TRUE(Meta(R"({"name":"web","namespace":"default"})", true).empty());
  auto c = Meta(R"({"name":"Bad_Name"})", false);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].field, "metadata.name");
  EXPECT_EQ(c[0].reason, "FieldValueInvalid");
  EXPECT_EQ(c[0].message.rfind("Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain", 0),
            0u);

  c = Meta(R"({})", false);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].message, "Required value: name or generateName is required");
  EXPECT_EQ(c[0].reason, "FieldValueRequired");

  EXPECT_TRUE(Meta(R"({"generateName":"web-"})", false).empty());  // trailing '-' is fine
  EXPECT_EQ(Meta(R"({"generateName":"Web-"})", false)[0].field, "metadata.generateName");
  EXPECT_EQ(Meta(R"({"name":"a.b"})", false, NameRule::kDns1123Label).size(), 1u);
  EXPECT_EQ(Meta(R"({"name":"a.b"})", false, NameRule::kPathSegment).size(), 0u);
  EXPECT_EQ(Meta(R"({"name":"a/b"})", false, NameRule::kPathSegment)[0].message,
            "Invalid value: \"a/b\": may not contain '/'");
  EXPECT_EQ(Meta(R"({"name":".."})", false, NameRule::kPathSegment)[0].message,
            "Invalid value: \"..\": may not be '..'");
}

TEST(ObjectMetaTest, NamespaceScope) {
  auto c = Meta(R"({"name":"a"})", true);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].field, "metadata.namespace");
  EXPECT_EQ(c[0].message, "Required value");
  c = Meta(R"({"name":"a","namespace":"x"})", false);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].message, "Forbidden: not allowed on this type");
  EXPECT_EQ(Meta(R"({"name":"a","namespace":"X.y"})", true).size(), 1u);
}

TEST(ObjectMetaTest, LabelsAnnotationsOwnersFinalizers) {
  auto c = Meta(R"({"name":"a","labels":{"ok":"v","bad key":"v","k":"bad value"}})", false);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].field, "metadata.labels");
  EXPECT_EQ(c[0].message.rfind("Invalid value: \"bad key\": name part must consist", 0), 0u);
  EXPECT_EQ(c[1].message.rfind("Invalid value: \"bad value\": a valid label", 0), 0u);

  EXPECT_TRUE(Meta(R"({"name":"a","annotations":{"Example.com/X":"y"}})", false).empty());
  json::object big = json::parse(R"({"name":"a"})").as_object();
  big["annotations"] = json::object{{"k", std::string(300 * 1024, 'x')}};
  std::vector<Cause> causes;
  ValidateObjectMeta(big, false, NameRule::kSubdomain, &causes);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].reason, "FieldValueTooLong");

  c = Meta(R"({"name":"a","ownerReferences":[
      {"apiVersion":"apps/v1","kind":"ReplicaSet","name":"r1","uid":"1","controller":true},
      {"apiVersion":"apps/v1","kind":"ReplicaSet","name":"r2","uid":"2","controller":true},
      {"kind":"X","name":"n"}]})",
           false);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].field, "metadata.ownerReferences[2].apiVersion");
  EXPECT_EQ(c[1].field, "metadata.ownerReferences[2].uid");
  EXPECT_NE(c[2].message.find("Only one reference can have Controller set to true. Found \"true\" "
                              "in references for ReplicaSet/r1 and ReplicaSet/r2"),
            std::string::npos);

  c = Meta(R"({"name":"a","finalizers":["kubernetes","example.com/x","example.com/x","bad/x/y"]})",
           false);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].field, "metadata.finalizers[2]");
  EXPECT_EQ(c[0].reason, "FieldValueDuplicate");
  EXPECT_EQ(c[1].field, "metadata.finalizers[3]");
}

}  // namespace
}  // namespace sampan::api
