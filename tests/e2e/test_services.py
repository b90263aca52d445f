"""Services with the real kubectl: clusterIP and node-port allocation, what updates keep and drop,
and the `kubernetes` Service that points at the API server.

The server runs with the default ranges: clusterIPs from 10.43.0.0/16 (10.43.0.1 is the
`kubernetes` Service's), node ports 30000-32767.
"""

import ipaddress
import json
import os
import subprocess

import harness

RANGE = ipaddress.ip_network("10.43.0.0/16")


def svc(kubectl, ns, name):
    return kubectl.json("get", "service", name, "-n", ns)


def test_kubernetes_service_points_at_the_api_server(kubectl, server):
    s = svc(kubectl, "default", "kubernetes")
    assert s["spec"]["clusterIP"] == "10.43.0.1"
    assert s["spec"]["clusterIPs"] == ["10.43.0.1"]
    assert s["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    port = int(server.rest.port)
    assert s["spec"]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP",
                                   "targetPort": port}]
    ep = kubectl.json("get", "endpoints", "kubernetes", "-n", "default")
    subset = ep["subsets"][0]
    assert subset["ports"] == [{"name": "https", "port": port, "protocol": "TCP"}]
    address = subset["addresses"][0]["ip"]
    assert not ipaddress.ip_address(address).is_loopback
    slices = kubectl.json("get", "endpointslices", "-n", "default",
                          "-l", "kubernetes.io/service-name=kubernetes")["items"]
    assert len(slices) == 1
    assert slices[0]["endpoints"][0]["addresses"] == [address]
    assert slices[0]["ports"][0]["port"] == port
    # The serving certificate names the clusterIP and the address, so in-cluster clients can
    # verify it whichever they use.
    cert = os.path.join(server.data_dir, "server", "tls", "serving.crt")
    sans = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-ext", "subjectAltName"],
                          capture_output=True, text=True, check=True).stdout
    assert "IP Address:10.43.0.1" in sans and f"IP Address:{address}" in sans, sans
    # A deleted kubernetes Service comes back (the server checks every 10 s), at the same address,
    # and so do its endpoints.
    kubectl.ok("delete", "service", "kubernetes", "-n", "default")
    kubectl.ok("delete", "endpoints", "kubernetes", "-n", "default")
    harness.wait_until(lambda: kubectl("get", "endpoints", "kubernetes", "-n", "default").rc == 0,
                       timeout=30)
    assert svc(kubectl, "default", "kubernetes")["spec"]["clusterIP"] == "10.43.0.1"
    # And at the next start, when the port changed.
    server.restart()
    port = int(server.rest.port)
    harness.wait_until(
        lambda: svc(kubectl, "default", "kubernetes")["spec"]["ports"][0]["targetPort"] == port,
        timeout=30)


def test_cluster_ips_are_allocated_from_the_range(kubectl, ns):
    kubectl.ok("create", "service", "clusterip", "a", "--tcp=80:8080", "-n", ns)
    kubectl.ok("create", "service", "clusterip", "b", "--tcp=80:8080", "-n", ns)
    a, b = svc(kubectl, ns, "a")["spec"], svc(kubectl, ns, "b")["spec"]
    for spec in (a, b):
        ip = ipaddress.ip_address(spec["clusterIP"])
        assert ip in RANGE and ip != RANGE.network_address and ip != RANGE.broadcast_address
        assert spec["clusterIPs"] == [spec["clusterIP"]]
        assert spec["ipFamilies"] == ["IPv4"]
        assert spec["ipFamilyPolicy"] == "SingleStack"
    assert a["clusterIP"] != b["clusterIP"]
    # `kubectl get` shows the address.
    row = kubectl.ok("get", "service", "a", "-n", ns, "--no-headers").stdout.split()
    assert row[:3] == ["a", "ClusterIP", a["clusterIP"]]


