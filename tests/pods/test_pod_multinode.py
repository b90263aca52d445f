"""A second node: `sampan agent` in its own network namespace joins the server over the fabric, gets its
own pod CIDR, and runs a pod whose logs and exec go through the API server to that node's kubelet API.
(Pod traffic between nodes needs the cross-node network, which is not part of these tests yet.)"""

import ipaddress

import pytest

import cluster as cl
import harness
import podutil as pu


@pytest.fixture(scope="module")
def node2(cluster):
    try:
        return cluster.add_agent_node()
    except harness.ServerError as e:
        pytest.fail(f"second node did not join: {e}", pytrace=False)


def test_second_node_joins(kubectl, api, server, node2):
    nodes = {n["metadata"]["name"]: n for n in kubectl.json("get", "nodes")["items"]}
    assert set(nodes) == {server.node_name, node2.name}, list(nodes)
    cidrs = []
    for name, n in nodes.items():
        conds = {c["type"]: c["status"] for c in n["status"]["conditions"]}
        assert conds.get("Ready") == "True", (name, conds)
        cidr = ipaddress.ip_network(n["spec"]["podCIDR"])
        assert cidr.subnet_of(ipaddress.ip_network(cl.CLUSTER_CIDR)), n["spec"]
        cidrs.append(cidr)
        assert n["metadata"]["labels"].get("kubernetes.io/hostname"), n["metadata"]["labels"]
    assert not cidrs[0].overlaps(cidrs[1]), cidrs
    addrs = {a["type"]: a["address"] for a in nodes[node2.name]["status"]["addresses"]}
    assert addrs.get("InternalIP") == node2.node.address, addrs
    wide = harness.rows_by_name(kubectl.ok("get", "nodes", "-o", "wide").stdout)
    assert wide[node2.name]["INTERNAL-IP"] == node2.node.address, wide
    assert wide[node2.name]["STATUS"] == "Ready", wide


def test_pod_on_the_second_node(kubectl, api, ns, node2):
    hostname = api.get(f"/api/v1/nodes/{node2.name}")["metadata"]["labels"]["kubernetes.io/hostname"]
    pu.create(kubectl, ns, f"""
apiVersion: v1
kind: Pod
metadata:
  name: far
spec:
  terminationGracePeriodSeconds: 2
  nodeSelector:
    kubernetes.io/hostname: {hostname}
  containers:
  - name: kubia
    image: docker.io/luksa/kubia:latest
    imagePullPolicy: IfNotPresent
""")
    pod = pu.wait_pod(api, ns, "far", lambda p: pu.is_running(p) and pu.is_ready(p), timeout=60,
                      what="Running and Ready on the second node")
    assert pod["spec"]["nodeName"] == node2.name
    assert pod["status"]["hostIP"] == node2.node.address, pu.dump(pod)
    cidr = ipaddress.ip_network(api.get(f"/api/v1/nodes/{node2.name}")["spec"]["podCIDR"])
    ip = pod["status"]["podIP"]
    assert ipaddress.ip_address(ip) in cidr, (ip, cidr)
    assert cl.http_get(node2.node.path, ip, 8080) == (200, "You've hit far\n")
    # logs and exec are proxied by the API server to the kubelet API of the second node
    logs = kubectl.ok("logs", "far", "-n", ns).stdout
    assert "Received request from" in logs, logs
    assert kubectl.ok("exec", "far", "-n", ns, "--", "hostname").stdout == "far\n"
