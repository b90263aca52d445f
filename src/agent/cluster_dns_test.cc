#include "agent/cluster_dns.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sampan::agent {
namespace {

namespace json = boost::json;
namespace dns = net::dns;

client::ObjectPtr Obj(const char* text) {
  return std::make_shared<const json::object>(json::parse(text).as_object());
}

class ClusterDnsTest : public ::testing::Test {
 protected:
  ClusterDnsTest() {
    data_.services = {
        Obj(R"({"metadata":{"namespace":"default","name":"web"},"spec":{"clusterIP":"10.43.1.5",
          "ports":[{"name":"http","port":80,"protocol":"TCP"}]}})"),
        Obj(R"({"metadata":{"namespace":"default","name":"db"},"spec":{"clusterIP":"None",
          "ports":[{"name":"pg","port":5432}]}})"),
        Obj(R"({"metadata":{"namespace":"default","name":"empty"},"spec":{"clusterIP":"None"}})"),
        Obj(R"({"metadata":{"namespace":"shop","name":"ext"},"spec":{"type":"ExternalName",
          "externalName":"Api.Example.com."}})"),
    };
    data_.slices = {Obj(R"({"metadata":{"namespace":"default","name":"db-x",
        "labels":{"kubernetes.io/service-name":"db"}},"addressType":"IPv4",
        "ports":[{"name":"pg","port":5432,"protocol":"TCP"}],
        "endpoints":[{"addresses":["10.244.1.7"],"hostname":"db-0","conditions":{"ready":true}},
                     {"addresses":["10.244.1.8"],"conditions":{"ready":true}},
                     {"addresses":["10.244.1.9"],"conditions":{"ready":false}}]})")};
    owned_ = {*net::ParseCidr("10.43.0.0/16"), *net::ParseCidr("10.244.0.0/16")};
  }
  dns::Answer Ask(std::string name, uint16_t type, bool* forward = nullptr) {
    bool f = false;
    dns::Answer a =
        ResolveCluster(dns::Question{std::move(name), type, 1}, data_, "cluster.local", owned_, &f);
    if (forward) *forward = f;
    return a;
  }
  DnsData data_;
  std::vector<net::Ipv4Cidr> owned_;
};

TEST_F(ClusterDnsTest, ServicesByName) {
  dns::Answer a = Ask("web.default.svc.cluster.local", dns::kA);
  EXPECT_EQ(a.rcode, dns::kNoError);
  ASSERT_EQ(a.answers.size(), 1u);
  EXPECT_EQ(net::FormatIpv4(a.answers[0].ipv4), "10.43.1.5");
  EXPECT_EQ(a.answers[0].ttl, 5u);
  // Headless: each ready endpoint; by hostname, or by dashed IP.
  a = Ask("db.default.svc.cluster.local", dns::kA);
  ASSERT_EQ(a.answers.size(), 2u);
  EXPECT_EQ(net::FormatIpv4(a.answers[0].ipv4), "10.244.1.7");
  EXPECT_EQ(net::FormatIpv4(a.answers[1].ipv4), "10.244.1.8");
  EXPECT_EQ(Ask("db-0.db.default.svc.cluster.local", dns::kA).answers.size(), 1u);
  EXPECT_EQ(Ask("10-244-1-8.db.default.svc.cluster.local", dns::kA).answers.size(), 1u);
  EXPECT_EQ(Ask("10-244-1-9.db.default.svc.cluster.local", dns::kA).rcode, dns::kNxDomain);
  // A headless Service nothing serves does not exist, as the specification says.
  EXPECT_EQ(Ask("empty.default.svc.cluster.local", dns::kA).rcode, dns::kNxDomain);
  // ExternalName: a CNAME, lower case, no trailing dot.
  a = Ask("ext.shop.svc.cluster.local", dns::kA);
  ASSERT_EQ(a.answers.size(), 1u);
  EXPECT_EQ(a.answers[0].type, dns::kCname);
  EXPECT_EQ(a.answers[0].target, "api.example.com");
}

TEST_F(ClusterDnsTest, MissingNamesAndTypes) {
  dns::Answer a = Ask("nope.default.svc.cluster.local", dns::kA);
  EXPECT_EQ(a.rcode, dns::kNxDomain);
  ASSERT_EQ(a.authority.size(), 1u);
  EXPECT_EQ(a.authority[0].type, dns::kSoa);
  a = Ask("web.default.svc.cluster.local", dns::kAaaa);  // exists, no IPv6: NODATA
  EXPECT_EQ(a.rcode, dns::kNoError);
  EXPECT_TRUE(a.answers.empty());
  EXPECT_EQ(a.authority.size(), 1u);
  EXPECT_EQ(Ask("default.svc.cluster.local", dns::kA).rcode, dns::kNoError);
  EXPECT_EQ(Ask("nowhere.svc.cluster.local", dns::kA).rcode, dns::kNxDomain);
  EXPECT_EQ(Ask("web.default.cluster.local", dns::kA).rcode, dns::kNxDomain);
}

