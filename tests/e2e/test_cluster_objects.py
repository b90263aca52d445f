"""networking.k8s.io/v1 (Ingress, IngressClass, NetworkPolicy), discovery.k8s.io/v1
(EndpointSlice) and storage.k8s.io/v1 (StorageClass) objects: created, shown, defaulted and
validated as on Kubernetes. (No ingress controller, policy enforcement or provisioner acts on them
yet; the slices here belong to no Service the endpointslice controller manages.)"""

import harness
from harness import apply_manifest


def rows(stdout):
    names, cells = harness.table(stdout)
    return [dict(zip(names, c)) for c in cells]


def test_ingress_create_get_describe(kubectl, ns):
    kubectl.ok("create", "ingress", "web", "-n", ns, "--class=nginx",
               "--rule=foo.com/bar*=svc1:8080,tls=my-cert", "--rule=*.example.com/=svc2:http")
    (row,) = rows(kubectl.ok("get", "ingress", "web", "-n", ns).stdout)
    assert row["CLASS"] == "nginx" and row["HOSTS"] == "foo.com,*.example.com", row
    assert row["PORTS"] == "80, 443", row
    ing = kubectl.json("get", "ing", "web", "-n", ns)
    paths = ing["spec"]["rules"][0]["http"]["paths"]
    assert paths == [{"path": "/bar", "pathType": "Prefix",
                      "backend": {"service": {"name": "svc1", "port": {"number": 8080}}}}], paths
    assert ing["spec"]["rules"][1]["http"]["paths"][0]["backend"]["service"]["port"] == \
        {"name": "http"}, ing
    d = kubectl.ok("describe", "ingress", "web", "-n", ns).stdout
    # describe looks the backends up (services, endpoint slices): a missing service is reported.
    assert 'svc1:8080 (<error: services "svc1" not found>)' in d, d
    assert "my-cert terminates foo.com" in d, d


def test_ingress_rules_are_validated(kubectl, ns, tmp_path):
    r = kubectl("create", "ingress", "bad", "-n", ns, "--rule=10.0.0.1/x=svc:0")
    assert r.rc != 0, r
    assert "must be a DNS name, not an IP address" in r.stderr, r.stderr
    assert "port name or number is required" in r.stderr, r.stderr
    r = apply_manifest(kubectl, tmp_path, """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bad2}
spec:
  rules:
  - host: "*.*.example.com"
    http:
      paths:
      - {path: relative, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}
      - {path: /y, pathType: Regex, backend: {service: {name: s, port: {name: p, number: 80}}}}
""", "-n", ns)
    assert r.rc != 0, r
    for want in ("spec.rules[0].host: Invalid value", "paths[0].path: Invalid value: \"relative\": "
                 "must be an absolute path", 'paths[1].pathType: Unsupported value: "Regex"',
                 "cannot set both port name & port number"):
        assert want in r.stderr, (want, r.stderr)
    r = apply_manifest(kubectl, tmp_path, """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: no-type}
spec:
  rules:
  - http: {paths: [{path: /x, backend: {service: {name: s, port: {number: 80}}}}]}
""", "-n", ns)
    assert r.rc != 0 and "paths[0].pathType: Required value" in r.stderr, r
    r = apply_manifest(kubectl, tmp_path, """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: empty}
spec: {}
""", "-n", ns)
    assert r.rc != 0 and "either `defaultBackend` or `rules` must be specified" in r.stderr, r


def test_ingress_class_controller_is_immutable(kubectl, tmp_path):
    name = "e2e-class"
    r = apply_manifest(kubectl, tmp_path, f"""
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {{name: {name}}}
spec: {{controller: example.com/ingress}}
""")
    assert r.rc == 0, r
    try:
        r = kubectl("patch", "ingressclass", name, "--type=merge",
                    "-p", '{"spec":{"controller":"other.io/x"}}')
        assert r.rc != 0 and "field is immutable" in r.stderr, r
        r = apply_manifest(kubectl, tmp_path, """
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: e2e-bad-class}
spec: {controller: no-slash}
""")
        assert r.rc != 0 and "must be a domain-prefixed path" in r.stderr, r
    finally:
        kubectl("delete", "ingressclass", name)


