// Defaults and validation of the RBAC (strategy_rbac.cc), networking.k8s.io and discovery.k8s.io
// (strategy_networking.cc) and storage.k8s.io (strategy_storage.cc) kinds.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/schema.h"
#include "api/strategy.h"

namespace sampan::api {
namespace {

namespace json = boost::json;

const KindInfo& Kind(std::string_view group, std::string_view kind) {
  const KindInfo* k = BuiltinRegistry().FindKind(group, "v1", kind);
  SAMPAN_CHECK(k != nullptr);
  return *k;
}

constexpr std::string_view kRbac = "rbac.authorization.k8s.io";
const KindInfo& Role() { return Kind(kRbac, "Role"); }
const KindInfo& ClusterRole() { return Kind(kRbac, "ClusterRole"); }
const KindInfo& RoleBinding() { return Kind(kRbac, "RoleBinding"); }
const KindInfo& ClusterRoleBinding() { return Kind(kRbac, "ClusterRoleBinding"); }
const KindInfo& Ingress() { return Kind("networking.k8s.io", "Ingress"); }
const KindInfo& IngressClass() { return Kind("networking.k8s.io", "IngressClass"); }
const KindInfo& NetworkPolicy() { return Kind("networking.k8s.io", "NetworkPolicy"); }
const KindInfo& EndpointSlice() { return Kind("discovery.k8s.io", "EndpointSlice"); }
const KindInfo& StorageClass() { return Kind("storage.k8s.io", "StorageClass"); }

// An object of `kind` named "x" (in namespace "default" when namespaced) with `fields` added,
// and the defaults applied, as the server decodes it.
json::object Defaulted(const KindInfo& kind, std::string_view fields) {
  json::object o = json::parse(fields).as_object();
  o["apiVersion"] = kind.ApiVersion();
  o["kind"] = kind.kind;
  json::object meta{{"name", "x"}};
  if (kind.namespaced) meta["namespace"] = "default";
  o["metadata"] = std::move(meta);
  DefaultObject(kind, o);
  return o;
}

Status Create(const KindInfo& kind, std::string_view fields) {
  json::object o = Defaulted(kind, fields);
  PrepareForCreate(kind, o);
  return ValidateCreate(kind, o);
}

Status Update(const KindInfo& kind, std::string_view fields, std::string_view old_fields) {
  return ValidateUpdate(kind, Defaulted(kind, fields), Defaulted(kind, old_fields));
}

std::string Dump(const Status& st) {
  std::string out = st.message();
  for (const Cause& c : st.causes()) out += "\n  " + c.field + ": " + c.message;
  return out;
}

testing::AssertionResult IsOk(const Status& st) {
  if (st.ok()) return testing::AssertionSuccess();
  return testing::AssertionFailure() << Dump(st);
}

// Whether `st` is Invalid with exactly these causes, in order: each with this exact field path
// and a message containing the fragment.
testing::AssertionResult HasCauses(const Status& st,
                                   const std::vector<std::pair<std::string, std::string>>& want) {
  const std::vector<Cause>& got = st.causes();
  bool ok = st.code() == Code::kInvalid && got.size() == want.size();
  for (size_t i = 0; ok && i < got.size(); ++i) {
    ok = got[i].field == want[i].first && got[i].message.find(want[i].second) != std::string::npos;
  }
  if (ok) return testing::AssertionSuccess();
  testing::AssertionResult failure = testing::AssertionFailure() << "want:";
  for (const auto& [field, fragment] : want) failure << "\n  " << field << ": ..." << fragment;
  return failure << "\ngot: " << Dump(st);
}

// A variant that a create must reject with exactly one cause.
struct Bad {
  std::string fields;
  std::string field;
  std::string fragment;
};

void ExpectRejected(const KindInfo& kind, const std::vector<Bad>& cases) {
  for (const Bad& c : cases) {
    EXPECT_TRUE(HasCauses(Create(kind, c.fields), {{c.field, c.fragment}})) << c.fields;
  }
}

// ---- rbac.authorization.k8s.io --------------------------------------------------------------

// A binding of the ClusterRole `role` to `subjects` (a JSON array).
std::string Binding(std::string_view subjects, std::string_view role = "view") {
  return R"({"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":")" +
         std::string(role) + R"("},"subjects":)" + std::string(subjects) + "}";
}

