#include "agent/service_proxy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>

namespace sampan::agent {
namespace {

namespace json = boost::json;

client::ObjectPtr Obj(const char* text) {
  return std::make_shared<const json::object>(json::parse(text).as_object());
}

TEST(ServiceRulesTest, ReadyEndpointsOfEachPortByName) {
  auto web = Obj(R"({"metadata":{"namespace":"ns","name":"web"},
    "spec":{"type":"NodePort","clusterIP":"10.43.1.5","ports":[
      {"name":"http","port":80,"protocol":"TCP","nodePort":30080},
      {"name":"dns","port":53,"protocol":"UDP"}]}})");
  auto slice_a = Obj(R"({"metadata":{"namespace":"ns","name":"web-a",
      "labels":{"kubernetes.io/service-name":"web"}},
    "addressType":"IPv4",
    "ports":[{"name":"http","port":8080,"protocol":"TCP"},{"name":"dns","port":5353,"protocol":"UDP"}],
    "endpoints":[
      {"addresses":["10.244.1.3"],"conditions":{"ready":true}},
      {"addresses":["10.244.1.9"],"conditions":{"ready":false}},
      {"addresses":["10.244.1.4"]}]})");
  // Another service's slice, and one of the same name in another namespace: not ours.
  auto other = Obj(R"({"metadata":{"namespace":"ns","name":"db-a",
      "labels":{"kubernetes.io/service-name":"db"}},"addressType":"IPv4",
    "ports":[{"name":"http","port":1,"protocol":"TCP"}],"endpoints":[{"addresses":["10.244.1.7"]}]})");
  auto elsewhere = Obj(R"({"metadata":{"namespace":"other","name":"web-x",
      "labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",
    "ports":[{"name":"http","port":1,"protocol":"TCP"}],"endpoints":[{"addresses":["10.244.1.8"]}]})");
  auto rules = ServiceRules({web}, {slice_a, other, elsewhere});
  ASSERT_EQ(rules.size(), 2u);
  const net::ServicePortRule& dns = rules[0];  // sorted by name: ns/web/dns, ns/web/http
  const net::ServicePortRule& http = rules[1];
  EXPECT_EQ(dns.name, "ns/web/dns");
  EXPECT_EQ(dns.protocol, "UDP");
  EXPECT_EQ(dns.node_port, 0);
  ASSERT_EQ(dns.endpoints.size(), 2u);
  EXPECT_EQ(dns.endpoints[0].port, 5353);
  EXPECT_EQ(http.name, "ns/web/http");
  EXPECT_EQ(http.cluster_ip, *net::ParseIpv4("10.43.1.5"));
  EXPECT_EQ(http.port, 80);
  EXPECT_EQ(http.node_port, 30080);
  ASSERT_EQ(http.endpoints.size(), 2u);  // the unready one is left out
  EXPECT_EQ(net::FormatIpv4(http.endpoints[0].ip), "10.244.1.3");
  EXPECT_EQ(net::FormatIpv4(http.endpoints[1].ip), "10.244.1.4");
  EXPECT_EQ(http.endpoints[0].port, 8080);
}

TEST(ServiceRulesTest, HeadlessAndExternalNameServicesHaveNoRules) {
  auto headless = Obj(R"({"metadata":{"namespace":"ns","name":"h"},
    "spec":{"clusterIP":"None","ports":[{"port":80}]}})");
  auto ext = Obj(R"({"metadata":{"namespace":"ns","name":"e"},
    "spec":{"type":"ExternalName","externalName":"x.example.com"}})");
  EXPECT_TRUE(ServiceRules({headless, ext}, {}).empty());
}

TEST(ServiceRulesTest, AServiceWithoutEndpointsStillHasItsRule) {
  auto svc = Obj(R"({"metadata":{"namespace":"ns","name":"s"},
    "spec":{"clusterIP":"10.43.2.2","ports":[{"port":80,"protocol":"TCP"}]}})");
  auto rules = ServiceRules({svc}, {});
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_TRUE(rules[0].endpoints.empty());  // rendered as a refusal
  EXPECT_NE(net::RenderServicesScript(rules).find("10.43.2.2 . tcp . 80 : goto reject-chain"),
            std::string::npos);
}

TEST(NodeRoutesTest, OtherNodesPodRangesViaTheirInternalIps) {
  auto self = Obj(R"({"metadata":{"name":"a"},"spec":{"podCIDR":"10.244.0.0/24"},
    "status":{"addresses":[{"type":"InternalIP","address":"192.168.200.2"}]}})");
  auto b = Obj(R"({"metadata":{"name":"b"},"spec":{"podCIDR":"10.244.2.0/24"},
    "status":{"addresses":[{"type":"Hostname","address":"b"},
                           {"type":"InternalIP","address":"192.168.200.3"}]}})");
  auto no_cidr = Obj(R"({"metadata":{"name":"c"},"spec":{},
    "status":{"addresses":[{"type":"InternalIP","address":"192.168.200.4"}]}})");
  auto no_ip = Obj(R"({"metadata":{"name":"d"},"spec":{"podCIDR":"10.244.3.0/24"},"status":{}})");
  auto routes = NodeRoutes({self, b, no_cidr, no_ip}, "a");
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].first.ToString(), "10.244.2.0/24");
  EXPECT_EQ(net::FormatIpv4(routes[0].second), "192.168.200.3");
}

