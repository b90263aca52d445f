"""The scheduling queue seen through kubectl: pods waiting for room are retried highest priority
first, and in the order they failed among equal priority, once a cluster event frees the room.

One hollow node with 1 CPU; a "blocker" pod of priority 1000 holds it, so nothing of priority
10 or 100 fits and nothing can be preempted. The waiting pods are named so that neither the name
order nor the creation order gives the answer the priority queue must give.

Pods name PriorityClasses (prio-10, prio-100, prio-1000); the Priority admission step writes the
class's value into spec.priority, which is what the queue reads.
"""

import time

import pytest

from harness import apply_manifest, rows_by_name, wait_until
from hollow import HollowNodes

LOWS = ["a-low-0", "a-low-1", "a-low-2", "a-low-3"]
HIGH = "zz-high"


@pytest.fixture(scope="module")
def node(server):
    nodes = HollowNodes(server, count=1, prefix="q-", cpu="1")
    nodes.start()
    yield nodes
    nodes.stop()


def pod(name, priority, cpu):
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: queue}}}}
spec:
  priorityClassName: prio-{priority}
  containers: [{{name: main, image: nginx:1.27, resources: {{requests: {{cpu: "{cpu}"}}}}}}]
"""


def priority_classes(kubectl, *values):
    """PriorityClass prio-<v> (value v) for each value; pods name one and the Priority admission
    step fills spec.priority from it."""
    for v in values:
        r = kubectl("create", "priorityclass", f"prio-{v}", f"--value={v}")
        assert r.rc == 0 or "already exists" in r.stderr, str(r)


def placement(kubectl, ns):
    rows = rows_by_name(kubectl.ok("get", "pods", "-n", ns, "-l", "app=queue", "-o",
                                   "wide").stdout)
    return {n: (r["STATUS"], r["NODE"]) for n, r in rows.items()}


def failed(kubectl, ns, name):
    out = kubectl.ok("get", "events", "-n", ns, "--field-selector",
                     f"involvedObject.name={name},reason=FailedScheduling").stdout
    return "FailedScheduling" in out


def force_delete(kubectl, ns, name):
    kubectl.ok("delete", "pod", name, "-n", ns, "--grace-period=0", "--force")


def bound(kubectl, ns):
    return {n for n, (_, node) in placement(kubectl, ns).items() if node not in ("<none>", "")}


def test_high_priority_pod_is_bound_first_then_fifo(kubectl, ns, tmp_path, node):
    priority_classes(kubectl, 10, 100, 1000)
    assert apply_manifest(kubectl, tmp_path, pod("blocker", 1000, "1"), "-n", ns,
                          name="blocker.yaml").rc == 0
    wait_until(lambda: placement(kubectl, ns).get("blocker", ("", ""))[1] == "q-0",
               timeout=60, what="the blocker bound to q-0")
    # The low pods first (one manifest: created in this order), then the high one.
    lows = "---".join(pod(n, 10, "600m") for n in LOWS)
    assert apply_manifest(kubectl, tmp_path, lows, "-n", ns, name="lows.yaml").rc == 0
    for n in LOWS:
        wait_until(lambda n=n: failed(kubectl, ns, n), timeout=30, what=f"{n} unschedulable")
    assert apply_manifest(kubectl, tmp_path, pod(HIGH, 100, "600m"), "-n", ns,
                          name="high.yaml").rc == 0
    wait_until(lambda: failed(kubectl, ns, HIGH), timeout=30, what=f"{HIGH} unschedulable")
    # Nothing could preempt the blocker (higher priority): all still pending.
    assert bound(kubectl, ns) == {"blocker"}, placement(kubectl, ns)
    # Let each pod's 1 s backoff from its failed attempt run out, so that the freeing event sends
    # all of them to activeQ at once, where priority decides.
    time.sleep(1.5)
    force_delete(kubectl, ns, "blocker")
    got = wait_until(lambda: bound(kubectl, ns) - {"blocker"}, timeout=30,
                     what=f"a waiting pod bound, have {placement(kubectl, ns)}")
    assert got == {HIGH}, placement(kubectl, ns)
    # Only one fits: the low ones were tried after it and are pending. None was bound first
    # (and then preempted by the high one, which would hide a wrong order from the check above).
    time.sleep(1)
    events = kubectl.ok("get", "events", "-n", ns, "--field-selector", "reason=Scheduled").stdout
    assert f"Successfully assigned {ns}/{HIGH} to q-0" in events, events
    assert not any(f"{ns}/{n} " in events for n in LOWS), events
    preempted = kubectl.ok("get", "events", "-n", ns, "--field-selector",
                           "reason=Preempted").stdout
    assert "Preempted" not in preempted, preempted
    p = placement(kubectl, ns)
    assert p[HIGH][1] == "q-0", p
    assert all(p.get(n) == ("Pending", "<none>") for n in LOWS), p

    # Equal priority: the low pods failed again in their queue order (oldest first) after the
    # high one took the room; when it goes, the one that has waited longest is bound.
    time.sleep(2.5)  # their second backoff (2 s) runs out
    force_delete(kubectl, ns, HIGH)
    got = wait_until(lambda: bound(kubectl, ns) - {"blocker", HIGH}, timeout=30,
                     what=f"a low pod bound, have {placement(kubectl, ns)}")
    assert got == {LOWS[0]}, placement(kubectl, ns)
    time.sleep(1)
    assert bound(kubectl, ns) == {LOWS[0]}, placement(kubectl, ns)
    kubectl.ok("delete", "pods", "-l", "app=queue", "-n", ns, "--grace-period=0", "--force")
