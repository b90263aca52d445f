"""Ingresses with the real kubectl: the server creates the default IngressClass `sampan` (as k3s
installs Traefik's), new Ingresses without a class get it (DefaultIngressClass admission), and the
Ingresses of that class get the nodes' addresses (kubectl's ADDRESS). The nodes are hollow nodes;
the proxy's traffic is tested in tests/pods.
"""

import shutil

import pytest

import harness
from harness import rows_by_name, wait_until
from hollow import HollowNodes


@pytest.fixture(scope="module")
def nodes(server):
    h = HollowNodes(server, count=2, prefix="ing-")
    h.start()
    yield h
    h.stop()


def test_the_default_ingress_class(kubectl):
    rows = rows_by_name(kubectl.ok("get", "ingressclass").stdout)
    assert rows["sampan"]["CONTROLLER"] == "sampan.io/ingress", rows
    cls = kubectl.json("get", "ingressclass", "sampan")
    assert cls["metadata"]["annotations"] == {"ingressclass.kubernetes.io/is-default-class": "true"}


def test_ingresses_get_the_class_and_the_nodes_addresses(kubectl, ns, nodes):
    node_rows = rows_by_name(kubectl.ok("get", "nodes", "-o", "wide").stdout)
    ips = sorted(node_rows[n]["INTERNAL-IP"] for n in nodes.names)
    kubectl.ok("create", "deployment", "web", "--image=nginx", "--port=80", "-n", ns)
    kubectl.ok("expose", "deployment", "web", "--port=80", "-n", ns)
    kubectl.ok("create", "ingress", "web", "--rule=foo.example.com/*=web:80",
               "--rule=bar.example.com/api=web:80", "-n", ns)
    ing = kubectl.json("get", "ingress", "web", "-n", ns)
    assert ing["spec"]["ingressClassName"] == "sampan", ing["spec"]
    wait_until(lambda: rows_by_name(kubectl.ok("get", "ingress", "-n", ns).stdout)["web"]
               ["ADDRESS"] == ",".join(ips), timeout=20, what="the nodes' addresses as ADDRESS")
    row = rows_by_name(kubectl.ok("get", "ingress", "-n", ns).stdout)["web"]
    assert row["CLASS"] == "sampan" and row["HOSTS"] == "foo.example.com,bar.example.com", row
    assert row["PORTS"] == "80", row
    out = kubectl.ok("describe", "ingress", "web", "-n", ns).stdout
    assert "Ingress Class:    sampan" in out, out
    assert "Address:          " + ",".join(ips) in out, out

    # Another class's Ingress is left alone (no address), and keeps its class.
    kubectl.ok("create", "ingress", "other", "--class=nginx", "--rule=x.example.com/*=web:80",
               "-n", ns)
    kubectl.ok("create", "ingress", "marker", "--rule=y.example.com/*=web:80", "-n", ns)
    wait_until(lambda: rows_by_name(kubectl.ok("get", "ingress", "-n", ns).stdout)["marker"]
               ["ADDRESS"] == ",".join(ips), timeout=20, what="marker's address")
    row = rows_by_name(kubectl.ok("get", "ingress", "-n", ns).stdout)["other"]
    assert row["CLASS"] == "nginx" and row["ADDRESS"] == "", row


def test_disabled_ingress_has_no_class():
    workdir = harness.new_workdir("ingress-disabled")
    srv = harness.Server(workdir, name="server", extra_args=["--disable", "traefik"])
    try:
        srv.start()
        out = srv.kubectl().ok("get", "ingressclass").stdout + \
            srv.kubectl()("get", "ingressclass").stderr
        assert "sampan" not in out, out
    finally:
        srv.stop()
        shutil.rmtree(workdir, ignore_errors=True)
