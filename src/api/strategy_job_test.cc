// Validation of the Indexed Job policies (strategy_job.cc): backoffLimitPerIndex,
// maxFailedIndexes, successPolicy and the FailIndex action.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/schema.h"
#include "api/strategy.h"

namespace sampan::api {
namespace {

namespace json = boost::json;

const KindInfo& JobKind() {
  const KindInfo* k = BuiltinRegistry().FindKind("batch", "v1", "Job");
  SAMPAN_CHECK(k != nullptr);
  return *k;
}

// A defaulted Job whose spec has `extra` merged in (a JSON object text without braces).
json::object Job(const std::string& extra) {
  json::object job = json::parse(R"({"apiVersion":"batch/v1","kind":"Job",
      "metadata":{"name":"j","namespace":"d","uid":"u-1"},"spec":{)" +
                                 extra + (extra.empty() ? "" : ",") + R"(
      "template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"x"}]}}}})")
                         .as_object();
  DefaultObject(JobKind(), job);
  PrepareForCreate(JobKind(), job);
  return job;
}

std::vector<std::string> Causes(const Status& st) {
  std::vector<std::string> out;
  for (const Cause& c : st.causes()) out.push_back(c.field + ": " + c.message);
  return out;
}

// Whether a cause is on `field` and its message ends with `suffix`.
bool HasCause(const Status& st, const std::string& field, const std::string& suffix) {
  for (const Cause& c : st.causes())
    if (c.field == field && c.message.size() >= suffix.size() &&
        c.message.compare(c.message.size() - suffix.size(), suffix.size(), suffix) == 0)
      return true;
  return false;
}

std::string Dump(const Status& st) {
  std::string out = st.message();
  for (const std::string& c : Causes(st)) out += "\n  " + c;
  return out;
}

Status Validate(const std::string& extra) { return ValidateCreate(JobKind(), Job(extra)); }

TEST(JobValidation, AcceptsIndexedPolicies) {
  Status st = Validate(R"("completionMode":"Indexed","completions":5,"parallelism":5,
      "backoffLimitPerIndex":1,"maxFailedIndexes":2,
      "successPolicy":{"rules":[{"succeededIndexes":"0,2-4","succeededCount":2},
                                {"succeededCount":5}]},
      "podFailurePolicy":{"rules":[{"action":"FailIndex","onExitCodes":{"operator":"In",
                                    "values":[3]}}]})");
  EXPECT_TRUE(st.ok()) << Dump(st);
  // backoffLimitPerIndex makes the global limit unlimited by default.
  json::object job = Job(R"("completionMode":"Indexed","completions":2,"backoffLimitPerIndex":1)");
  EXPECT_EQ(job.at("spec").at("backoffLimit"), 2147483647);
}

TEST(JobValidation, PerIndexFieldsNeedIndexedMode) {
  Status st = Validate(R"("backoffLimitPerIndex":1,"maxFailedIndexes":1)");
  EXPECT_TRUE(HasCause(st, "spec.backoffLimitPerIndex", ": requires indexed completion mode"))
      << Dump(st);
  EXPECT_TRUE(HasCause(st, "spec.maxFailedIndexes", ": requires indexed completion mode"))
      << Dump(st);
  st = Validate(R"("completionMode":"Indexed","completions":3,"maxFailedIndexes":1)");
  EXPECT_TRUE(HasCause(st, "spec.backoffLimitPerIndex",
                       "Required value: when maxFailedIndexes is specified"))
      << Dump(st);
  st = Validate(
      R"("completionMode":"Indexed","completions":3,"backoffLimitPerIndex":0,"maxFailedIndexes":4)");
  EXPECT_TRUE(HasCause(st, "spec.maxFailedIndexes",
                       "Invalid value: 4: must be less than or equal to completions"))
      << Dump(st);
  st = Validate(R"("completionMode":"Indexed","completions":3,"podFailurePolicy":{"rules":[
      {"action":"FailIndex","onExitCodes":{"operator":"In","values":[3]}}]})");
  EXPECT_TRUE(HasCause(st, "spec.podFailurePolicy.rules[0].action",
                       "Invalid value: \"FailIndex\": requires the backoffLimitPerIndex to be set"))
      << Dump(st);
}

