"""Static provisioning with the real kubectl: the persistentvolume-binder controller binds a
hostPath PersistentVolume to a PersistentVolumeClaim (`kubectl get pv/pvc` columns, the binding
annotations, the claim's status), a claim nothing fits stays Pending with its FailedBinding event
(`kubectl describe pvc`), deleting the claim releases a Retain volume, and the pvc-protection
finalizer keeps a claim that a scheduled pod uses Terminating until the pod is gone.

The server runs without a node agent: pods naming a node stay Pending, which for Kubernetes'
pvc-protection still counts as using the claim (only unscheduled pods do not). Volumes are
cluster-scoped and the server is shared by the module, so each test gives its volume and claim a
storage class of its own (no StorageClass object: a claim of a class with a fitting volume binds
without provisioning)."""

import json
import time
import uuid

from harness import apply_manifest, rows_by_name, wait_until


def uid():
    return uuid.uuid4().hex[:6]


def pv_yaml(name, cls, capacity="1Gi", policy="Retain", path=None):
    return f"""
apiVersion: v1
kind: PersistentVolume
metadata:
  name: {name}
spec:
  capacity: {{storage: {capacity}}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: {policy}
  storageClassName: {cls}
  hostPath: {{path: {path or '/data/' + name}}}
"""


def pvc_yaml(name, cls, request="500Mi", modes="[ReadWriteOnce]"):
    return f"""
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {name}
spec:
  accessModes: {modes}
  storageClassName: "{cls}"
  resources: {{requests: {{storage: {request}}}}}
"""


def get_pv_row(kubectl, name):
    return rows_by_name(kubectl.ok("get", "pv", name).stdout).get(name)


def get_pvc_row(kubectl, ns, name):
    return rows_by_name(kubectl.ok("get", "pvc", name, "-n", ns).stdout).get(name)


