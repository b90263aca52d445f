"""The endpoints and EndpointSlice controllers with the real kubectl: a Service with a selector and
pods made with `kubectl create -f` (bound to a Node object; the server runs without a node agent,
so the test plays the kubelet and writes each pod's IP, phase and Ready condition through the
pods/status subresource). Checks `kubectl get endpoints`, `kubectl get endpointslices`, the
Endpoints line of `kubectl describe service`, a pod turning unready, a pod leaving the selector,
and the Service's deletion taking both along. A Service without a selector keeps the Endpoints its
user wrote.

The Node objects here are never heartbeated: the node lifecycle controller would mark them (and
their pods) not ready after its 60 s startup grace period, so each test uses a node of its own and
is done well before that."""

import json
import re
import uuid

from harness import apply_manifest, wait_until

MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
SERVICE_NAME = "kubernetes.io/service-name"


def make_node(kubectl, tmp_path):
    name = f"eps-{uuid.uuid4().hex[:6]}"
    text = f"""
apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels: {{topology.kubernetes.io/zone: zone-a}}
"""
    r = apply_manifest(kubectl, tmp_path, text, name="node.yaml")
    assert r.rc == 0, str(r)
    return name


def pod_yaml(name, app, node, with_port=True):
    ports = "\n    ports: [{name: http, containerPort: 8080}]" if with_port else ""
    return f"""
---
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: {app}}}
spec:
  nodeName: {node}
  containers:
  - name: main
    image: nginx:1.25{ports}
"""


def set_pod_status(kubectl, ns, pod, ip, ready, since="2026-01-01T00:00:00Z"):
    """What a kubelet would report: Running, the pod's IP, the Ready condition."""
    status = {"status": {
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                        "lastTransitionTime": since}]}}
    kubectl.ok("patch", "pod", pod, "-n", ns, "--subresource=status", "--type=merge",
               "-p", json.dumps(status))


def get_endpoints(kubectl, ns, name):
    r = kubectl("get", "endpoints", name, "-n", ns, "-o", "json")
    return json.loads(r.stdout) if r.rc == 0 else None


def get_slices(kubectl, ns, svc):
    out = kubectl.ok("get", "endpointslices", "-n", ns, "-l", f"{SERVICE_NAME}={svc}",
                     "-o", "json").stdout
    return json.loads(out)["items"]


def ips(subsets, field):
    return sorted(a["ip"] for s in subsets or [] for a in s.get(field, []))


def endpoint_by_pod(slices):
    return {e["targetRef"]["name"]: e for s in slices for e in (s.get("endpoints") or [])}