def test_requested_cluster_ip(kubectl, ns):
    kubectl.ok("create", "service", "clusterip", "fixed", "--tcp=80", "--clusterip=10.43.0.200",
               "-n", ns)
    assert svc(kubectl, ns, "fixed")["spec"]["clusterIP"] == "10.43.0.200"
    r = kubectl.fails("create", "service", "clusterip", "again", "--tcp=80",
                      "--clusterip=10.43.0.200", "-n", ns)
    assert ('Service "again" is invalid: spec.clusterIPs: Invalid value: []string{"10.43.0.200"}: '
            'failed to allocate IP 10.43.0.200: provided IP is already allocated') in r.stderr
    r = kubectl.fails("create", "service", "clusterip", "outside", "--tcp=80",
                      "--clusterip=192.168.7.7", "-n", ns)
    assert ("failed to allocate IP 192.168.7.7: the provided IP (192.168.7.7) is not in the valid "
            "range. The range of valid IPs is 10.43.0.0/16") in r.stderr
    # Nothing was stored for the refused ones.
    kubectl.fails("get", "service", "again", "-n", ns)
    # Once the holder is gone, the address is free again.
    kubectl.ok("delete", "service", "fixed", "-n", ns)
    kubectl.ok("create", "service", "clusterip", "again", "--tcp=80", "--clusterip=10.43.0.200",
               "-n", ns)


def test_headless_and_external_name_get_no_address(kubectl, ns):
    kubectl.ok("create", "service", "clusterip", "hl", "--clusterip=None", "-n", ns)
    spec = svc(kubectl, ns, "hl")["spec"]
    assert spec["clusterIP"] == "None" and spec["clusterIPs"] == ["None"]
    kubectl.ok("create", "service", "externalname", "ext", "--external-name=db.example.com",
               "-n", ns)
    spec = svc(kubectl, ns, "ext")["spec"]
    assert "clusterIP" not in spec and "clusterIPs" not in spec