TEST_F(ClusterDnsTest, SrvPtrTxtAndPods) {
  dns::Answer a = Ask("_http._tcp.web.default.svc.cluster.local", dns::kSrv);
  ASSERT_EQ(a.answers.size(), 1u);
  EXPECT_EQ(a.answers[0].port, 80);
  EXPECT_EQ(a.answers[0].target, "web.default.svc.cluster.local");
  ASSERT_EQ(a.additional.size(), 1u);
  a = Ask("_pg._tcp.db.default.svc.cluster.local", dns::kSrv);
  ASSERT_EQ(a.answers.size(), 2u);
  EXPECT_EQ(a.answers[0].target, "db-0.db.default.svc.cluster.local");
  EXPECT_EQ(Ask("_nope._tcp.web.default.svc.cluster.local", dns::kSrv).rcode, dns::kNxDomain);
  a = Ask("5.1.43.10.in-addr.arpa", dns::kPtr);
  ASSERT_EQ(a.answers.size(), 1u);
  EXPECT_EQ(a.answers[0].target, "web.default.svc.cluster.local");
  a = Ask("7.1.244.10.in-addr.arpa", dns::kPtr);
  ASSERT_EQ(a.answers.size(), 1u);
  EXPECT_EQ(a.answers[0].target, "db-0.db.default.svc.cluster.local");
  EXPECT_EQ(Ask("99.1.43.10.in-addr.arpa", dns::kPtr).rcode, dns::kNxDomain);
  a = Ask("dns-version.cluster.local", dns::kTxt);
  ASSERT_EQ(a.answers.size(), 1u);
  EXPECT_EQ(a.answers[0].text, "1.1.0");
  a = Ask("10-244-3-4.shop.pod.cluster.local", dns::kA);
  ASSERT_EQ(a.answers.size(), 1u);
  EXPECT_EQ(net::FormatIpv4(a.answers[0].ipv4), "10.244.3.4");
}

TEST_F(ClusterDnsTest, OtherNamesAreNotOurs) {
  bool forward = false;
  Ask("example.com", dns::kA, &forward);
  EXPECT_TRUE(forward);
  Ask("4.3.2.1.in-addr.arpa", dns::kPtr, &forward);
  EXPECT_TRUE(forward);
  Ask("web.default.svc.cluster.local", dns::kA, &forward);
  EXPECT_FALSE(forward);
}

// Whole packets through the server's answer path: without upstreams, outside names are refused.
TEST_F(ClusterDnsTest, PacketsInAndOut) {
  ClusterDnsOptions o;
  o.reverse_zones = owned_;
  ClusterDns server(o, [this] { return std::make_shared<const DnsData>(data_); });
  // A query for web.default.svc.cluster.local A, id 0x1234, RD.
  std::string q = std::string("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
  for (const char* label : {"web", "default", "svc", "cluster", "local"}) {
    q.push_back(static_cast<char>(strlen(label)));
    q += label;
  }
  q += std::string("\x00\x00\x01\x00\x01", 5);
  std::string r = server.Answer(q, false);
  ASSERT_GE(r.size(), 12u + 1 + 4);
  EXPECT_EQ(r.substr(0, 2), "\x12\x34");
  EXPECT_EQ(static_cast<uint8_t>(r[2]) & 0x80, 0x80);                     // a response
  EXPECT_EQ(static_cast<uint8_t>(r[3]) & 0x0f, 0);                        // NOERROR
  EXPECT_EQ(static_cast<uint8_t>(r[7]), 1);                               // one answer
  EXPECT_EQ(r.substr(r.size() - 4), std::string("\x0a\x2b\x01\x05", 4));  // 10.43.1.5

  std::string ext =
      std::string("\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12) + std::string(
                                                                                "\x07"
                                                                                "example"
                                                                                "\x03"
                                                                                "com"
                                                                                "\x00"
                                                                                "\x00\x01\x00\x01",
                                                                                17);
  r = server.Answer(ext, false);
  ASSERT_GE(r.size(), 12u);
  EXPECT_EQ(static_cast<uint8_t>(r[3]) & 0x0f, dns::kRefused);
  // Garbage with a readable id gets FORMERR; shorter than a header, nothing.
  r = server.Answer(std::string("\x00\x09\x01\x00\x00\x05", 6) + std::string(6, '\0'), false);
  ASSERT_GE(r.size(), 4u);
  EXPECT_EQ(static_cast<uint8_t>(r[3]) & 0x0f, dns::kFormErr);
  EXPECT_EQ(server.Answer("abc", false), "");
}

TEST(DnsMessageTest, TruncatesWhatDoesNotFit) {
  dns::Query q;
  q.id = 7;
  q.question = dns::Question{"many.default.svc.cluster.local", dns::kA, 1};
  dns::Answer a;
  for (int i = 0; i < 100; ++i) {
    dns::Record r;
    r.name = q.question.name;
    r.type = dns::kA;
    r.ipv4 = 0x0af40100 + i;
    a.answers.push_back(r);
  }
  std::string udp = dns::BuildResponse(q, a, 512);
  EXPECT_LE(udp.size(), 512u);
  EXPECT_EQ(static_cast<uint8_t>(udp[2]) & 0x02, 0x02);  // TC
  std::string tcp = dns::BuildResponse(q, a, 65535);
  EXPECT_EQ(static_cast<uint8_t>(tcp[2]) & 0x02, 0);
  auto back = dns::ParseQuery(std::string(tcp.data(), tcp.size()));
  EXPECT_FALSE(back.has_value());  // a response is not a query
}

}  // namespace
}  // namespace sampan::agent