TEST(RbacClusterObjects, ValidRolesAndBindingsPass) {
  EXPECT_TRUE(IsOk(Create(Role(), R"({"rules":[
      {"verbs":["get","list"],"apiGroups":[""],"resources":["pods"],"resourceNames":["web"]}]})")));
  EXPECT_TRUE(IsOk(Create(ClusterRole(), R"({"rules":[
      {"verbs":["get"],"nonResourceURLs":["/healthz","/metrics"]},
      {"verbs":["*"],"apiGroups":["*"],"resources":["*"]}],
      "aggregationRule":{"clusterRoleSelectors":[{"matchLabels":{"example.com/agg":"true"}}]}})")));
  EXPECT_TRUE(IsOk(Create(RoleBinding(), R"({"roleRef":{"apiGroup":"rbac.authorization.k8s.io",
      "kind":"Role","name":"x"},"subjects":[{"kind":"ServiceAccount","name":"default"},
      {"kind":"User","name":"jane"},{"kind":"Group","name":"devs"}]})")));
  EXPECT_TRUE(IsOk(Create(ClusterRoleBinding(), Binding(R"([{"kind":"Group","name":"system:a"},
      {"kind":"ServiceAccount","name":"builder","namespace":"ci"}])"))));
}

TEST(RbacClusterObjects, RuleChecks) {
  EXPECT_TRUE(HasCauses(Create(Role(), R"({"rules":[{"verbs":[]}]})"),
                        {{"rules[0].verbs", "verbs must contain at least one value"},
                         {"rules[0].apiGroups", "must supply at least one api group"},
                         {"rules[0].resources", "must supply at least one resource"}}));
  const char* urls = R"({"rules":[{"verbs":["get"],"nonResourceURLs":["/x"]}]})";
  const char* mixed = R"({"rules":[{"verbs":["get"],"resources":["a"],"nonResourceURLs":["/x"]}]})";
  EXPECT_TRUE(IsOk(Create(ClusterRole(), urls)));
  ExpectRejected(Role(), {{urls, "rules[0].nonResourceURLs",
                           "namespaced rules cannot apply to non-resource URLs"}});
  ExpectRejected(ClusterRole(), {{mixed, "rules[0].nonResourceURLs",
                                  "cannot apply to both regular resources and non-resource URLs"},
                                 {R"({"aggregationRule":{"clusterRoleSelectors":[]}})",
                                  "aggregationRule.clusterRoleSelectors",
                                  "at least one clusterRoleSelector required"}});
}

TEST(RbacClusterObjects, RoleRefChecks) {
  const char* ref = R"({"roleRef":{"apiGroup":"example.com","kind":"Secret","name":"a/b"}})";
  EXPECT_TRUE(HasCauses(Create(RoleBinding(), ref),
                        {{"roleRef.apiGroup", "supported values: \"rbac.authorization.k8s.io\""},
                         {"roleRef.kind", "supported values: \"Role\", \"ClusterRole\""},
                         {"roleRef.name", "Invalid value: \"a/b\""}}));
  const std::string role = R"({"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role",)";
  ExpectRejected(ClusterRoleBinding(), {{role + R"("name":"x"}})", "roleRef.kind",
                                         "Unsupported value: \"Role\": supported values: "
                                         "\"ClusterRole\""}});
  ExpectRejected(RoleBinding(), {{role + R"("name":""}})", "roleRef.name", "Required value"},
                                 {role + R"("name":".."}})", "roleRef.name", "Invalid value"},
                                 {role + R"("name":"a%2f"}})", "roleRef.name", "Invalid value"}});
}

TEST(RbacClusterObjects, SubjectChecks) {
  const std::string subjects = Binding(R"([{"kind":"Robot","name":"r2"},
      {"kind":"ServiceAccount","name":"sa","apiGroup":"rbac.authorization.k8s.io"},
      {"kind":"User","name":"jane","apiGroup":"example.com"},{"kind":"ServiceAccount"}])");
  EXPECT_TRUE(
      HasCauses(Create(RoleBinding(), subjects),
                {{"subjects[0].kind", "supported values: \"ServiceAccount\", \"User\", \"Group\""},
                 {"subjects[1].apiGroup", "supported values: \"\""},
                 {"subjects[2].apiGroup", "supported values: \"rbac.authorization.k8s.io\""},
                 {"subjects[3].name", "Required value"}}));
  // Only a binding across the cluster must name the service account's namespace.
  const std::string sa = Binding(R"([{"kind":"ServiceAccount","name":"builder"}])");
  EXPECT_TRUE(IsOk(Create(RoleBinding(), sa)));
  ExpectRejected(ClusterRoleBinding(), {{sa, "subjects[0].namespace", "Required value"}});
}

TEST(RbacClusterObjects, SubjectApiGroupDefault) {
  json::object b = Defaulted(RoleBinding(), Binding(R"([{"kind":"User","name":"jane"},
      {"kind":"Group","name":"devs","apiGroup":""},{"kind":"ServiceAccount","name":"sa"},
      {"kind":"User","name":"x","apiGroup":"example.com"}])"));
  const json::array& s = b.at("subjects").as_array();
  EXPECT_EQ(s[0].at("apiGroup"), "rbac.authorization.k8s.io");
  EXPECT_EQ(s[1].at("apiGroup"), "rbac.authorization.k8s.io");
  EXPECT_FALSE(s[2].as_object().contains("apiGroup"));
  EXPECT_EQ(s[3].at("apiGroup"), "example.com");  // kept (and then rejected)
}

TEST(RbacClusterObjects, RoleRefImmutable) {
  const std::string old = Binding("[]");
  EXPECT_TRUE(IsOk(Update(RoleBinding(), Binding(R"([{"kind":"User","name":"jane"}])"), old)));
  for (const KindInfo* kind : {&RoleBinding(), &ClusterRoleBinding()}) {
    EXPECT_TRUE(HasCauses(Update(*kind, Binding("[]", "edit"), old),
                          {{"roleRef", "cannot change roleRef"}}));
  }
}

// ---- networking.k8s.io: Ingress -------------------------------------------------------------

// An Ingress whose only rule has one path with this type (nullptr: none) and value.
std::string OnePath(const char* type, std::string_view path) {
  std::string p = R"({"path":")" + std::string(path) +
                  R"(","backend":{"service":{"name":"web","port":{"number":80}}})";
  if (type) p += R"(,"pathType":")" + std::string(type) + "\"";
  return R"({"spec":{"rules":[{"http":{"paths":[)" + p + "}]}}]}}";
}

