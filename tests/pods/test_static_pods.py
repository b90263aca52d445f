"""Static pods (--pod-manifest-path, the kubelet's staticPodPath): the node agent runs the pod of a
manifest file without the scheduler, publishes a mirror pod `<name>-<node>` (annotation
kubernetes.io/config.mirror, owned by the Node) that `kubectl get pods -A` shows with the pod's
status, makes the mirror again when it is deleted (the static pod keeps running), and stops the
pod when the file goes."""

import os
import time

import pytest

import cluster as cl
import podutil as pu

MANIFEST = """apiVersion: v1
kind: Pod
metadata:
  name: static-web
  labels:
    app: static-web
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo static pod up; exec sleep 3600"]
"""


@pytest.fixture(scope="module")
def cluster(request, images_dir):
    c = cl.Cluster("static-pods", images_dir)
    c.manifests = os.path.join(c.workdir, "manifests")
    os.makedirs(c.manifests)
    c.extra_args = ["--pod-manifest-path", c.manifests, "--file-check-frequency=1s"]
    yield from cl.serve(c)


def write_atomic(path, text):
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def wait_mirror(api, name, predicate, timeout=60, what="mirror pod"):
    return pu.wait_pod(api, "default", name, lambda p: p is not None and predicate(p),
                       timeout=timeout, what=what)


def test_static_pod_lifecycle(cluster, kubectl, api, server):
    mirror_name = f"static-web-{server.node_name}"
    path = os.path.join(cluster.manifests, "web.yaml")
    write_atomic(path, MANIFEST)

    pod = wait_mirror(api, mirror_name, lambda p: pu.is_running(p) and pu.is_ready(p),
                      what="mirror pod Running and Ready")
    meta = pod["metadata"]
    assert meta["annotations"]["kubernetes.io/config.mirror"] == \
        meta["annotations"]["kubernetes.io/config.hash"], meta["annotations"]
    assert meta["annotations"]["kubernetes.io/config.source"] == "file"
    node = api.get(f"/api/v1/nodes/{server.node_name}")
    owners = meta.get("ownerReferences", [])
    assert [(o["kind"], o["name"], o["uid"]) for o in owners] == \
        [("Node", server.node_name, node["metadata"]["uid"])], owners
    assert pod["spec"]["nodeName"] == server.node_name
    assert pod["status"]["podIP"], pu.dump(pod)

    # kubectl sees it with the others, and its logs and exec work through the mirror's name.
    rows = kubectl.ok("get", "pods", "-A").stdout
    line = [l for l in rows.splitlines() if mirror_name in l]
    assert line and line[0].split()[0] == "default" and "Running" in line[0], rows
    assert kubectl.ok("logs", mirror_name).stdout == "static pod up\n"
    assert kubectl.ok("exec", mirror_name, "--", "echo", "inside").stdout == "inside\n"
    container_id = pu.container_status(pod, "main")["containerID"]

    # Deleting the mirror pod does not stop the static pod: a new mirror comes, same container.
    kubectl.ok("delete", "pod", mirror_name, "--wait=true", timeout=60)
    again = wait_mirror(api, mirror_name,
                        lambda p: p["metadata"]["uid"] != meta["uid"] and pu.is_running(p),
                        what="a new mirror pod")
    cs = pu.container_status(again, "main")
    assert cs["containerID"] == container_id, (cs, container_id)
    assert cs["restartCount"] == 0, cs
    assert kubectl.ok("logs", mirror_name).stdout == "static pod up\n"

    # A restarted agent (server) adopts the static pod's running container (same uid from the
    # same file) instead of starting it again; the mirror is kept.
    mirror_uid = again["metadata"]["uid"]
    assert server.stop() == 0, server.log_tail(20)
    server.start()
    after = wait_mirror(api, mirror_name, lambda p: pu.is_running(p) and pu.is_ready(p),
                        what="the mirror pod Running after the restart")
    assert after["metadata"]["uid"] == mirror_uid
    time.sleep(4)  # the new agent has synced the pod by now (and would have written a change)
    after = pu.get_pod(api, "default", mirror_name)
    cs = pu.container_status(after, "main")
    assert cs["containerID"] == container_id and cs["restartCount"] == 0, cs

    # A changed manifest: the pod is replaced (new hash), its mirror follows.
    write_atomic(path, MANIFEST.replace("static pod up", "static pod v2"))
    v2 = wait_mirror(api, mirror_name,
                     lambda p: p["metadata"]["annotations"]["kubernetes.io/config.mirror"] !=
                     meta["annotations"]["kubernetes.io/config.mirror"] and pu.is_running(p)
                     and pu.is_ready(p), what="the changed static pod")
    deadline = time.monotonic() + 30
    while kubectl("logs", mirror_name).stdout != "static pod v2\n":
        assert time.monotonic() < deadline, kubectl("logs", mirror_name)
        time.sleep(0.5)
    old_uid = meta["annotations"]["kubernetes.io/config.hash"]
    new_uid = v2["metadata"]["annotations"]["kubernetes.io/config.hash"]
    pods_dir = os.path.join(server.data_dir, "agent", "pods")
    deadline = time.monotonic() + 30
    while os.path.exists(os.path.join(pods_dir, old_uid)):
        assert time.monotonic() < deadline, os.listdir(pods_dir)
        time.sleep(0.5)
    assert os.path.isdir(os.path.join(pods_dir, new_uid))

    # The file goes: the pod stops and its mirror is deleted.
    os.unlink(path)
    deadline = time.monotonic() + 60
    while pu.get_pod(api, "default", mirror_name) is not None or \
            os.path.exists(os.path.join(pods_dir, new_uid)):
        assert time.monotonic() < deadline, (pu.get_pod(api, "default", mirror_name),
                                             os.listdir(pods_dir))
        time.sleep(0.5)
