#include "api/patch.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/json_util.h"

namespace sampan::api {
namespace {

namespace json = boost::json;

std::string Merge(std::string_view orig, std::string_view patch) {
  auto r = ApplyMergePatch(json::parse(orig), json::parse(patch));
  return r.ok() ? SerializeSorted(*r) : "ERR:" + r.status().ToString();
}

TEST(MergePatchTest, Rfc7386) {
  EXPECT_EQ(Merge(R"({"a":"b"})", R"({"a":"c"})"), R"({"a":"c"})");
  EXPECT_EQ(Merge(R"({"a":"b"})", R"({"b":"c"})"), R"({"a":"b","b":"c"})");
  EXPECT_EQ(Merge(R"({"a":"b"})", R"({"a":null})"), R"({})");
  EXPECT_EQ(Merge(R"({"a":"b","b":"c"})", R"({"a":null})"), R"({"b":"c"})");
  EXPECT_EQ(Merge(R"({"a":["b"]})", R"({"a":"c"})"), R"({"a":"c"})");
  EXPECT_EQ(Merge(R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})"), R"({"a":{"b":"d"}})");
  EXPECT_EQ(Merge(R"({"a":[{"b":"c"}]})", R"({"a":[1]})"), R"({"a":[1]})");
  EXPECT_EQ(Merge(R"({"e":null})", R"({"a":1})"), R"({"a":1,"e":null})");
  EXPECT_EQ(Merge(R"([1,2])", R"({"a":"b","c":null})"), R"({"a":"b"})");
  EXPECT_EQ(Merge(R"({})", R"({"a":{"bb":{"ccc":null}}})"), R"({"a":{"bb":{}}})");
  EXPECT_EQ(Merge(R"({"metadata":{"labels":{"a":"1","b":"2"}}})",
                  R"({"metadata":{"labels":{"a":null,"c":"3"}}})"),
            R"({"metadata":{"labels":{"b":"2","c":"3"}}})");
  EXPECT_EQ(ApplyMergePatch(json::parse("{}"), json::parse("[]")).status().code(),
            Code::kBadRequest);
}

std::string JPatch(std::string_view orig, std::string_view patch) {
  auto r = ApplyJsonPatch(json::parse(orig), json::parse(patch));
  return r.ok() ? SerializeSorted(*r) : "ERR:" + r.status().ToString();
}

TEST(JsonPatchTest, Operations) {
  EXPECT_EQ(JPatch(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])"),
            R"({"baz":"qux","foo":"bar"})");
  EXPECT_EQ(JPatch(R"({"foo":["bar","baz"]})", R"([{"op":"add","path":"/foo/1","value":"qux"}])"),
            R"({"foo":["bar","qux","baz"]})");
  EXPECT_EQ(JPatch(R"({"foo":[1]})", R"([{"op":"add","path":"/foo/-","value":2}])"),
            R"({"foo":[1,2]})");
  EXPECT_EQ(JPatch(R"({"foo":[1]})", R"([{"op":"add","path":"/foo/1","value":2}])"),
            R"({"foo":[1,2]})");
  EXPECT_EQ(JPatch(R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])"),
            R"({"foo":"bar"})");
  EXPECT_EQ(JPatch(R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])"),
            R"({"foo":["bar","baz"]})");
  EXPECT_EQ(JPatch(R"({"baz":"qux"})", R"([{"op":"replace","path":"/baz","value":"boo"}])"),
            R"({"baz":"boo"})");
  EXPECT_EQ(JPatch(R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
                   R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])"),
            R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})");
  EXPECT_EQ(JPatch(R"({"foo":["all","grass","cows","eat"]})",
                   R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])"),
            R"({"foo":["all","cows","eat","grass"]})");
  EXPECT_EQ(JPatch(R"({"a":{"b":1}})", R"([{"op":"copy","from":"/a","path":"/c"}])"),
            R"({"a":{"b":1},"c":{"b":1}})");
  EXPECT_EQ(
      JPatch(
          R"({"baz":"qux","foo":["a",2,"c"]})",
          R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2.0}])"),
      R"({"baz":"qux","foo":["a",2,"c"]})");
  // RFC 6901 escaping: ~1 is '/', ~0 is '~'.
  EXPECT_EQ(JPatch(R"({"metadata":{"annotations":{"a/b":"1","m~n":"2"}}})",
                   R"([{"op":"replace","path":"/metadata/annotations/a~1b","value":"x"},
                       {"op":"remove","path":"/metadata/annotations/m~0n"}])"),
            R"({"metadata":{"annotations":{"a/b":"x"}}})");
  EXPECT_EQ(JPatch(R"({"a":1})", R"([{"op":"replace","path":"","value":[1]}])"), R"([1])");
  EXPECT_EQ(JPatch(R"({"a":1})", R"([])"), R"({"a":1})");
}

