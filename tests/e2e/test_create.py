"""kubectl create -f: pods, deployments, services, configmaps, multi-document files."""

import json

from harness import apply_manifest
import manifests


def test_create_pod(kubectl, ns, tmp_path):
    r = apply_manifest(kubectl, tmp_path, manifests.POD.format(name="web"), "-n", ns)
    assert r.rc == 0, str(r)
    assert r.stdout.strip() == "pod/web created", str(r)
    pod = kubectl.json("get", "pod", "web", "-n", ns)
    assert pod["kind"] == "Pod" and pod["apiVersion"] == "v1"
    meta = pod["metadata"]
    assert meta["name"] == "web" and meta["namespace"] == ns
    assert meta["labels"] == {"app": "web", "tier": "frontend"}
    assert meta.get("uid") and meta.get("resourceVersion") and meta.get("creationTimestamp")
    assert [c["name"] for c in pod["spec"]["containers"]] == ["main", "side"]
    assert pod["spec"]["containers"][1]["command"] == ["sleep", "3600"]
    assert pod["spec"]["containers"][0]["ports"][0]["containerPort"] == 80


def test_pod_defaults(kubectl, ns, tmp_path):
    """Kubernetes defaults a few fields on create; clients and controllers rely on them."""
    apply_manifest(kubectl, tmp_path, manifests.POD.format(name="web"), "-n", ns)
    pod = kubectl.json("get", "pod", "web", "-n", ns)
    spec = pod["spec"]
    assert spec.get("restartPolicy") == "Always", spec
    assert spec.get("dnsPolicy") == "ClusterFirst", spec
    assert spec.get("terminationGracePeriodSeconds") == 30, spec
    assert spec.get("schedulerName") == "default-scheduler", spec
    main, side = spec["containers"]
    assert main.get("imagePullPolicy") == "IfNotPresent", main   # tagged image
    assert side.get("imagePullPolicy") == "Always", side         # untagged = :latest
    assert main["ports"][0].get("protocol") == "TCP", main
    assert pod.get("status", {}).get("phase") == "Pending", pod.get("status")


def test_create_deployment(kubectl, ns, tmp_path):
    r = apply_manifest(kubectl, tmp_path,
                       manifests.DEPLOYMENT.format(name="front", replicas=2, image="nginx:1.25"),
                       "-n", ns)
    assert r.rc == 0 and r.stdout.strip() == "deployment.apps/front created", str(r)
    d = kubectl.json("get", "deployment", "front", "-n", ns)
    assert d["apiVersion"] == "apps/v1" and d["kind"] == "Deployment"
    assert d["spec"]["replicas"] == 2
    assert d["spec"]["selector"] == {"matchLabels": {"app": "front"}}
    assert d["metadata"].get("generation") == 1, d["metadata"]
    # Defaults Kubernetes fills in for a Deployment.
    assert d["spec"].get("strategy", {}).get("type") == "RollingUpdate", d["spec"]
    assert d["spec"].get("revisionHistoryLimit") == 10, d["spec"]
    assert d["spec"].get("progressDeadlineSeconds") == 600, d["spec"]


def test_create_service(kubectl, ns, tmp_path):
    r = apply_manifest(kubectl, tmp_path, manifests.SERVICE.format(name="websvc"), "-n", ns)
    assert r.rc == 0 and r.stdout.strip() == "service/websvc created", str(r)
    svc = kubectl.json("get", "service", "websvc", "-n", ns)
    assert svc["spec"]["selector"] == {"app": "web"}
    port = svc["spec"]["ports"][0]
    assert port["port"] == 80 and port["targetPort"] == 8080 and port.get("protocol") == "TCP", port
    assert svc["spec"].get("type") == "ClusterIP", svc["spec"]


def test_create_configmap(kubectl, ns, tmp_path):
    r = apply_manifest(kubectl, tmp_path, manifests.CONFIGMAP.format(name="settings"), "-n", ns)
    assert r.rc == 0 and r.stdout.strip() == "configmap/settings created", str(r)
    cm = kubectl.json("get", "configmap", "settings", "-n", ns)
    assert cm["data"] == {"color": "blue", "size": "3"}


def test_create_multi_document(kubectl, ns, tmp_path):
    text = "---\n".join([
        manifests.CONFIGMAP.format(name="multi-cm"),
        manifests.POD.format(name="multi-pod"),
        manifests.SERVICE.format(name="multi-svc"),
        manifests.DEPLOYMENT.format(name="multi-deploy", replicas=1, image="nginx:1.25"),
    ])
    r = apply_manifest(kubectl, tmp_path, text, "-n", ns)
    assert r.rc == 0, str(r)
    assert r.stdout.splitlines() == [
        "configmap/multi-cm created", "pod/multi-pod created", "service/multi-svc created",
        "deployment.apps/multi-deploy created"], str(r)
    names = kubectl.ok("get", "cm,po,svc,deploy", "-n", ns, "-o", "name").stdout.split()
    for n in ("configmap/multi-cm", "pod/multi-pod", "service/multi-svc",
              "deployment.apps/multi-deploy"):
        assert n in names, names


def test_create_from_stdin_json(kubectl, ns):
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "from-stdin"}, "data": {"k": "v"}})
    r = kubectl.ok("create", "-n", ns, "-f", "-", input=body)
    assert r.stdout.strip() == "configmap/from-stdin created"
    assert kubectl.json("get", "cm", "from-stdin", "-n", ns)["data"] == {"k": "v"}


def test_generate_name(kubectl, ns, tmp_path):
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: gen-\ndata: {a: b}\n"
    r1 = apply_manifest(kubectl, tmp_path, text, "-n", ns)
    r2 = apply_manifest(kubectl, tmp_path, text, "-n", ns)
    assert r1.rc == 0 and r2.rc == 0, f"{r1}\n{r2}"
    n1, n2 = r1.stdout.split()[0], r2.stdout.split()[0]
    assert n1.startswith("configmap/gen-") and n2.startswith("configmap/gen-") and n1 != n2


def test_create_cluster_scoped_node(kubectl, tmp_path):
    """Nodes are cluster-scoped; `kubectl label node` works on them (seed command list)."""
    text = "apiVersion: v1\nkind: Node\nmetadata:\n  name: e2e-fake-node\n"
    r = apply_manifest(kubectl, tmp_path, text)
    assert r.rc == 0 and r.stdout.strip() == "node/e2e-fake-node created", str(r)
    try:
        r = kubectl.ok("label", "node", "e2e-fake-node", "disk=ssd")
        assert r.stdout.strip() == "node/e2e-fake-node labeled"
        node = kubectl.json("get", "node", "e2e-fake-node")
        assert node["metadata"]["labels"].get("disk") == "ssd"
        assert "namespace" not in node["metadata"]
    finally:
        kubectl("delete", "node", "e2e-fake-node", "--wait=false")


def test_secret_string_data_becomes_data(kubectl, ns, tmp_path):
    text = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  user: admin\n"
            "data:\n  other: b3RoZXI=\n")
    r = apply_manifest(kubectl, tmp_path, text, "-n", ns)
    assert r.rc == 0 and r.stdout.strip() == "secret/s created", str(r)
    s = kubectl.json("get", "secret", "s", "-n", ns)
    assert s["data"] == {"user": "YWRtaW4=", "other": "b3RoZXI="}, s
    assert "stringData" not in s
    assert s["type"] == "Opaque"