std::string DefaultBackend(std::string_view backend, std::string_view more = "") {
  return R"({"spec":{"defaultBackend":)" + std::string(backend) + std::string(more) + "}}";
}

TEST(IngressClusterObjects, ValidIngressPasses) {
  const char* ingress = R"({"spec":{"ingressClassName":"nginx",
      "defaultBackend":{"service":{"name":"fallback","port":{"name":"http"}}},
      "rules":[{"host":"foo.example.com","http":{"paths":[
          {"path":"/","pathType":"Prefix","backend":{"service":{"name":"a","port":{"number":80}}}},
          {"path":"/v1.json","pathType":"Exact",
           "backend":{"resource":{"apiGroup":"k8s.example.com","kind":"Bucket","name":"b"}}},
          {"pathType":"ImplementationSpecific",
           "backend":{"service":{"name":"c","port":{"number":8}}}}]}},
        {"host":"*.example.com"}],
      "tls":[{"hosts":["foo.example.com","*.example.com"],"secretName":"tls"}]}})";
  EXPECT_TRUE(IsOk(Create(Ingress(), ingress)));
}

TEST(IngressClusterObjects, HostChecks) {
  const char* hosts = R"({"spec":{"rules":[{"host":"10.0.0.1"},{"host":"Foo.example.com"},
      {"host":"*.Example.com"}],"tls":[{"hosts":["ok.example.com","bad_host"]}]}})";
  EXPECT_TRUE(HasCauses(Create(Ingress(), hosts),
                        {{"spec.rules[0].host", "must be a DNS name, not an IP address"},
                         {"spec.rules[1].host", "a lowercase RFC 1123 subdomain"},
                         {"spec.rules[2].host", "a wildcard DNS-1123 subdomain must start with"},
                         {"spec.tls[0].hosts[1]", "a lowercase RFC 1123 subdomain"}}));
}

