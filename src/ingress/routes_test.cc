#include "ingress/routes.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>

#include "util/base64.h"

namespace sampan::ingress {
namespace {

namespace json = boost::json;
using client::ObjectPtr;

ObjectPtr Parse(const std::string& text) {
  return std::make_shared<const json::object>(json::parse(text).as_object());
}

ObjectPtr Class(const std::string& name, const std::string& controller, bool is_default) {
  return Parse(R"({"metadata":{"name":")" + name +
               R"(","annotations":{"ingressclass.kubernetes.io/is-default-class":")" +
               (is_default ? "true" : "false") + R"("}},"spec":{"controller":")" + controller +
               R"("}})");
}

ObjectPtr Service(const std::string& ns, const std::string& name, const std::string& ip,
                  const std::string& ports = R"([{"name":"http","port":80,"protocol":"TCP"}])") {
  return Parse(R"({"metadata":{"namespace":")" + ns + R"(","name":")" + name +
               R"("},"spec":{"clusterIP":")" + ip + R"(","ports":)" + ports + "}}");
}

// An Ingress with `spec` (JSON text of its spec), created at `created`.
ObjectPtr Ingress(const std::string& ns, const std::string& name, const std::string& spec,
                  const std::string& created = "2026-01-01T00:00:00Z",
                  const std::string& annotations = "{}") {
  return Parse(R"({"metadata":{"namespace":")" + ns + R"(","name":")" + name +
               R"(","creationTimestamp":")" + created + R"(","annotations":)" + annotations +
               R"(},"spec":)" + spec + "}");
}

std::string Backend(const std::string& svc, const std::string& port = R"({"number":80})") {
  return R"({"service":{"name":")" + svc + R"(","port":)" + port + "}}";
}

std::string Rule(const std::string& host, const std::string& paths) {
  return R"({"host":")" + host + R"(","http":{"paths":[)" + paths + "]}}";
}

std::string PathTo(const std::string& path, const std::string& type, const std::string& svc) {
  return R"({"path":")" + path + R"(","pathType":")" + type + R"(","backend":)" + Backend(svc) +
         "}";
}

std::string Where(const Decision& d) {
  if (d.status != 0) return std::to_string(d.status);
  return d.upstream.ip + ":" + std::to_string(d.upstream.port);
}

