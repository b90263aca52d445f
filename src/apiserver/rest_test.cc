#include "apiserver/rest.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <future>
#include <thread>

#include "apiserver/namespace_controller.h"
#include "apiserver/rest_test_fixture.h"

namespace sampan::apiserver {
namespace {

namespace json = boost::json;

class RestTest : public RestFixture {
 protected:
  const api::KindInfo& Kind(const char* group, const char* kind) {
    return *api::BuiltinRegistry().FindKind(group, group[0] ? "v1" : "v1", kind);
  }
  Result<ObjectPtr> Create(const api::KindInfo& k, std::string ns, std::string json_text) {
    json::value v = json::parse(json_text);
    WriteOptions o;
    return Run(rest_->Create(k, ns, std::move(v), o));
  }
};

constexpr const char* kConfigMap =
    R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1","labels":{"a":"b"}},"data":{"k":"v"}})";

TEST_F(RestTest, CreateSetsSystemMetadataAndReadsItBack) {
  const auto& cm = Kind("", "ConfigMap");
  auto c = Create(cm, "default", kConfigMap);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const json::object& meta = (*c)->obj.at("metadata").as_object();
  EXPECT_EQ(meta.at("namespace").as_string(), "default");
  EXPECT_EQ(meta.at("uid").as_string().size(), 36u);
  EXPECT_TRUE(meta.contains("creationTimestamp"));
  EXPECT_EQ(meta.at("resourceVersion").as_string(), std::to_string((*c)->mod_revision));
  auto got = rest_->Get(cm, "default", "c1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)->obj, (*c)->obj);
  auto again = Create(cm, "default", kConfigMap);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(again.status().message(), "configmaps \"c1\" already exists");
}

TEST_F(RestTest, CreateRejectsMissingNamespaceAndBadNames) {
  const auto& cm = Kind("", "ConfigMap");
  auto r = Create(cm, "nope", kConfigMap);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  r = Create(cm, "default", R"({"metadata":{"name":"Bad_Name"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_NE(r.status().message().find("ConfigMap \"Bad_Name\" is invalid: metadata.name"),
            std::string::npos);
  EXPECT_FALSE(rest_->Get(cm, "default", "Bad_Name").ok());
}

TEST_F(RestTest, StrictValidationRejectsUnknownFieldsWarnPrunesThem) {
  const auto& cm = Kind("", "ConfigMap");
  json::value v = json::parse(R"({"metadata":{"name":"u"},"bogus":1})");
  WriteOptions strict;
  strict.field_validation = "Strict";
  auto r = Run(rest_->Create(cm, "default", v, strict));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kBadRequest);
  EXPECT_NE(r.status().message().find("unknown field \"bogus\""), std::string::npos);
  std::vector<std::string> warnings;
  WriteOptions warn;
  warn.field_validation = "Warn";
  warn.warnings = &warnings;
  r = Run(rest_->Create(cm, "default", v, warn));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE((*r)->obj.contains("bogus"));
  ASSERT_EQ(warnings.size(), 1u);
}

TEST_F(RestTest, GenerateNameMakesAUniqueName) {
  const auto& cm = Kind("", "ConfigMap");
  auto a = Create(cm, "default", R"({"metadata":{"generateName":"web-"}})");
  auto b = Create(cm, "default", R"({"metadata":{"generateName":"web-"}})");
  ASSERT_TRUE(a.ok() && b.ok());
  std::string an(a.value()->obj.at("metadata").at("name").as_string());
  std::string bn(b.value()->obj.at("metadata").at("name").as_string());
  EXPECT_EQ(an.rfind("web-", 0), 0u);
  EXPECT_EQ(an.size(), 9u);
  EXPECT_NE(an, bn);
}

TEST_F(RestTest, UpdateWithStaleResourceVersionConflicts) {
  const auto& cm = Kind("", "ConfigMap");
  auto c = Create(cm, "default", kConfigMap);
  ASSERT_TRUE(c.ok());
  json::object next = (*c)->obj;
  next["data"].as_object()["k"] = "v2";
  WriteOptions o;
  auto u = Run(rest_->Update(cm, "default", "c1", "", json::value(next), o));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_GT((*u)->mod_revision, (*c)->mod_revision);
  // `next` still carries the old resourceVersion.
  next["data"].as_object()["k"] = "v3";
  auto stale = Run(rest_->Update(cm, "default", "c1", "", json::value(next), o));
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), Code::kConflict);
  // A no-op update keeps the resourceVersion.
  json::object same = (*u)->obj;
  auto noop = Run(rest_->Update(cm, "default", "c1", "", json::value(same), o));
  ASSERT_TRUE(noop.ok());
  EXPECT_EQ((*noop)->mod_revision, (*u)->mod_revision);
  // So does one without a resourceVersion; a change to metadata alone is written.
  json::object no_rv = (*u)->obj;
  no_rv["metadata"].as_object().erase("resourceVersion");
  auto noop2 = Run(rest_->Update(cm, "default", "c1", "", json::value(no_rv), o));
  ASSERT_TRUE(noop2.ok());
  EXPECT_EQ((*noop2)->mod_revision, (*u)->mod_revision);
  no_rv["metadata"].as_object()["labels"].as_object()["x"] = "y";
  auto labelled = Run(rest_->Update(cm, "default", "c1", "", json::value(no_rv), o));
  ASSERT_TRUE(labelled.ok());
  EXPECT_GT((*labelled)->mod_revision, (*u)->mod_revision);
  EXPECT_EQ((*labelled)->obj.at("metadata").at("labels").at("x").as_string(), "y");
  auto got = rest_->Get(cm, "default", "c1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)->mod_revision, (*labelled)->mod_revision);
}

