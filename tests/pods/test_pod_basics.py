"""Pods run for real: the book's kubia-manual pod, pod-to-pod traffic by IP without NAT, a multi-container
pod sharing localhost and an emptyDir, a hostNetwork pod and a hostPort."""

import ipaddress
import re
import socket
import time

import cluster as cl
import podutil as pu

# The book's kubia-manual.yaml. `luksa/kubia` means docker.io/luksa/kubia:latest, for which Kubernetes
# defaults imagePullPolicy to Always; the node has no way out, so the policy says IfNotPresent.
KUBIA_MANUAL = """
apiVersion: v1
kind: Pod
metadata:
  name: kubia-manual
spec:
  containers:
  - image: luksa/kubia
    name: kubia
    imagePullPolicy: IfNotPresent
    ports:
    - containerPort: 8080
      protocol: TCP
"""


def kubia_pod(name, labels="app: kubia"):
    return f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{{labels}}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: kubia
    image: docker.io/luksa/kubia:latest
    imagePullPolicy: IfNotPresent
    ports:
    - containerPort: 8080
"""


def in_cluster_cidr(ip):
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cl.CLUSTER_CIDR)


def test_kubia_manual_runs_and_answers_on_its_pod_ip(kubectl, api, ns, node):
    pu.create(kubectl, ns, KUBIA_MANUAL)
    pod = pu.wait_pod(api, ns, "kubia-manual", lambda p: pu.is_running(p) and pu.is_ready(p),
                      timeout=60, what="Running and Ready")
    st = pod["status"]
    ip = st.get("podIP")
    assert ip and in_cluster_cidr(ip), st
    assert st.get("podIPs") and st["podIPs"][0]["ip"] == ip, st
    assert st.get("hostIP") == node.address, st
    assert st.get("startTime"), st
    assert st.get("qosClass") == "BestEffort", st
    cs = pu.container_status(pod, "kubia")
    assert cs["ready"] is True and cs.get("started") is True, cs
    assert cs["restartCount"] == 0, cs
    assert cs["state"].get("running", {}).get("startedAt"), cs
    assert re.match(r"^[a-z0-9-]+://\S+$", cs.get("containerID", "")), cs
    assert cs.get("imageID"), cs
    assert cs.get("image"), cs

    # The node's pod CIDR, allocated by the server, holds the pod's IP.
    node_obj = api.get(f"/api/v1/nodes/{pod['spec']['nodeName']}")
    cidr = node_obj["spec"].get("podCIDR")
    assert cidr and ipaddress.ip_address(ip) in ipaddress.ip_network(cidr), node_obj["spec"]
    assert ipaddress.ip_network(cidr).subnet_of(ipaddress.ip_network(cl.CLUSTER_CIDR))

    # kubectl shows it like Kubernetes does.
    out = kubectl.ok("get", "pod", "kubia-manual", "-n", ns, "-o", "wide").stdout
    row = out.splitlines()[1].split()
    assert row[0:3] == ["kubia-manual", "1/1", "Running"], out
    assert ip in row and pod["spec"]["nodeName"] in row, out

    # From the node's namespace, straight to the pod IP.
    status, body = cl.http_get(node.path, ip, 8080)
    assert (status, body) == (200, "You've hit kubia-manual\n")

    # From another pod, by IP; kubia logs the peer address: the client pod's own IP (no NAT).
    pu.create(kubectl, ns, pu.client_pod("client", f"timeout 10 wget -q -O - http://{ip}:8080/"))
    client = pu.wait_pod(api, ns, "client", lambda p: pu.phase(p) in ("Succeeded", "Failed"),
                         timeout=60, what="client finished")
    logs = kubectl.ok("logs", "client", "-n", ns).stdout
    assert pu.phase(client) == "Succeeded", (client["status"], logs)
    assert logs == "You've hit kubia-manual\n"
    client_ip = client["status"].get("podIP")
    assert client_ip and client_ip != ip and in_cluster_cidr(client_ip), pu.dump(client)
    kubia_logs = kubectl.ok("logs", "kubia-manual", "-n", ns).stdout
    assert f"Received request from {client_ip}" in kubia_logs, kubia_logs
    # The four conditions of a running pod (PodScheduled comes from the binding).
    for ctype in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
        assert pu.condition(pod, ctype) == "True", (ctype, st.get("conditions"))


def test_pods_reach_each_other_by_ip(kubectl, api, ns):
    names = ["web-a", "web-b", "web-c"]
    pu.create(kubectl, ns, "---".join(kubia_pod(n) for n in names))
    pods = pu.wait_pods(api, ns, names, lambda p: pu.is_running(p) and pu.is_ready(p), timeout=60,
                        what="Running and Ready")
    ips = {n: p["status"]["podIP"] for n, p in pods.items()}
    assert len(set(ips.values())) == len(names), ips  # every pod its own IP
    script = "; ".join(f"timeout 10 wget -q -O - http://{ip}:8080/ || exit 1" for ip in ips.values())
    pu.create(kubectl, ns, pu.client_pod("fanout", script))
    client = pu.wait_pod(api, ns, "fanout", lambda p: pu.phase(p) in ("Succeeded", "Failed"),
                         timeout=60, what="client finished")
    logs = kubectl.ok("logs", "fanout", "-n", ns).stdout
    assert pu.phase(client) == "Succeeded", (client["status"], logs)
    assert logs.splitlines() == [f"You've hit {n}" for n in names]
    client_ip = client["status"]["podIP"]
    for n in names:
        assert f"Received request from {client_ip}" in kubectl.ok("logs", n, "-n", ns).stdout


SIDECAR = """
apiVersion: v1
kind: Pod
metadata:
  name: two-containers
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - name: html
    emptyDir: {}
  containers:
  - name: web
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports:
    - containerPort: 8080
    volumeMounts:
    - name: html
      mountPath: /www
      readOnly: true
  - name: writer
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command:
    - sh
    - -c
    - |
      i=0
      while true; do
        i=$((i+1))
        echo "written by the sidecar, round $i" > /out/index.html
        if timeout 5 wget -q -O /tmp/got http://localhost:8080/index.html; then
          echo "via localhost: $(cat /tmp/got)"
        fi
        sleep 1
      done
    volumeMounts:
    - name: html
      mountPath: /out
