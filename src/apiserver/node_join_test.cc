#include "apiserver/node_join.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "util/fs.h"

namespace sampan::apiserver {
namespace {

class NodeJoinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sampan-node-join-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto pki = EnsurePki(dir_ + "/tls", {});
    ASSERT_TRUE(pki.ok()) << pki.status().ToString();
    pki_ = *pki;
    auto ca = fs::ReadFile(pki_.ca_cert);
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_, ca_;
  TlsFiles pki_;
};

TEST_F(NodeJoinTest, TokenFormat) {
  NodeToken t{CaHash("pem"), "s3cret"};
  EXPECT_EQ(t.ca_hash.size(), 64u);
  std::string text = FormatNodeToken(t);
  EXPECT_EQ(text, "K10" + t.ca_hash + "::node:s3cret");
  auto back = ParseNodeToken(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->ca_hash, t.ca_hash);
  EXPECT_EQ(back->secret, "s3cret");
  EXPECT_TRUE(ParseNodeToken("K10" + t.ca_hash + "::server:x").ok());  // k3s' server tokens
  const std::vector<std::string> bads = {
      "", "s3cret", "K10abc::node:x", "K10" + t.ca_hash + "::node:", "K10" + t.ca_hash + "node:x"};
  for (const std::string& bad : bads) {
    EXPECT_FALSE(ParseNodeToken(bad).ok()) << bad;
  }
}

TEST_F(NodeJoinTest, TheTokenFileIsKeptAndFollowsTheSecretAndTheCa) {
  const std::string path = dir_ + "/node-token";
  auto first = EnsureNodeToken(path, ca_, "");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ParseNodeToken(*first)->ca_hash, CaHash(ca_));
  EXPECT_EQ(*EnsureNodeToken(path, ca_, ""), *first);  // kept
  auto given = EnsureNodeToken(path, ca_, "chosen");
  ASSERT_TRUE(given.ok());
  EXPECT_EQ(ParseNodeToken(*given)->secret, "chosen");
  EXPECT_EQ(*EnsureNodeToken(path, ca_, ""), *given);  // the flag's secret stays
  auto other_ca = EnsureNodeToken(path, "another CA", "");
  ASSERT_TRUE(other_ca.ok());
  EXPECT_EQ(ParseNodeToken(*other_ca)->ca_hash, CaHash("another CA"));
}

TEST_F(NodeJoinTest, CredentialsOnlyForTheToken) {
  auto token = EnsureNodeToken(dir_ + "/node-token", ca_, "");
  ASSERT_TRUE(token.ok());
  NodeJoin join(pki_, ca_, *token, dir_ + "/issued");
  NodeToken wrong = *ParseNodeToken(*token);
  wrong.secret += "x";
  EXPECT_EQ(join.Credentials(FormatNodeToken(wrong), "n1").status().code(), Code::kUnauthorized);
  NodeToken other_ca = *ParseNodeToken(*token);
  other_ca.ca_hash = CaHash("x");
  EXPECT_EQ(join.Credentials(FormatNodeToken(other_ca), "n1").status().code(), Code::kUnauthorized);
  EXPECT_EQ(join.Credentials("garbage", "n1").status().code(), Code::kUnauthorized);
  EXPECT_EQ(join.Credentials(*token, "Not_A_Name").status().code(), Code::kInvalid);
  auto creds = join.Credentials(*token, "n1");
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_EQ(creds->at("ca").as_string(), ca_);
  EXPECT_NE(std::string(creds->at("certificate").as_string()).find("BEGIN CERTIFICATE"),
            std::string::npos);
  EXPECT_NE(std::string(creds->at("key").as_string()).find("PRIVATE KEY"), std::string::npos);
  // Nothing is left behind in the scratch folder.
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/issued"));
}

}  // namespace
}  // namespace sampan::apiserver
