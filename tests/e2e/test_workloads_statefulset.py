"""StatefulSet controller end to end on hollow nodes: ordered creation, stable identity,
reverse-order scale down, kubectl rollout status/history/undo."""

import time

import pytest

from harness import LineReader, rows_by_name, wait_until
from hollow import HollowNodes
from workloads_util import create, get, pods, revisions, wait_status

STS = """
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  replicas: {replicas}
  serviceName: web
  podManagementPolicy: {policy}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
      annotations:
        hollow.sampan.io/ready: "{ready}"
    spec:
      containers:
      - name: c
        image: nginx:1.25
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
"""


@pytest.fixture(scope="module")
def nodes(server):
    with HollowNodes(server, count=2, prefix="stsnode-") as n:
        yield n


def watch_pods(kubectl, ns, expect_initial=0):
    """`kubectl get pods -w`: lines "NAME READY DELETION-TIMESTAMP"."""
    w = LineReader(kubectl.popen(
        "get", "pods", "-n", ns, "-l", "app in (web,sentinel)", "-w", "--no-headers",
        "-o", "custom-columns=NAME:.metadata.name,"
        "READY:.status.conditions[?(@.type==\"Ready\")].status,DEL:.metadata.deletionTimestamp"))
    if expect_initial:
        assert w.wait_for(lambda l: True, timeout=20, start=expect_initial - 1) is not None, w.lines
    return w


def events(watch):
    return [l.split() for l in list(watch.lines) if l.split()]