TEST_F(RestTest, PatchesApplyAndStrategicMergesContainersByName) {
  const auto& deploy = Kind("apps", "Deployment");
  auto d = Create(deploy, "default", R"({"metadata":{"name":"web"},"spec":{"replicas":1,
      "selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[
        {"name":"a","image":"one"},{"name":"b","image":"two"}]}}}})");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d.value()->obj.at("metadata").at("generation").as_int64(), 1);
  json::value patch = json::parse(
      R"({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"three"}]}}}})");
  WriteOptions o;
  auto p = Run(rest_->Patch(deploy, "default", "web", "", PatchType::kStrategic, patch, o));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const auto& cs = (*p)->obj.at("spec").at("template").at("spec").at("containers").as_array();
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0].at("image").as_string(), "one");
  EXPECT_EQ(cs[1].at("image").as_string(), "three");
  EXPECT_EQ((*p)->obj.at("metadata").at("generation").as_int64(), 2);
  // The scale subresource.
  json::value scale = json::parse(R"({"spec":{"replicas":4}})");
  auto s = Run(rest_->Patch(deploy, "default", "web", "scale", PatchType::kMerge, scale, o));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)->obj.at("spec").at("replicas").as_int64(), 4);
  // A status write cannot change the spec.
  json::value st = json::parse(R"({"spec":{"replicas":9},"status":{"replicas":2}})");
  auto ss = Run(rest_->Patch(deploy, "default", "web", "status", PatchType::kMerge, st, o));
  ASSERT_TRUE(ss.ok()) << ss.status().ToString();
  EXPECT_EQ((*ss)->obj.at("spec").at("replicas").as_int64(), 4);
  EXPECT_EQ((*ss)->obj.at("status").at("replicas").as_int64(), 2);
}

