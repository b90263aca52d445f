"""A second node: `sampan agent` in its own network namespace joins the server over the fabric, gets its
own pod CIDR, and runs a pod whose logs and exec go through the API server to that node's kubelet API.
Pods on the two nodes reach each other by IP (routes between the nodes, host-gw) and through a
Service whose endpoint is on the other node, and the second node answers cluster DNS names."""

import ipaddress

import pytest

import cluster as cl
import harness
import podutil as pu


@pytest.fixture(scope="module")
def node2(cluster):
    try:
        return cluster.add_agent_node(join=True)
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


def test_pods_across_nodes_and_services(kubectl, api, ns, server, node2):
    """A pod on the first node reaches the pod on the second by its IP (no NAT between pods) and
    through a Service, by name (the first node's DNS) and by clusterIP."""
    hostname = api.get(f"/api/v1/nodes/{node2.name}")["metadata"]["labels"]["kubernetes.io/hostname"]
    pu.create(kubectl, ns, f"""
apiVersion: v1
kind: Pod
metadata:
  name: remote
  labels: {{app: remote}}
spec:
  terminationGracePeriodSeconds: 2
  nodeSelector:
    kubernetes.io/hostname: {hostname}
  containers:
  - name: kubia
    image: docker.io/luksa/kubia:latest
    imagePullPolicy: IfNotPresent
    ports: [{{containerPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata:
  name: remote
spec:
  selector: {{app: remote}}
  ports: [{{port: 80, targetPort: 8080}}]
""")
    pod = pu.wait_pod(api, ns, "remote", lambda p: pu.is_running(p) and pu.is_ready(p), timeout=60,
                      what="Running and Ready on the second node")
    ip = pod["status"]["podIP"]
    svc_ip = kubectl.json("get", "service", "remote", "-n", ns)["spec"]["clusterIP"]
    harness.wait_until(
        lambda: any(e.get("addresses") == [ip]
                    for s in kubectl.json("get", "endpointslices", "-n", ns,
                                          "-l", "kubernetes.io/service-name=remote")["items"]
                    for e in s.get("endpoints") or []),
        timeout=30, what="the Service's endpoint")
    hostname1 = api.get(f"/api/v1/nodes/{server.node_name}")["metadata"]["labels"][
        "kubernetes.io/hostname"]
    script = (f"timeout 5 wget -q -O - http://{ip}:8080/ && timeout 5 wget -q -O - http://{svc_ip}/ "
              "&& timeout 5 wget -q -O - http://remote/")
    pu.create(kubectl, ns, pu.client_pod("near", script, node_hostname=hostname1))
    client = pu.wait_pod(api, ns, "near", lambda p: pu.phase(p) in ("Succeeded", "Failed"),
                         timeout=90, what="client finished")
    logs = kubectl.ok("logs", "near", "-n", ns).stdout
    assert pu.phase(client) == "Succeeded", (client["status"], logs)
    assert logs == "You've hit remote\n" * 3, logs
    assert client["spec"]["nodeName"] == server.node_name
    # By IP the remote pod sees the client's own address: no NAT between pods.
    assert f"Received request from {client['status']['podIP']}" in \
        kubectl.ok("logs", "remote", "-n", ns).stdout