def test_ordered_creation_identity_and_reverse_scale_down(kubectl, api, ns, nodes, tmp_path):
    # A sentinel pod shows that the watch is running before the StatefulSet exists.
    api.create_pod(ns, "sentinel", labels={"app": "sentinel"})
    watch = watch_pods(kubectl, ns, expect_initial=1)
    try:
        create(kubectl, tmp_path, ns, STS.format(replicas=3, policy="OrderedReady", ready="true"))
        r = kubectl.ok("rollout", "status", "statefulset/web", "-n", ns, "--timeout=60s")
        assert "partitioned roll out complete: 3 new pods have been updated" in r.stdout, str(r)
        assert watch.wait_for(lambda l: "web-2" in l and "True" in l, timeout=20) is not None
        # Each pod appeared only after the one before it was Ready.
        first = {}
        ready = {}
        for i, f in enumerate(events(watch)):
            first.setdefault(f[0], i)
            if len(f) > 1 and f[1] == "True":
                ready.setdefault(f[0], i)
        assert ready["web-0"] < first["web-1"], watch.lines
        assert ready["web-1"] < first["web-2"], watch.lines
    finally:
        watch.stop()

    placed = pods(kubectl, ns, "app=web")
    assert sorted(placed) == ["web-0", "web-1", "web-2"]
    for name, p in placed.items():
        assert p["spec"]["hostname"] == name and p["spec"]["subdomain"] == "web"
        assert p["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == name
        assert p["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == name[-1]
        claim = [v for v in p["spec"]["volumes"] if v["name"] == "data"][0]
        assert claim["persistentVolumeClaim"]["claimName"] == f"data-{name}"
    claims = kubectl.json("get", "pvc", "-n", ns)["items"]
    assert sorted(c["metadata"]["name"] for c in claims) == ["data-web-0", "data-web-1", "data-web-2"]
    rows = rows_by_name(kubectl.ok("get", "sts", "web", "-n", ns).stdout)
    assert rows["web"]["READY"] == "3/3", rows

    watch = watch_pods(kubectl, ns, expect_initial=4)
    try:
        kubectl.ok("scale", "statefulset/web", "--replicas=1", "-n", ns)
        wait_status(kubectl, ns, "sts", "web",
                    lambda s: s.get("replicas") == 1 and s.get("readyReplicas") == 1)
        wait_until(lambda: sorted(pods(kubectl, ns, "app=web")) == ["web-0"], timeout=30,
                   what="web-1 and web-2 gone")
        deleted = []
        for f in events(watch):
            if len(f) > 2 and f[2] != "<none>" and f[0] not in deleted:
                deleted.append(f[0])
        assert deleted and deleted[0] == "web-2", watch.lines
        assert deleted.index("web-1") > deleted.index("web-2"), watch.lines
    finally:
        watch.stop()
    # Claims are kept when scaling down (retention policy Retain).
    assert len(kubectl.json("get", "pvc", "-n", ns)["items"]) == 3


def test_ordered_ready_waits_for_readiness(kubectl, ns, nodes, tmp_path):
    create(kubectl, tmp_path, ns, STS.format(replicas=3, policy="OrderedReady", ready="false"))
    wait_until(lambda: "web-0" in pods(kubectl, ns, "app=web"), timeout=30, what="web-0")
    time.sleep(3)
    assert sorted(pods(kubectl, ns, "app=web")) == ["web-0"]


def test_parallel_creates_all_at_once(kubectl, ns, nodes, tmp_path):
    create(kubectl, tmp_path, ns, STS.format(replicas=3, policy="Parallel", ready="false"))
    wait_until(lambda: sorted(pods(kubectl, ns, "app=web")) == ["web-0", "web-1", "web-2"],
               timeout=30, what="all three pods without readiness")


def test_rollout_status_history_and_undo(kubectl, ns, nodes, tmp_path):
    create(kubectl, tmp_path, ns, STS.format(replicas=2, policy="OrderedReady", ready="true"))
    kubectl.ok("rollout", "status", "statefulset/web", "-n", ns, "--timeout=60s")
    first = get(kubectl, ns, "sts", "web")["status"]["currentRevision"]
    kubectl.ok("set", "image", "statefulset/web", "c=nginx:1.27", "-n", ns)
    r = kubectl.ok("rollout", "status", "statefulset/web", "-n", ns, "--timeout=90s")
    # spec.updateStrategy.rollingUpdate.partition is defaulted to 0, so kubectl reports a
    # partitioned roll out, as it does against Kubernetes.
    assert "partitioned roll out complete: 2 new pods have been updated" in r.stdout, str(r)
    sts = get(kubectl, ns, "sts", "web")
    assert sts["status"]["currentRevision"] == sts["status"]["updateRevision"] != first
    assert sts["status"]["updatedReplicas"] == 2
    for p in pods(kubectl, ns, "app=web").values():
        assert p["spec"]["containers"][0]["image"] == "nginx:1.27"
        assert p["metadata"]["labels"]["controller-revision-hash"] == sts["status"]["updateRevision"]
    uid = sts["metadata"]["uid"]
    assert sorted(revisions(kubectl, ns, uid)) == [1, 2]
    hist = kubectl.ok("rollout", "history", "statefulset/web", "-n", ns).stdout
    assert [r[0] for r in (l.split() for l in hist.splitlines()) if r and r[0].isdigit()] == ["1", "2"], hist

    r = kubectl.ok("rollout", "undo", "statefulset/web", "-n", ns)
    assert "rolled back" in r.stdout, str(r)
    kubectl.ok("rollout", "status", "statefulset/web", "-n", ns, "--timeout=90s")
    wait_until(lambda: {p["spec"]["containers"][0]["image"]
                        for p in pods(kubectl, ns, "app=web").values()} == {"nginx:1.25"},
               timeout=60, what="pods back on nginx:1.25")
    sts = wait_status(kubectl, ns, "sts", "web",
                      lambda s: s.get("currentRevision") == first and s.get("updateRevision") == first)
    assert sorted(revisions(kubectl, ns, uid)) == [2, 3]


def test_adopts_orphans_by_name_and_releases_relabelled_pods(kubectl, ns, nodes, tmp_path):
    # An orphan named like a member (web-0) and one that only matches the selector (web-extra).
    for name in ("web-0", "web-extra"):
        create(kubectl, tmp_path, ns, f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: web}}
spec:
  containers: [{{name: c, image: nginx:1.25}}]
""", name=f"{name}.yaml")
    wait_until(lambda: len(pods(kubectl, ns, "app=web")) == 2, timeout=30, what="the orphans")
    orphan_uid = get(kubectl, ns, "pod", "web-0")["metadata"]["uid"]
    # OnDelete keeps the adopted pod as it is (a rolling update would replace it: it has no
    # revision label).
    create(kubectl, tmp_path, ns, STS.format(replicas=2, policy="OrderedReady", ready="true")
           .replace("  podManagementPolicy", "  updateStrategy: {type: OnDelete}\n"
                    "  podManagementPolicy"), name="sts.yaml")
    set_uid = get(kubectl, ns, "sts", "web")["metadata"]["uid"]

    def controller(name):
        p = kubectl.json("get", "pod", name, "-n", ns)
        refs = [r for r in p["metadata"].get("ownerReferences", []) if r.get("controller")]
        return p["metadata"]["uid"], (refs[0]["uid"] if refs else None)

    wait_until(lambda: controller("web-0") == (orphan_uid, set_uid), timeout=30,
               what="web-0 adopted by the set")
    wait_status(kubectl, ns, "sts", "web", lambda s: s.get("readyReplicas") == 2,
                what="2 ready replicas")
    assert controller("web-0")[0] == orphan_uid  # the same pod, not a new one
    assert controller("web-extra")[1] is None
    assert sorted(pods(kubectl, ns, "app=web")) == ["web-0", "web-1", "web-extra"]
    # Relabelled, web-0 is released; once it is gone the set makes its own web-0.
    kubectl.ok("label", "pod", "web-0", "-n", ns, "app=retired", "--overwrite")
    wait_until(lambda: controller("web-0") == (orphan_uid, None), timeout=30,
               what="web-0 released")
    kubectl.ok("delete", "pod", "web-0", "-n", ns, "--wait=true")
    wait_until(lambda: kubectl("get", "pod", "web-0", "-n", ns).rc == 0 and
               controller("web-0")[1] == set_uid and controller("web-0")[0] != orphan_uid,
               timeout=30, what="a new web-0 made by the set")


def test_recreated_set_adopts_its_orphaned_revisions(kubectl, ns, nodes, tmp_path):
    create(kubectl, tmp_path, ns, STS.format(replicas=2, policy="Parallel", ready="true"))
    kubectl.ok("rollout", "status", "statefulset/web", "-n", ns, "--timeout=60s")
    kubectl.ok("set", "image", "statefulset/web", "c=nginx:1.27", "-n", ns)
    kubectl.ok("rollout", "status", "statefulset/web", "-n", ns, "--timeout=90s")
    old = get(kubectl, ns, "sts", "web")
    old_revs = revisions(kubectl, ns, old["metadata"]["uid"])
    assert sorted(old_revs) == [1, 2]
    names = {cr["metadata"]["name"] for cr in old_revs.values()}

    kubectl.ok("delete", "statefulset", "web", "-n", ns, "--cascade=orphan", "--wait=true")

    def controllers():
        items = kubectl.json("get", "controllerrevisions", "-n", ns)["items"]
        return {cr["metadata"]["name"]: [r["uid"] for r in cr["metadata"].get("ownerReferences", [])
                                         if r.get("controller")] for cr in items}
    wait_until(lambda: controllers() == {n: [] for n in names}, timeout=30,
               what="the revisions orphaned")

    # The same set again (at nginx:1.27, its last template): the history is adopted, nothing new.
    create(kubectl, tmp_path, ns, STS.format(replicas=2, policy="Parallel", ready="true")
           .replace("nginx:1.25", "nginx:1.27"), name="again.yaml")
    uid = get(kubectl, ns, "sts", "web")["metadata"]["uid"]
    wait_until(lambda: controllers() == {n: [uid] for n in names}, timeout=30,
               what="the revisions adopted by the new set")
    kubectl.ok("rollout", "status", "statefulset/web", "-n", ns, "--timeout=90s")
    sts = get(kubectl, ns, "sts", "web")
    assert sts["status"]["updateRevision"] == old["status"]["updateRevision"]
    assert sts["status"].get("collisionCount", 0) == 0
    assert sorted(revisions(kubectl, ns, uid)) == [1, 2]
    assert set(controllers()) == names  # no duplicate revision
    hist = kubectl.ok("rollout", "history", "statefulset/web", "-n", ns).stdout
    assert [r[0] for r in (l.split() for l in hist.splitlines()) if r and r[0].isdigit()] == ["1", "2"], hist
    # The orphaned pods were adopted too, not replaced.
    for p in pods(kubectl, ns, "app=web").values():
        refs = [r["uid"] for r in p["metadata"].get("ownerReferences", []) if r.get("controller")]
        assert refs == [uid], p["metadata"]
