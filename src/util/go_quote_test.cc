#include "util/go_quote.h"

#include <gtest/gtest.h>

namespace sampan {
namespace {

TEST(GoQuote, MatchesStrconvQuote) {
  EXPECT_EQ(GoQuote("plain"), "\"plain\"");
  EXPECT_EQ(GoQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(GoQuote("\t\n\r\a\b\f\v"), "\"\\t\\n\\r\\a\\b\\f\\v\"");
  EXPECT_EQ(GoQuote(std::string("\x01\x7f", 2)), "\"\\x01\\x7f\"");
  EXPECT_EQ(GoQuote("h\xc3\xa9llo"), "\"h\xc3\xa9llo\"");  // printable UTF-8 kept
  EXPECT_EQ(GoQuote("\xff"), "\"\\xff\"");                 // invalid UTF-8
  EXPECT_EQ(GoQuote("\xc2\xa0"), "\"\\u00a0\"");           // no-break space
  EXPECT_EQ(GoQuote("\xe2\x80\xa8"), "\"\\u2028\"");
}

TEST(GoQuote, ListsAsGoPrintsAStringSlice) {
  EXPECT_EQ(GoQuoteList({}), "[]");
  EXPECT_EQ(GoQuoteList({"system:authenticated", "a\"b"}), "[\"system:authenticated\" \"a\\\"b\"]");
}

}  // namespace
}  // namespace sampan