TEST(JsonPatchTest, Errors) {
  auto code = [](std::string_view orig, std::string_view patch) {
    return ApplyJsonPatch(json::parse(orig), json::parse(patch)).status().code();
  };
  EXPECT_EQ(code("{}", R"({"op":"add"})"), Code::kBadRequest);
  EXPECT_EQ(code("{}", R"([{"op":"frob","path":"/a"}])"), Code::kBadRequest);
  EXPECT_EQ(code("{}", R"([{"op":"add","path":"/a"}])"), Code::kBadRequest);
  EXPECT_EQ(code("{}", R"([{"op":"add","path":"a","value":1}])"), Code::kBadRequest);
  EXPECT_EQ(code("{}", R"([{"op":"add","path":"/a~2","value":1}])"), Code::kBadRequest);
  EXPECT_EQ(code(R"({"a":1})", R"([{"op":"test","path":"/a","value":2}])"), Code::kInvalid);
  EXPECT_EQ(code(R"({"a":1})", R"([{"op":"replace","path":"/b","value":2}])"), Code::kInvalid);
  EXPECT_EQ(code(R"({"a":1})", R"([{"op":"remove","path":"/b"}])"), Code::kInvalid);
  EXPECT_EQ(code(R"({"a":[1]})", R"([{"op":"add","path":"/a/2","value":2}])"), Code::kInvalid);
  EXPECT_EQ(code(R"({"a":[1]})", R"([{"op":"add","path":"/a/01","value":2}])"), Code::kInvalid);
  EXPECT_EQ(code(R"({"a":[1]})", R"([{"op":"remove","path":"/a/-"}])"), Code::kInvalid);
  EXPECT_EQ(code(R"({"a":{}})", R"([{"op":"add","path":"/x/y","value":1}])"), Code::kInvalid);
  EXPECT_EQ(code(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a/b/c"}])"),
            Code::kInvalid);
  // rollout undo's replace needs /metadata/annotations to exist.
  auto st = ApplyJsonPatch(json::parse(R"({"metadata":{}})"),
                           json::parse(R"([{"op":"test","path":"/metadata","value":{}},
                                           {"op":"replace","path":"/metadata/annotations","value":{}}])"))
                .status();
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_NE(st.message().find("operation 1 (replace \"/metadata/annotations\")"), std::string::npos)
      << st.message();
  // A failed patch leaves the original untouched (the result is a copy).
  json::value orig = json::parse(R"({"a":1})");
  EXPECT_FALSE(ApplyJsonPatch(orig, json::parse(R"([{"op":"add","path":"/b","value":2},
                                                   {"op":"test","path":"/a","value":3}])"))
                   .ok());
  EXPECT_EQ(SerializeSorted(orig), R"({"a":1})");
}

// A hand-built slice of the apps/v1 Deployment and core/v1 Pod schemas.
class SmpFixture : public ::testing::Test {
 protected:
  static Field F(std::string name, const Schema* type, std::string merge_key = "",
                 std::string strategy = "") {
    Field f;
    f.name = std::move(name);
    f.type = type;
    f.merge_key = std::move(merge_key);
    f.patch_strategy = std::move(strategy);
    return f;
  }
  static void Obj(Schema& s, std::vector<Field> fields) {
    s.kind = TypeKind::kObject;
    s.fields = std::move(fields);
  }
  static void Arr(Schema& s, const Schema* element) {
    s.kind = TypeKind::kArray;
    s.element = element;
  }