TEST(IngressMatchTest, HostsAndPrefixes) {
  EXPECT_TRUE(HostMatches("", "anything"));
  EXPECT_TRUE(HostMatches("foo.example.com", "foo.example.com"));
  EXPECT_TRUE(HostMatches("*.example.com", "foo.example.com"));
  EXPECT_FALSE(HostMatches("*.example.com", "example.com"));
  EXPECT_FALSE(HostMatches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(HostMatches("*.example.com", "fooexample.com"));
  EXPECT_TRUE(PrefixMatches("/", "/x"));
  EXPECT_TRUE(PrefixMatches("/foo", "/foo"));
  EXPECT_TRUE(PrefixMatches("/foo", "/foo/"));
  EXPECT_TRUE(PrefixMatches("/foo/", "/foo/bar"));
  EXPECT_TRUE(PrefixMatches("/foo/", "/foo"));
  EXPECT_FALSE(PrefixMatches("/foo", "/foobar"));
  EXPECT_FALSE(PrefixMatches("/foo/bar", "/foo"));
}

TEST(IngressClassTest, OursByNameAnnotationOrDefault) {
  std::vector<ObjectPtr> classes = {Class("sampan", kControllerName, true),
                                    Class("nginx", "k8s.io/ingress-nginx", false)};
  EXPECT_TRUE(IsOurs(*Ingress("d", "a", R"({"ingressClassName":"sampan"})"), classes));
  EXPECT_FALSE(IsOurs(*Ingress("d", "b", R"({"ingressClassName":"nginx"})"), classes));
  EXPECT_FALSE(IsOurs(*Ingress("d", "c", R"({"ingressClassName":"missing"})"), classes));
  EXPECT_TRUE(IsOurs(*Ingress("d", "e", "{}"), classes));  // no class: the default's
  EXPECT_TRUE(IsOurs(*Ingress("d", "f", "{}", "2026-01-01T00:00:00Z",
                              R"({"kubernetes.io/ingress.class":"sampan"})"),
                     classes));
  EXPECT_FALSE(IsOurs(*Ingress("d", "g", "{}", "2026-01-01T00:00:00Z",
                               R"({"kubernetes.io/ingress.class":"nginx"})"),
                      classes));
  // Not the default any more: Ingresses without a class belong to no one.
  classes[0] = Class("sampan", kControllerName, false);
  EXPECT_FALSE(IsOurs(*Ingress("d", "e", "{}"), classes));
}

TEST(RouteTableTest, KubernetesPrecedence) {
  std::vector<ObjectPtr> classes = {Class("sampan", kControllerName, true)};
  std::vector<ObjectPtr> services = {
      Service("d", "exact", "10.43.0.11"),
      Service("d", "wild", "10.43.0.12"),
      Service("d", "any", "10.43.0.13"),
      Service("d", "api", "10.43.0.14"),
      Service("d", "apix", "10.43.0.15"),
      Service("d", "named", "10.43.0.16", R"([{"name":"web","port":8080}])"),
      Service("d", "headless", "None"),
      Service("other", "api", "10.43.0.99")};
  auto ing1 = Ingress("d", "one",
                      R"({"rules":[)" +
                          Rule("Foo.Example.com", PathTo("/", "Prefix", "exact") + "," +
                                                      PathTo("/api", "Prefix", "api") + "," +
                                                      PathTo("/api", "Exact", "apix")) +
                          "," + Rule("*.example.com", PathTo("/", "Prefix", "wild")) + "," +
                          Rule("", PathTo("/any/", "ImplementationSpecific", "any")) + "]}");
  auto ing2 = Ingress("d", "two",
                      R"({"defaultBackend":)" + Backend("named", R"({"name":"web"})") +
                          R"(,"rules":[)" + Rule("foo.example.com", PathTo("/", "Prefix", "any")) +
                          "," + Rule("h.example.org", PathTo("/", "Prefix", "headless")) + "," +
                          Rule("m.example.org", PathTo("/", "Prefix", "missing")) + "]}",
                      "2026-01-02T00:00:00Z");
  auto other = Ingress(
      "d", "other-class",
      R"({"ingressClassName":"nginx","rules":[)" + Rule("", PathTo("/", "Prefix", "api")) + "]}");
  auto table = RouteTable::Build({ing2, other, ing1}, classes, services, {});
  EXPECT_EQ(Where(table->Route("foo.example.com", "/")), "10.43.0.11:80");
  EXPECT_EQ(Where(table->Route("foo.example.com", "/api")), "10.43.0.15:80");     // Exact wins
  EXPECT_EQ(Where(table->Route("foo.example.com", "/api/v1")), "10.43.0.14:80");  // longest
  EXPECT_EQ(Where(table->Route("foo.example.com", "/apiv1")), "10.43.0.11:80");   // elements
  EXPECT_EQ(Where(table->Route("bar.example.com", "/x")), "10.43.0.12:80");       // wildcard
  // A host whose own rules have no matching path falls through to the rules for any host.
  EXPECT_EQ(Where(table->Route("a.b.example.com", "/any/thing")), "10.43.0.13:80");
  // Nothing matches: the (older Ingress's) default backend by port name.
  EXPECT_EQ(Where(table->Route("nowhere.org", "/x")), "10.43.0.16:8080");
  EXPECT_EQ(Where(table->Route("h.example.org", "/")), "503");
  Decision missing = table->Route("m.example.org", "/");
  EXPECT_EQ(missing.status, 503);
  EXPECT_NE(missing.body.find("service d/missing not found"), std::string::npos) << missing.body;

  // Without a default backend: 404.
  auto plain = RouteTable::Build({ing1}, classes, services, {});
  Decision none = plain->Route("nowhere.org", "/x");
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(none.body, "404 page not found\n");
}

TEST(RouteTableTest, CertificatesBySecret) {
  std::vector<ObjectPtr> classes = {Class("sampan", kControllerName, true)};
  auto secret = Parse(R"({"metadata":{"namespace":"d","name":"tls"},"type":"kubernetes.io/tls",
    "data":{"tls.crt":")" +
                      Base64Encode("CERT") + R"(","tls.key":")" + Base64Encode("KEY") + R"("}})");
  auto ing = Ingress("d", "secure",
                     R"({"tls":[{"hosts":["*.example.com"],"secretName":"tls"},
                                {"secretName":"tls"},{"hosts":["x.org"],"secretName":"gone"}],
                         "rules":[)" +
                         Rule("rules.example.org", PathTo("/", "Prefix", "s")) + "]}");
  auto table = RouteTable::Build({ing}, classes, {}, {secret});
  auto c = table->CertificateFor("a.example.com");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->cert_pem, "CERT");
  EXPECT_EQ(c->key_pem, "KEY");
  EXPECT_NE(table->CertificateFor("rules.example.org"), nullptr);  // the rules' hosts
  EXPECT_EQ(table->CertificateFor("a.b.example.com"), nullptr);
  EXPECT_EQ(table->CertificateFor("x.org"), nullptr);
  ASSERT_EQ(table->warnings().size(), 1u);
  EXPECT_NE(table->warnings()[0].find("TLS secret d/gone not found"), std::string::npos);
}

}  // namespace
}  // namespace sampan::ingress
