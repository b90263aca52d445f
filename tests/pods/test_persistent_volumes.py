"""PersistentVolumes on a node: a claim bound by the binder controller (in `sampan server`) is
mounted into pods as its volume's hostPath or local directory, and the data outlives the pods; a
WaitForFirstConsumer claim is bound by the scheduler's VolumeBinding for the node the pod goes
to; a pod whose claim does not exist stays Pending with the scheduler's reason."""

import os

import harness
import podutil as pu

WRITER_READER = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", {script!r}]
    volumeMounts:
    - name: data
      mountPath: /data
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: {claim}
      readOnly: {read_only}
"""


def claim(api, ns, name):
    return api.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/{name}")


def wait_claim_bound(api, ns, name, timeout=60):
    harness.wait_until(lambda: ((claim(api, ns, name) or {}).get("status") or {}).get("phase")
                       == "Bound", timeout=timeout, what=f"claim {ns}/{name} Bound")
    return claim(api, ns, name)


def run_pod(kubectl, api, ns, name, claim_name, script, read_only="false"):
    """Runs a busybox pod with the claim at /data to completion; returns (pod, its log)."""
    pu.create(kubectl, ns, WRITER_READER.format(name=name, claim=claim_name, script=script,
                                                read_only=read_only))
    pod = pu.wait_pod(api, ns, name, lambda p: pu.phase(p) in ("Succeeded", "Failed"),
                      timeout=90, what="the pod to finish")
    return pod, kubectl.ok("logs", name, "-n", ns).stdout


def delete(kubectl, *args):
    kubectl("delete", "--ignore-not-found", "--wait=false", *args)


def test_host_path_volume_outlives_its_pods(kubectl, api, ns, tmp_path):
    path = str(tmp_path / "pv-data")  # absent: DirectoryOrCreate makes it on the node
    pv = f"pv-{ns}"
    pu.create(kubectl, ns, f"""
apiVersion: v1
kind: PersistentVolume
metadata:
  name: {pv}
spec:
  capacity:
    storage: 1Gi
  accessModes: ["ReadWriteOnce"]
  persistentVolumeReclaimPolicy: Retain
  hostPath:
    path: {path}
    type: DirectoryOrCreate
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  storageClassName: ""
  accessModes: ["ReadWriteOnce"]
  resources:
    requests:
      storage: 500Mi
""")
    try:
        bound = wait_claim_bound(api, ns, "data")
        assert bound["spec"]["volumeName"] == pv

        pod, log = run_pod(kubectl, api, ns, "writer", "data",
                           "echo hello from the writer > /data/greeting && echo written")
        assert pu.phase(pod) == "Succeeded", (log, pu.dump(pod))
        with open(os.path.join(path, "greeting")) as f:
            assert f.read() == "hello from the writer\n"
        kubectl.ok("delete", "pod", "writer", "-n", ns, "--wait=true", timeout=60)

        pod, log = run_pod(kubectl, api, ns, "reader", "data", "cat /data/greeting")
        assert pu.phase(pod) == "Succeeded", (log, pu.dump(pod))
        assert log == "hello from the writer\n"

        # readOnly on the pod's volume makes the mount read-only.
        pod, log = run_pod(kubectl, api, ns, "read-only", "data",
                           "cat /data/greeting; "
                           "touch /data/x 2>/dev/null && echo WRITABLE || echo refused",
                           read_only="true")
        assert log.splitlines() == ["hello from the writer", "refused"], log
        assert not os.path.exists(os.path.join(path, "x"))
    finally:
        delete(kubectl, "pod", "--all", "-n", ns)
        delete(kubectl, "pvc", "data", "-n", ns)
        delete(kubectl, "pv", pv)


def test_wait_for_first_consumer_local_volume(kubectl, api, server, ns, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    sc, pv = f"local-{ns}", f"local-pv-{ns}"
    pu.create(kubectl, ns, f"""
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: {sc}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: {pv}
spec:
  storageClassName: {sc}
  capacity:
    storage: 1Gi
  accessModes: ["ReadWriteOnce"]
  persistentVolumeReclaimPolicy: Retain
  local:
    path: {disk}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - key: kubernetes.io/hostname
          operator: In
          values: ["{server.node_name}"]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: local-data