  SmpFixture() {
    i32_.kind = TypeKind::kInteger;
    ios_.kind = TypeKind::kIntOrString;
    strmap_.kind = TypeKind::kMap;
    strmap_.element = &str_;
    Arr(strs_, &str_);
    Obj(meta_, {F("name", &str_), F("labels", &strmap_), F("annotations", &strmap_),
                F("finalizers", &strs_, "", "merge")});
    Obj(env_, {F("name", &str_), F("value", &str_)});
    Arr(envs_, &env_);
    Obj(port_, {F("containerPort", &i32_), F("protocol", &str_), F("name", &str_)});
    Arr(ports_, &port_);
    Obj(container_,
        {F("name", &str_), F("image", &str_), F("args", &strs_), F("env", &envs_, "name", "merge"),
         F("ports", &ports_, "containerPort", "merge")});
    Arr(containers_, &container_);
    Obj(cmsrc_, {F("name", &str_)});
    Obj(empty_, {F("medium", &str_)});
    Obj(volume_, {F("name", &str_), F("configMap", &cmsrc_), F("emptyDir", &empty_)});
    Arr(volumes_, &volume_);
    Obj(toleration_, {F("key", &str_), F("effect", &str_)});
    Arr(tolerations_, &toleration_);
    Obj(podspec_, {F("containers", &containers_, "name", "merge"),
                   F("volumes", &volumes_, "name", "merge,retainKeys"),
                   F("tolerations", &tolerations_), F("nodeSelector", &strmap_)});
    Obj(template_, {F("metadata", &meta_), F("spec", &podspec_)});
    Obj(rolling_, {F("maxSurge", &ios_), F("maxUnavailable", &ios_)});
    Obj(strategy_, {F("type", &str_), F("rollingUpdate", &rolling_)});
    Obj(depspec_, {F("replicas", &i32_), F("strategy", &strategy_, "", "retainKeys"),
                   F("template", &template_), F("paused", &bool_)});
    Obj(deployment_, {F("metadata", &meta_), F("spec", &depspec_)});
  }

  std::string Smp(std::string_view orig, std::string_view patch) {
    auto r = ApplyStrategicMergePatch(json::parse(orig), json::parse(patch), &deployment_);
    return r.ok() ? SerializeSorted(*r) : "ERR:" + r.status().ToString();
  }
  // The same patch applied under a pod template.
  std::string PodSmp(std::string_view orig_spec, std::string_view patch_spec) {
    std::string o = R"({"spec":{"template":{"spec":)" + std::string(orig_spec) + "}}}";
    std::string p = R"({"spec":{"template":{"spec":)" + std::string(patch_spec) + "}}}";
    auto r = ApplyStrategicMergePatch(json::parse(o), json::parse(p), &deployment_);
    if (!r.ok()) return "ERR:" + r.status().ToString();
    return SerializeSorted(r->at("spec").at("template").at("spec"));
  }

  Schema str_, i32_, bool_, ios_, strmap_, strs_, meta_, env_, envs_, port_, ports_, container_,
      containers_, cmsrc_, empty_, volume_, volumes_, toleration_, tolerations_, podspec_,
      template_, rolling_, strategy_, depspec_, deployment_;
};

// The patch kubectl apply sent for a changed Deployment (KUBECTL.md §5).
TEST_F(SmpFixture, KubectlApplyDeploymentExample) {
  const char* orig = R"({"metadata":{"name":"d","labels":{"app":"web"}},
    "spec":{"replicas":1,"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"}},
      "template":{"metadata":{"labels":{"app":"web"}},
        "spec":{"containers":[{"name":"web","image":"nginx:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}],
                "volumes":[{"name":"v1","emptyDir":{}}]}}}})";
  const char* patch =
      R"({"spec":{"replicas":3,"strategy":{"$retainKeys":["type"],"rollingUpdate":null,"type":"Recreate"},"template":{"spec":{"$setElementOrder/containers":[{"name":"web"}],"containers":[{"$setElementOrder/env":[{"name":"B"}],"env":[{"$patch":"delete","name":"A"}],"image":"nginx:2","name":"web"}],"volumes":[{"$retainKeys":["configMap","name"],"configMap":{"name":"cm"},"emptyDir":null,"name":"v1"}]}}}})";
  EXPECT_EQ(Smp(orig, patch),
            SerializeSorted(json::parse(R"({"metadata":{"name":"d","labels":{"app":"web"}},
              "spec":{"replicas":3,"strategy":{"type":"Recreate"},
                "template":{"metadata":{"labels":{"app":"web"}},
                  "spec":{"containers":[{"name":"web","image":"nginx:2","env":[{"name":"B","value":"2"}]}],
                          "volumes":[{"name":"v1","configMap":{"name":"cm"}}]}}}})")));
}

