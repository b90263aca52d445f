"""Image garbage collection (--image-gc-high-threshold / --image-gc-low-threshold /
--image-minimum-gc-age): with thresholds forced low (1% / 0%, so any real disk is "full"), the agent
deletes the images no container uses once they are older than the minimum age, keeps the image a
running pod uses, reports the node's `images` without the deleted ones, and deletes that image too
once its pod is gone."""

import subprocess
import time

import pytest

import cluster as cl
import harness
import podutil as pu

MIN_AGE_S = 25
SERVER_ARGS = ["--image-gc-high-threshold=1", "--image-gc-low-threshold=0",
               f"--image-minimum-gc-age={MIN_AGE_S}s", "--image-gc-period=1s"]

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: user
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
"""

BUSYBOX = "docker.io/library/busybox:latest"
KUBIA = "docker.io/luksa/kubia:latest"


@pytest.fixture(scope="module")
def cluster(request, images_dir):
    c = cl.Cluster("image-gc", images_dir, extra_args=SERVER_ARGS)
    yield from cl.serve(c)


def store_names(server):
    p = subprocess.run([harness.sampan_bin(), "image", "--data-dir", server.data_dir, "ls"],
                       capture_output=True, text=True, timeout=60, check=True)
    return p.stdout


def node_image_names(api, server):
    node = api.get(f"/api/v1/nodes/{server.node_name}")
    return [n for img in node["status"].get("images", []) for n in img["names"]]


def wait_until(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_unused_images_are_collected(kubectl, api, server, ns):
    started = time.monotonic()
    # Both test images are there at first; the pod uses busybox right away (well within the
    # minimum age, which protects every image the agent has just seen).
    names = node_image_names(api, server)
    assert BUSYBOX in names and KUBIA in names, names
    pu.create(kubectl, ns, POD)
    pu.wait_pod(api, ns, "user", pu.is_running, timeout=MIN_AGE_S - 5, what="Running")
    assert "luksa/kubia" in store_names(server)

    # Past the minimum age the unused kubia image goes; busybox, in use, stays.
    wait_until("kubia to leave the node's images",
               lambda: not any(KUBIA.split(":")[0] in n for n in node_image_names(api, server)),
               timeout=MIN_AGE_S + 30)
    assert time.monotonic() - started >= MIN_AGE_S - 10  # not before the minimum age
    listed = store_names(server)
    assert "kubia" not in listed and "busybox" in listed, listed
    assert BUSYBOX in node_image_names(api, server)
    # The node says why it could not free enough (nothing reaches 0% usage).
    events = [e for e in kubectl.json("get", "events", "-n", "default")["items"]
              if e.get("reason") == "FreeDiskSpaceFailed"]
    assert events and events[0]["involvedObject"]["kind"] == "Node", events

    # Once its pod is gone, busybox is unused and goes too.
    kubectl.ok("delete", "pod", "user", "-n", ns, "--wait=true", timeout=60)
    wait_until("busybox to leave the node's images",
               lambda: not node_image_names(api, server), timeout=30)
    assert "busybox" not in store_names(server)