TEST(IngressClusterObjects, PathChecks) {
  EXPECT_TRUE(IsOk(Create(Ingress(), OnePath("ImplementationSpecific", ""))));
  const std::string path = "spec.rules[0].http.paths[0].path";
  ExpectRejected(
      Ingress(),
      {{OnePath(nullptr, "/a"), path + "Type", "Required value: pathType must be specified"},
       {OnePath("Regex", "/a"), path + "Type",
        "supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\""},
       {OnePath("Exact", "a"), path, "must be an absolute path"},
       {OnePath("ImplementationSpecific", "a"), path, "must be an absolute path"},
       {OnePath("Prefix", "/a//b"), path, "must not contain '//'"},
       {OnePath("Prefix", "/a/./b"), path, "must not contain '/./'"},
       {OnePath("Prefix", "/a%2Fb"), path, "must not contain '%2F'"},
       {OnePath("Exact", "/a/.."), path, "cannot end with '/..'"},
       {OnePath("Exact", "/a/."), path, "cannot end with '/.'"},
       {R"({"spec":{"rules":[{"http":{"paths":[{"path":"/","pathType":"Exact"}]}}]}})",
        "spec.rules[0].http.paths[0].backend", "Required value"},
       {R"({"spec":{"rules":[{"http":{"paths":[]}}]}})", "spec.rules[0].http.paths",
        "Required value"}});
}

TEST(IngressClusterObjects, BackendChecks) {
  const std::string web = R"({"service":{"name":"web","port":{"number":80}})";  // left open
  const std::string svc = "spec.defaultBackend.service";
  ExpectRejected(
      Ingress(),
      {{R"({"spec":{}})", "spec", "either `defaultBackend` or `rules` must be specified"},
       {DefaultBackend("{}"), "spec.defaultBackend", "resource or service backend is required"},
       {DefaultBackend(web, R"(,"resource":{"kind":"B","name":"b"}})"), "spec.defaultBackend",
        "cannot set both"},
       {DefaultBackend(R"({"resource":{"name":"b"}})"), "spec.defaultBackend.resource.kind",
        "Required value"},
       {DefaultBackend(R"({"service":{"port":{"number":80}}})"), svc + ".name", "Required value"},
       {DefaultBackend(R"({"service":{"name":"Web_1","port":{"number":80}}})"), svc + ".name",
        "a DNS-1035 label"},
       {DefaultBackend(R"({"service":{"name":"web","port":{"number":70000}}})"),
        svc + ".port.number", "must be between 1 and 65535, inclusive"},
       {DefaultBackend(R"({"service":{"name":"web","port":{"name":"http--x"}}})"),
        svc + ".port.name", "Invalid value: \"http--x\""},
       {DefaultBackend(web, R"(},"ingressClassName":"Bad_Class")"), "spec.ingressClassName",
        "a lowercase RFC 1123 subdomain"}});
}

// ---- networking.k8s.io: IngressClass --------------------------------------------------------

// An IngressClass of this controller, with these parameters (a JSON object) when not empty.
std::string Controller(std::string_view controller, std::string_view parameters = "") {
  std::string spec = R"({"controller":")" + std::string(controller) + "\"";
  if (!parameters.empty()) spec += R"(,"parameters":)" + std::string(parameters);
  return R"({"spec":)" + spec + "}}";
}