// External and load-balancer addresses, traffic policies, source ranges and session affinity
// reach the rules, and the rendered table sends each kind of destination to its chain.
TEST(ServiceRulesTest, ExternalAddressesPoliciesAndAffinity) {
  auto svc = Obj(R"({"metadata":{"namespace":"ns","name":"lb"},
    "spec":{"type":"LoadBalancer","clusterIP":"10.43.3.3","externalIPs":["198.51.100.7"],
      "externalTrafficPolicy":"Local","internalTrafficPolicy":"Cluster",
      "loadBalancerSourceRanges":["192.168.200.0/24", " 10.1.2.3/8"],
      "sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":60}},
      "ports":[{"name":"http","port":80,"protocol":"TCP","nodePort":30080}]},
    "status":{"loadBalancer":{"ingress":[{"ip":"192.168.200.11","ipMode":"VIP"},
                                         {"ip":"192.168.200.12","ipMode":"Proxy"}]}}})");
  auto slice = Obj(R"({"metadata":{"namespace":"ns","name":"lb-a",
      "labels":{"kubernetes.io/service-name":"lb"}},"addressType":"IPv4",
    "ports":[{"name":"http","port":8080,"protocol":"TCP"}],
    "endpoints":[{"addresses":["10.244.1.3"],"nodeName":"n1"},
                 {"addresses":["10.244.2.3"],"nodeName":"n2"}]})");
  auto rules = ServiceRules({svc}, {slice}, "n1");
  ASSERT_EQ(rules.size(), 1u);
  const net::ServicePortRule& r = rules[0];
  EXPECT_EQ(r.external_ips, std::vector<uint32_t>{*net::ParseIpv4("198.51.100.7")});
  // The Proxy-mode address is the load balancer's business, not the node's.
  EXPECT_EQ(r.load_balancer_ips, std::vector<uint32_t>{*net::ParseIpv4("192.168.200.11")});
  ASSERT_EQ(r.source_ranges.size(), 2u);
  EXPECT_EQ(r.source_ranges[1].ToString(), "10.0.0.0/8");  // host bits allowed, as the API does
  EXPECT_TRUE(r.external_local);
  EXPECT_FALSE(r.internal_local);
  EXPECT_EQ(r.affinity_seconds, 60);
  ASSERT_EQ(r.endpoints.size(), 2u);
  EXPECT_TRUE(r.endpoints[0].local);
  EXPECT_FALSE(r.endpoints[1].local);

  std::string script = net::RenderServicesScript(rules, *net::ParseCidr("10.244.0.0/16"));
  auto has = [&](const std::string& text) { return script.find(text) != std::string::npos; };
  EXPECT_TRUE(has("10.43.3.3 . tcp . 80 : goto svc-0,")) << script;
  EXPECT_TRUE(has("198.51.100.7 . tcp . 80 : goto svc-0-ext")) << script;
  EXPECT_TRUE(has("192.168.200.11 . tcp . 80 : goto svc-0-fw")) << script;
  EXPECT_TRUE(has("tcp . 30080 : goto svc-0-ext")) << script;
  EXPECT_TRUE(has("ip saddr { 192.168.200.0/24, 10.0.0.0/8 } goto svc-0-ext")) << script;
  EXPECT_TRUE(has("ip saddr 10.244.0.0/16 goto svc-0\n")) << script;
  EXPECT_TRUE(has("fib saddr type local goto svc-0\n")) << script;
  // The local chain picks this node's endpoint only, without masquerade.
  EXPECT_TRUE(
      has("chain svc-0-local {\n\t\tip saddr @svc-0-ep-0-clients goto svc-0-ep-0\n"
          "\t\tgoto svc-0-ep-0"))
      << script;
  EXPECT_TRUE(has("timeout 60s")) << script;
  EXPECT_TRUE(has("update @svc-0-ep-1-clients { ip saddr }")) << script;

  // Without an endpoint on this node the local chain drops; without endpoints at all every
  // address refuses.
  auto elsewhere = ServiceRules({svc}, {slice}, "n3");
  script = net::RenderServicesScript(elsewhere);
  EXPECT_TRUE(has("chain svc-0-local {\n\t\tdrop")) << script;
  script = net::RenderServicesScript(ServiceRules({svc}, {}, "n1"));
  EXPECT_TRUE(has("198.51.100.7 . tcp . 80 : goto reject-chain")) << script;
  EXPECT_TRUE(has("192.168.200.11 . tcp . 80 : goto reject-chain")) << script;
}