def test_node_ports(kubectl, ns):
    kubectl.ok("create", "service", "nodeport", "np", "--tcp=80:8080", "-n", ns)
    port = svc(kubectl, ns, "np")["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 32767
    row = kubectl.ok("get", "service", "np", "-n", ns, "--no-headers").stdout.split()
    assert row[4] == f"80:{port}/TCP"
    kubectl.ok("create", "service", "nodeport", "pinned", "--tcp=80", "--node-port=31234", "-n", ns)
    assert svc(kubectl, ns, "pinned")["spec"]["ports"][0]["nodePort"] == 31234
    r = kubectl.fails("create", "service", "nodeport", "taken", "--tcp=80", "--node-port=31234",
                      "-n", ns)
    assert ('Service "taken" is invalid: spec.ports[0].nodePort: Invalid value: 31234: '
            'provided port is already allocated') in r.stderr
    r = kubectl.fails("create", "service", "nodeport", "low", "--tcp=80", "--node-port=8080",
                      "-n", ns)
    assert ("spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid "
            "range. The range of valid ports is 30000-32767") in r.stderr


def test_updates_keep_what_was_allocated(kubectl, ns, tmp_path):
    manifest = f"""apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {ns}
spec:
  type: NodePort
  selector: {{app: web}}
  ports:
  - {{name: http, port: 80, targetPort: 8080}}
"""
    harness.apply_manifest(kubectl, tmp_path, manifest, verb="apply")
    first = svc(kubectl, ns, "web")["spec"]
    ip, node_port = first["clusterIP"], first["ports"][0]["nodePort"]
    # apply and replace of a manifest that never names them keep the address and the port.
    harness.apply_manifest(kubectl, tmp_path, manifest.replace("8080", "9090"), verb="apply")
    spec = svc(kubectl, ns, "web")["spec"]
    assert (spec["clusterIP"], spec["ports"][0]["nodePort"]) == (ip, node_port)
    assert spec["ports"][0]["targetPort"] == 9090
    harness.apply_manifest(kubectl, tmp_path, manifest, verb="replace")
    spec = svc(kubectl, ns, "web")["spec"]
    assert (spec["clusterIP"], spec["ports"][0]["nodePort"]) == (ip, node_port)
    # The address may not change.
    r = kubectl.fails("patch", "service", "web", "-n", ns, "-p",
                      '{"spec":{"clusterIP":"10.43.0.99"}}')
    assert "spec.clusterIP: Invalid value: \"10.43.0.99\": field is immutable" in r.stderr
    # NodePort → ClusterIP drops the node port (and externalTrafficPolicy), which is free again.
    kubectl.ok("patch", "service", "web", "-n", ns, "-p", '{"spec":{"type":"ClusterIP"}}')
    spec = svc(kubectl, ns, "web")["spec"]
    assert spec["type"] == "ClusterIP" and spec["clusterIP"] == ip
    assert "nodePort" not in spec["ports"][0] and "externalTrafficPolicy" not in spec
    kubectl.ok("create", "service", "nodeport", "reuse", "--tcp=80", f"--node-port={node_port}",
               "-n", ns)
    # ClusterIP → ExternalName drops the address; back to NodePort allocates anew.
    kubectl.ok("patch", "service", "web", "-n", ns, "-p",
               '{"spec":{"type":"ExternalName","externalName":"web.example.com"}}')
    spec = svc(kubectl, ns, "web")["spec"]
    assert "clusterIP" not in spec and "clusterIPs" not in spec
    kubectl.ok("patch", "service", "web", "-n", ns, "-p",
               '{"spec":{"type":"NodePort","externalName":null}}')
    spec = svc(kubectl, ns, "web")["spec"]
    assert ipaddress.ip_address(spec["clusterIP"]) in RANGE
    assert 30000 <= spec["ports"][0]["nodePort"] <= 32767
    assert spec["ports"][0]["nodePort"] != node_port  # held by "reuse" now


def test_dry_run_shows_an_address_and_takes_none(kubectl, ns):
    out = kubectl.ok("create", "service", "clusterip", "dry", "--tcp=80", "--clusterip=10.43.0.201",
                     "-n", ns, "--dry-run=server", "-o", "json").stdout
    assert json.loads(out)["spec"]["clusterIP"] == "10.43.0.201"
    kubectl.ok("create", "service", "clusterip", "real", "--tcp=80", "--clusterip=10.43.0.201",
               "-n", ns)


def test_server_flags_are_checked():
    for args, message in ((["--service-cidr", "10.43.0.0/33"], "--service-cidr"),
                          (["--service-cidr", "10.43.0.0/8"], "--service-cidr"),
                          (["--service-node-port-range", "3000"], "--service-node-port-range"),
                          (["--advertise-address", "nowhere"], "--advertise-address")):
        r = subprocess.run([harness.sampan_bin(), "server", *args], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 2, r
        assert message in r.stderr and "\n" == r.stderr[-1] and r.stderr.count("\n") == 1, r.stderr


def test_expose_and_describe(kubectl, ns):
    """`kubectl expose` builds the Service from the Deployment's selector; get and describe show what
    was allocated."""
    kubectl.ok("create", "deployment", "web", "--image=nginx", "--port=80", "-n", ns)
    kubectl.ok("expose", "deployment", "web", "--port=8080", "--target-port=80", "--type=NodePort",
               "-n", ns)
    spec = svc(kubectl, ns, "web")["spec"]
    assert spec["selector"] == {"app": "web"}
    assert spec["ports"][0]["port"] == 8080 and spec["ports"][0]["targetPort"] == 80
    node_port = spec["ports"][0]["nodePort"]
    row = kubectl.ok("get", "service", "web", "-n", ns, "--no-headers").stdout.split()
    assert row[:3] == ["web", "NodePort", spec["clusterIP"]] and row[4] == f"8080:{node_port}/TCP"
    out = kubectl.ok("describe", "service", "web", "-n", ns).stdout
    for line in (f"IP:                       {spec['clusterIP']}",
                 f"IPs:                      {spec['clusterIP']}",
                 "Port:                     <unset>  8080/TCP",
                 "TargetPort:               80/TCP",
                 f"NodePort:                 <unset>  {node_port}/TCP",
                 "Selector:                 app=web",
                 "Type:                     NodePort"):
        assert line in out, out