TEST_F(SmpFixture, ListsMergeByKeyOrAreReplaced) {
  // Containers merge by name: a changed image keeps the other container and fields.
  EXPECT_EQ(
      PodSmp(
          R"({"containers":[{"name":"a","image":"x:1","args":["-v"]},{"name":"b","image":"y"}]})",
          R"({"containers":[{"name":"a","image":"x:2"}]})"),
      R"({"containers":[{"args":["-v"],"image":"x:2","name":"a"},{"image":"y","name":"b"}]})");
  // New items are appended; ports merge by containerPort (a number).
  EXPECT_EQ(
      PodSmp(
          R"({"containers":[{"name":"a","ports":[{"containerPort":80,"name":"http"}]}]})",
          R"({"containers":[{"name":"a","ports":[{"containerPort":80,"protocol":"TCP"},{"containerPort":443}]},{"name":"c"}]})"),
      R"({"containers":[{"name":"a","ports":[{"containerPort":80,"name":"http","protocol":"TCP"},{"containerPort":443}]},{"name":"c"}]})");
  // Lists without a strategy (tolerations, args) are replaced.
  EXPECT_EQ(
      PodSmp(R"({"tolerations":[{"key":"a"},{"key":"b"}]})", R"({"tolerations":[{"key":"c"}]})"),
      R"({"tolerations":[{"key":"c"}]})");
  EXPECT_EQ(PodSmp(R"({"containers":[{"name":"a","args":["1","2"]}]})",
                   R"({"containers":[{"name":"a","args":["3"]}]})"),
            R"({"containers":[{"args":["3"],"name":"a"}]})");
  // Maps merge; null deletes.
  EXPECT_EQ(
      PodSmp(R"({"nodeSelector":{"a":"1","b":"2"}})", R"({"nodeSelector":{"a":null,"c":"3"}})"),
      R"({"nodeSelector":{"b":"2","c":"3"}})");
  // A merge-keyed item without its key is an error.
  EXPECT_EQ(PodSmp(R"({"containers":[]})", R"({"containers":[{"image":"x"}]})")
                .rfind("ERR:BadRequest", 0),
            0u);
}

