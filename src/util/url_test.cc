#include "util/url.h"

#include <gtest/gtest.h>

namespace sampan::url {
namespace {

TEST(UrlTest, EscapeKeepsUnreserved) {
  EXPECT_EQ(QueryEscape("a-b_c.d~e9"), "a-b_c.d~e9");
  EXPECT_EQ(QueryEscape("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
  EXPECT_EQ(QueryEscape("x y+\xff"), "x%20y%2B%FF");
}

TEST(UrlTest, UnescapeFormAndPath) {
  EXPECT_EQ(Unescape("a%2Fb+c", true), "a/b c");
  EXPECT_EQ(Unescape("a%2Fb+c", false), "a/b+c");
  EXPECT_EQ(Unescape("bad%zz%4", true), "bad%zz%4");  // malformed escapes stay
  EXPECT_EQ(Unescape("%41", false), "A");
}

TEST(UrlTest, SplitTargetKeepsRepeatedParameters) {
  std::string path;
  std::multimap<std::string, std::string, std::less<>> q;
  SplitTarget("/exec/ns/p%20o/c?command=sh&command=-c&command=echo+hi&tty&stdin=1", &path, &q);
  EXPECT_EQ(path, "/exec/ns/p o/c");
  auto [b, e] = q.equal_range("command");
  std::vector<std::string> cmd;
  for (auto it = b; it != e; ++it) cmd.push_back(it->second);
  EXPECT_EQ(cmd, (std::vector<std::string>{"sh", "-c", "echo hi"}));
  EXPECT_EQ(q.count("tty"), 1u);
  EXPECT_EQ(q.find("tty")->second, "");
  EXPECT_EQ(q.find("stdin")->second, "1");
}

}  // namespace
}  // namespace sampan::url
