"""Services on a real node: the book's kubia ReplicaSet behind a Service. A client pod reaches the pods
through the clusterIP (spread over them), the node port answers on the node's address, and a Service
nothing serves refuses connections at once. The node agent's service proxy writes the rules; the
endpoint-slice controller tells it which pods serve."""

import ipaddress
import json

import cluster as cl
import harness
import podutil as pu

KUBIA_RS = """
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: kubia
spec:
  replicas: 3
  selector:
    matchLabels: {app: kubia}
  template:
    metadata:
      labels: {app: kubia}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: kubia
        image: luksa/kubia
        imagePullPolicy: IfNotPresent
        ports:
        - {name: http, containerPort: 8080}
"""

# The book's kubia-svc.yaml, with a node port as well.
KUBIA_SVC = """
apiVersion: v1
kind: Service
metadata:
  name: kubia
spec:
  type: NodePort
  ports:
  - port: 80
    targetPort: http
  selector:
    app: kubia
"""

NOBODY_SVC = """
apiVersion: v1
kind: Service
metadata:
  name: nobody
spec:
  ports:
  - port: 80
    targetPort: 8080
  selector:
    app: nobody-has-this-label
"""


def run_client(kubectl, api, ns, name, script):
    pu.create(kubectl, ns, pu.client_pod(name, script))
    pod = pu.wait_pod(api, ns, name, lambda p: pu.phase(p) in ("Succeeded", "Failed"), timeout=90,
                      what="client finished")
    return pod, kubectl.ok("logs", name, "-n", ns).stdout


def ready_endpoints(kubectl, ns, service):
    slices = kubectl.json("get", "endpointslices", "-n", ns,
                          "-l", f"kubernetes.io/service-name={service}")["items"]
    return sorted(a for s in slices for e in s.get("endpoints") or []
                  if (e.get("conditions") or {}).get("ready", True) for a in e["addresses"])


def test_cluster_ip_and_node_port_reach_the_pods(kubectl, api, ns, node):
    pu.create(kubectl, ns, KUBIA_RS)
    pu.create(kubectl, ns, KUBIA_SVC)
    svc = kubectl.json("get", "service", "kubia", "-n", ns)
    ip = svc["spec"]["clusterIP"]
    node_port = svc["spec"]["ports"][0]["nodePort"]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.43.0.0/16"), svc["spec"]
    def ready_pods():
        items = [p for p in api.get(f"/api/v1/namespaces/{ns}/pods")["items"]
                 if pu.is_running(p) and pu.is_ready(p)]
        return items if len(items) == 3 else None

    pods = harness.wait_until(ready_pods, timeout=90, what="three kubia pods Running and Ready")
    pod_ips = sorted(p["status"]["podIP"] for p in pods)
    harness.wait_until(lambda: ready_endpoints(kubectl, ns, "kubia") == pod_ips, timeout=30,
                       what="the Service's endpoints")

    # 30 requests to the clusterIP from a pod: every answer is one of the pods, more than one answers.
    script = f"for i in $(seq 30); do timeout 5 wget -q -O - http://{ip}/ || exit 1; done"
    client, logs = run_client(kubectl, api, ns, "client", script)
    assert pu.phase(client) == "Succeeded", (client["status"], logs)
    names = {p["metadata"]["name"] for p in pods}
    hits = [line.removeprefix("You've hit ") for line in logs.splitlines()]
    assert len(hits) == 30 and set(hits) <= names, logs
    assert len(set(hits)) > 1, logs  # random over three endpoints: all 30 on one is ~1e-14

    # By name through the cluster DNS (the search path finds "kubia" in the pod's namespace), and
    # the Service's variables in a pod created after it.
    script = ("nslookup kubia.%s.svc.cluster.local; echo host=$KUBIA_SERVICE_HOST port=$KUBIA_SERVICE_PORT; "
              "timeout 5 wget -q -O - http://kubia/ || exit 1" % ns)
    client, logs = run_client(kubectl, api, ns, "byname", script)
    assert pu.phase(client) == "Succeeded", (client["status"], logs)
    assert f"Address: {ip}" in logs or f"Address 1: {ip}" in logs, logs
    assert f"host={ip} port=80" in logs, logs
    assert logs.rstrip().splitlines()[-1].removeprefix("You've hit ") in names, logs

    # The node port on the node's own address, from the node's namespace.
    status, body = cl.http_get(node.path, node.address, node_port)
    assert status == 200 and body.startswith("You've hit kubia-"), (status, body)

    # Scaled to zero, the Service refuses connections at once instead of hanging.
    kubectl.ok("scale", "replicaset", "kubia", "--replicas=0", "-n", ns)
    harness.wait_until(lambda: ready_endpoints(kubectl, ns, "kubia") == [], timeout=60,
                       what="no endpoints")
    client, logs = run_client(kubectl, api, ns, "after",
                              f"timeout 5 wget -q -O - http://{ip}/ 2>&1; echo rc=$?")
    assert "Connection refused" in logs, logs