TEST(IngressClassClusterObjects, ControllerAndParameters) {
  EXPECT_TRUE(IsOk(Create(IngressClass(), Controller("example.com/ingress-nginx", R"({
      "apiGroup":"k8s.example.com","kind":"P","name":"p","scope":"Namespace","namespace":"o"})"))));
  EXPECT_TRUE(
      IsOk(Create(IngressClass(), Controller("k8s.io/ingress", R"({"kind":"P","name":"p"})"))));
  const std::string prefixed = "must be a domain-prefixed path (such as \"acme.io/foo\")";
  const std::string params = "spec.parameters.";
  ExpectRejected(
      IngressClass(),
      {{R"({"spec":{}})", "spec.controller", "Required value"},
       {Controller("nginx"), "spec.controller", prefixed},
       {Controller("/nginx"), "spec.controller", prefixed},
       {Controller("example.com/"), "spec.controller", prefixed},
       {Controller("example.com/" + std::string(240, 'a')), "spec.controller",
        "Too long: may not be more than 250"},
       {Controller("a.io/b", R"({"name":"p"})"), params + "kind", "Required value"},
       {Controller("a.io/b", R"({"kind":"P"})"), params + "name", "Required value"},
       {Controller("a.io/b", R"({"kind":"P","name":"p","scope":"Namespace"})"),
        params + "namespace", "Required value: `parameters.scope` is set to 'Namespace'"},
       {Controller("a.io/b", R"({"kind":"P","name":"p","scope":"Cluster","namespace":"ops"})"),
        params + "namespace", "Forbidden: `parameters.scope` is set to 'Cluster'"},
       {Controller("a.io/b", R"({"kind":"P","name":"p","scope":"Global"})"), params + "scope",
        "supported values: \"Cluster\", \"Namespace\""}});
}

TEST(IngressClassClusterObjects, ControllerImmutable) {
  const std::string old = Controller("example.com/a");
  EXPECT_TRUE(
      IsOk(Update(IngressClass(), Controller("example.com/a", R"({"kind":"P","name":"p"})"), old)));
  EXPECT_TRUE(
      HasCauses(Update(IngressClass(), Controller("example.com/b"), old),
                {{"spec.controller", "Invalid value: \"example.com/b\": field is immutable"}}));
}

// ---- networking.k8s.io: NetworkPolicy -------------------------------------------------------

TEST(NetworkPolicyClusterObjects, DefaultsPortProtocolAndPolicyTypes) {
  json::object np = Defaulted(NetworkPolicy(), R"({"spec":{"podSelector":{},
      "ingress":[{"ports":[{"port":80},{"port":53,"protocol":"UDP"}]}]}})");
  const json::array& ports = np.at("spec").at("ingress").at(0).at("ports").as_array();
  EXPECT_EQ(ports[0].at("protocol"), "TCP");
  EXPECT_EQ(ports[1].at("protocol"), "UDP");
  EXPECT_EQ(np.at("spec").at("policyTypes"), (json::array{"Ingress"}));
  np = Defaulted(NetworkPolicy(), R"({"spec":{"podSelector":{},"egress":[{}]}})");
  EXPECT_EQ(np.at("spec").at("policyTypes"), (json::array{"Ingress", "Egress"}));
  np = Defaulted(NetworkPolicy(), R"({"spec":{"egress":[{}],"policyTypes":["Egress"]}})");
  EXPECT_EQ(np.at("spec").at("policyTypes"), (json::array{"Egress"}));
}

TEST(NetworkPolicyClusterObjects, ValidPolicyPasses) {
  const char* policy = R"({"spec":{"podSelector":{"matchLabels":{"app":"db"}},
      "ingress":[{"from":[
          {"podSelector":{"matchLabels":{"app":"web"}},
           "namespaceSelector":{"matchLabels":{"team":"a"}}},
          {"ipBlock":{"cidr":"10.0.0.0/8","except":["10.1.0.0/16","10.2.3.4/32"]}}],
        "ports":[{"port":5432},{"port":"metrics","protocol":"SCTP"},{"port":3000,"endPort":3999}]}],
      "egress":[{"to":[{"ipBlock":{"cidr":"fd00::/8","except":["fd00:1::/32"]}}]}]}})";
  EXPECT_TRUE(IsOk(Create(NetworkPolicy(), policy)));
}

TEST(NetworkPolicyClusterObjects, PeerChecks) {
  const char* peers = R"({"spec":{"podSelector":{},"ingress":[{"from":[{},
      {"podSelector":{},"ipBlock":{"cidr":"10.0.0.0/8"}},{"ipBlock":{}},
      {"ipBlock":{"cidr":"10.0.0.0"}},
      {"ipBlock":{"cidr":"10.0.0.0/8","except":["192.168.0.0/16","10.0.0.0/8","fd00::/64","x"]}},
      {"podSelector":{"matchLabels":{"bad key":"v"}}}]}]}})";
  const std::string from = "spec.ingress[0].from[";
  EXPECT_TRUE(
      HasCauses(Create(NetworkPolicy(), peers),
                {{from + "0]", "Required value: must specify a peer"},
                 {from + "1]", "Forbidden: may not specify both"},
                 {from + "2].ipBlock.cidr", "Required value"},
                 {from + "3].ipBlock.cidr", "must be a valid CIDR value, (e.g. 10.9.8.0/24"},
                 {from + "4].ipBlock.except[0]", "must be a strict subset of `cidr`"},
                 {from + "4].ipBlock.except[1]", "must be a strict subset of `cidr`"},
                 {from + "4].ipBlock.except[2]", "must be a strict subset of `cidr`"},
                 {from + "4].ipBlock.except[3]", "must be a valid CIDR value"},
                 {from + "5].podSelector.matchLabels", "Invalid value: \"bad key\""}}));
}

