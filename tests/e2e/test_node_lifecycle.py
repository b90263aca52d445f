"""Node failure with hollow nodes: a node whose agent stops renewing its Lease turns NotReady, gets
the unreachable taints, its pods are evicted after their toleration seconds and replaced on other
nodes; when it comes back the taints go. The server runs with a 4 s node-monitor grace period and the
hollow nodes renew every second, and the NoExecute taints may be added to 2 nodes/s (0.1 by
default), so the test takes seconds, not minutes."""

import os
import shutil

import pytest

import harness
from harness import apply_manifest, rows_by_name, wait_until
from hollow import HollowNodes

GRACE_ARGS = ["--node-monitor-grace-period", "4s", "--node-monitor-period", "1s",
              "--node-eviction-rate", "2"]
FAST = ["--renew-interval-seconds", "1"]


@pytest.fixture(scope="module")
def server(request):
    """This module's own server: the conftest one with a short node-monitor grace period."""
    workdir = harness.new_workdir(request.module.__name__)
    srv = harness.Server(workdir, name="server", extra_args=GRACE_ARGS)
    try:
        srv.start()
    except harness.ServerError as e:
        pytest.fail(f"could not start sampan server: {e}", pytrace=False)
    yield srv
    srv.stop()
    if not os.environ.get("SAMPAN_E2E_KEEP"):
        shutil.rmtree(srv.workdir, ignore_errors=True)


def node_rows(kubectl):
    return rows_by_name(kubectl.ok("get", "nodes").stdout)


def taints(kubectl, node):
    spec = kubectl.json("get", "node", node).get("spec", {})
    return sorted(f"{t['key']}:{t['effect']}" for t in spec.get("taints", []))


def test_node_failure_evicts_and_replaces_pods(server, kubectl, ns, tmp_path):
    keep = HollowNodes(server, count=2, prefix="keep-", extra_args=FAST).start()
    doomed = HollowNodes(server, count=2, prefix="doomed-", extra_args=FAST,
                         delete_on_exit=False).start()
    try:
        manifest = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers: [{name: main, image: nginx:1.27}]
"""
        assert apply_manifest(kubectl, tmp_path, manifest, "-n", ns).rc == 0
        r = kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=70)
        assert r.rc == 0, str(r)

        def pods():
            rows = rows_by_name(kubectl.ok("get", "pods", "-n", ns, "-o", "wide").stdout)
            return {n: (r["STATUS"], r["NODE"]) for n, r in rows.items()}

        # Default spreading: one replica per node, so two of them sit on the doomed nodes.
        before = pods()
        on_doomed = {n for n, (_, node) in before.items() if node.startswith("doomed-")}
        assert len(on_doomed) == 2, before

        doomed.stop()  # SIGTERM: the nodes stay, their leases go stale
        wait_until(lambda: all(node_rows(kubectl)[n]["STATUS"] == "NotReady" for n in doomed.names),
                   timeout=30, what=f"doomed nodes NotReady: {node_rows(kubectl)}")
        assert all(node_rows(kubectl)[n]["STATUS"] == "Ready" for n in keep.names)
        wait_until(lambda: taints(kubectl, "doomed-0") == [
            "node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"],
            timeout=20, what="unreachable taints")
        node = kubectl.json("get", "node", "doomed-0")
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"][0]
        assert ready["status"] == "Unknown"
        assert ready["reason"] == "NodeStatusUnknown"
        assert ready["message"] == "Kubelet stopped posting node status."
        out = kubectl.ok("describe", "node", "doomed-0").stdout
        assert "node.kubernetes.io/unreachable:NoExecute" in out

        # The two pods there are evicted after 2 s (Terminating: nothing finishes them on a dead
        # node) and replaced on the healthy nodes.
        def replaced():
            p = pods()
            evicted = all(p.get(n, ("gone",))[0] in ("Terminating", "gone") for n in on_doomed)
            running = [n for n, (st, node) in p.items()
                       if st == "Running" and node.startswith("keep-")]
            return evicted and len(running) == 4
        wait_until(replaced, timeout=40, what=f"pods replaced on healthy nodes: {pods()}")
        evicted = kubectl.json("get", "pod", sorted(on_doomed)[0], "-n", ns)
        conds = {c["type"]: c for c in evicted["status"]["conditions"]}
        assert conds["DisruptionTarget"]["reason"] == "DeletionByTaintManager"
        events = kubectl.ok("get", "events", "-n", ns).stdout
        assert "TaintManagerEviction" in events

        # The node agent comes back: Ready again, taints removed, and the terminating pods are
        # finished by it.
        doomed = HollowNodes(server, count=2, prefix="doomed-", extra_args=FAST).start()
        wait_until(lambda: all(node_rows(kubectl)[n]["STATUS"] == "Ready" for n in doomed.names),
                   timeout=30, what="doomed nodes Ready again")
        wait_until(lambda: taints(kubectl, "doomed-0") == [] and taints(kubectl, "doomed-1") == [],
                   timeout=20, what="taints removed")
        wait_until(lambda: not (on_doomed & set(pods())), timeout=30,
                   what="evicted pods finished by the returning node")
    finally:
        doomed.stop()
        keep.stop()


def test_new_pods_get_default_toleration_seconds(kubectl, ns):
    kubectl.ok("run", "plain", "--image=nginx:1.27", "-n", ns)
    pod = kubectl.json("get", "pod", "plain", "-n", ns)
    tols = {t["key"]: t for t in pod["spec"]["tolerations"]}
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        assert tols[key] == {"key": key, "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 300}
    out = kubectl.ok("describe", "pod", "plain", "-n", ns).stdout
    assert "node.kubernetes.io/unreachable:NoExecute op=Exists for 300s" in out