TEST_F(SmpFixture, Directives) {
  // $patch: replace as a list item replaces the whole list.
  EXPECT_EQ(PodSmp(R"({"containers":[{"name":"a"},{"name":"b"}]})",
                   R"({"containers":[{"name":"c"},{"$patch":"replace"}]})"),
            R"({"containers":[{"name":"c"}]})");
  // $patch: delete on a list item removes it by merge key.
  EXPECT_EQ(PodSmp(R"({"containers":[{"name":"a"},{"name":"b"}]})",
                   R"({"containers":[{"name":"a","$patch":"delete"}]})"),
            R"({"containers":[{"name":"b"}]})");
  // $patch: replace in a map replaces the map; $patch: delete removes it.
  EXPECT_EQ(
      PodSmp(R"({"nodeSelector":{"a":"1"}})", R"({"nodeSelector":{"b":"2","$patch":"replace"}})"),
      R"({"nodeSelector":{"b":"2"}})");
  EXPECT_EQ(PodSmp(R"({"nodeSelector":{"a":"1"},"tolerations":[]})",
                   R"({"nodeSelector":{"$patch":"delete"}})"),
            R"({"nodeSelector":{},"tolerations":[]})");  // {} as Kubernetes leaves it
  EXPECT_EQ(PodSmp(R"({"nodeSelector":{"a":"1"}})", R"({"nodeSelector":{"$patch":"frob"}})")
                .rfind("ERR:BadRequest", 0),
            0u);
  // $patch: merge is not accepted in maps or lists (as in Kubernetes).
  EXPECT_EQ(
      PodSmp(R"({"nodeSelector":{"a":"1"}})", R"({"nodeSelector":{"b":"2","$patch":"merge"}})")
          .rfind("ERR:BadRequest: unknown patch type: merge", 0),
      0u);
  EXPECT_EQ(PodSmp(R"({"containers":[{"name":"a"}]})",
                   R"({"containers":[{"name":"b"},{"$patch":"merge"}]})"),
            "ERR:BadRequest: merging lists cannot yet be specified in the patch");
  // $retainKeys must list every key the patch sets.
  EXPECT_EQ(Smp(R"({"spec":{"strategy":{"type":"A"}}})",
                R"({"spec":{"strategy":{"$retainKeys":["type"],"type":"B","rollingUpdate":{}}}})"),
            "ERR:BadRequest: invalid patch format of retainKeys");
  // Directives are stripped from new items too.
  EXPECT_EQ(
      PodSmp(
          R"({})",
          R"({"containers":[{"name":"a","$setElementOrder/env":[{"name":"X"}],"env":[{"name":"X","value":"1"},{"name":"Y","$patch":"delete"}]}]})"),
      R"({"containers":[{"env":[{"name":"X","value":"1"}],"name":"a"}]})");
}

TEST_F(SmpFixture, PrimitiveListsAndDeleteFromPrimitiveList) {
  // finalizers: strategy merge on a primitive list = set union.
  EXPECT_EQ(
      Smp(R"({"metadata":{"finalizers":["a","b"]}})", R"({"metadata":{"finalizers":["b","c"]}})"),
      R"({"metadata":{"finalizers":["a","b","c"]}})");
  EXPECT_EQ(Smp(R"({"metadata":{"finalizers":["a","b","c"]}})",
                R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["b"]}})"),
            R"({"metadata":{"finalizers":["a","c"]}})");
  EXPECT_EQ(Smp(R"({"metadata":{"finalizers":["a","b"]}})",
                R"({"metadata":{"$setElementOrder/finalizers":["b","a"]}})"),
            R"({"metadata":{"finalizers":["b","a"]}})");
}

TEST_F(SmpFixture, SetElementOrderKeepsServerOnlyItemsInPlace) {
  // "side" was added by someone else; the patch reorders b before a. Side stays ahead of b,
  // which followed it on the server (Kubernetes' mergeSortedSlice).
  EXPECT_EQ(PodSmp(R"({"containers":[{"name":"a"},{"name":"side"},{"name":"b"}]})",
                   R"({"$setElementOrder/containers":[{"name":"b"},{"name":"a"}]})"),
            R"({"containers":[{"name":"side"},{"name":"b"},{"name":"a"}]})");
  EXPECT_EQ(PodSmp(R"({"containers":[{"name":"a"},{"name":"b"},{"name":"side"}]})",
                   R"({"$setElementOrder/containers":[{"name":"b"},{"name":"a"}]})"),
            R"({"containers":[{"name":"b"},{"name":"a"},{"name":"side"}]})");
  EXPECT_EQ(PodSmp(R"({"containers":[{"name":"side"},{"name":"a"},{"name":"b"}]})",
                   R"({"$setElementOrder/containers":[{"name":"new"},{"name":"b"},{"name":"a"}],
                       "containers":[{"name":"new"}]})"),
            R"({"containers":[{"name":"new"},{"name":"side"},{"name":"b"},{"name":"a"}]})");
}

