"""Ephemeral containers: `kubectl debug -it POD --target=C -- sh` from a real pseudo-terminal (a shell
in the running pod that sees the target's processes), `kubectl debug POD -- sleep 1d` (detached, then
exec into it), and the pods/ephemeralcontainers subresource's rules (only additions, validated)."""

import time

import podutil as pu
import ptyutil

PROMPT = r"/ # "

APP = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "exec sleep 3600"]
"""


def ephemeral_status(pod, name):
    for cs in pod.get("status", {}).get("ephemeralContainerStatuses", []) or []:
        if cs.get("name") == name:
            return cs
    return None


def ephemeral_state(pod, name):
    return (ephemeral_status(pod, name) or {}).get("state", {})


def start_app(kubectl, api, ns, name="app"):
    pu.create(kubectl, ns, APP.format(name=name))
    return pu.wait_pod(api, ns, name, pu.is_running, what="Running")


def test_debug_it_with_target_shares_its_processes(kubectl, api, ns):
    before = start_app(kubectl, api, ns)
    main_id = pu.container_id(before, "main")
    p = ptyutil.spawn_kubectl(kubectl, "debug", "-it", "app", "-n", ns, "--image=busybox:latest",
                              "--image-pull-policy=IfNotPresent", "--target=main", "-c", "dbg",
                              "--", "sh")
    try:
        p.expect(PROMPT, timeout=60, poke="\r")
        # The target's process namespace: its `sleep 3600` is pid 1, the debug shell is there too.
        p.send("ps -o pid,args | grep -v grep | grep -E 'sleep|sh$' | tr -s ' ' | sed 's/^ //'"
               " | sed 's/^/ps:/'\r")
        p.expect(r"ps:1 sleep 3600")
        p.send("echo dbg-$((40+2)) $(hostname)\r")
        p.expect(r"dbg-42 app")
        p.send("exit 3\r")
        p.wait(timeout=60)
    finally:
        p.close()
    pod = pu.wait_pod(api, ns, "app", lambda o: "terminated" in ephemeral_state(o, "dbg"),
                      what="dbg terminated")
    st = ephemeral_status(pod, "dbg")
    assert st["state"]["terminated"]["exitCode"] == 3, pu.dump(pod)
    assert st["ready"] is False and st["restartCount"] == 0, pu.dump(pod)
    spec = [c for c in pod["spec"]["ephemeralContainers"] if c["name"] == "dbg"][0]
    assert spec["targetContainerName"] == "main" and spec["tty"] and spec["stdin"]
    # Never restarted, and the pod and its container are untouched.
    time.sleep(3)
    pod = pu.get_pod(api, ns, "app")
    assert ephemeral_status(pod, "dbg")["state"]["terminated"]["containerID"] == \
        st["state"]["terminated"]["containerID"], pu.dump(pod)
    assert pu.is_running(pod) and pu.is_ready(pod), pu.dump(pod)
    assert pu.container_id(pod, "main") == main_id and pu.restart_count(pod, "main") == 0
    # `kubectl get` still shows 1/1 (ephemeral containers are not counted).
    row = kubectl.ok("get", "pod", "app", "-n", ns, "--no-headers").stdout.split()
    assert row[1] == "1/1" and row[2] == "Running", row


def test_debug_detached_then_exec_and_logs(kubectl, api, ns):
    start_app(kubectl, api, ns, "app2")
    r = kubectl.ok("debug", "app2", "-n", ns, "--image=busybox:latest",
                   "--image-pull-policy=IfNotPresent", "-c", "sleeper", "--",
                   "sh", "-c", "echo started-sleeper; exec sleep 1d")
    pod = pu.wait_pod(api, ns, "app2", lambda o: "running" in ephemeral_state(o, "sleeper"),
                      what="sleeper running")
    assert ephemeral_status(pod, "sleeper")["image"].endswith("busybox:latest"), pu.dump(pod)
    out = kubectl.ok("exec", "app2", "-c", "sleeper", "-n", ns, "--", "sh", "-c",
                     "echo in-$((1+1)); cat /proc/1/cmdline | tr '\\0' ' '").stdout
    # Without a target the ephemeral container has its own process namespace.
    assert out.split("\n")[0] == "in-2" and "sleep 1d" in out, out
    assert kubectl.ok("logs", "app2", "-c", "sleeper", "-n", ns).stdout == "started-sleeper\n"
    # A second debug container beside it; the pod lists both.
    kubectl.ok("debug", "app2", "-n", ns, "--image=busybox:latest",
               "--image-pull-policy=IfNotPresent", "-c", "second", "--", "true")
    pod = pu.wait_pod(api, ns, "app2", lambda o: "terminated" in ephemeral_state(o, "second"),
                      what="second finished")
    assert ephemeral_status(pod, "second")["state"]["terminated"]["exitCode"] == 0
    assert "running" in ephemeral_state(pod, "sleeper")
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == ["sleeper", "second"]


def test_ephemeralcontainers_subresource_rules(kubectl, api, ns):
    start_app(kubectl, api, ns, "app3")
    base = f"/api/v1/namespaces/{ns}/pods/app3"
    sub = base + "/ephemeralcontainers"
    status, pod = api.json("GET", sub, expect=200)
    assert pod["kind"] == "Pod" and pod["metadata"]["name"] == "app3"
    smp = "application/strategic-merge-patch+json"

    def patch(body, ctype=smp):
        return api.json("PATCH", sub, body, content_type=ctype)

    dbg = {"name": "dbg", "image": "busybox:latest", "imagePullPolicy": "IfNotPresent",
           "command": ["sleep", "3600"]}
    # A target that is not one of the pod's containers.
    status, body = patch({"spec": {"ephemeralContainers": [dict(dbg, targetContainerName="nope")]}})
    assert status == 422, body
    assert body["details"]["causes"][0]["field"] == "spec.ephemeralContainers[0].targetContainerName"
    # Fields ephemeral containers may not have.
    status, body = patch({"spec": {"ephemeralContainers": [
        dict(dbg, ports=[{"containerPort": 80}])]}})
    assert status == 422 and "spec.ephemeralContainers[0].ports" in body["message"], body
    # A name taken by a regular container.
    status, body = patch({"spec": {"ephemeralContainers": [dict(dbg, name="main")]}})
    assert status == 422 and "Duplicate value" in body["message"], body
    # Accepted (defaults applied); the rest of the patch is ignored.
    status, body = patch({"metadata": {"labels": {"x": "y"}},
                          "spec": {"activeDeadlineSeconds": 5,
                                   "ephemeralContainers": [dict(dbg, targetContainerName="main")]}})
    assert status == 200, body
    ec = body["spec"]["ephemeralContainers"][0]
    assert ec["terminationMessagePath"] == "/dev/termination-log", ec
    assert "x" not in body["metadata"].get("labels", {}) and "activeDeadlineSeconds" not in body["spec"]
    # Existing entries may not change or go.
    status, body = patch({"spec": {"ephemeralContainers": [
        dict(dbg, targetContainerName="main", command=["sleep", "1"])]}})
    assert status == 422 and 'existing ephemeral containers "dbg" may not be changed' in \
        body["message"], body
    cur = api.json("GET", sub, expect=200)[1]
    cur["spec"]["ephemeralContainers"] = []
    status, body = api.json("PUT", sub, cur)
    assert status == 422 and 'existing ephemeral containers "dbg" may not be removed' in \
        body["message"], body
    # PUT adding one more; a stale resourceVersion conflicts (the node agent writing the pod's
    # status between our GET and PUT does too: read again and retry, as clients do).
    cur = api.json("GET", sub, expect=200)[1]
    stale = dict(cur, metadata=dict(cur["metadata"], resourceVersion="1"))
    stale["spec"]["ephemeralContainers"].append(dict(dbg, name="dbg2"))
    assert api.json("PUT", sub, stale)[0] == 409
    for _ in range(10):
        cur = api.json("GET", sub, expect=200)[1]
        cur["spec"]["ephemeralContainers"].append(dict(dbg, name="dbg2"))
        status, body = api.json("PUT", sub, cur)
        if status != 409:
            break
        time.sleep(0.3)
    assert status == 200, body
    assert [c["name"] for c in body["spec"]["ephemeralContainers"]] == ["dbg", "dbg2"]
    # The pod itself may not change them.
    status, body = api.json("PATCH", base, {"spec": {"ephemeralContainers": [
        dict(dbg, name="dbg3")]}}, content_type=smp)
    assert status == 422 and "Forbidden" in body["message"], body
    # Both start; the one with a target sees the target's processes.
    pod = pu.wait_pod(api, ns, "app3", lambda o: all(
        "running" in ephemeral_state(o, n) for n in ("dbg", "dbg2")), what="both running")
    out = kubectl.ok("exec", "app3", "-c", "dbg", "-n", ns, "--", "cat", "/proc/1/cmdline").stdout
    assert out.replace("\0", " ").strip() == "sleep 3600", out
    assert pu.is_ready(pod)
