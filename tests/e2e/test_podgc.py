"""Pod garbage collection with the real kubectl and hollow nodes: finished pods beyond
--terminated-pod-gc-threshold go, oldest first (the server here keeps 3), and the pods of a node
object that was deleted go after the 40 s quarantine. Also checks the STATUS column kubectl prints
for finished pods (Completed, Error)."""

import os
import shutil
import time

import pytest

import harness
from harness import apply_manifest, rows_by_name, wait_until
from hollow import HollowNodes

THRESHOLD = 3


@pytest.fixture(scope="module")
def server(request):
    """This module's own server, keeping at most THRESHOLD finished pods."""
    workdir = harness.new_workdir(request.module.__name__)
    srv = harness.Server(workdir, name="server",
                         extra_args=["--terminated-pod-gc-threshold", str(THRESHOLD)])
    try:
        srv.start()
    except harness.ServerError as e:
        pytest.fail(f"could not start sampan server: {e}", pytrace=False)
    yield srv
    srv.stop()
    if not os.environ.get("SAMPAN_E2E_KEEP"):
        shutil.rmtree(srv.workdir, ignore_errors=True)


def pod_manifest(name, node, exit_code):
    return f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  annotations: {{hollow.sampan.io/exit-code: "{exit_code}", hollow.sampan.io/run-seconds: "1"}}
spec:
  nodeName: {node}
  restartPolicy: Never
  containers: [{{name: main, image: busybox:1.36}}]
"""


def pods(kubectl, ns):
    out = kubectl.ok("get", "pods", "-n", ns).stdout
    return rows_by_name(out) if out.strip() else {}  # "No resources found" goes to stderr


def test_finished_pods_beyond_threshold_are_collected_oldest_first(server, kubectl, ns, tmp_path):
    with HollowNodes(server, count=1, prefix="gc-"):
        # p0..p5 in creation order (names break creationTimestamp ties the same way).
        for i in range(6):
            text = pod_manifest(f"p{i}", "gc-0", 1 if i == 5 else 0)
            assert apply_manifest(kubectl, tmp_path, text, "-n", ns, name=f"p{i}.yaml").rc == 0
        # podgc runs every 20 s; the three oldest finished pods go.
        wait_until(lambda: sorted(pods(kubectl, ns)) == ["p3", "p4", "p5"], timeout=60,
                   what="only the three newest finished pods left")
        rows = pods(kubectl, ns)
        assert rows["p3"]["STATUS"] == "Completed", rows
        assert rows["p4"]["STATUS"] == "Completed", rows
        assert rows["p5"]["STATUS"] == "Error", rows
        assert rows["p5"]["READY"] == "0/1", rows
        # At the threshold nothing more goes.
        time.sleep(1)
        assert sorted(pods(kubectl, ns)) == ["p3", "p4", "p5"]


def test_pods_of_a_deleted_node_are_collected(server, kubectl, ns, tmp_path):
    lost = HollowNodes(server, count=1, prefix="lost-", delete_on_exit=False).start()
    try:
        text = pod_manifest("orphan", "lost-0", 0).replace('"1"}', '"3600"}')
        assert apply_manifest(kubectl, tmp_path, text, "-n", ns).rc == 0
        wait_until(lambda: pods(kubectl, ns).get("orphan", {}).get("STATUS") == "Running",
                   timeout=30, what="the pod running on the hollow node")
    finally:
        lost.stop()
    assert kubectl("delete", "node", "lost-0").rc == 0
    # Quarantined first: the pod is still there right after its node went.
    assert "orphan" in pods(kubectl, ns)
    start = time.monotonic()
    wait_until(lambda: "orphan" not in pods(kubectl, ns), timeout=90,
               what="the orphaned pod collected")
    # Not before the 40 s quarantine (measured from a little after the node went).
    assert time.monotonic() - start >= 35