def test_cluster_dns_names(kubectl, api, ns):
    """The kube-dns Service's address answers on every node: the kubernetes Service by its short
    name, a name that does not exist is NXDOMAIN, and names outside the cluster are refused (the
    test cluster has no upstream)."""
    dns_ip = kubectl.json("get", "service", "kube-dns", "-n", "kube-system")["spec"]["clusterIP"]
    assert dns_ip == "10.43.0.10"
    script = ("cat /etc/resolv.conf; nslookup kubernetes.default; "
              "nslookup nothing-here.default.svc.cluster.local; nslookup example.com; true")
    client, logs = run_client(kubectl, api, ns, "resolver", script)
    assert pu.phase(client) == "Succeeded", (client["status"], logs)
    assert "nameserver 10.43.0.10" in logs, logs
    assert f"search {ns}.svc.cluster.local svc.cluster.local cluster.local" in logs, logs
    assert "10.43.0.1" in logs, logs
    assert "NXDOMAIN" in logs, logs
    assert "REFUSED" in logs or "can't resolve 'example.com'" in logs, logs


def test_a_service_without_endpoints_refuses(kubectl, api, ns):
    pu.create(kubectl, ns, NOBODY_SVC)
    ip = kubectl.json("get", "service", "nobody", "-n", ns)["spec"]["clusterIP"]
    client, logs = run_client(kubectl, api, ns, "lonely",
                              f"timeout 5 wget -q -O - http://{ip}/ 2>&1; echo rc=$?")
    assert "Connection refused" in logs, logs


# Two busybox web servers whose /cgi-bin/ip answers "<client address> <pod name>".
ECHO_DEPLOY = r"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
spec:
  replicas: 2
  selector:
    matchLabels: {app: echo}
  template:
    metadata:
      labels: {app: echo}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho \"$REMOTE_ADDR $(hostname)\"\\n' > /www/cgi-bin/ip && chmod 755 /www/cgi-bin/ip && exec httpd -f -p 8080 -h /www"]
        ports:
        - {name: http, containerPort: 8080}
        readinessProbe:
          tcpSocket: {port: 8080}
          periodSeconds: 1
"""

ECHO_LB = """
apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  type: LoadBalancer
  sessionAffinity: ClientIP
  ports:
  - port: 8081
    targetPort: http
  selector:
    app: echo
"""


def test_load_balancer_from_outside_the_node(kubectl, api, ns, node, cluster):
    """ServiceLB gives the Service the node's address; a client outside the node (the underlay's
    192.168.200.1) reaches the pods there, always the same one (session affinity), seen as the node
    under the Cluster traffic policy and as itself under Local."""
    pu.create(kubectl, ns, ECHO_DEPLOY)
    pu.create(kubectl, ns, ECHO_LB)
    harness.wait_until(lambda: len(ready_endpoints(kubectl, ns, "echo")) == 2, timeout=90,
                       what="two echo endpoints")
    harness.wait_until(
        lambda: harness.rows_by_name(kubectl.ok("get", "service", "-n", ns).stdout)["echo"]
        ["EXTERNAL-IP"] == node.address, timeout=30, what="the node's address as EXTERNAL-IP")
    outside = cluster.fabric.underlay

    def ask():
        status, body = cl.http_get(outside.path, node.address, 8081, "/cgi-bin/ip")
        assert status == 200, (status, body)
        client, pod = body.split()
        # httpd listens on a dual-stack socket: "[::ffff:192.168.200.1]".
        return client.removeprefix("[::ffff:").removesuffix("]"), pod

    answers = [ask() for _ in range(6)]
    assert len({pod for _, pod in answers}) == 1, answers  # one client, one pod
    client = answers[0][0]
    # Masqueraded (Cluster policy): the pods see the node's bridge address.
    assert client.startswith("10.244.") and client.endswith(".1"), answers

    kubectl.ok("patch", "service", "echo", "-n", ns, "-p",
               '{"spec":{"externalTrafficPolicy":"Local"}}')
    harness.wait_until(lambda: ask()[0] == cluster.fabric.gateway, timeout=20,
                       what="the client's own address under externalTrafficPolicy Local")

    # The health check a load balancer would use: this node has both endpoints.
    hc_port = kubectl.json("get", "service", "echo", "-n", ns)["spec"]["healthCheckNodePort"]

    def health():
        try:
            return cl.http_get(outside.path, node.address, hc_port, "/healthz")
        except OSError as e:
            return None, str(e)

    harness.wait_until(lambda: health()[0] == 200, timeout=20, what="the health check port")
    status, body = health()
    assert json.loads(body) == {"service": {"namespace": ns, "name": "echo"},
                                "localEndpoints": 2, "serviceProxyHealthy": True}, body

    # A pod of the cluster reaches the same address too (served like internal traffic).
    script = f"timeout 5 wget -q -O - http://{node.address}:8081/cgi-bin/ip || exit 1"
    pod, logs = run_client(kubectl, api, ns, "inside", script)
    assert pu.phase(pod) == "Succeeded", (pod["status"], logs)
    assert logs.split()[1].startswith("echo-"), logs

    # No endpoint left on the node: the health check says so (503), and the port drops.
    kubectl.ok("scale", "deployment", "echo", "--replicas=0", "-n", ns)
    harness.wait_until(lambda: health()[0] == 503, timeout=60, what="503 from the health check")
    assert json.loads(health()[1])["localEndpoints"] == 0