TEST(NetworkPolicyClusterObjects, PortChecks) {
  const char* bad = R"({"spec":{"podSelector":{},"egress":[{"ports":[{"port":80,"protocol":"ICMP"},
      {"port":0},{"port":9000,"endPort":8000},{"port":9000,"endPort":70000},
      {"port":"http","endPort":90},{"port":"-bad-"}]}]}})";
  const std::string ports = "spec.egress[0].ports[";
  EXPECT_TRUE(HasCauses(
      Create(NetworkPolicy(), bad),
      {{ports + "0].protocol", "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\""},
       {ports + "1].port", "Invalid value: 0: must be between 1 and 65535, inclusive"},
       {ports + "2].endPort", "must be greater than or equal to `port`"},
       {ports + "3].endPort", "must be between 1 and 65535, inclusive"},
       {ports + "4].endPort", "may not be specified when `port` is non-numeric"},
       {ports + "5].port", "Invalid value: \"-bad-\""}}));
}

TEST(NetworkPolicyClusterObjects, PolicyTypeChecks) {
  ExpectRejected(
      NetworkPolicy(),
      {{R"({"spec":{"podSelector":{},"policyTypes":["Ingress","Egress","Ingress"]}})",
        "spec.policyTypes", "may not specify more than two policyTypes"},
       {R"({"spec":{"podSelector":{},"policyTypes":["Ingress","Sideways"]}})",
        "spec.policyTypes[1]", "Unsupported value: \"Sideways\": supported values: \"Egress\""}});
}

// ---- discovery.k8s.io: EndpointSlice --------------------------------------------------------

TEST(EndpointSliceClusterObjects, ValidSlicesPassAndPortsDefault) {
  const char* v4 = R"({"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"],
      "hostname":"web-0","nodeName":"node-a.example.com"},{"addresses":["10.0.0.2"]}],
      "ports":[{"name":"http","port":80},{"name":"dns","port":53,"protocol":"UDP"}]})";
  json::object slice = Defaulted(EndpointSlice(), v4);
  EXPECT_EQ(slice.at("ports").at(0).at("protocol"), "TCP");
  EXPECT_EQ(slice.at("ports").at(1).at("protocol"), "UDP");
  EXPECT_TRUE(IsOk(Create(EndpointSlice(), v4)));
  EXPECT_TRUE(IsOk(Create(EndpointSlice(), R"({"addressType":"IPv6",
      "endpoints":[{"addresses":["fd00::1"]}],"ports":[{"port":443}]})")));
  EXPECT_TRUE(IsOk(Create(EndpointSlice(), R"({"addressType":"FQDN",
      "endpoints":[{"addresses":["db.example.com"]}]})")));
}

TEST(EndpointSliceClusterObjects, AddressChecks) {
  ExpectRejected(
      EndpointSlice(),
      {{"{}", "addressType", "Required value"},
       {R"({"addressType":"IP"})", "addressType", "supported values: \"FQDN\", \"IPv4\", \"IPv6\""},
       {R"({"addressType":"IPv6","endpoints":[{"addresses":["10.0.0.1"]}]})",
        "endpoints[0].addresses[0]", "must be a valid IPv6 address"},
       {R"({"addressType":"FQDN","endpoints":[{"addresses":["Not_A_Name"]}]})",
        "endpoints[0].addresses[0]", "a lowercase RFC 1123 subdomain"}});
  const char* v4 = R"({"addressType":"IPv4","endpoints":[{"addresses":[]},
      {"addresses":["fd00::1"],"hostname":"a.b","nodeName":"Bad_Node"}]})";
  EXPECT_TRUE(HasCauses(Create(EndpointSlice(), v4),
                        {{"endpoints[0].addresses", "must contain at least 1 address"},
                         {"endpoints[1].addresses[0]", "must be a valid IPv4 address"},
                         {"endpoints[1].hostname", "a lowercase RFC 1123 label"},
                         {"endpoints[1].nodeName", "a lowercase RFC 1123 subdomain"}}));
}

