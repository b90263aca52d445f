"""A restarted agent (server) adopts the containers that kept running; deleting a pod leaves no process,
cgroup, mount or veth behind."""

import os
import time

import cluster as cl
import netns
import podutil as pu

KUBIA = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  terminationGracePeriodSeconds: 3
  volumes:
  - name: scratch
    emptyDir: {{}}
  containers:
  - name: kubia
    image: docker.io/luksa/kubia:latest
    imagePullPolicy: IfNotPresent
    ports:
    - containerPort: 8080
    volumeMounts:
    - name: scratch
      mountPath: /scratch
  - name: side
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "exec sleep 3600"]
"""


def snapshot(pod):
    cs = {c["name"]: c for c in pod["status"]["containerStatuses"]}
    return {
        "podIP": pod["status"]["podIP"],
        "startTime": pod["status"]["startTime"],
        "containers": {n: (c["containerID"], c["restartCount"],
                           c["state"]["running"]["startedAt"]) for n, c in cs.items()},
    }


def restart_and_check_adoption(server, kubectl, api, ns, node, name, how):
    pod = pu.wait_pod(api, ns, name, lambda p: pu.is_running(p) and pu.is_ready(p), timeout=60,
                      what="Running and Ready")
    before = snapshot(pod)
    ip = before["podIP"]
    assert cl.http_get(node.path, ip, 8080)[0] == 200
    if how == "stop":
        assert server.stop() == 0, server.log_tail(20)
    else:
        os.kill(server.proc.pid, 9)  # the agent process alone, as a crash would
        server.proc.wait()
        server.stop()
    # The containers do not depend on the agent process.
    status, body = cl.http_get(node.path, ip, 8080)
    assert (status, body) == (200, f"You've hit {name}\n")
    server.start()
    time.sleep(5)  # several sync rounds of the new agent
    pod = pu.wait_pod(api, ns, name, lambda p: pu.is_running(p) and pu.is_ready(p), timeout=60,
                      what="Running and Ready after the restart")
    assert snapshot(pod) == before
    assert cl.http_get(node.path, ip, 8080) == (200, f"You've hit {name}\n")
    # The adopted container's logs are still served (requests from before and after the restart).
    logs = kubectl.ok("logs", name, "-c", "kubia", "-n", ns).stdout
    assert logs.count("Received request from") >= 3, logs
    return pod


def test_restarted_agent_adopts_running_containers(server, kubectl, api, ns, node):
    pu.create(kubectl, ns, KUBIA.format(name="adopt"))
    restart_and_check_adoption(server, kubectl, api, ns, node, "adopt", "stop")


def test_killed_agent_adopts_running_containers(server, kubectl, api, ns, node):
    pu.create(kubectl, ns, KUBIA.format(name="adopt-kill"))
    restart_and_check_adoption(server, kubectl, api, ns, node, "adopt-kill", "kill")


def leftovers(server, node, uid, container_ids, veths_before, old_pids):
    out = []
    procs = netns.processes_of_pods([uid])
    if procs:
        out.append(f"processes in the pod's cgroups: {procs}")
    alive = [p for p in old_pids if os.path.exists(f"/proc/{p}")]
    if alive:
        out.append(f"container processes still alive: {alive}")
    groups = netns.pod_cgroups([uid])
    if groups:
        out.append(f"cgroups: {groups}")
    mounts = netns.mounts_mentioning([uid, *container_ids])
    if mounts:
        out.append(f"mounts: {mounts}")
    extra = set(node.veths()) - set(veths_before)
    if extra:
        out.append(f"veths: {sorted(extra)}")
    return out


def container_pids(uid):
    return netns.processes_of_pods([uid])


def test_deleting_a_pod_cleans_up(server, kubectl, api, ns, node):
    veths_before = node.veths()
    pu.create(kubectl, ns, KUBIA.format(name="doomed"))
    pod = pu.wait_pod(api, ns, "doomed", lambda p: pu.is_running(p) and pu.is_ready(p), timeout=60,
                      what="Running and Ready")
    uid = pod["metadata"]["uid"]
    ids = [pu.container_id(pod, c) for c in ("kubia", "side")]
    assert all(ids), pu.dump(pod)
    pids = container_pids(uid)
    assert pids, "no process found in the pod's cgroups (cgroup path should carry the pod UID)"
    assert netns.pod_cgroups([uid]), "no cgroup named after the pod UID under kubepods*"
    assert len(set(node.veths()) - set(veths_before)) == 1, node.veths()
    assert netns.mounts_mentioning(ids), "the containers' root filesystems are not mounted?"

    t0 = time.monotonic()
    kubectl.ok("delete", "pod", "doomed", "-n", ns, "--wait=true", timeout=60)
    took = time.monotonic() - t0
    assert pu.get_pod(api, ns, "doomed") is None
    # kubia exits on SIGTERM: well within the 3 s grace period (plus API round trips).
    assert took < 10, f"delete took {took:.1f}s"
    deadline = time.monotonic() + 20
    while True:
        left = leftovers(server, node, uid, ids, veths_before, pids)
        if not left:
            break
        assert time.monotonic() < deadline, "after the delete: " + "; ".join(left)
        time.sleep(0.5)
    # The pod IP is free again: nothing answers there.
    ip = pod["status"]["podIP"]
    try:
        cl.http_get(node.path, ip, 8080, timeout=2)
        raise AssertionError(f"something still answers on {ip}:8080")
    except OSError:
        pass


def test_deleting_an_adopted_pod_cleans_up(server, kubectl, api, ns, node):
    veths_before = node.veths()
    pu.create(kubectl, ns, KUBIA.format(name="adopted-then-deleted"))
    pod = restart_and_check_adoption(server, kubectl, api, ns, node, "adopted-then-deleted", "stop")
    uid = pod["metadata"]["uid"]
    ids = [pu.container_id(pod, c) for c in ("kubia", "side")]
    pids = container_pids(uid)
    kubectl.ok("delete", "pod", "adopted-then-deleted", "-n", ns, "--wait=true", timeout=60)
    deadline = time.monotonic() + 20
    while True:
        left = leftovers(server, node, uid, ids, veths_before, pids)
        if not left:
            break
        assert time.monotonic() < deadline, "after the delete: " + "; ".join(left)
        time.sleep(0.5)


def test_agent_copes_with_a_reboot(server, kubectl, api, ns, node):
    """The runtime state and bundles are on a tmpfs (DATA_DIR/agent/run-dir): a reboot takes them and
    every container away. The restarted agent starts the pod afresh and removes what the old containers
    left on disk (their rootfs dirs in the image store)."""
    pu.create(kubectl, ns, KUBIA.format(name="rebooted"))
    pod = pu.wait_pod(api, ns, "rebooted", lambda p: pu.is_running(p) and pu.is_ready(p), timeout=60,
                      what="Running and Ready")
    uid = pod["metadata"]["uid"]
    old_ids = [pu.container_id(pod, c) for c in ("kubia", "side")]
    with open(os.path.join(server.data_dir, "agent", "run-dir")) as f:
        run_dir = f.read().strip()
    assert os.path.isdir(os.path.join(run_dir, "runtime", old_ids[0])), os.listdir(run_dir)
    rootfs_dirs = os.path.join(server.data_dir, "images", "containers")
    assert set(old_ids) <= set(os.listdir(rootfs_dirs))
    # "Reboot": the agent and every container process go, the tmpfs and the pod cgroups with them.
    assert server.stop() == 0, server.log_tail(20)
    assert netns.kill_until_gone(lambda: netns.processes_of_pods([uid]))
    netns.unmount_under(run_dir)
    assert not netns.mounts_under(run_dir)
    netns.remove_pod_cgroups([uid])
    server.start()
    pod = pu.wait_pod(api, ns, "rebooted",
                      lambda p: pu.is_running(p) and pu.is_ready(p) and
                      pu.container_id(p, "kubia") not in old_ids, timeout=90,
                      what="Running and Ready with new containers after the reboot")
    assert cl.http_get(node.path, pod["status"]["podIP"], 8080)[0] == 200
    left = set(old_ids) & set(os.listdir(rootfs_dirs))
    assert not left, f"rootfs dirs of the containers from before the reboot: {left}"
    assert not any(os.path.exists(os.path.join(run_dir, "containers", i)) for i in old_ids)
    kubectl.ok("delete", "pod", "rebooted", "-n", ns, "--wait=true", timeout=60)