spec:
  storageClassName: {sc}
  accessModes: ["ReadWriteOnce"]
  resources:
    requests:
      storage: 1Gi
""")
    try:
        # Nothing binds the claim before a pod uses it.
        assert (claim(api, ns, "local-data").get("spec") or {}).get("volumeName") is None
        pod, log = run_pod(kubectl, api, ns, "local-writer", "local-data",
                           "echo local > /data/file && cat /data/file")
        assert pu.phase(pod) == "Succeeded", (log, pu.dump(pod))
        assert log == "local\n"
        assert pod["spec"]["nodeName"] == server.node_name
        assert (disk / "file").read_text() == "local\n"
        bound = wait_claim_bound(api, ns, "local-data")
        assert bound["spec"]["volumeName"] == pv
        volume = api.get(f"/api/v1/persistentvolumes/{pv}")
        ref = volume["spec"]["claimRef"]
        assert (ref["namespace"], ref["name"], ref["uid"]) == (
            ns, "local-data", bound["metadata"]["uid"])
    finally:
        delete(kubectl, "pod", "--all", "-n", ns)
        delete(kubectl, "pvc", "local-data", "-n", ns)
        delete(kubectl, "pv", pv)
        delete(kubectl, "storageclass", sc)


def test_pod_with_a_missing_claim_stays_pending(kubectl, api, ns):
    pu.create(kubectl, ns, WRITER_READER.format(name="orphan", claim="nope", script="true",
                                                read_only="false"))
    def scheduled(pod):
        for c in (pod.get("status") or {}).get("conditions") or []:
            if c.get("type") == "PodScheduled":
                return c
        return {}

    pod = pu.wait_pod(api, ns, "orphan", lambda p: scheduled(p).get("reason") == "Unschedulable",
                      timeout=60, what="PodScheduled=False")
    cond = scheduled(pod)
    assert cond["status"] == "False"
    assert cond["message"].startswith(
        '0/1 nodes are available: persistentvolumeclaim "nope" not found.'), cond["message"]
    assert pu.phase(pod) == "Pending"
    assert not pod["spec"].get("nodeName")
    pu.wait_event(api, ns, "orphan", "FailedScheduling",
                  message_part='persistentvolumeclaim "nope" not found')


def test_node_waits_for_the_claim_to_be_bound(kubectl, api, server, ns, tmp_path):
    # Placed on the node directly (no scheduler): the agent waits in ContainerCreating, with
    # the kubelet's FailedMount reason, until the binder binds the claim.
    pv = f"late-pv-{ns}"
    text = WRITER_READER.format(name="early", claim="late", script="echo mounted",
                                read_only="false")
    text = text.replace("spec:\n", f"spec:\n  nodeName: {server.node_name}\n", 1)
    pu.create(kubectl, ns, text + """---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: late
spec:
  storageClassName: ""
  accessModes: ["ReadWriteOnce"]
  resources:
    requests:
      storage: 1Mi
""")
    try:
        pu.wait_event(api, ns, "early", "FailedMount",
                      message_part=f"error processing PVC {ns}/late: PVC is not bound")
        pod = pu.get_pod(api, ns, "early")
        assert pu.phase(pod) == "Pending"
        assert pu.waiting_reason(pod, "main") == "ContainerCreating", pu.dump(pod)
        pu.create(kubectl, ns, f"""
apiVersion: v1
kind: PersistentVolume
metadata:
  name: {pv}
spec:
  capacity:
    storage: 1Mi
  accessModes: ["ReadWriteOnce"]
  hostPath:
    path: {tmp_path / "late"}
    type: DirectoryOrCreate
""")
        pod = pu.wait_pod(api, ns, "early", lambda p: pu.phase(p) in ("Succeeded", "Failed"),
                          timeout=90, what="the pod to finish")
        assert pu.phase(pod) == "Succeeded", pu.dump(pod)
        assert kubectl.ok("logs", "early", "-n", ns).stdout == "mounted\n"
    finally:
        delete(kubectl, "pod", "--all", "-n", ns)
        delete(kubectl, "pvc", "late", "-n", ns)
        delete(kubectl, "pv", pv)
