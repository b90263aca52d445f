"""Dynamic PersistentVolumes from the built-in local-path provisioner, as k3s users have them:
the default StorageClass `local-path` (WaitForFirstConsumer, reclaim Delete); a claim without a
class gets it, waits for its first pod, then gets a volume in a directory of the node the pod
was scheduled to; deleting the claim removes the directory and the volume."""

import os

import harness
import podutil as pu
from test_persistent_volumes import claim, delete, run_pod


def volume(api, name):
    return api.get(f"/api/v1/persistentvolumes/{name}")


def test_default_class_provisions_on_the_pods_node_and_cleans_up(kubectl, api, server, ns):
    classes = kubectl.ok("get", "storageclass").stdout
    assert any(line.split()[:3] == ["local-path", "(default)", "sampan.io/local-path"]
               for line in classes.splitlines()), classes
    sc = kubectl.json("get", "storageclass", "local-path")
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer" and sc["reclaimPolicy"] == "Delete"

    pu.create(kubectl, ns, """
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: ["ReadWriteOnce"]
  resources:
    requests:
      storage: 100Mi
""")
    try:
        c = claim(api, ns, "data")
        assert c["spec"]["storageClassName"] == "local-path", c  # DefaultStorageClass admission
        # No pod yet: nothing is provisioned, and the claim says why.
        harness.wait_until(
            lambda: "WaitForFirstConsumer" in kubectl.ok("describe", "pvc", "data",
                                                         "-n", ns).stdout,
            timeout=30, what="the WaitForFirstConsumer event")
        assert claim(api, ns, "data")["status"]["phase"] == "Pending"

        pod, log = run_pod(kubectl, api, ns, "writer", "data",
                           "echo kept > /data/file && echo written")
        assert pu.phase(pod) == "Succeeded", (log, pu.dump(pod))
        c = claim(api, ns, "data")
        assert c["status"]["phase"] == "Bound", c
        name = c["spec"]["volumeName"]
        assert name == "pvc-" + c["metadata"]["uid"], c
        pv = volume(api, name)
        path = pv["spec"]["hostPath"]["path"]
        assert path == os.path.join(server.data_dir, "storage",
                                    f"{name}_{ns}_data"), path
        assert pv["spec"]["claimRef"]["name"] == "data"
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
        node = pod["spec"]["nodeName"]
        terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
        assert terms[0]["matchExpressions"][0]["key"] == "kubernetes.io/hostname", terms
        assert c["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node, c
        with open(os.path.join(path, "file")) as f:
            assert f.read() == "kept\n"
        events = kubectl.ok("get", "events", "-n", ns, "--field-selector",
                            "involvedObject.name=data").stdout
        assert "ProvisioningSucceeded" in events, events

        # A second pod on the same claim reads what the first wrote.
        kubectl.ok("delete", "pod", "writer", "-n", ns, "--wait=true", timeout=60)
        pod, log = run_pod(kubectl, api, ns, "reader", "data", "cat /data/file")
        assert log == "kept\n", (log, pu.dump(pod))
        kubectl.ok("delete", "pod", "reader", "-n", ns, "--wait=true", timeout=60)

        # The claim goes: the volume is released, its directory removed, the volume deleted.
        kubectl.ok("delete", "pvc", "data", "-n", ns, "--wait=true", timeout=60)
        harness.wait_until(lambda: volume(api, name) is None, timeout=60,
                           what=f"volume {name} deleted")
        assert not os.path.exists(path)
    finally:
        delete(kubectl, "pod", "--all", "-n", ns)
        delete(kubectl, "pvc", "data", "-n", ns)