TEST_F(SmpFixture, RetainKeysAndUnknownPaths) {
  EXPECT_EQ(
      Smp(R"({"spec":{"strategy":{"type":"Recreate"}}})",
          R"({"spec":{"strategy":{"$retainKeys":["rollingUpdate","type"],"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}})"),
      R"({"spec":{"strategy":{"rollingUpdate":{"maxSurge":1},"type":"RollingUpdate"}}})");
  // Fields the schema does not know merge like a merge patch (lists replaced).
  EXPECT_EQ(Smp(R"({"status":{"x":[1,2],"y":{"a":1}}})", R"({"status":{"x":[3],"y":{"b":2}}})"),
            R"({"status":{"x":[3],"y":{"a":1,"b":2}}})");
  // kubectl rollout resume.
  EXPECT_EQ(Smp(R"({"spec":{"paused":true,"replicas":2}})", R"({"spec":{"paused":null}})"),
            R"({"spec":{"replicas":2}})");
  // No schema at all: merge patch semantics.
  auto r = ApplyStrategicMergePatch(json::parse(R"({"a":[1],"b":{"c":1}})"),
                                    json::parse(R"({"a":[2],"b":{"d":2}})"), nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(SerializeSorted(*r), R"({"a":[2],"b":{"c":1,"d":2}})");
  EXPECT_EQ(ApplyStrategicMergePatch(json::parse("{}"), json::parse("[]"), nullptr).status().code(),
            Code::kBadRequest);
}

// Expected results below were produced by the real kubectl (`kubectl patch --local
// --type=strategic`, v1.32) on the same documents.
TEST_F(SmpFixture, OrderingMatchesKubectl) {
  const char* pod =
      R"({"containers":[{"name":"c1","ports":[{"containerPort":80,"name":"http"},{"containerPort":443}]},{"name":"c2"}]})";
  // Patch items come in patch order; server-only items keep their place relative to them.
  EXPECT_EQ(
      PodSmp(
          pod,
          R"({"containers":[{"name":"c1","ports":[{"containerPort":80,"protocol":"TCP"},{"containerPort":8080}]}]})"),
      R"({"containers":[{"name":"c1","ports":[{"containerPort":80,"name":"http","protocol":"TCP"},{"containerPort":8080},{"containerPort":443}]},{"name":"c2"}]})");
  EXPECT_EQ(
      PodSmp(pod, R"({"containers":[{"name":"c3"}]})"),
      R"({"containers":[{"name":"c3"},{"name":"c1","ports":[{"containerPort":80,"name":"http"},{"containerPort":443}]},{"name":"c2"}]})");
  EXPECT_EQ(
      PodSmp(
          R"({"containers":[{"name":"c1"},{"name":"c2"}]})",
          R"({"containers":[{"name":"c2","image":"j2"},{"name":"c0","image":"j0"},{"name":"c1","image":"j1"}]})"),
      R"({"containers":[{"image":"j2","name":"c2"},{"image":"j0","name":"c0"},{"image":"j1","name":"c1"}]})");
  EXPECT_EQ(Smp(R"({"metadata":{"finalizers":["x/a","x/b"]}})",
                R"({"metadata":{"finalizers":["x/c","x/a"]}})"),
            R"({"metadata":{"finalizers":["x/c","x/a","x/b"]}})");
  EXPECT_EQ(
      Smp(R"({"metadata":{"finalizers":["x/a","x/b"]}})",
          R"({"metadata":{"$setElementOrder/finalizers":["x/z","x/b"],"finalizers":["x/z"],"$deleteFromPrimitiveList/finalizers":["x/a"]}})"),
      R"({"metadata":{"finalizers":["x/z","x/b"]}})");
  EXPECT_EQ(
      PodSmp(
          R"({"containers":[{"name":"a","image":"1"},{"name":"side","image":"s"},{"name":"b","image":"b"}]})",
          R"({"containers":[{"name":"b","$patch":"delete"},{"name":"a","image":"q"}],"$setElementOrder/containers":[{"name":"a"},{"name":"side"}]})"),
      R"({"containers":[{"image":"q","name":"a"},{"image":"s","name":"side"}]})");
  // A patch list that disagrees with its $setElementOrder is refused.
  EXPECT_EQ(
      PodSmp(
          R"({"containers":[{"name":"a"}]})",
          R"({"$setElementOrder/containers":[{"name":"a"}],"containers":[{"name":"b","image":"x"}]})")
          .rfind("ERR:BadRequest: The order in patch list", 0),
      0u);
}

}  // namespace
}  // namespace sampan::api
