#include "image/registry_config.h"

#include <gtest/gtest.h>

#include "image/registry_client.h"

namespace sampan::image {
namespace {

TEST(RegistryConfigTest, DefaultEndpoints) {
  RegistryConfig c;
  auto eps = EndpointsFor(c, *ParseReference("busybox"));
  ASSERT_TRUE(eps.ok());
  ASSERT_EQ(eps->size(), 1u);
  EXPECT_EQ((*eps)[0].base.String(), "https://registry-1.docker.io/");
  EXPECT_EQ((*eps)[0].path, "library/busybox");
  eps = EndpointsFor(c, *ParseReference("127.0.0.1:5000/kubia:v1"));
  EXPECT_EQ((*eps)[0].base.String(), "http://127.0.0.1:5000/");
  eps = EndpointsFor(c, *ParseReference("localhost:5000/kubia:v1"));
  EXPECT_EQ((*eps)[0].base.scheme, "http");
  eps = EndpointsFor(c, *ParseReference("quay.io/a/b"));
  EXPECT_EQ((*eps)[0].base.String(), "https://quay.io/");
}

TEST(RegistryConfigTest, MirrorsRewritesAndAuth) {
  auto c = RegistryConfig::Parse(R"Y(
mirrors:
  docker.io:
    endpoint: ["http://127.0.0.1:5000/v2", "mirror.example.com:8443"]
    rewrite:
      "^library/(.*)": "mirrored/$1"
  "*":
    endpoint: ["https://fallback.example.com"]
configs:
  "127.0.0.1:5000":
    auth: {auth: "dXNlcjpwYXNz"}
  "mirror.example.com:8443":
    auth: {username: u2, password: p2}
    tls: {insecure_skip_verify: true}
insecure: ["plain.example.com"]
)Y");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto eps = EndpointsFor(*c, *ParseReference("busybox:1.35"));
  ASSERT_TRUE(eps.ok()) << eps.status().ToString();
  ASSERT_EQ(eps->size(), 3u);
  EXPECT_EQ((*eps)[0].base.String(), "http://127.0.0.1:5000/");
  EXPECT_EQ((*eps)[0].path, "mirrored/busybox");
  EXPECT_TRUE((*eps)[0].is_mirror);
  EXPECT_EQ((*eps)[0].ns, "docker.io");
  EXPECT_EQ((*eps)[0].host_config.auth.username, "user");
  EXPECT_EQ((*eps)[0].host_config.auth.password, "pass");
  EXPECT_EQ((*eps)[1].base.String(), "https://mirror.example.com:8443/");
  EXPECT_TRUE((*eps)[1].host_config.tls.insecure_skip_verify);
  EXPECT_EQ((*eps)[2].base.String(), "https://registry-1.docker.io/");
  EXPECT_EQ((*eps)[2].path, "library/busybox");  // no rewrite for the default endpoint
  // "*" covers unlisted registries.
  eps = EndpointsFor(*c, *ParseReference("quay.io/a/b"));
  ASSERT_EQ(eps->size(), 2u);
  EXPECT_EQ((*eps)[0].base.HostPort(), "fallback.example.com");
  // Configured insecure hosts use http.
  eps = EndpointsFor(*c, *ParseReference("plain.example.com/x"));
  EXPECT_EQ(eps->back().base.scheme, "http");
}

TEST(RegistryConfigTest, DisableDefaultAndErrors) {
  auto c = RegistryConfig::Parse(
      "mirrors:\n  docker.io:\n    endpoint: [\"http://127.0.0.1:1\"]\n"
      "disable_default_endpoint: true\n");
  ASSERT_TRUE(c.ok());
  auto eps = EndpointsFor(*c, *ParseReference("busybox"));
  ASSERT_EQ(eps->size(), 1u);
  EXPECT_FALSE(RegistryConfig::Parse("mirrors: [").ok());
  EXPECT_FALSE(RegistryConfig::Parse("mirrors:\n  x:\n    rewrite: {\"(\": \"y\"}\n").ok());
  EXPECT_TRUE(RegistryConfig::Load("/nonexistent/registries.yaml").ok());
}

TEST(RegistryClientTest, ParsesChallenges) {
  auto c = ParseChallenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
  EXPECT_EQ(c.scheme, "bearer");
  EXPECT_EQ(c.params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(c.params["service"], "registry.docker.io");
  EXPECT_EQ(c.params["scope"], "repository:library/busybox:pull");
  c = ParseChallenge(R"(Basic realm="Registry Realm")");
  EXPECT_EQ(c.scheme, "basic");
  EXPECT_EQ(c.params["realm"], "Registry Realm");
}

TEST(RegistryClientTest, ErrorMapping) {
  HttpResponse r;
  r.status = 404;
  r.body = R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})";
  Status st = RegistryError(r, "manifest x");
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_NE(st.message().find("MANIFEST_UNKNOWN"), std::string::npos);
  r.status = 401;
  EXPECT_EQ(RegistryError(r, "x").code(), Code::kUnauthorized);
}

TEST(HttpClientTest, Urls) {
  auto u = ParseUrl("https://r.example.com:5000/v2/x?y=1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "r.example.com");
  EXPECT_EQ(u->port, "5000");
  EXPECT_EQ(u->target, "/v2/x?y=1");
  EXPECT_EQ(ResolveUrl(*u, "/blobs/z")->String(), "https://r.example.com:5000/blobs/z");
  EXPECT_EQ(ResolveUrl(*u, "http://s3/a")->String(), "http://s3/a");
  EXPECT_EQ(ParseUrl("http://[::1]:80/")->HostPort(), "[::1]");
  EXPECT_FALSE(ParseUrl("ftp://x").ok());
  EXPECT_EQ(QueryEscape("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
}

}  // namespace
}  // namespace sampan::image