TEST_F(RestTest, FinalizersHoldDeletionUntilRemoved) {
  const auto& cm = Kind("", "ConfigMap");
  auto c = Create(cm, "default", R"({"metadata":{"name":"f","finalizers":["example.com/hold"]}})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  DeleteOptions d;
  auto del = Run(rest_->Delete(cm, "default", "f", d));
  ASSERT_TRUE(del.ok());
  EXPECT_TRUE((*del)->obj.at("metadata").as_object().contains("deletionTimestamp"));
  ASSERT_TRUE(rest_->Get(cm, "default", "f").ok());
  json::value patch = json::parse(R"({"metadata":{"finalizers":null}})");
  WriteOptions o;
  auto p = Run(rest_->Patch(cm, "default", "f", "", PatchType::kMerge, patch, o));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(rest_->Get(cm, "default", "f").status().code(), Code::kNotFound);
}

TEST_F(RestTest, UnscheduledPodIsDeletedAtOnceBoundPodGracefully) {
  const auto& pod = Kind("", "Pod");
  auto a = Create(pod, "default",
                  R"({"metadata":{"name":"a"},"spec":{"containers":[{"name":"c","image":"x"}]}})");
  auto b = Create(pod, "default", R"({"metadata":{"name":"b"},"spec":{"nodeName":"n1",
      "containers":[{"name":"c","image":"x"}]}})");
  ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString() << b.status().ToString();
  EXPECT_EQ(a.value()->obj.at("status").at("phase").as_string(), "Pending");
  DeleteOptions d;
  ASSERT_TRUE(Run(rest_->Delete(pod, "default", "a", d)).ok());
  EXPECT_EQ(rest_->Get(pod, "default", "a").status().code(), Code::kNotFound);
  auto gb = Run(rest_->Delete(pod, "default", "b", d));
  ASSERT_TRUE(gb.ok());
  EXPECT_EQ(gb.value()->obj.at("metadata").at("deletionGracePeriodSeconds").as_int64(), 30);
  ASSERT_TRUE(rest_->Get(pod, "default", "b").ok());
  d.grace_period_seconds = 0;
  ASSERT_TRUE(Run(rest_->Delete(pod, "default", "b", d)).ok());
  EXPECT_EQ(rest_->Get(pod, "default", "b").status().code(), Code::kNotFound);
}

TEST_F(RestTest, DeletedNamespaceEmptiesThenGoes) {
  const auto& ns = Kind("", "Namespace");
  const auto& cm = Kind("", "ConfigMap");
  ASSERT_TRUE(Create(ns, "", R"({"metadata":{"name":"doomed"}})").ok());
  ASSERT_TRUE(Create(cm, "doomed", kConfigMap).ok());
  DeleteOptions d;
  auto del = Run(rest_->Delete(ns, "", "doomed", d));
  ASSERT_TRUE(del.ok());
  EXPECT_EQ((*del)->obj.at("status").at("phase").as_string(), "Terminating");
  auto refused = Create(cm, "doomed", R"({"metadata":{"name":"late"}})");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kForbidden);
  NamespaceController nc(*rest_);
  Run(nc.SyncAll());
  EXPECT_EQ(rest_->Get(cm, "doomed", "c1").status().code(), Code::kNotFound);
  EXPECT_EQ(rest_->Get(ns, "", "doomed").status().code(), Code::kNotFound);
}

TEST_F(RestTest, ListFiltersAndPagesConsistently) {
  const auto& cm = Kind("", "ConfigMap");
  for (int i = 0; i < 5; ++i) {
    std::string body = R"({"metadata":{"name":"m)" + std::to_string(i) + R"(","labels":{"i":")" +
                       std::to_string(i % 2) + R"("}}})";
    ASSERT_TRUE(Create(cm, "default", body).ok());
  }
  ListOptions lo;
  lo.label_selector = "i=1";
  auto l = rest_->List(cm, "default", lo);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->items.size(), 2u);
  lo = {};
  lo.limit = 2;
  auto p1 = rest_->List(cm, "default", lo);
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->items.size(), 2u);
  ASSERT_FALSE(p1->continue_token.empty());
  EXPECT_EQ(p1->remaining, 3);
  // A write between pages does not show: the pages are one snapshot.
  ASSERT_TRUE(Create(cm, "default", R"({"metadata":{"name":"m9"}})").ok());
  lo.continue_token = p1->continue_token;
  lo.limit = 10;
  auto p2 = rest_->List(cm, "default", lo);
  ASSERT_TRUE(p2.ok()) << p2.status().ToString();
  EXPECT_EQ(p2->items.size(), 3u);
  EXPECT_TRUE(p2->continue_token.empty());
  // A limit together with a selector: the count of what was cut off is of matching objects.
  lo = {};
  lo.label_selector = "i=0";
  lo.limit = 1;
  auto sel = rest_->List(cm, "default", lo);
  ASSERT_TRUE(sel.ok());
  ASSERT_EQ(sel->items.size(), 1u);
  EXPECT_EQ(sel->remaining, 2);
  lo = {};
  lo.field_selector = "spec.nodeName=x";
  auto bad = rest_->List(cm, "default", lo);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "field label not supported: spec.nodeName");
}

}  // namespace
}  // namespace sampan::apiserver