def test_network_policy_defaults_and_rules(kubectl, ns, tmp_path):
    r = apply_manifest(kubectl, tmp_path, """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    ports: [{port: 5432}]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
""", "-n", ns, verb="apply")
    assert r.rc == 0, r
    np = kubectl.json("get", "netpol", "db", "-n", ns)
    # Defaults: the port's protocol, and policyTypes from the rules present.
    assert np["spec"]["ingress"][0]["ports"] == [{"port": 5432, "protocol": "TCP"}], np
    assert np["spec"]["policyTypes"] == ["Ingress", "Egress"], np
    (row,) = rows(kubectl.ok("get", "networkpolicy", "-n", ns).stdout)
    assert row["POD-SELECTOR"] == "app=db", row

    r = apply_manifest(kubectl, tmp_path, """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}, podSelector: {}}, {}]
    ports: [{port: http, endPort: 90}, {port: 100, endPort: 90}]
  policyTypes: [Ingress, Sideways]
""", "-n", ns, name="bad.yaml")
    assert r.rc != 0, r
    for want in ("may not specify both podSelector/namespaceSelector and ipBlock",
                 "must be a strict subset of `cidr`", "from[1]: Required value: must specify a peer",
                 "may not be specified when `port` is non-numeric",
                 "must be greater than or equal to `port`",
                 'policyTypes[1]: Unsupported value: "Sideways"'):
        assert want in r.stderr, (want, r.stderr)


def test_endpoint_slices(kubectl, ns, tmp_path):
    r = apply_manifest(kubectl, tmp_path, """
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s1, labels: {kubernetes.io/service-name: svc1}}
addressType: IPv4
endpoints:
- addresses: [10.0.0.5]
  conditions: {ready: true}
ports: [{name: http, port: 8080}]
""", "-n", ns)
    assert r.rc == 0, r
    (row,) = rows(kubectl.ok("get", "endpointslices", "-n", ns).stdout)
    assert row["ADDRESSTYPE"] == "IPv4" and row["ENDPOINTS"] == "10.0.0.5", row
    assert kubectl.json("get", "endpointslice", "s1", "-n", ns)["ports"][0]["protocol"] == "TCP"
    r = kubectl("patch", "endpointslice", "s1", "-n", ns, "--type=merge",
                "-p", '{"addressType":"IPv6"}')
    assert r.rc != 0 and 'addressType: Invalid value: "IPv6": field is immutable' in r.stderr, r
    r = apply_manifest(kubectl, tmp_path, """
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s2}
addressType: IPv4
endpoints:
- addresses: [fe80::1]
- addresses: []
- addresses: [127.0.0.1]
ports: [{name: web, port: 80}, {name: web}]
""", "-n", ns, name="s2.yaml")
    assert r.rc != 0, r
    for want in ('addresses[0]: Invalid value: "fe80::1": must be a valid IPv4 address',
                 "endpoints[1].addresses: Required value",
                 "endpoints[2].addresses[0]: Invalid value: \"127.0.0.1\": may not be in the "
                 "loopback range", 'ports[1].name: Duplicate value: "web"'):
        assert want in r.stderr, (want, r.stderr)


def test_storage_classes(kubectl, tmp_path):
    r = apply_manifest(kubectl, tmp_path, """
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: e2e-local
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: rancher.io/local-path
volumeBindingMode: WaitForFirstConsumer
""", verb="apply")
    assert r.rc == 0, r
    try:
        (row,) = [x for x in rows(kubectl.ok("get", "sc").stdout)
                  if x["NAME"].startswith("e2e-local")]
        assert row["NAME"] == "e2e-local (default)", row
        assert row["PROVISIONER"] == "rancher.io/local-path", row
        assert row["RECLAIMPOLICY"] == "Delete", row  # defaulted
        assert row["VOLUMEBINDINGMODE"] == "WaitForFirstConsumer", row
        r = kubectl("patch", "sc", "e2e-local", "--type=merge", "-p", '{"reclaimPolicy":"Retain"}')
        assert r.rc != 0 and "updates to reclaimPolicy are forbidden" in r.stderr, r
        r = apply_manifest(kubectl, tmp_path, """
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: e2e-bad}
provisioner: "not a name"
reclaimPolicy: Recycle
allowedTopologies: [{matchLabelExpressions: [{key: zone, values: []}]}]
""", name="bad-sc.yaml")
        assert r.rc != 0, r
        for want in ('provisioner: Invalid value: "not a name"',
                     'reclaimPolicy: Unsupported value: "Recycle"',
                     "allowedTopologies[0].matchLabelExpressions[0].values: Required value"):
            assert want in r.stderr, (want, r.stderr)
    finally:
        kubectl("delete", "sc", "e2e-local")