TEST(ServiceRulesTest, InternalTrafficPolicyLocal) {
  auto svc = Obj(R"({"metadata":{"namespace":"ns","name":"s"},
    "spec":{"clusterIP":"10.43.4.4","internalTrafficPolicy":"Local",
      "ports":[{"port":53,"protocol":"UDP"}]}})");
  auto slice = Obj(R"({"metadata":{"namespace":"ns","name":"s-a",
      "labels":{"kubernetes.io/service-name":"s"}},"addressType":"IPv4",
    "ports":[{"port":5353,"protocol":"UDP"}],
    "endpoints":[{"addresses":["10.244.1.3"],"nodeName":"n1"},
                 {"addresses":["10.244.1.4"],"nodeName":"n1"},
                 {"addresses":["10.244.2.3"],"nodeName":"n2"}]})");
  std::string script = net::RenderServicesScript(ServiceRules({svc}, {slice}, "n1"));
  EXPECT_NE(script.find("10.43.4.4 . udp . 53 : goto svc-0-int"), std::string::npos) << script;
  EXPECT_NE(script.find("chain svc-0-int {\n\t\tjump mark-for-masquerade\n\t\tnumgen random mod 2 "
                        "vmap { 0 : goto svc-0-ep-0, 1 : goto svc-0-ep-1 }"),
            std::string::npos)
      << script;
}

TEST(HealthChecksTest, LocalLoadBalancersWithTheirLocalEndpoints) {
  auto local = Obj(R"({"metadata":{"namespace":"ns","name":"web"},
    "spec":{"type":"LoadBalancer","externalTrafficPolicy":"Local","healthCheckNodePort":32001,
      "clusterIP":"10.43.5.5","ports":[{"port":80}]}})");
  auto cluster = Obj(R"({"metadata":{"namespace":"ns","name":"other"},
    "spec":{"type":"LoadBalancer","externalTrafficPolicy":"Cluster","clusterIP":"10.43.5.6",
      "ports":[{"port":81}]}})");
  auto slice = Obj(R"({"metadata":{"namespace":"ns","name":"web-a",
      "labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",
    "endpoints":[{"addresses":["10.244.1.3"],"nodeName":"n1"},
                 {"addresses":["10.244.1.4"],"nodeName":"n1","conditions":{"ready":false}},
                 {"addresses":["10.244.2.3"],"nodeName":"n2"}]})");
  auto checks = HealthChecks({local, cluster}, {slice}, "n1");
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[32001], (ServiceHealth{"ns", "web", 1}));
  EXPECT_EQ(HealthChecks({local}, {slice}, "n3")[32001].local_endpoints, 0);
}

// The health server on a real socket: 200 with local endpoints, 503 without, ports closed
// when the Service goes.
TEST(ServiceHealthServerTest, AnswersPerPort) {
  // Two free ports on 127.0.0.1.
  auto free_port = [] {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    socklen_t len = sizeof sa;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    ::close(fd);
    return static_cast<int>(ntohs(sa.sin_port));
  };
  auto get = [](int port) -> std::string {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      ::close(fd);
      return "refused";
    }
    std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    std::string out;
    char buf[1024];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
  };
  const int a = free_port(), b = free_port();
  ServiceHealthServer server("127.0.0.1");
  ASSERT_TRUE(server.Sync({{a, {"ns", "web", 2}}, {b, {"ns", "idle", 0}}}).ok());
  std::string ok = get(a);
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("X-Load-Balancing-Endpoint-Weight: 2\r\n"), std::string::npos) << ok;
  EXPECT_NE(ok.find("\r\n\r\n{\"service\":{\"namespace\":\"ns\",\"name\":\"web\"},"
                    "\"localEndpoints\":2,\"serviceProxyHealthy\":true}"),
            std::string::npos)
      << ok;
  EXPECT_EQ(get(b).rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u);
  // The counts follow; a port no longer listed is closed.
  ASSERT_TRUE(server.Sync({{b, {"ns", "idle", 1}}}).ok());
  EXPECT_EQ(get(b).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(get(a), "refused");
  // A port taken by someone else is reported (and the others still served).
  int taken = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(taken, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(taken, 1), 0);
  socklen_t len = sizeof sa;
  ::getsockname(taken, reinterpret_cast<sockaddr*>(&sa), &len);
  const int c = ntohs(sa.sin_port);
  Status st = server.Sync({{b, {"ns", "idle", 1}}, {c, {"ns", "x", 1}}});
  EXPECT_NE(st.message().find("health check port 127.0.0.1:" + std::to_string(c)),
            std::string::npos)
      << st.ToString();
  EXPECT_EQ(get(b).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  ::close(taken);
  server.Stop();
  EXPECT_EQ(get(b), "refused");
}

}  // namespace
}  // namespace sampan::agent
