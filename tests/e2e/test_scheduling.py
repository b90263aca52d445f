"""Scheduling seen through kubectl on hollow nodes: nodeSelector, node affinity, taints and
tolerations, pod anti-affinity, topology spread, and FailedScheduling wording.

Five nodes for the whole module: za-0, za-1 (zone a, disk ssd), zb-0, zb-1 (zone b, disk hdd) and
gpu-0 (zone c, accel=gpu, tainted gpu=true:NoSchedule).
"""

import collections

import pytest

from harness import apply_manifest, rows_by_name, wait_until
from hollow import HollowNodes

ZONE = "topology.kubernetes.io/zone"


@pytest.fixture(scope="module")
def cluster(server):
    groups = [
        HollowNodes(server, count=2, prefix="za-", labels={ZONE: "a", "disk": "ssd"}),
        HollowNodes(server, count=2, prefix="zb-", labels={ZONE: "b", "disk": "hdd"}),
        HollowNodes(server, count=1, prefix="gpu-", labels={ZONE: "c", "accel": "gpu"},
                    taints=["gpu=true:NoSchedule"]),
    ]
    for g in groups:
        g.start()
    yield groups
    for g in groups:
        g.stop()


def deployment(name, replicas, spec_extra="", labels=None):
    labels = labels or {"app": name}
    label_yaml = ", ".join(f"{k}: {v}" for k, v in labels.items())
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{{label_yaml}}}}}
  template:
    metadata: {{labels: {{{label_yaml}}}}}
    spec:
      containers: [{{name: main, image: nginx:1.27}}]
{spec_extra}
"""


def placement(kubectl, ns, selector):
    """pod name -> (status, node) for the pods matching `selector`."""
    rows = rows_by_name(kubectl.ok("get", "pods", "-n", ns, "-l", selector, "-o", "wide").stdout)
    return {n: (r["STATUS"], r["NODE"]) for n, r in rows.items()}


def wait_running(kubectl, ns, selector, count, timeout=60):
    def done():
        p = placement(kubectl, ns, selector)
        running = {n: node for n, (st, node) in p.items() if st == "Running"}
        return running if len(running) == count else None
    return wait_until(done, timeout=timeout,
                      what=f"{count} Running pods for {selector}: {placement(kubectl, ns, selector)}")


def test_node_selector(kubectl, ns, tmp_path, cluster):
    spec = "      nodeSelector: {disk: ssd}"
    assert apply_manifest(kubectl, tmp_path, deployment("ssd", 4, spec), "-n", ns).rc == 0
    nodes = wait_running(kubectl, ns, "app=ssd", 4)
    assert set(nodes.values()) <= {"za-0", "za-1"}, nodes


def test_required_node_affinity(kubectl, ns, tmp_path, cluster):
    spec = f"""      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions: [{{key: {ZONE}, operator: In, values: [b]}}]"""
    assert apply_manifest(kubectl, tmp_path, deployment("zoneb", 3, spec), "-n", ns).rc == 0
    nodes = wait_running(kubectl, ns, "app=zoneb", 3)
    assert set(nodes.values()) <= {"zb-0", "zb-1"}, nodes


def test_taints_and_tolerations(kubectl, ns, tmp_path, cluster):
    # Without a toleration nothing lands on the tainted node.
    assert apply_manifest(kubectl, tmp_path, deployment("plain", 8), "-n", ns).rc == 0
    nodes = wait_running(kubectl, ns, "app=plain", 8)
    assert "gpu-0" not in nodes.values(), nodes
    # Tolerating the taint and selecting the node: there.
    spec = """      nodeSelector: {accel: gpu}
      tolerations: [{key: gpu, operator: Equal, value: "true", effect: NoSchedule}]"""
    assert apply_manifest(kubectl, tmp_path, deployment("cuda", 2, spec), "-n", ns,
                          name="cuda.yaml").rc == 0
    nodes = wait_running(kubectl, ns, "app=cuda", 2)
    assert set(nodes.values()) == {"gpu-0"}, nodes


def test_anti_affinity_and_failed_scheduling_event(kubectl, ns, tmp_path, cluster):
    spec = """      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: solo}}
            topologyKey: kubernetes.io/hostname"""
    assert apply_manifest(kubectl, tmp_path, deployment("solo", 5, spec), "-n", ns).rc == 0
    nodes = wait_running(kubectl, ns, "app=solo", 4)
    assert sorted(nodes.values()) == ["za-0", "za-1", "zb-0", "zb-1"], nodes
    pending = wait_until(
        lambda: [n for n, (st, _) in placement(kubectl, ns, "app=solo").items() if st == "Pending"],
        timeout=30, what="the fifth replica pending")
    assert len(pending) == 1
    # The replicas already placed carry the same term, and existing pods' anti-affinity is
    # checked first (as in kube-scheduler), so that is the reason reported.
    want = ("0/5 nodes are available: 1 node(s) had untolerated taint {gpu: true}, "
            "4 node(s) didn't satisfy existing pods anti-affinity rules. preemption: 0/5 nodes are "
            "available: 1 Preemption is not helpful for scheduling, 4 No preemption victims found "
            "for incoming pod..")

    def described():
        out = kubectl.ok("describe", "pod", pending[0], "-n", ns).stdout
        return out if "FailedScheduling" in out else None
    out = wait_until(described, timeout=30, what="a FailedScheduling event")
    assert want in out, out
    assert "default-scheduler" in out
    pod = kubectl.json("get", "pod", pending[0], "-n", ns)
    cond = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"][0]
    assert cond["status"] == "False" and cond["reason"] == "Unschedulable"
    assert cond["message"] == want


def test_topology_spread_across_zones(kubectl, ns, tmp_path, cluster):
    spec = f"""      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions: [{{key: {ZONE}, operator: In, values: [a, b]}}]
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: {ZONE}
        whenUnsatisfiable: DoNotSchedule
        labelSelector: {{matchLabels: {{app: spread}}}}"""
    assert apply_manifest(kubectl, tmp_path, deployment("spread", 6, spec), "-n", ns).rc == 0
    nodes = wait_running(kubectl, ns, "app=spread", 6)
    zones = collections.Counter(n[:2] for n in nodes.values())
    assert zones == {"za": 3, "zb": 3}, nodes


def test_default_spreading_of_replicas(kubectl, ns, tmp_path, cluster):
    # No constraints: the system default spreading puts a ReplicaSet's pods on different nodes.
    assert apply_manifest(kubectl, tmp_path, deployment("even", 4), "-n", ns).rc == 0
    nodes = wait_running(kubectl, ns, "app=even", 4)
    assert len(set(nodes.values())) == 4, nodes


def test_unknown_selector_wording(kubectl, ns, cluster):
    r = kubectl("run", "lost", "--image=nginx:1.27", "-n", ns,
                "--overrides", '{"spec":{"nodeSelector":{"disk":"tape"}}}')
    assert r.rc == 0, str(r)
    want = ("0/5 nodes are available: 1 node(s) had untolerated taint {gpu: true}, "
            "4 node(s) didn't match Pod's node affinity/selector. preemption: 0/5 nodes are "
            "available: 5 Preemption is not helpful for scheduling..")

    def described():
        out = kubectl.ok("describe", "pod", "lost", "-n", ns).stdout
        return out if want in out else None
    out = wait_until(described, timeout=30, what="the FailedScheduling event")
    assert "Warning  FailedScheduling" in out, out
    # A matching node arrives: the pod is scheduled there.
    extra = HollowNodes(cluster[0].server, count=1, prefix="tape-", labels={"disk": "tape"})
    with extra:
        wait_until(lambda: placement(kubectl, ns, "run=lost").get("lost", ("", ""))[1] == "tape-0",
                   timeout=30, what="the pod bound to the new node")
        kubectl.ok("delete", "pod", "lost", "-n", ns, "--wait=true")


def priority_classes(kubectl, *values):
    """PriorityClass prio-<v> (value v) for each value; pods name one and the Priority admission
    step fills spec.priority from it."""
    for v in values:
        r = kubectl("create", "priorityclass", f"prio-{v}", f"--value={v}")
        assert r.rc == 0 or "already exists" in r.stderr, str(r)


def test_priority_preemption(kubectl, ns, tmp_path, cluster):
    # Fill gpu-0 (4 CPUs) with a low-priority pod, then ask for most of it at a higher priority.
    def pod(name, prio, cpu):
        return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: prio}}}}
spec:
  priorityClassName: prio-{prio}
  nodeSelector: {{accel: gpu}}
  tolerations: [{{key: gpu, operator: Exists, effect: NoSchedule}}]
  containers: [{{name: main, image: nginx:1.27, resources: {{requests: {{cpu: "{cpu}"}}}}}}]
"""
    priority_classes(kubectl, 1, 100)
    assert apply_manifest(kubectl, tmp_path, pod("low", 1, "3"), "-n", ns, name="low.yaml").rc == 0
    wait_running(kubectl, ns, "app=prio", 1)
    assert apply_manifest(kubectl, tmp_path, pod("high", 100, "3"), "-n", ns,
                          name="high.yaml").rc == 0
    # The low one is preempted (its node agent finishes the deletion), the high one runs there.
    wait_until(lambda: placement(kubectl, ns, "app=prio") == {"high": ("Running", "gpu-0")},
               timeout=60, what=f"preemption, have {placement(kubectl, ns, 'app=prio')}")
    events = kubectl.ok("get", "events", "-n", ns, "--field-selector", "reason=Preempted").stdout
    assert "Preempted by pod" in events and "on node gpu-0" in events, events