TEST(JobValidation, SuccessPolicyRules) {
  Status st = Validate(R"("completions":3,"successPolicy":{"rules":[{"succeededCount":1}]})");
  EXPECT_TRUE(HasCause(st, "spec.successPolicy", ": requires indexed completion mode")) << Dump(st);
  const std::string indexed = R"("completionMode":"Indexed","completions":3,)";
  st = Validate(indexed + R"("successPolicy":{"rules":[]})");
  EXPECT_TRUE(HasCause(st, "spec.successPolicy.rules",
                       "Required value: at least one rules must be specified when the "
                       "successPolicy is specified"))
      << Dump(st);
  st = Validate(indexed + R"("successPolicy":{"rules":[{}]})");
  EXPECT_TRUE(HasCause(st, "spec.successPolicy.rules[0]",
                       "Required value: at least one of succeededCount or succeededIndexes must "
                       "be specified"))
      << Dump(st);
  st = Validate(indexed + R"("successPolicy":{"rules":[{"succeededIndexes":"0,2-1"},
      {"succeededIndexes":"5"},{"succeededIndexes":"1,0"},{"succeededIndexes":"a"},
      {"succeededIndexes":"0-1-2"}]})");
  EXPECT_TRUE(HasCause(st, "spec.successPolicy.rules[0].succeededIndexes",
                       "error parsing succeededIndexes: non-increasing order, previous: 2, "
                       "current: 1"))
      << Dump(st);
  EXPECT_TRUE(HasCause(st, "spec.successPolicy.rules[1].succeededIndexes",
                       "error parsing succeededIndexes: too large index: \"5\""))
      << Dump(st);
  EXPECT_TRUE(HasCause(st, "spec.successPolicy.rules[2].succeededIndexes",
                       "error parsing succeededIndexes: non-increasing order, previous: 1, "
                       "current: 0"))
      << Dump(st);
  EXPECT_TRUE(HasCause(st, "spec.successPolicy.rules[3].succeededIndexes",
                       "error parsing succeededIndexes: cannot convert string to integer for "
                       "index: \"a\""))
      << Dump(st);
  EXPECT_TRUE(HasCause(st, "spec.successPolicy.rules[4].succeededIndexes",
                       "can have at most two parts separated by '-'"))
      << Dump(st);
  st = Validate(indexed + R"("successPolicy":{"rules":[{"succeededCount":4},
      {"succeededIndexes":"0-1","succeededCount":3},{"succeededCount":-1}]})");
  EXPECT_TRUE(HasCause(st, "spec.successPolicy.rules[0].succeededCount",
                       "Invalid value: 4: must be less than or equal to 3 (the number of "
                       "specified completions)"))
      << Dump(st);
  EXPECT_TRUE(HasCause(st, "spec.successPolicy.rules[1].succeededCount",
                       "Invalid value: 3: must be less than or equal to 2 (the number of indexes "
                       "in the specified succeededIndexes field)"))
      << Dump(st);
  EXPECT_FALSE(HasCause(st, "spec.successPolicy.rules[1].succeededCount",
                        "(the number of "
                        "specified completions)"));
  EXPECT_FALSE(st.causes().empty());
  EXPECT_TRUE(HasCause(st, "spec.successPolicy.rules[2].succeededCount",
                       "must be greater than or equal to 0"))
      << Dump(st);
}

TEST(JobValidation, SuccessPolicyIsImmutable) {
  const std::string base = R"("completionMode":"Indexed","completions":3,)";
  json::object old = Job(base + R"("successPolicy":{"rules":[{"succeededCount":1}]})");
  json::object changed = old;
  changed["spec"].as_object()["successPolicy"] = json::parse(R"({"rules":[{"succeededCount":2}]})");
  Status st = ValidateUpdate(JobKind(), changed, old);
  EXPECT_TRUE(HasCause(st, "spec.successPolicy", "field is immutable")) << Dump(st);
}

TEST(JobValidation, ManagedByIsADomainPrefixedPathAndImmutable) {
  EXPECT_TRUE(Validate(R"("managedBy":"kubernetes.io/job-controller")").ok());
  EXPECT_TRUE(Validate(R"("managedBy":"example.com/queue/v1")").ok());
  Status st = Validate(R"("managedBy":"no-slash")");
  EXPECT_TRUE(
      HasCause(st, "spec.managedBy", "must be a domain-prefixed path (such as \"acme.io/foo\")"))
      << Dump(st);
  st = Validate(R"("managedBy":"Bad_Host/x")");
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(st.causes().empty() || st.causes()[0].field != "spec.managedBy") << Dump(st);
  st = Validate(R"("managedBy":"example.com/a b")");
  EXPECT_TRUE(HasCause(st, "spec.managedBy", "=:]+')")) << Dump(st);
  st = Validate(R"("managedBy":"example.com/)" + std::string(60, 'a') + "\"");
  EXPECT_TRUE(HasCause(st, "spec.managedBy", "may not be more than 63 bytes")) << Dump(st);
  json::object old = Job(R"("managedBy":"example.com/queue")");
  json::object changed = old;
  changed["spec"].as_object()["managedBy"] = "kubernetes.io/job-controller";
  st = ValidateUpdate(JobKind(), changed, old);
  EXPECT_TRUE(HasCause(st, "spec.managedBy", "field is immutable")) << Dump(st);
  changed["spec"].as_object().erase("managedBy");
  EXPECT_FALSE(ValidateUpdate(JobKind(), changed, old).ok());
}

}  // namespace
}  // namespace sampan::api
