"""kubectl apply (client-side): created / configured / unchanged, strategic merge of lists by key."""

import json

from harness import apply_manifest
import manifests

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def deployment(name, image, env=("A", "B"), containers_extra="", replicas=2):
    env_yaml = "".join(f"        - name: {e}\n          value: \"{e.lower()}\"\n" for e in env)
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: web
        image: {image}
        env:
{env_yaml}{containers_extra}"""


SIDE = """\
      - name: side
        image: busybox:1.36
        ports:
        - containerPort: 9000
"""


def containers(kubectl, ns, name):
    d = kubectl.json("get", "deploy", name, "-n", ns)
    return {c["name"]: c for c in d["spec"]["template"]["spec"]["containers"]}, d


def test_apply_created_configured_unchanged(kubectl, ns, tmp_path):
    r = apply_manifest(kubectl, tmp_path, deployment("web", "nginx:1.25"), "-n", ns, verb="apply")
    assert r.rc == 0 and r.stdout.strip() == "deployment.apps/web created", str(r)
    _, d = containers(kubectl, ns, "web")
    last = json.loads(d["metadata"]["annotations"][LAST_APPLIED])
    assert last["kind"] == "Deployment" and last["spec"]["replicas"] == 2
    gen1 = d["metadata"]["generation"]

    r = apply_manifest(kubectl, tmp_path, deployment("web", "nginx:1.26"), "-n", ns, verb="apply")
    assert r.rc == 0 and r.stdout.strip() == "deployment.apps/web configured", str(r)
    cs, d = containers(kubectl, ns, "web")
    assert cs["web"]["image"] == "nginx:1.26"
    assert d["metadata"]["generation"] == gen1 + 1, d["metadata"]
    assert json.loads(d["metadata"]["annotations"][LAST_APPLIED])["spec"]["template"]["spec"][
        "containers"][0]["image"] == "nginx:1.26"
    rv = d["metadata"]["resourceVersion"]

    r = apply_manifest(kubectl, tmp_path, deployment("web", "nginx:1.26"), "-n", ns, verb="apply")
    assert r.rc == 0 and r.stdout.strip() == "deployment.apps/web unchanged", str(r)
    assert kubectl.json("get", "deploy", "web", "-n", ns)["metadata"]["resourceVersion"] == rv


def test_apply_strategic_merge_keeps_others_changes(kubectl, ns, tmp_path):
    """Containers merge by name: a field set by someone else survives an apply that does not own it."""
    apply_manifest(kubectl, tmp_path, deployment("web", "nginx:1.25", containers_extra=SIDE),
                   "-n", ns, verb="apply")
    # Someone else adds an env var to `side` with a strategic merge patch (server-side merge by name).
    kubectl.ok("patch", "deploy", "web", "-n", ns, "-p",
               '{"spec":{"template":{"spec":{"containers":[{"name":"side","env":'
               '[{"name":"EXTRA","value":"x"}]}]}}}}')
    cs, _ = containers(kubectl, ns, "web")
    assert list(cs) == ["web", "side"], cs
    assert cs["side"]["env"] == [{"name": "EXTRA", "value": "x"}]
    assert cs["side"]["image"] == "busybox:1.36"

    # Apply: change web's image and drop env A; side's EXTRA must survive.
    r = apply_manifest(kubectl, tmp_path,
                       deployment("web", "nginx:1.26", env=("B",), containers_extra=SIDE),
                       "-n", ns, verb="apply")
    assert r.stdout.strip() == "deployment.apps/web configured", str(r)
    cs, _ = containers(kubectl, ns, "web")
    assert list(cs) == ["web", "side"]
    assert cs["web"]["image"] == "nginx:1.26"
    assert [e["name"] for e in cs["web"]["env"]] == ["B"]
    assert cs["side"]["env"] == [{"name": "EXTRA", "value": "x"}]
    assert cs["side"]["ports"][0]["containerPort"] == 9000

    # Apply without `side`: the container that apply had created is removed.
    r = apply_manifest(kubectl, tmp_path, deployment("web", "nginx:1.26", env=("B",)),
                       "-n", ns, verb="apply")
    assert r.stdout.strip() == "deployment.apps/web configured", str(r)
    cs, _ = containers(kubectl, ns, "web")
    assert list(cs) == ["web"], cs


def test_apply_reorders_containers(kubectl, ns, tmp_path):
    side_first = deployment("web", "nginx:1.25", containers_extra=SIDE)
    apply_manifest(kubectl, tmp_path, side_first, "-n", ns, verb="apply")
    # Same containers, swapped order: kubectl sends $setElementOrder, the server must reorder.
    swapped = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
{SIDE}      - name: web
        image: nginx:1.25
        env:
        - name: A
          value: "a"
        - name: B
          value: "b"
"""
    r = apply_manifest(kubectl, tmp_path, swapped, "-n", ns, verb="apply")
    assert r.rc == 0, str(r)
    cs, _ = containers(kubectl, ns, "web")
    assert list(cs) == ["side", "web"], cs