def test_preemptor_room_is_held_while_its_victim_terminates(kubectl, ns, tmp_path, cluster):
    # gpu-0 has 4 CPUs. "low" (priority 1, 3 CPUs) holds it and, through a finalizer of ours,
    # stays terminating after it is preempted; "aaa-waiting" (priority 0, 3 CPUs) waits for
    # gpu-0 too. When the victim goes both are retried, "aaa-waiting" first (its key sorts
    # first), yet the room stays held for the nominated "high".
    hold = "e2e.sampan.io/hold"
    wait_until(lambda: not kubectl.json("get", "pods", "-A", "--field-selector",
                                        "spec.nodeName=gpu-0")["items"],
               timeout=60, what="gpu-0 free of earlier tests' pods")

    def pod(name, prio, extra_meta=""):
        return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: hold}}{extra_meta}}}
spec:
  priorityClassName: prio-{prio}
  nodeSelector: {{accel: gpu}}
  tolerations: [{{key: gpu, operator: Exists, effect: NoSchedule}}]
  containers: [{{name: main, image: nginx:1.27, resources: {{requests: {{cpu: "3"}}}}}}]
"""
    priority_classes(kubectl, 0, 1, 100)
    assert apply_manifest(kubectl, tmp_path, pod("low", 1, f", finalizers: [{hold}]"), "-n", ns,
                          name="low.yaml").rc == 0
    try:
        wait_running(kubectl, ns, "app=hold", 1)
        assert apply_manifest(kubectl, tmp_path, pod("aaa-waiting", 0), "-n", ns,
                              name="waiting.yaml").rc == 0
        wait_until(lambda: "FailedScheduling" in kubectl.ok(
            "get", "events", "-n", ns, "--field-selector",
            "involvedObject.name=aaa-waiting").stdout, timeout=30, what="aaa-waiting pending")
        assert apply_manifest(kubectl, tmp_path, pod("high", 100), "-n", ns,
                              name="high.yaml").rc == 0
        wait_until(lambda: kubectl.json("get", "pod", "high", "-n", ns)["status"].get(
            "nominatedNodeName") == "gpu-0", timeout=30, what="high nominated to gpu-0")
        low = kubectl.json("get", "pod", "low", "-n", ns)
        assert low["metadata"].get("deletionTimestamp"), low["metadata"]
    finally:
        kubectl("patch", "pod", "low", "-n", ns, "--type=json",
                "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
    wait_until(lambda: placement(kubectl, ns, "app=hold").get("high", ("", ""))
               == ("Running", "gpu-0"), timeout=60,
               what=f"high running on gpu-0, have {placement(kubectl, ns, 'app=hold')}")
    p = placement(kubectl, ns, "app=hold")
    assert p.get("aaa-waiting") == ("Pending", "<none>"), p
    assert "low" not in p, p
    events = kubectl.ok("get", "events", "-n", ns, "--field-selector",
                        "involvedObject.name=aaa-waiting").stdout
    assert "Scheduled" not in events.replace("FailedScheduling", ""), events
    assert "Preempted" not in events, events
    kubectl.ok("delete", "pod", "high", "aaa-waiting", "-n", ns, "--wait=true")