TEST(EndpointSliceClusterObjects, PortChecks) {
  const char* ports = R"({"addressType":"IPv4","ports":[{"name":"http","port":80},
      {"name":"http","port":81},{"name":"Http"},{"name":"x","protocol":"ICMP"}]})";
  EXPECT_TRUE(HasCauses(Create(EndpointSlice(), ports),
                        {{"ports[1].name", "Duplicate value: \"http\""},
                         {"ports[2].name", "a lowercase RFC 1123 label"},
                         {"ports[3].protocol", "supported values: \"SCTP\", \"TCP\", \"UDP\""}}));
}

TEST(EndpointSliceClusterObjects, AddressTypeImmutable) {
  const char* old = R"({"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"]}]})";
  const char* v4 = R"({"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.2"]}]})";
  const char* v6 = R"({"addressType":"IPv6","endpoints":[{"addresses":["fd00::2"]}]})";
  EXPECT_TRUE(IsOk(Update(EndpointSlice(), v4, old)));
  EXPECT_TRUE(HasCauses(Update(EndpointSlice(), v6, old),
                        {{"addressType", "Invalid value: \"IPv6\": field is immutable"}}));
}

// ---- storage.k8s.io: StorageClass -----------------------------------------------------------

TEST(StorageClassClusterObjects, DefaultsAndValidClassPasses) {
  json::object sc = Defaulted(StorageClass(), R"({"provisioner":"ebs.csi.aws.com"})");
  EXPECT_EQ(sc.at("reclaimPolicy"), "Delete");
  EXPECT_EQ(sc.at("volumeBindingMode"), "Immediate");
  const char* full = R"({"provisioner":"kubernetes.io/no-provisioner","reclaimPolicy":"Retain",
      "volumeBindingMode":"WaitForFirstConsumer","allowVolumeExpansion":true,
      "parameters":{"type":"gp3","iops":"3000"},"mountOptions":["debug"],
      "allowedTopologies":[{"matchLabelExpressions":[
          {"key":"topology.kubernetes.io/zone","values":["us-east-1a","us-east-1b"]}]}]})";
  sc = Defaulted(StorageClass(), full);
  EXPECT_EQ(sc.at("reclaimPolicy"), "Retain");
  EXPECT_EQ(sc.at("volumeBindingMode"), "WaitForFirstConsumer");
  EXPECT_TRUE(IsOk(Create(StorageClass(), full)));
}

TEST(StorageClassClusterObjects, FieldChecks) {
  json::object many;
  for (int i = 0; i < 513; ++i) many["k" + std::to_string(i)] = "v";
  ExpectRejected(StorageClass(),
                 {{"{}", "provisioner", "Required value"},
                  {R"({"provisioner":"bad provisioner!"})", "provisioner",
                   "Invalid value: \"bad provisioner!\""},
                  {R"({"provisioner":"p","reclaimPolicy":"Recycle"})", "reclaimPolicy",
                   "Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\""},
                  {R"({"provisioner":"p","volumeBindingMode":"Later"})", "volumeBindingMode",
                   "supported values: \"Immediate\", \"WaitForFirstConsumer\""},
                  {json::serialize(json::object{{"provisioner", "p"}, {"parameters", many}}),
                   "parameters", "Too long: may not be more than 512"}});
  const char* topologies = R"({"provisioner":"p","allowedTopologies":[{"matchLabelExpressions":[
      {"key":"bad key!","values":["a"]},{"key":"zone"}]}]})";
  const std::string expr = "allowedTopologies[0].matchLabelExpressions[";
  EXPECT_TRUE(HasCauses(
      Create(StorageClass(), topologies),
      {{expr + "0].key", "Invalid value: \"bad key!\""}, {expr + "1].values", "Required value"}}));
}