def test_static_binding_then_release(kubectl, ns, tmp_path):
    pv, cls = f"pv-{uid()}", f"manual-{uid()}"
    r = apply_manifest(kubectl, tmp_path, pv_yaml(pv, cls) + "---" + pvc_yaml("data", cls),
                       "-n", ns, verb="apply")
    assert r.rc == 0, str(r)

    # kubectl get pv: CAPACITY, ACCESS MODES, RECLAIM POLICY, STATUS Bound, CLAIM ns/name.
    row = wait_until(lambda: (lambda r: r if r and r["STATUS"] == "Bound" else None)(
        get_pv_row(kubectl, pv)), what="volume Bound")
    assert row["CAPACITY"] == "1Gi"
    assert row["ACCESS MODES"] == "RWO"
    assert row["RECLAIM POLICY"] == "Retain"
    assert row["CLAIM"] == f"{ns}/data"
    assert row["STORAGECLASS"] == cls
    # kubectl get pvc: STATUS Bound, VOLUME, the volume's capacity (not the request) and modes.
    row = wait_until(lambda: (lambda r: r if r and r["STATUS"] == "Bound" else None)(
        get_pvc_row(kubectl, ns, "data")), what="claim Bound")
    assert row["VOLUME"] == pv
    assert row["CAPACITY"] == "1Gi"
    assert row["ACCESS MODES"] == "RWO"
    assert row["STORAGECLASS"] == cls

    claim = kubectl.json("get", "pvc", "data", "-n", ns)
    ann = claim["metadata"]["annotations"]
    assert ann["pv.kubernetes.io/bind-completed"] == "yes"
    assert ann["pv.kubernetes.io/bound-by-controller"] == "yes"
    assert claim["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert claim["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"],
                               "capacity": {"storage": "1Gi"}}
    volume = kubectl.json("get", "pv", pv)
    ref = volume["spec"]["claimRef"]
    assert (ref["kind"], ref["apiVersion"], ref["namespace"], ref["name"], ref["uid"]) == (
        "PersistentVolumeClaim", "v1", ns, "data", claim["metadata"]["uid"])
    assert volume["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
    assert volume["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]

    # kubectl describe pvc shows the binding.
    out = kubectl.ok("describe", "pvc", "data", "-n", ns).stdout
    assert "Status:" in out and "Bound" in out
    assert f"Volume:        {pv}" in out

    # The claim goes (nothing uses it): the Retain volume is Released and keeps its claimRef.
    kubectl.ok("delete", "pvc", "data", "-n", ns, "--timeout=30s")
    row = wait_until(lambda: (lambda r: r if r and r["STATUS"] == "Released" else None)(
        get_pv_row(kubectl, pv)), what="volume Released")
    assert row["CLAIM"] == f"{ns}/data"
    time.sleep(1)
    assert get_pv_row(kubectl, pv)["STATUS"] == "Released"
    kubectl.ok("delete", "pv", pv, "--timeout=30s")


def test_claim_without_a_fitting_volume_stays_pending(kubectl, ns, tmp_path):
    pv, cls = f"pv-{uid()}", f"manual-{uid()}"
    apply_manifest(kubectl, tmp_path, pv_yaml(pv, cls, capacity="1Gi"), verb="apply")
    # No class at all ("" asks for none) and more than any volume holds.
    r = apply_manifest(kubectl, tmp_path, pvc_yaml("big", "", request="100Ti"), "-n", ns,
                       name="big.yaml")
    assert r.rc == 0, str(r)
    # Too big for the class's only volume.
    r = apply_manifest(kubectl, tmp_path, pvc_yaml("toobig", cls, request="2Gi"), "-n", ns,
                       name="toobig.yaml")
    assert r.rc == 0, str(r)

    msg = "no persistent volumes available for this claim and no storage class is set"

    def described():
        out = kubectl.ok("describe", "pvc", "big", "-n", ns).stdout
        return out if "FailedBinding" in out else None
    out = wait_until(described, what="FailedBinding event")
    assert "persistentvolume-controller" in out
    assert msg in out
    assert "Pending" in out
    events = kubectl.json("get", "events", "-n", ns,
                          "--field-selector", "involvedObject.name=big")["items"]
    assert any(e["reason"] == "FailedBinding" and e["type"] == "Normal" and e["message"] == msg
               for e in events), events
    row = get_pvc_row(kubectl, ns, "big")
    assert row["STATUS"] == "Pending" and row["VOLUME"] == "" and row["CAPACITY"] == ""
    # A claim of a class whose volume is too small waits too (Kubernetes asks the class's
    # provisioner; without a StorageClass object that fails).
    out = wait_until(lambda: (lambda o: o if "ProvisioningFailed" in o else None)(
        kubectl.ok("describe", "pvc", "toobig", "-n", ns).stdout), what="ProvisioningFailed")
    assert f'storageclass.storage.k8s.io "{cls}" not found' in out
    assert get_pvc_row(kubectl, ns, "toobig")["STATUS"] == "Pending"
    assert get_pv_row(kubectl, pv)["STATUS"] == "Available"
    kubectl.ok("delete", "pv", pv, "--timeout=30s")


def pod_yaml(name, claim, node=None):
    node_line = f"\n  nodeName: {node}" if node else ""
    return f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:{node_line}
  containers:
  - name: main
    image: busybox:1.36
    volumeMounts: [{{name: data, mountPath: /data}}]
  volumes:
  - name: data
    persistentVolumeClaim: {{claimName: {claim}}}
"""


def test_claim_in_use_stays_terminating_until_its_pod_goes(kubectl, ns, tmp_path):
    pv, cls = f"pv-{uid()}", f"manual-{uid()}"
    r = apply_manifest(kubectl, tmp_path, pv_yaml(pv, cls) + "---" + pvc_yaml("used", cls),
                       "-n", ns, verb="apply")
    assert r.rc == 0, str(r)
    wait_until(lambda: get_pvc_row(kubectl, ns, "used")["STATUS"] == "Bound", what="Bound")
    # A pod bound to a node (no agent runs it: it stays Pending) uses the claim.
    r = apply_manifest(kubectl, tmp_path, pod_yaml("user", "used", node="node-x"), "-n", ns,
                       name="pod.yaml")
    assert r.rc == 0, str(r)
    kubectl.ok("delete", "pvc", "used", "-n", ns, "--wait=false")
    wait_until(lambda: get_pvc_row(kubectl, ns, "used")["STATUS"] == "Terminating",
               what="claim Terminating")
    time.sleep(2)
    claim = kubectl.json("get", "pvc", "used", "-n", ns)
    assert claim["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert claim["metadata"].get("deletionTimestamp")
    # The volume is still Bound to it, so pv-protection keeps it too.
    assert get_pv_row(kubectl, pv)["STATUS"] == "Bound"
    out = kubectl.ok("describe", "pvc", "used", "-n", ns).stdout
    assert "Terminating" in out and "user" in out  # Used By: user

    kubectl.ok("delete", "pod", "user", "-n", ns, "--grace-period=0", "--force")
    wait_until(lambda: kubectl("get", "pvc", "used", "-n", ns).rc != 0, what="claim deleted")
    wait_until(lambda: get_pv_row(kubectl, pv)["STATUS"] == "Released", what="volume Released")
    # A volume being deleted while not Bound goes at once (pv-protection lets it go).
    kubectl.ok("delete", "pv", pv, "--timeout=30s")
    assert kubectl("get", "pv", pv).rc != 0


def test_unscheduled_pod_does_not_hold_its_claim(kubectl, ns, tmp_path):
    # Kubernetes' pvc-protection only counts scheduled pods (an unscheduled one never starts and
    # the scheduler refuses a claim being deleted).
    r = apply_manifest(kubectl, tmp_path, pvc_yaml("lonely", f"none-{uid()}") + "---" +
                       pod_yaml("waiting", "lonely"), "-n", ns)
    assert r.rc == 0, str(r)
    wait_until(lambda: "kubernetes.io/pvc-protection" in (kubectl.json(
        "get", "pvc", "lonely", "-n", ns)["metadata"].get("finalizers") or []),
        what="finalizer added")
    kubectl.ok("delete", "pvc", "lonely", "-n", ns, "--timeout=30s")
    assert kubectl("get", "pvc", "lonely", "-n", ns).rc != 0