def test_endpoints_and_slices_follow_pods_and_service(kubectl, ns, tmp_path):
    node = make_node(kubectl, tmp_path)
    try:
        manifest = f"""
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {{tier: front}}
spec:
  selector: {{app: web}}
  ports:
  - {{name: http, port: 80, targetPort: http}}
""" + pod_yaml("web-0", "web", node) + pod_yaml("web-1", "web", node) + \
            pod_yaml("other", "other", node)
        r = apply_manifest(kubectl, tmp_path, manifest, "-n", ns, name="web.yaml")
        assert r.rc == 0, str(r)
        svc = kubectl.json("get", "service", "web", "-n", ns)
        # Created for the Service as soon as it exists, without addresses while no pod has an IP.
        ep = wait_until(lambda: get_endpoints(kubectl, ns, "web"), timeout=20,
                        what="the Endpoints of web")
        assert not ep.get("subsets"), ep

        set_pod_status(kubectl, ns, "web-0", "10.244.7.10", True)
        set_pod_status(kubectl, ns, "web-1", "10.244.7.11", True)
        set_pod_status(kubectl, ns, "other", "10.244.7.12", True)
        ep = wait_until(
            lambda: (e := get_endpoints(kubectl, ns, "web")) and
            ips(e.get("subsets"), "addresses") == ["10.244.7.10", "10.244.7.11"] and e,
            timeout=20, what="both pods' addresses in the Endpoints")
        assert len(ep["subsets"]) == 1, ep
        subset = ep["subsets"][0]
        assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}], ep
        assert "notReadyAddresses" not in subset, ep
        addr = {a["targetRef"]["name"]: a for a in subset["addresses"]}
        assert set(addr) == {"web-0", "web-1"}, ep
        assert addr["web-0"]["nodeName"] == node
        assert addr["web-0"]["targetRef"]["kind"] == "Pod"
        assert addr["web-0"]["targetRef"]["namespace"] == ns
        assert addr["web-0"]["targetRef"]["uid"] == \
            kubectl.json("get", "pod", "web-0", "-n", ns)["metadata"]["uid"]
        assert ep["metadata"]["labels"]["tier"] == "front", ep
        assert ep["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"]
        # The Service has a cluster IP: not marked headless.
        if svc["spec"].get("clusterIP") not in (None, "", "None"):
            assert "service.kubernetes.io/headless" not in ep["metadata"]["labels"], ep

        # The Endpoints line of `kubectl describe service`.
        def described():
            out = kubectl.ok("describe", "service", "web", "-n", ns).stdout
            m = re.search(r"^Endpoints:\s*(.*)$", out, re.M)
            return m and sorted(m.group(1).strip().split(",")) == \
                ["10.244.7.10:8080", "10.244.7.11:8080"] and out
        wait_until(described, timeout=10, what="describe service listing both endpoints")

        # The EndpointSlice: labels, owner, address type, ports, one endpoint per pod.
        slices = wait_until(
            lambda: (s := get_slices(kubectl, ns, "web")) and
            sorted(endpoint_by_pod(s)) == ["web-0", "web-1"] and s,
            timeout=20, what="the EndpointSlice of web with both pods")
        assert [s["addressType"] for s in slices] == ["IPv4"], slices
        sl = slices[0]
        assert sl["metadata"]["name"].startswith("web-"), sl
        labels = sl["metadata"]["labels"]
        assert labels[MANAGED_BY] == "endpointslice-controller.k8s.io", sl
        assert labels[SERVICE_NAME] == "web" and labels["tier"] == "front", sl
        assert sl["metadata"]["ownerReferences"] == [{
            "apiVersion": "v1", "kind": "Service", "name": "web",
            "uid": svc["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}], sl
        assert sl["ports"] == [{"name": "http", "protocol": "TCP", "port": 8080}], sl
        e0 = endpoint_by_pod(slices)["web-0"]
        assert e0["addresses"] == ["10.244.7.10"], e0
        assert e0["conditions"] == {"ready": True, "serving": True, "terminating": False}, e0
        assert e0["nodeName"] == node and e0["zone"] == "zone-a", e0
        out = kubectl.ok("get", "endpointslices", "-n", ns, "-l", f"{SERVICE_NAME}=web").stdout
        assert "10.244.7.10" in out and "8080" in out and "IPv4" in out, out

        # web-1 turns unready: it moves to notReadyAddresses, and its slice endpoint says so.
        set_pod_status(kubectl, ns, "web-1", "10.244.7.11", False, since="2026-01-01T00:01:00Z")
        ep = wait_until(
            lambda: (e := get_endpoints(kubectl, ns, "web")) and
            ips(e.get("subsets"), "notReadyAddresses") == ["10.244.7.11"] and e,
            timeout=20, what="web-1 in notReadyAddresses")
        assert ips(ep["subsets"], "addresses") == ["10.244.7.10"], ep
        wait_until(lambda: endpoint_by_pod(get_slices(kubectl, ns, "web"))["web-1"]["conditions"]
                   == {"ready": False, "serving": False, "terminating": False},
                   timeout=20, what="web-1's slice endpoint not ready")

        # web-0 leaves the selector: gone from both.
        kubectl.ok("label", "pod", "web-0", "-n", ns, "app=moved", "--overwrite")
        wait_until(lambda: ips(get_endpoints(kubectl, ns, "web").get("subsets"), "addresses") == []
                   and sorted(endpoint_by_pod(get_slices(kubectl, ns, "web"))) == ["web-1"],
                   timeout=20, what="web-0 gone from the Endpoints and the slice")

        # The Service goes: its Endpoints and EndpointSlices go with it.
        kubectl.ok("delete", "service", "web", "-n", ns)
        wait_until(lambda: get_endpoints(kubectl, ns, "web") is None and
                   get_slices(kubectl, ns, "web") == [],
                   timeout=20, what="the Endpoints and slices of the deleted Service gone")
        r = kubectl("get", "endpoints", "web", "-n", ns)
        assert r.rc != 0 and "NotFound" in r.stderr, str(r)
    finally:
        kubectl("delete", "node", node, "--wait=false")


def test_service_without_selector_keeps_its_users_endpoints(kubectl, ns, tmp_path):
    node = make_node(kubectl, tmp_path)
    try:
        manifest = """
apiVersion: v1
kind: Service
metadata: {name: external}
spec:
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: external}
subsets:
- addresses: [{ip: 192.0.2.10}]
  ports: [{port: 8080}]
""" + pod_yaml("web-0", "web", node)
        r = apply_manifest(kubectl, tmp_path, manifest, "-n", ns, name="external.yaml")
        assert r.rc == 0, str(r)
        set_pod_status(kubectl, ns, "web-0", "10.244.7.20", True)
        # Another Service in the namespace that does select: once its Endpoints show the pod,
        # the controllers have acted on this namespace, and must have left `external` alone.
        r = apply_manifest(kubectl, tmp_path, """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
""", "-n", ns, name="web.yaml")
        assert r.rc == 0, str(r)
        wait_until(lambda: ips((get_endpoints(kubectl, ns, "web") or {}).get("subsets"),
                               "addresses") == ["10.244.7.20"],
                   timeout=20, what="the selecting Service's Endpoints")
        ep = get_endpoints(kubectl, ns, "external")
        assert ips(ep["subsets"], "addresses") == ["192.0.2.10"], ep
        assert ep["subsets"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}], ep
        slices = [s for s in get_slices(kubectl, ns, "external")
                  if s["metadata"].get("labels", {}).get(MANAGED_BY)
                  == "endpointslice-controller.k8s.io"]
        assert slices == [], slices
        # default/kubernetes is the API server's: never given pods by the controllers.
        kube = get_endpoints(kubectl, "default", "kubernetes")
        if kube is not None:
            assert all("targetRef" not in a for s in kube.get("subsets", [])
                       for a in s.get("addresses", [])), kube
    finally:
        kubectl("delete", "node", node, "--wait=false")
