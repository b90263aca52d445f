"""DaemonSet controller end to end: one pod per labelled hollow node, bound by the scheduler
through node affinity; kubectl rollout status/history/undo."""

import pytest

from harness import rows_by_name, wait_until
from hollow import HollowNodes
from workloads_util import create, get, pods, revisions, wait_status

DS = """
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {name}
spec:
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      nodeSelector: {{{label}: "yes"}}
      containers:
      - name: c
        image: busybox:1.36
"""


@pytest.fixture(scope="module")
def nodes(server):
    with HollowNodes(server, count=3, prefix="dsnode-") as n:
        yield n


def label(kubectl, node, key, value):
    kubectl.ok("label", "node", node, f"{key}={value}", "--overwrite")


def unlabel(kubectl, node, key):
    kubectl.ok("label", "node", node, f"{key}-")


def test_one_pod_per_labelled_node(kubectl, ns, nodes, tmp_path):
    key = f"ds-{ns}"
    label(kubectl, "dsnode-0", key, "yes")
    label(kubectl, "dsnode-1", key, "yes")
    try:
        create(kubectl, tmp_path, ns, DS.format(name="agent", label=key))
        r = kubectl.ok("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=60s")
        assert 'daemon set "agent" successfully rolled out' in r.stdout, str(r)
        placed = pods(kubectl, ns, "app=agent")
        assert sorted(p["spec"]["nodeName"] for p in placed.values()) == ["dsnode-0", "dsnode-1"]
        for p in placed.values():
            terms = p["spec"]["affinity"]["nodeAffinity"][
                "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
            assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                               "values": [p["spec"]["nodeName"]]}]}]
            tolerated = {(t.get("key"), t.get("effect")) for t in p["spec"]["tolerations"]}
            assert ("node.kubernetes.io/unschedulable", "NoSchedule") in tolerated
            assert p["metadata"]["labels"]["controller-revision-hash"]
            assert p["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"

        # A third labelled node gets a pod; a cordoned node keeps it (daemon pods tolerate it).
        kubectl.ok("cordon", "dsnode-2")
        label(kubectl, "dsnode-2", key, "yes")
        wait_status(kubectl, ns, "ds", "agent",
                    lambda s: s.get("desiredNumberScheduled") == 3 and s.get("numberReady") == 3
                    and s.get("numberAvailable") == 3 and s.get("updatedNumberScheduled") == 3)
        rows = rows_by_name(kubectl.ok("get", "ds", "agent", "-n", ns).stdout)
        assert rows["agent"]["DESIRED"] == "3" and rows["agent"]["READY"] == "3", rows
        assert rows["agent"]["UP-TO-DATE"] == "3" and rows["agent"]["AVAILABLE"] == "3", rows

        # A node that loses the label loses the pod.
        unlabel(kubectl, "dsnode-0", key)
        wait_until(lambda: sorted(p["spec"].get("nodeName", "") for p in
                                  pods(kubectl, ns, "app=agent").values()) == ["dsnode-1", "dsnode-2"],
                   timeout=30, what="pod to leave dsnode-0")
        st = wait_status(kubectl, ns, "ds", "agent",
                         lambda s: s.get("desiredNumberScheduled") == 2
                         and s.get("currentNumberScheduled") == 2 and s.get("numberReady") == 2)
        assert st["status"]["numberMisscheduled"] == 0
        assert st["status"]["observedGeneration"] == st["metadata"]["generation"]
    finally:
        kubectl("uncordon", "dsnode-2")
        for n in nodes.names:
            kubectl("label", "node", n, f"{key}-")


def test_rollout_history_and_undo(kubectl, ns, nodes, tmp_path):
    key = f"ds-{ns}"
    for n in nodes.names:
        label(kubectl, n, key, "yes")
    try:
        create(kubectl, tmp_path, ns, DS.format(name="agent", label=key))
        kubectl.ok("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=60s")
        kubectl.ok("set", "image", "daemonset/agent", "c=busybox:1.37", "-n", ns)
        r = kubectl.ok("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=90s")
        assert 'daemon set "agent" successfully rolled out' in r.stdout, str(r)
        images = {p["spec"]["containers"][0]["image"] for p in pods(kubectl, ns, "app=agent").values()}
        assert images == {"busybox:1.37"}

        uid = get(kubectl, ns, "ds", "agent")["metadata"]["uid"]
        assert sorted(revisions(kubectl, ns, uid)) == [1, 2]
        hist = kubectl.ok("rollout", "history", "daemonset/agent", "-n", ns).stdout
        assert [r[0] for r in (l.split() for l in hist.splitlines()) if r and r[0].isdigit()] == ["1", "2"], hist

        r = kubectl.ok("rollout", "undo", "daemonset/agent", "-n", ns)
        assert "rolled back" in r.stdout, str(r)
        kubectl.ok("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=90s")
        ds = get(kubectl, ns, "ds", "agent")
        assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.36"
        wait_until(lambda: {p["spec"]["containers"][0]["image"]
                            for p in pods(kubectl, ns, "app=agent").values()} == {"busybox:1.36"}
                   and len(pods(kubectl, ns, "app=agent")) == 3, timeout=60, what="pods back on 1.36")
        # The first revision is reused as revision 3.
        wait_until(lambda: sorted(revisions(kubectl, ns, uid)) == [2, 3], timeout=20,
                   what="revisions 2 and 3")
        hist = kubectl.ok("rollout", "history", "daemonset/agent", "-n", ns, "--revision=3").stdout
        assert "busybox:1.36" in hist, hist
    finally:
        for n in nodes.names:
            kubectl("label", "node", n, f"{key}-")