"""


def test_multi_container_pod_shares_localhost_and_empty_dir(kubectl, api, ns, node):
    pu.create(kubectl, ns, SIDECAR)
    pod = pu.wait_pod(api, ns, "two-containers", lambda p: pu.is_running(p) and pu.is_ready(p),
                      timeout=60, what="Running and Ready")
    assert sorted(c["name"] for c in pod["status"]["containerStatuses"]) == ["web", "writer"]
    row = kubectl.ok("get", "pod", "two-containers", "-n", ns).stdout.splitlines()[1].split()
    assert row[1:3] == ["2/2", "Running"], row
    ip = pod["status"]["podIP"]
    # The web container serves what the writer container put into the shared emptyDir.
    status, body = cl.http_get(node.path, ip, 8080, "/index.html")
    assert status == 200 and body.startswith("written by the sidecar, round "), (status, body)
    # The writer reaches the web container on localhost: one network namespace for the pod.
    logs = ""
    for _ in range(50):
        logs = kubectl.ok("logs", "two-containers", "-c", "writer", "-n", ns).stdout
        if "via localhost: written by the sidecar, round" in logs:
            break
        time.sleep(0.2)
    assert "via localhost: written by the sidecar, round" in logs, logs


HOST_NETWORK = """
apiVersion: v1
kind: Pod
metadata:
  name: hostnet
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 2
  containers:
  - name: kubia
    image: docker.io/luksa/kubia:latest
    imagePullPolicy: IfNotPresent
    env:
    - name: PORT
      value: "18080"
    ports:
    - containerPort: 18080
"""


def test_host_network_pod_uses_the_node_network(kubectl, api, ns, node):
    veths_before = node.veths()
    pu.create(kubectl, ns, HOST_NETWORK)
    pod = pu.wait_pod(api, ns, "hostnet", lambda p: pu.is_running(p) and pu.is_ready(p),
                      timeout=60, what="Running and Ready")
    st = pod["status"]
    assert st["podIP"] == node.address and st["hostIP"] == node.address, st
    # Listening in the node's own namespace, on the node's address and on its loopback.
    status, body = cl.http_get(node.path, node.address, 18080)
    assert status == 200, body
    # A hostNetwork pod shares the node's UTS namespace too: the node's hostname.
    assert body == f"You've hit {socket.gethostname()}\n"
    status, _ = cl.http_get(node.path, "127.0.0.1", 18080)
    assert status == 200
    # A hostNetwork pod gets no veth of its own.
    assert set(node.veths()) <= set(veths_before)  # (pods of earlier tests may be going away)
    kubectl.ok("delete", "pod", "hostnet", "-n", ns, "--wait=true", timeout=60)
    assert pu.get_pod(api, ns, "hostnet") is None


HOST_PORT = """
apiVersion: v1
kind: Pod
metadata:
  name: hostport
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: kubia
    image: docker.io/luksa/kubia:latest
    imagePullPolicy: IfNotPresent
    ports:
    - containerPort: 8080
      hostPort: 18081
"""


def test_host_port_reaches_the_pod(kubectl, api, ns, node, cluster):
    pu.create(kubectl, ns, HOST_PORT)
    pod = pu.wait_pod(api, ns, "hostport", lambda p: pu.is_running(p) and pu.is_ready(p),
                      timeout=60, what="Running and Ready")
    assert pod["status"]["podIP"] != node.address  # its own network, reached through the mapping
    # From another machine on the fabric (the underlay namespace) and from the node itself.
    assert cl.http_get(cluster.fabric.underlay.path, node.address, 18081) == \
        (200, "You've hit hostport\n")
    assert cl.http_get(node.path, node.address, 18081) == (200, "You've hit hostport\n")
    kubectl.ok("delete", "pod", "hostport", "-n", ns, "--wait=true", timeout=60)
    # The mapping goes with the pod.
    try:
        cl.http_get(cluster.fabric.underlay.path, node.address, 18081, timeout=2)
        raise AssertionError("hostPort 18081 still answers after the pod was deleted")
    except OSError:
        pass
