"""`sampan hollow-nodes`: simulated nodes that register like kubelets and run pods without containers."""

import json

import pytest

import harness
from harness import apply_manifest, rows_by_name, wait_until
from hollow import HollowNodes


@pytest.fixture(scope="module")
def nodes(server):
    h = HollowNodes(server, count=3, prefix="hollow-", labels={"pool": "blue"},
                    taints=["dedicated=blue:PreferNoSchedule"])
    h.start()
    yield h
    h.stop()


def pods_wide(kubectl, ns):
    return rows_by_name(kubectl.ok("get", "pods", "-n", ns, "-o", "wide").stdout)


def test_nodes_registered_like_kubelets(kubectl, api, nodes):
    rows = rows_by_name(kubectl.ok("get", "nodes", "-o", "wide").stdout)
    for name in nodes.names:
        assert rows[name]["STATUS"] == "Ready", rows
        assert rows[name]["CONTAINER-RUNTIME"] == "hollow://0.1.0", rows
        assert rows[name]["INTERNAL-IP"].startswith("100.64."), rows
    node = kubectl.json("get", "node", "hollow-1")
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "hollow-1"
    assert labels["kubernetes.io/os"] == "linux"
    assert labels["pool"] == "blue"
    assert node["spec"]["taints"] == [
        {"key": "dedicated", "value": "blue", "effect": "PreferNoSchedule"}]
    assert node["status"]["allocatable"]["pods"] == "110"
    assert node["status"]["allocatable"]["cpu"] == "4"
    types = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert types == {"Ready": "True", "MemoryPressure": "False", "DiskPressure": "False",
                     "PIDPressure": "False"}
    # One Lease per node, renewed.
    lease = kubectl.json("get", "lease", "hollow-1", "-n", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "hollow-1"
    first = lease["spec"]["renewTime"]
    wait_until(lambda: kubectl.json("get", "lease", "hollow-1", "-n", "kube-node-lease")
               ["spec"]["renewTime"] != first, timeout=25, what="lease renewal")
    out = kubectl.ok("describe", "node", "hollow-1").stdout
    assert "dedicated=blue:PreferNoSchedule" in out
    assert "HolderIdentity:  hollow-1" in out


def test_deployment_pods_run_on_hollow_nodes(kubectl, ns, tmp_path, nodes):
    r = kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=3", "-n", ns)
    assert r.rc == 0, str(r)
    r = kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=70)
    assert r.rc == 0 and "successfully rolled out" in r.stdout, str(r)
    rows = pods_wide(kubectl, ns)
    assert len(rows) == 3
    for name, row in rows.items():
        assert row["STATUS"] == "Running" and row["READY"] == "1/1", rows
        assert row["NODE"] in nodes.names, rows
        assert row["IP"].startswith("10."), rows
    pod = kubectl.json("get", "pod", next(iter(rows)), "-n", ns)
    st = pod["status"]
    assert st["phase"] == "Running"
    assert st["hostIP"].startswith("100.64.")
    assert st["containerStatuses"][0]["ready"] is True
    assert "running" in st["containerStatuses"][0]["state"]
    assert st["startTime"]
    # Different pods, different addresses.
    assert len({row["IP"] for row in rows.values()}) == 3


def test_scripted_exit_codes_and_graceful_delete(kubectl, ns, tmp_path, nodes):
    manifest = """
apiVersion: v1
kind: Pod
metadata:
  name: ok
  annotations: {hollow.sampan.io/exit-code: "0", hollow.sampan.io/run-seconds: "1"}
spec:
  restartPolicy: Never
  containers: [{name: main, image: busybox:1.36}]
---
apiVersion: v1
kind: Pod
metadata:
  name: bad
  annotations: {hollow.sampan.io/exit-code: "2"}
spec:
  restartPolicy: Never
  containers: [{name: main, image: busybox:1.36}]
---
apiVersion: v1
kind: Pod
metadata:
  name: unready
  annotations: {hollow.sampan.io/ready: "false"}
spec:
  containers: [{name: main, image: busybox:1.36}]
"""
    r = apply_manifest(kubectl, tmp_path, manifest, "-n", ns)
    assert r.rc == 0, str(r)

    def statuses():
        rows = pods_wide(kubectl, ns)
        return {n: (row["STATUS"], row["READY"]) for n, row in rows.items()}

    wait_until(lambda: statuses() == {"ok": ("Completed", "0/1"), "bad": ("Error", "0/1"),
                                      "unready": ("Running", "0/1")},
               timeout=30, what=f"scripted pod states, have {statuses()}")
    bad = kubectl.json("get", "pod", "bad", "-n", ns)
    assert bad["status"]["phase"] == "Failed"
    assert bad["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 2
    # A graceful delete is finished by the hollow node (no 30 s wait).
    r = kubectl("delete", "pod", "unready", "-n", ns, "--wait=true", "--timeout=20s", timeout=30)
    assert r.rc == 0, str(r)
    assert kubectl("get", "pod", "unready", "-n", ns).rc != 0


def test_delete_on_exit_removes_nodes_and_leases(server, kubectl):
    h = HollowNodes(server, count=2, prefix="temp-")
    h.start()
    names = set(rows_by_name(kubectl.ok("get", "nodes").stdout))
    assert {"temp-0", "temp-1"} <= names
    assert h.stop() == 0
    wait_until(lambda: not ({"temp-0", "temp-1"} & set(rows_by_name(
        kubectl.ok("get", "nodes").stdout))), timeout=20, what="nodes deleted")
    assert kubectl("get", "lease", "temp-0", "-n", "kube-node-lease").rc != 0


def test_bad_flags_are_refused(server):
    import subprocess
    r = subprocess.run([harness.sampan_bin(), "hollow-nodes", "--kubeconfig", server.kubeconfig,
                        "--count", "1", "--taint", "k=v:Sometimes"], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 2 and "effect must be" in r.stderr, r
    r = subprocess.run([harness.sampan_bin(), "hollow-nodes", "--count", "1"], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 2 and "--kubeconfig" in r.stderr, r
