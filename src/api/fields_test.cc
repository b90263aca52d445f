#include "api/fields.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sampan::api {
namespace {

TEST(FieldSelectorTest, ParseAndMatch) {
  auto obj =
      boost::json::parse(
          R"({"metadata":{"name":"web","namespace":"default"},"spec":{"nodeName":"n1","unschedulable":true},
                     "status":{"phase":"Running"}})")
          .as_object();
  auto match = [&](std::string_view text) {
    auto s = FieldSelector::Parse(text);
    EXPECT_TRUE(s.ok()) << text << ": " << s.status().ToString();
    return s.ok() && s->Matches(obj);
  };
  EXPECT_TRUE(match(""));
  EXPECT_TRUE(match("metadata.name=web"));
  EXPECT_TRUE(match("metadata.name==web"));
  EXPECT_FALSE(match("metadata.name=db"));
  EXPECT_TRUE(match("metadata.name=web,status.phase!=Pending"));
  EXPECT_FALSE(match("status.phase!=Running"));
  EXPECT_TRUE(match("spec.missing="));  // absent compares as ""
  EXPECT_FALSE(match("spec.missing!="));
  EXPECT_TRUE(match("spec.unschedulable=true"));
  EXPECT_TRUE(match("spec.nodeName=n1,"));  // empty terms are skipped
}

TEST(FieldSelectorTest, EscapesAndRequiredValue) {
  auto s = FieldSelector::Parse(R"(metadata.name=a\,b\=c\\d,spec.nodeName!=x)");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->terms().size(), 2u);
  EXPECT_EQ(s->terms()[0].value, R"(a,b=c\d)");
  EXPECT_FALSE(s->terms()[1].equals);
  ASSERT_NE(s->RequiredValue("metadata.name"), nullptr);
  EXPECT_EQ(*s->RequiredValue("metadata.name"), R"(a,b=c\d)");
  EXPECT_EQ(s->RequiredValue("spec.nodeName"), nullptr);  // != gives no fast path
}

TEST(FieldSelectorTest, Errors) {
  auto s = FieldSelector::Parse("metadata.name");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kBadRequest);
  EXPECT_EQ(s.status().message(),
            "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
  EXPECT_FALSE(FieldSelector::Parse("a=b=c").ok());
  EXPECT_FALSE(FieldSelector::Parse(R"(a=b\x)").ok());
  EXPECT_FALSE(FieldSelector::Parse("=x").ok());
}

}  // namespace
}  // namespace sampan::api
