"""LoadBalancer Services with the real kubectl: ServiceLB (as k3s') gives each one the addresses of
the nodes that serve it, and kubectl shows them as EXTERNAL-IP. The nodes are hollow nodes (each
with an InternalIP in 100.64.0.0/10); the traffic itself is tested in tests/pods.
"""

import subprocess

import pytest

import harness
from harness import rows_by_name, wait_until
from hollow import HollowNodes


@pytest.fixture(scope="module")
def nodes(server):
    h = HollowNodes(server, count=3, prefix="lb-")
    h.start()
    yield h
    h.stop()


def node_ips(kubectl, names):
    rows = rows_by_name(kubectl.ok("get", "nodes", "-o", "wide").stdout)
    return {n: rows[n]["INTERNAL-IP"] for n in names}


def external_ip(kubectl, ns, name):
    return rows_by_name(kubectl.ok("get", "service", "-n", ns).stdout)[name]["EXTERNAL-IP"]


def wait_external_ip(kubectl, ns, name, want):
    wait_until(lambda: external_ip(kubectl, ns, name) == want, timeout=20,
               what=f"EXTERNAL-IP of {name} = {want} (now {external_ip(kubectl, ns, name)})")


def lb_ips(kubectl, ns, name):
    status = kubectl.json("get", "service", name, "-n", ns).get("status") or {}
    return [i["ip"] for i in (status.get("loadBalancer") or {}).get("ingress") or []]


def test_every_node_serves_and_ports_are_not_shared(kubectl, ns, nodes):
    ips = node_ips(kubectl, nodes.names)
    every = ",".join(sorted(ips.values()))
    kubectl.ok("create", "deployment", "web", "--image=nginx", "--port=80", "-n", ns)
    kubectl.ok("expose", "deployment", "web", "--port=80", "--type=LoadBalancer", "-n", ns)
    wait_external_ip(kubectl, ns, "web", every)
    row = rows_by_name(kubectl.ok("get", "service", "-n", ns).stdout)["web"]
    assert row["TYPE"] == "LoadBalancer" and row["PORT(S)"].startswith("80:"), row
    svc = kubectl.json("get", "service", "web", "-n", ns)
    assert svc["status"]["loadBalancer"]["ingress"] == [
        {"ip": ip, "ipMode": "VIP"} for ip in sorted(ips.values())]
    out = kubectl.ok("describe", "service", "web", "-n", ns).stdout
    assert "LoadBalancer Ingress:     " + ", ".join(
        f"{ip} (VIP)" for ip in sorted(ips.values())) in out, out

    # Port 80 is taken on every node: a second Service on it waits; another port is served.
    kubectl.ok("create", "service", "loadbalancer", "second", "--tcp=80:8080", "-n", ns)
    kubectl.ok("create", "service", "loadbalancer", "third", "--tcp=81:8080", "-n", ns)
    wait_external_ip(kubectl, ns, "third", every)
    assert external_ip(kubectl, ns, "second") == "<pending>"
    # The first lets the port go: the second gets it.
    kubectl.ok("delete", "service", "web", "-n", ns)
    wait_external_ip(kubectl, ns, "second", every)

    # No longer a LoadBalancer: the addresses go.
    kubectl.ok("patch", "service", "third", "-n", ns, "--type=json", "-p",
               '[{"op":"replace","path":"/spec/type","value":"ClusterIP"},'
               '{"op":"remove","path":"/spec/ports/0/nodePort"}]')
    wait_external_ip(kubectl, ns, "third", "<none>")
    assert lb_ips(kubectl, ns, "third") == []


def test_local_traffic_policy_and_pools(kubectl, ns, nodes):
    ips = node_ips(kubectl, nodes.names)
    kubectl.ok("create", "deployment", "one", "--image=nginx", "--port=80", "-n", ns)
    r = kubectl("rollout", "status", "deployment/one", "-n", ns, "--timeout=60s", timeout=70)
    assert r.rc == 0, str(r)
    kubectl.ok("expose", "deployment", "one", "--port=82", "--type=LoadBalancer", "-n", ns)
    kubectl.ok("patch", "service", "one", "-n", ns, "-p",
               '{"spec":{"externalTrafficPolicy":"Local"}}')
    pod = kubectl.json("get", "pods", "-n", ns, "-l", "app=one")["items"][0]
    host = pod["spec"]["nodeName"]
    # Only the node that runs the endpoint is advertised; Kubernetes gave it a health-check port.
    wait_external_ip(kubectl, ns, "one", ips[host])
    assert kubectl.json("get", "service", "one", "-n", ns)["spec"]["healthCheckNodePort"] > 0

    # A pool: the Service's label picks the nodes with the same label.
    other = sorted(n for n in nodes.names if n != host)[0]
    kubectl.ok("label", "node", other, "svccontroller.k3s.cattle.io/lbpool=blue")
    try:
        kubectl.ok("create", "service", "loadbalancer", "pooled", "--tcp=83:80", "-n", ns)
        kubectl.ok("label", "service", "pooled", "-n", ns,
                   "svccontroller.k3s.cattle.io/lbpool=blue")
        wait_external_ip(kubectl, ns, "pooled", ips[other])
        # A node that opts in with enablelb=true leaves the others out of every Service.
        kubectl.ok("label", "node", host, "svccontroller.k3s.cattle.io/enablelb=true")
        try:
            kubectl.ok("create", "service", "loadbalancer", "opted", "--tcp=84:80", "-n", ns)
            wait_external_ip(kubectl, ns, "opted", ips[host])
            wait_external_ip(kubectl, ns, "pooled", "<pending>")
        finally:
            kubectl.ok("label", "node", host, "svccontroller.k3s.cattle.io/enablelb-")
        wait_external_ip(kubectl, ns, "opted", ",".join(sorted(ips.values())))
    finally:
        kubectl.ok("label", "node", other, "svccontroller.k3s.cattle.io/lbpool-")


def test_another_class_is_left_alone(kubectl, ns, nodes, tmp_path):
    r = harness.apply_manifest(kubectl, tmp_path, """
apiVersion: v1
kind: Service
metadata:
  name: classy
spec:
  type: LoadBalancer
  loadBalancerClass: example.com/metal
  ports:
  - port: 85
""", "-n", ns)
    assert r.rc == 0, str(r)
    wait_until(lambda: external_ip(kubectl, ns, "classy") == "<pending>", timeout=10,
               what="classy listed")
    # Still pending a while later: another controller's business.
    kubectl.ok("create", "service", "loadbalancer", "marker", "--tcp=86:80", "-n", ns)
    wait_external_ip(kubectl, ns, "marker", ",".join(sorted(node_ips(kubectl, nodes.names).values())))
    assert external_ip(kubectl, ns, "classy") == "<pending>"


def test_disable_flag_is_checked():
    r = subprocess.run([harness.sampan_bin(), "server", "--disable", "servicelb,bogus"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    assert r.stderr == ('sampan server: --disable: unknown component "bogus" (servicelb, '
                        'local-storage, ingress or traefik, metrics-server)\n'), r.stderr