TEST(StorageClassClusterObjects, UpdatesMayNotChangeProvisioningFields) {
  const std::string fields = R"("provisioner":"a.io","parameters":{"type":"ssd"})";
  const std::string old = "{" + fields + "}";
  EXPECT_TRUE(IsOk(Update(StorageClass(), "{" + fields + R"(,"allowVolumeExpansion":true})", old)));
  const char* changed = R"({"provisioner":"b.io","parameters":{},"reclaimPolicy":"Retain"})";
  EXPECT_TRUE(HasCauses(Update(StorageClass(), changed, old),
                        {{"provisioner", "Forbidden: updates to provisioner are forbidden."},
                         {"parameters", "Forbidden: updates to parameters are forbidden."},
                         {"reclaimPolicy", "Forbidden: updates to reclaimPolicy are forbidden."}}));
  // Any message: Kubernetes says `Invalid value: "WaitForFirstConsumer": field is immutable`.
  const std::string mode = "{" + fields + R"(,"volumeBindingMode":"WaitForFirstConsumer"})";
  EXPECT_TRUE(HasCauses(Update(StorageClass(), mode, old), {{"volumeBindingMode", ""}}));
}

}  // namespace
}  // namespace sampan::api

namespace sampan::api {
namespace {

// Where Kubernetes is more lenient than a first reading of its rules (each was once too strict
// here): these objects must pass, or fail only as stated.
TEST(ClusterObjectsKubernetesLeniency, RbacNamesAndRoleRefDefault) {
  json::object cr = Defaulted(ClusterRole(), R"({"rules": []})");
  cr["metadata"].as_object()["name"] = "system:aggregate-to-admin";  // a path segment is enough
  PrepareForCreate(ClusterRole(), cr);
  EXPECT_TRUE(IsOk(ValidateCreate(ClusterRole(), cr)));
  json::object rb = Defaulted(RoleBinding(), R"({"roleRef": {"kind": "Role", "name": "r"}})");
  EXPECT_EQ(rb["roleRef"].as_object()["apiGroup"], "rbac.authorization.k8s.io");
}

TEST(ClusterObjectsKubernetesLeniency, NetworkingAndStorage) {
  // A TLS host is only checked as a name; a rule's host may not be an IP.
  EXPECT_TRUE(IsOk(Create(Ingress(), R"({"spec": {"tls": [{"hosts": ["10.0.0.1"]}],
      "defaultBackend": {"service": {"name": "s", "port": {"number": 80}}}}})")));
  EXPECT_TRUE(HasCauses(Create(Ingress(), R"({"spec": {"rules": [{"host": "10.0.0.1"}]}})"),
                        {{"spec.rules[0].host", "must be a DNS name, not an IP address"}}));
  // An endpoint slice port has no range check; its addresses may not be special.
  EXPECT_TRUE(IsOk(Create(EndpointSlice(), R"({"addressType": "IPv4",
      "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"port": 0}]})")));
  EXPECT_TRUE(HasCauses(
      Create(EndpointSlice(), R"({"addressType": "IPv4",
      "endpoints": [{"addresses": ["127.0.0.1"]}, {"addresses": ["0.0.0.0"]}]})"),
      {{"endpoints[0].addresses[0]", "loopback"}, {"endpoints[1].addresses[0]", "unspecified"}}));
  EXPECT_TRUE(HasCauses(
      Create(NetworkPolicy(), R"({"spec": {"podSelector": {},
      "ingress": [{"ports": [{"endPort": 90}]}]}})"),
      {{"spec.ingress[0].ports[0].endPort", "may not be specified when `port` is not specified"}}));
  json::object np =
      Defaulted(NetworkPolicy(), R"({"spec": {"podSelector": {}, "policyTypes": []}})");
  EXPECT_EQ(json::serialize(np["spec"].as_object()["policyTypes"]), R"(["Ingress"])");
  json::object ic = Defaulted(IngressClass(), R"({"spec": {"controller": "example.com/x",
      "parameters": {"kind": "K", "name": "n"}}})");
  EXPECT_EQ(ic["spec"].as_object()["parameters"].as_object()["scope"], "Cluster");
  // A provisioner is checked in lower case; an empty topology term is allowed.
  EXPECT_TRUE(IsOk(Create(StorageClass(), R"({"provisioner": "Example.COM/Foo",
      "allowedTopologies": [{"matchLabelExpressions": []}]})")));
  EXPECT_TRUE(HasCauses(Update(StorageClass(), R"({"provisioner": "a.io/b",
      "volumeBindingMode": "WaitForFirstConsumer"})",
                               R"({"provisioner": "a.io/b"})"),
                        {{"volumeBindingMode", "field is immutable"}}));
}

}  // namespace
}  // namespace sampan::api