def test_apply_replaces_strategy_with_retain_keys(kubectl, ns, tmp_path):
    """Switching strategy to Recreate must drop rollingUpdate ($retainKeys)."""
    apply_manifest(kubectl, tmp_path, deployment("web", "nginx:1.25"), "-n", ns, verb="apply")
    d = kubectl.json("get", "deploy", "web", "-n", ns)
    assert d["spec"]["strategy"]["type"] == "RollingUpdate"
    text = deployment("web", "nginx:1.25").replace(
        "spec:\n  replicas: 2\n", "spec:\n  replicas: 2\n  strategy:\n    type: Recreate\n", 1)
    r = apply_manifest(kubectl, tmp_path, text, "-n", ns, verb="apply")
    assert r.rc == 0 and "configured" in r.stdout, str(r)
    d = kubectl.json("get", "deploy", "web", "-n", ns)
    assert d["spec"]["strategy"] == {"type": "Recreate"}, d["spec"]["strategy"]


def test_apply_configmap_and_service(kubectl, ns, tmp_path):
    text = manifests.CONFIGMAP.format(name="cfg") + "---\n" + manifests.SERVICE.format(name="svc")
    r = apply_manifest(kubectl, tmp_path, text, "-n", ns, verb="apply")
    assert r.stdout.splitlines() == ["configmap/cfg created", "service/svc created"], str(r)
    text2 = text.replace("color: blue", "color: red").replace("port: 80\n", "port: 81\n")
    r = apply_manifest(kubectl, tmp_path, text2, "-n", ns, verb="apply")
    assert r.stdout.splitlines() == ["configmap/cfg configured", "service/svc configured"], str(r)
    assert kubectl.json("get", "cm", "cfg", "-n", ns)["data"]["color"] == "red"
    ports = kubectl.json("get", "svc", "svc", "-n", ns)["spec"]["ports"]
    assert [p["port"] for p in ports] == [81], ports
    r = apply_manifest(kubectl, tmp_path, text2, "-n", ns, verb="apply")
    assert r.stdout.splitlines() == ["configmap/cfg unchanged", "service/svc unchanged"], str(r)


def test_apply_removes_field_dropped_from_manifest(kubectl, ns, tmp_path):
    apply_manifest(kubectl, tmp_path, manifests.CONFIGMAP.format(name="cfg"), "-n", ns, verb="apply")
    kubectl.ok("label", "cm", "cfg", "owner=someone-else", "-n", ns)
    text = manifests.CONFIGMAP.format(name="cfg").replace('  size: "3"\n', "")
    apply_manifest(kubectl, tmp_path, text, "-n", ns, verb="apply")
    cm = kubectl.json("get", "cm", "cfg", "-n", ns)
    assert cm["data"] == {"color": "blue"}
    assert cm["metadata"]["labels"] == {"owner": "someone-else"}


def test_apply_unknown_field_strict(kubectl, ns, tmp_path):
    text = manifests.CONFIGMAP.format(name="cfg") + "spec:\n  foo: bar\n"
    r = apply_manifest(kubectl, tmp_path, text, "-n", ns, verb="apply")
    assert r.rc != 0 and 'unknown field "spec"' in r.stderr, str(r)


def test_replace(kubectl, ns, tmp_path):
    """kubectl replace = PUT of the whole object; a stale resourceVersion in the file conflicts."""
    apply_manifest(kubectl, tmp_path, manifests.CONFIGMAP.format(name="cfg"), "-n", ns)
    live = kubectl.json("get", "cm", "cfg", "-n", ns)
    live["data"] = {"only": "this"}
    path = tmp_path / "replace.json"
    path.write_text(json.dumps(live))
    r = kubectl.ok("replace", "-f", str(path))
    assert r.stdout.strip() == "configmap/cfg replaced"
    assert kubectl.json("get", "cm", "cfg", "-n", ns)["data"] == {"only": "this"}
    # The file still carries the old resourceVersion.
    r = kubectl.fails("replace", "-f", str(path))
    assert "Error from server (Conflict)" in r.stderr, r
    assert 'Operation cannot be fulfilled on configmaps "cfg"' in r.stderr, r
