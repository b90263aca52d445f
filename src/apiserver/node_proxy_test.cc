#include "apiserver/node_proxy.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sampan::apiserver {
namespace {

namespace json = boost::json;

json::object Parse(std::string_view s) { return json::parse(s).as_object(); }

TEST(NodeProxy, EndpointFromNodeStatus) {
  auto ep = KubeletEndpointOf(Parse(R"({"status":{
      "addresses":[{"type":"Hostname","address":"n1"},{"type":"ExternalIP","address":"10.0.0.9"},
                   {"type":"InternalIP","address":"192.168.1.5"}],
      "daemonEndpoints":{"kubeletEndpoint":{"Port":10250}}}})"));
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->host, "192.168.1.5");
  EXPECT_EQ(ep->port, 10250);
  // Without an InternalIP the first IP address serves.
  ep = KubeletEndpointOf(Parse(R"({"status":{"addresses":[{"type":"Hostname","address":"n1"},
      {"type":"ExternalIP","address":"10.0.0.9"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":1}}}})"));
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->host, "10.0.0.9");
  // No port, or no address: no kubelet to reach.
  EXPECT_FALSE(KubeletEndpointOf(
      Parse(R"({"status":{"addresses":[{"type":"InternalIP","address":"1.2.3.4"}]}})")));
  EXPECT_FALSE(KubeletEndpointOf(
      Parse(R"({"status":{"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}}}})")));
  EXPECT_FALSE(KubeletEndpointOf(Parse(R"({"metadata":{"name":"n"}})")));
}

TEST(NodeProxy, ResolvesContainers) {
  auto one = Parse(R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"}]}})");
  EXPECT_EQ(*ResolveContainer(one, ""), "a");
  EXPECT_EQ(*ResolveContainer(one, "a"), "a");
  auto bad = ResolveContainer(one, "zz");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kBadRequest);
  EXPECT_EQ(bad.status().message(), "container zz is not valid for pod p");
  auto two = Parse(R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"},{"name":"b"}],
                       "initContainers":[{"name":"i"}]}})");
  auto none = ResolveContainer(two, "");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().message(),
            "a container name must be specified for pod p, choose one of: [a b] or one of the init "
            "containers: [i]");
  EXPECT_EQ(*ResolveContainer(two, "i"), "i");
}

TEST(NodeProxy, KubeletTargets) {
  Request req;
  req.query = {{"command", "sh"},
               {"command", "-c"},
               {"command", "echo a&b"},
               {"container", "c"},
               {"stdin", "true"}};
  EXPECT_EQ(KubeletTarget("exec", "ns", "p", "c", req),
            "/exec/ns/p/c?command=sh&command=-c&command=echo%20a%26b&stdin=true");
  Request logs;
  logs.query = {{"follow", "true"}, {"tailLines", "3"}, {"container", "c"}, {"pretty", "true"}};
  EXPECT_EQ(KubeletTarget("log", "ns", "p", "c", logs),
            "/containerLogs/ns/p/c?follow=true&tailLines=3");
  Request pf;
  pf.query = {{"ports", "8080,9090"}};
  EXPECT_EQ(KubeletTarget("portforward", "ns", "p", "", pf), "/portForward/ns/p?ports=8080%2C9090");
}

}  // namespace
}  // namespace sampan::apiserver
