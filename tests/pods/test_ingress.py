"""Ingress on a real node: the node agent's proxy answers the node's ports 80 and 443 for the
Ingresses of the default class `sampan`, routing by host and path to the backend Services (kubia and
a busybox web server), with HTTPS from a kubernetes.io/tls Secret chosen by SNI. The client is
outside the node (the underlay's 192.168.200.1)."""

import http.client
import os
import socket
import ssl
import subprocess

import cluster as cl
import harness
import netns
import podutil as pu
from test_services import KUBIA_RS, ready_endpoints

KUBIA_SVC = """
apiVersion: v1
kind: Service
metadata:
  name: kubia
spec:
  ports:
  - port: 80
    targetPort: 8080
  selector:
    app: kubia
"""

# A busybox web server whose files say where they are.
FILES = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: files
spec:
  replicas: 1
  selector:
    matchLabels: {app: files}
  template:
    metadata:
      labels: {app: files}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "mkdir -p /www/static && echo static-file > /www/static/a.txt && exec httpd -f -p 8080 -h /www"]
        readinessProbe:
          tcpSocket: {port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: files
spec:
  ports:
  - name: web
    port: 8000
    targetPort: 8080
  selector:
    app: files
"""

INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
spec:
  tls:
  - hosts: [secure.example.com]
    secretName: site-tls
  rules:
  - host: kubia.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: kubia, port: {number: 80}}
      - path: /static
        pathType: Prefix
        backend:
          service: {name: files, port: {name: web}}
  - host: secure.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: kubia, port: {number: 80}}
"""


def get(ns_path, address, host, path, port=80, tls_ca=None):
    """GET http(s)://address:port/path with Host (and SNI) `host` from inside a namespace."""
    with netns.in_netns(ns_path):
        sock = socket.create_connection((address, port), timeout=5)
    if tls_ca:
        ctx = ssl.create_default_context(cafile=tls_ca)
        sock = ctx.wrap_socket(sock, server_hostname=host)
    conn = http.client.HTTPConnection(address, port, timeout=5)
    conn.sock = sock
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def test_ingress_routes_by_host_and_path(kubectl, api, ns, node, cluster, tmp_path):
    pu.create(kubectl, ns, KUBIA_RS)
    pu.create(kubectl, ns, KUBIA_SVC)
    pu.create(kubectl, ns, FILES)
    crt, key = os.path.join(tmp_path, "tls.crt"), os.path.join(tmp_path, "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", key, "-out", crt, "-subj", "/CN=secure.example.com",
                    "-addext", "subjectAltName=DNS:secure.example.com"],
                   check=True, capture_output=True)
    kubectl.ok("create", "secret", "tls", "site-tls", f"--cert={crt}", f"--key={key}", "-n", ns)
    pu.create(kubectl, ns, INGRESS)
    assert kubectl.json("get", "ingress", "site", "-n", ns)["spec"]["ingressClassName"] == "sampan"
    harness.wait_until(lambda: len(ready_endpoints(kubectl, ns, "kubia")) == 3
                       and len(ready_endpoints(kubectl, ns, "files")) == 1, timeout=90,
                       what="kubia and files endpoints")
    harness.wait_until(
        lambda: harness.rows_by_name(kubectl.ok("get", "ingress", "-n", ns).stdout)["site"]
        ["ADDRESS"] == node.address, timeout=30, what="the node's address as the Ingress ADDRESS")
    outside = cluster.fabric.underlay.path

    def answer(host, path):
        try:
            return get(outside, node.address, host, path)
        except OSError as e:
            return None, str(e)

    harness.wait_until(lambda: answer("kubia.example.com", "/")[0] == 200, timeout=30,
                       what="the ingress proxy answering for kubia.example.com")
    status, body = answer("kubia.example.com", "/")
    assert body.startswith("You've hit kubia-"), body
    # The longer prefix goes to the other Service, by its port name.
    status, body = answer("KUBIA.example.com:80", "/static/a.txt")
    assert (status, body) == (200, "static-file\n"), (status, body)
    # No rule for the host: 404.
    status, body = answer("nobody.example.com", "/")
    assert (status, body) == (404, "404 page not found\n"), (status, body)

    # HTTPS: the Secret's certificate for its host (verified against it), routed like HTTP.
    status, body = get(outside, node.address, "secure.example.com", "/", port=443, tls_ca=crt)
    assert status == 200 and body.startswith("You've hit kubia-"), (status, body)

    # A pod of the cluster reaches the proxy on the node's address too.
    script = (f"timeout 5 wget -q -O - --header 'Host: kubia.example.com' "
              f"http://{node.address}/static/a.txt || exit 1")
    pu.create(kubectl, ns, pu.client_pod("inside", script))
    pod = pu.wait_pod(api, ns, "inside", lambda p: pu.phase(p) in ("Succeeded", "Failed"),
                      timeout=90, what="client finished")
    logs = kubectl.ok("logs", "inside", "-n", ns).stdout
    assert pu.phase(pod) == "Succeeded" and logs == "static-file\n", (pod["status"], logs)

    # The Service gone: 503 from the proxy, naming it.
    kubectl.ok("delete", "service", "files", "-n", ns)
    harness.wait_until(lambda: answer("kubia.example.com", "/static/a.txt")[0] == 503, timeout=20,
                       what="503 once the Service is gone")
    assert f"service {ns}/files not found" in answer("kubia.example.com", "/static/a.txt")[1]
