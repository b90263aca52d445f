#include "api/labels.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sampan::api {
namespace {

using Labels = std::map<std::string, std::string, std::less<>>;

bool Match(std::string_view sel, const Labels& labels) {
  auto s = LabelSelector::Parse(sel);
  EXPECT_TRUE(s.ok()) << sel << ": " << s.status().ToString();
  return s.ok() && s->Matches(labels);
}

std::string ParseError(std::string_view sel) {
  auto s = LabelSelector::Parse(sel);
  if (s.ok()) return "OK";
  EXPECT_EQ(s.status().code(), Code::kBadRequest);
  return s.status().message();
}

TEST(LabelSelectorTest, Operators) {
  Labels l{{"app", "web"}, {"tier", "fe"}, {"n", "5"}};
  EXPECT_TRUE(Match("", l));
  EXPECT_TRUE(Match("app=web", l));
  EXPECT_TRUE(Match("app==web", l));
  EXPECT_FALSE(Match("app=db", l));
  EXPECT_TRUE(Match("app!=db", l));
  EXPECT_TRUE(Match("missing!=x", l));  // != also matches objects without the key
  EXPECT_FALSE(Match("app!=web", l));
  EXPECT_TRUE(Match("tier in (fe,be)", l));
  EXPECT_FALSE(Match("tier in (be)", l));
  EXPECT_FALSE(Match("missing in (a)", l));
  EXPECT_TRUE(Match("tier notin (be)", l));
  EXPECT_TRUE(Match("missing notin (be)", l));
  EXPECT_FALSE(Match("tier notin (fe)", l));
  EXPECT_TRUE(Match("app", l));
  EXPECT_FALSE(Match("missing", l));
  EXPECT_TRUE(Match("!missing", l));
  EXPECT_FALSE(Match("!app", l));
  EXPECT_TRUE(Match("n>4", l));
  EXPECT_FALSE(Match("n>5", l));
  EXPECT_TRUE(Match("n<6", l));
  EXPECT_FALSE(Match("app>1", l));  // not an integer label value: no match
  EXPECT_TRUE(Match("app=web,tier in (fe),!x,n", l));
  EXPECT_FALSE(Match("app=web,tier=be", l));
  EXPECT_TRUE(Match("  app = web ,  tier   in(fe , be)  ", l));
  EXPECT_TRUE(Match("empty=", Labels{{"empty", ""}}));
  EXPECT_TRUE(Match("x in (,a)", Labels{{"x", ""}}));
  EXPECT_TRUE(Match("example.com/role=db", Labels{{"example.com/role", "db"}}));
  // Values may be the words in/notin; keys may not.
  EXPECT_TRUE(Match("k in (in, notin)", Labels{{"k", "notin"}}));
}

TEST(LabelSelectorTest, SyntaxErrors) {
  EXPECT_EQ(ParseError("a b"), "found 'b', expected: in, notin, =, ==, !=, gt, lt");
  EXPECT_EQ(ParseError("a=b,"), "found 'end of string', expected: identifier after ','");
  EXPECT_EQ(ParseError(",a"), "found ',', expected: !, identifier, or 'end of string'");
  EXPECT_EQ(ParseError("a in b"), "found 'b', expected: '('");
  EXPECT_EQ(ParseError("a in (b"), "found 'end of string', expected: ',' or ')'");
  EXPECT_EQ(ParseError("a in (b c)"), "found 'c', expected: ',' or ')'");
  EXPECT_EQ(ParseError("a=(b)"), "found '(', expected: identifier");
  EXPECT_EQ(ParseError("a=b c"), "found 'c', expected: ',' or 'end of string'");
  EXPECT_EQ(ParseError("!"), "found 'end of string', expected: identifier");
  EXPECT_EQ(ParseError("!a=b"), "found '=', expected: ',' or 'end of string'");
  EXPECT_EQ(ParseError("a,,b"), "found ',', expected: identifier after ','");
  EXPECT_EQ(ParseError("in in (a)"), "found 'in', expected: !, identifier, or 'end of string'");
}

TEST(LabelSelectorTest, ValidationErrors) {
  EXPECT_NE(ParseError("a in ()").find("values set can't be empty"), std::string::npos);
  EXPECT_NE(ParseError("a>b").find("the value must be an integer"), std::string::npos);
  std::string bad_value = ParseError("a=\"b\"");
  EXPECT_NE(bad_value.find("unable to parse requirement: values[0][a]: Invalid value: \"\"b\"\""),
            std::string::npos)
      << bad_value;
  EXPECT_NE(bad_value.find("a valid label must be an empty string"), std::string::npos);
  std::string bad_key = ParseError("-a=b");
  EXPECT_NE(bad_key.find("key: Invalid value: \"-a\": name part must consist of"),
            std::string::npos)
      << bad_key;
  EXPECT_NE(ParseError("a=" + std::string(64, 'x')).find("must be no more than 63 characters"),
            std::string::npos);
  EXPECT_NE(ParseError("/a").find("prefix part must be non-empty"), std::string::npos);
}

TEST(LabelSelectorTest, CanonicalString) {
  auto s = LabelSelector::Parse("tier in (fe,be),app==web,!x,n>3, y notin (b,a,b)");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->ToString(), "app=web,n>3,tier in (be,fe),!x,y notin (a,b)");
  auto again = LabelSelector::Parse(s->ToString());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ToString(), s->ToString());
  EXPECT_TRUE(LabelSelector::Parse("")->empty());
}

TEST(LabelSelectorTest, FromJson) {
  auto v = boost::json::parse(R"({"matchLabels":{"app":"web"},
      "matchExpressions":[{"key":"tier","operator":"In","values":["fe","be"]},
                          {"key":"canary","operator":"DoesNotExist"}]})");
  auto s = LabelSelector::FromJson(v);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->ToString(), "app=web,!canary,tier in (be,fe)");
  boost::json::value labels = boost::json::parse(R"({"app":"web","tier":"fe"})");
  EXPECT_TRUE(s->Matches(&labels));
  labels.as_object()["canary"] = "1";
  EXPECT_FALSE(s->Matches(&labels));
  EXPECT_FALSE(s->Matches(nullptr));  // no labels: app=web fails

  auto empty = LabelSelector::FromJson(boost::json::parse("{}"));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->Matches(nullptr));

  for (const char* bad :
       {R"({"matchExpressions":[{"key":"a","operator":"Equals","values":["x"]}]})",
        R"({"matchExpressions":[{"key":"a","operator":"In"}]})",
        R"({"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]})",
        R"({"matchLabels":{"a":"b c"}})", R"({"matchLabel":{}})", "[]"}) {
    EXPECT_FALSE(LabelSelector::FromJson(boost::json::parse(bad)).ok()) << bad;
  }
}

}  // namespace
}  // namespace sampan::api
