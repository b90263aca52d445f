"""Container lifecycle: liveness probes restart containers, readiness gates Ready, OOM kills are reported,
restart policies give Kubernetes' phases, CrashLoopBackOff, init containers in order, image pull errors.

Every pod of the module is created at once up front (they run side by side); each test then waits for
what it checks.
"""

import re
import time

import pytest

import podutil as pu

BUSYBOX = "image: busybox:latest\n    imagePullPolicy: IfNotPresent"


def pod(name, body, restart="Always", grace=1):
    return f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: {restart}
  terminationGracePeriodSeconds: {grace}
{body}"""


PODS = [
    pod("liveness", f"""  containers:
  - name: app
    {BUSYBOX}
    command: ["sh", "-c", "touch /tmp/healthy; sleep 3; rm /tmp/healthy; sleep 3600"]
    livenessProbe:
      exec:
        command: ["cat", "/tmp/healthy"]
      periodSeconds: 1
      failureThreshold: 2
"""),
    pod("healthy", """  containers:
  - name: kubia
    image: docker.io/luksa/kubia:latest
    imagePullPolicy: IfNotPresent
    ports:
    - name: http
      containerPort: 8080
    livenessProbe:
      httpGet:
        path: /
        port: http
      periodSeconds: 1
    readinessProbe:
      tcpSocket:
        port: 8080
      periodSeconds: 1
"""),
    pod("readiness", f"""  containers:
  - name: app
    {BUSYBOX}
    command: ["sh", "-c", "while true; do touch /tmp/ready; sleep 4; rm -f /tmp/ready; sleep 4; done"]
    readinessProbe:
      exec:
        command: ["cat", "/tmp/ready"]
      periodSeconds: 1
"""),
    pod("oom", f"""  containers:
  - name: hog
    {BUSYBOX}
    command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1"]
    resources:
      requests:
        memory: 32Mi
      limits:
        memory: 32Mi
""", restart="Never"),
    pod("never-ok", f"""  containers:
  - name: main
    {BUSYBOX}
    command: ["sh", "-c", "echo done; exit 0"]
""", restart="Never"),
    pod("never-fail", f"""  containers:
  - name: main
    {BUSYBOX}
    command: ["sh", "-c", "echo failing; exit 3"]
""", restart="Never"),
    pod("onfailure-ok", f"""  containers:
  - name: main
    {BUSYBOX}
    command: ["sh", "-c", "exit 0"]
""", restart="OnFailure"),
    pod("onfailure-retry", f"""  volumes:
  - name: state
    emptyDir: {{}}
  containers:
  - name: main
    {BUSYBOX}
    volumeMounts:
    - name: state
      mountPath: /state
    command: ["sh", "-c", "n=$(cat /state/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /state/n; echo attempt $n; [ $n -ge 2 ]"]
""", restart="OnFailure"),
    pod("crashloop", f"""  containers:
  - name: main
    {BUSYBOX}
    command: ["sh", "-c", "echo crashing; exit 1"]
"""),
    pod("init-order", f"""  volumes:
  - name: work
    emptyDir: {{}}
  initContainers:
  - name: first
    {BUSYBOX}
    command: ["sh", "-c", "sleep 1; echo one >> /work/order"]
    volumeMounts:
    - name: work
      mountPath: /work
  - name: second
    {BUSYBOX}
    command: ["sh", "-c", "echo two >> /work/order"]
    volumeMounts:
    - name: work
      mountPath: /work
  containers:
  - name: main
    {BUSYBOX}
    command: ["sh", "-c", "echo three >> /work/order; cat /work/order; exec sleep 3600"]
    volumeMounts:
    - name: work
      mountPath: /work
"""),
    pod("init-fails", f"""  initContainers:
  - name: setup
    {BUSYBOX}
    command: ["sh", "-c", "exit 7"]
  containers:
  - name: main
    {BUSYBOX}
    command: ["sh", "-c", "echo should-not-run; sleep 3600"]
""", restart="Never"),
    pod("bad-image", """  containers:
  - name: main
    image: 127.0.0.1:5999/sampan-test/no-such-image:v1
    imagePullPolicy: IfNotPresent
"""),
    pod("never-pull", """  containers:
  - name: main
    image: docker.io/sampan-test/not-present:v1
    imagePullPolicy: Never
"""),
]


@pytest.fixture(scope="module")
def pods(kubectl, module_ns):
    pu.create(kubectl, module_ns, "---".join(PODS))
    return module_ns


def test_failing_liveness_probe_restarts_the_container(kubectl, api, pods):
    ns = pods
    pod = pu.wait_pod(api, ns, "liveness", lambda p: pu.restart_count(p, "app") >= 1, timeout=60,
                      what="a restart after the liveness probe failed")
    last = pu.terminated(pod, "app", last=True)
    assert last, pu.dump(pod)
    # sh as PID 1 ignores SIGTERM, so the kill ends with SIGKILL after the grace period.
    assert last.get("exitCode") == 137, last
    assert last.get("finishedAt") and last.get("startedAt"), last
    assert pu.container_status(pod, "app")["containerID"] != last.get("containerID"), pu.dump(pod)
    pu.wait_event(api, ns, "liveness", "Unhealthy", message_part="Liveness probe failed")
    pu.wait_event(api, ns, "liveness", "Killing",
                  message_part="failed liveness probe, will be restarted")
    out = kubectl.ok("describe", "pod", "liveness", "-n", ns).stdout
    events = out[out.index("Events:"):]
    assert re.search(r"Warning\s+Unhealthy\s.*Liveness probe failed", events), out
    assert re.search(r"Normal\s+Killing\s.*failed liveness probe, will be restarted", events), out
    assert re.search(r"Restart Count:\s+[1-9]", out), out
    # It keeps failing after each restart: the count goes on rising.
    first = pu.restart_count(pod, "app")
    pu.wait_pod(api, ns, "liveness", lambda p: pu.restart_count(p, "app") > first, timeout=60,
                what="a second restart")


def test_passing_probes_leave_the_container_alone(api, pods):
    ns = pods
    pu.wait_pod(api, ns, "healthy", lambda p: pu.is_running(p) and pu.is_ready(p), timeout=60,
                what="Ready")

    def unhealthy():
        # Probes start as soon as the container runs (no initialDelaySeconds), so on a busy machine
        # the first ones may find the app not listening yet, as on Kubernetes: count only those
        # made once the pod is Ready.
        return sum(e.get("count") or 1 for e in pu.events_for(api, ns, "healthy")
                   if e.get("reason") == "Unhealthy")

    time.sleep(2)  # a failure just before Ready may still be on its way to the API
    before = unhealthy()
    time.sleep(5)  # five liveness periods
    pod = pu.get_pod(api, ns, "healthy")
    assert pu.restart_count(pod, "kubia") == 0 and pu.is_ready(pod), pu.dump(pod)
    assert unhealthy() == before, [(e.get("reason"), e.get("message"), e.get("count"))
                                   for e in pu.events_for(api, ns, "healthy")]


def test_readiness_probe_gates_ready(kubectl, api, pods):
    ns = pods
    pu.wait_pod(api, ns, "readiness", pu.is_running, timeout=60, what="Running")
    seen = set()
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline and len(seen) < 2:
        pod = pu.get_pod(api, ns, "readiness")
        ready = pu.condition(pod, "Ready")
        assert pu.is_running(pod) and pu.restart_count(pod, "app") == 0, pu.dump(pod)
        # Ready follows the container's readiness, ContainersReady too.
        assert pu.condition(pod, "ContainersReady") == ready, pod["status"]["conditions"]
        assert pu.container_status(pod, "app")["ready"] == (ready == "True"), pu.dump(pod)
        seen.add(ready)
        time.sleep(0.3)
    assert seen == {"True", "False"}, f"Ready never toggled: {seen}"
    # kubectl's READY column: 0/1 while unready.
    deadline = time.monotonic() + 15
    columns = set()
    while time.monotonic() < deadline and columns != {"0/1", "1/1"}:
        columns.add(kubectl.ok("get", "pod", "readiness", "-n", ns).stdout.splitlines()[1].split()[1])
        time.sleep(0.5)
    assert columns == {"0/1", "1/1"}, columns


def test_oom_kill_is_reported(api, pods):
    ns = pods
    pod = pu.wait_pod(api, ns, "oom", lambda p: pu.phase(p) in ("Failed", "Succeeded"), timeout=60,
                      what="the container to end")
    term = pu.terminated(pod, "hog")
    assert pu.phase(pod) == "Failed", pu.dump(pod)
    assert term and term.get("reason") == "OOMKilled", pu.dump(pod)
    assert term.get("exitCode") == 137, term
    assert pod["status"].get("qosClass") == "Burstable", pu.dump(pod)


def test_restart_policy_never(kubectl, api, pods):
    ns = pods
    ok = pu.wait_pod(api, ns, "never-ok", lambda p: pu.phase(p) == "Succeeded", timeout=60,
                     what="Succeeded")
    term = pu.terminated(ok, "main")
    assert term["exitCode"] == 0 and term["reason"] == "Completed", term
    fail = pu.wait_pod(api, ns, "never-fail", lambda p: pu.phase(p) == "Failed", timeout=60,
                       what="Failed")
    term = pu.terminated(fail, "main")
    assert term["exitCode"] == 3 and term["reason"] == "Error", term
    time.sleep(2)
    for name in ("never-ok", "never-fail"):
        assert pu.restart_count(pu.get_pod(api, ns, name), "main") == 0
    assert kubectl.ok("logs", "never-fail", "-n", ns).stdout == "failing\n"
    rows = {line.split()[0]: line.split()[2]
            for line in kubectl.ok("get", "pods", "-n", ns).stdout.splitlines()[1:]}
    assert rows["never-ok"] == "Completed" and rows["never-fail"] == "Error", rows


def test_restart_policy_on_failure(api, pods):
    ns = pods
    ok = pu.wait_pod(api, ns, "onfailure-ok", lambda p: pu.phase(p) == "Succeeded", timeout=60,
                     what="Succeeded")
    assert pu.restart_count(ok, "main") == 0, pu.dump(ok)
    retry = pu.wait_pod(api, ns, "onfailure-retry", lambda p: pu.phase(p) == "Succeeded",
                        timeout=60, what="Succeeded after one retry")
    assert pu.restart_count(retry, "main") == 1, pu.dump(retry)
    assert pu.terminated(retry, "main")["exitCode"] == 0
    assert pu.terminated(retry, "main", last=True)["exitCode"] == 1, pu.dump(retry)


def test_crash_loop_back_off(kubectl, api, pods):
    ns = pods
    pod = pu.wait_pod(api, ns, "crashloop",
                      lambda p: pu.waiting_reason(p, "main") == "CrashLoopBackOff", timeout=60,
                      what="CrashLoopBackOff")
    assert pu.restart_count(pod, "main") >= 1, pu.dump(pod)
    last = pu.terminated(pod, "main", last=True)
    assert last and last["exitCode"] == 1 and last["reason"] == "Error", pu.dump(pod)
    assert pu.phase(pod) == "Running", pod["status"]  # restartPolicy Always: never Failed
    deadline = time.monotonic() + 30
    seen = set()
    while time.monotonic() < deadline and "CrashLoopBackOff" not in seen:
        seen.add(kubectl.ok("get", "pod", "crashloop", "-n", ns).stdout.splitlines()[1].split()[2])
        time.sleep(0.5)
    assert "CrashLoopBackOff" in seen, seen
    pu.wait_event(api, ns, "crashloop", "BackOff", message_part="Back-off restarting failed container")


def test_init_containers_run_in_order(kubectl, api, pods):
    ns = pods
    pod = pu.wait_pod(api, ns, "init-order", pu.is_running, timeout=60, what="Running")
    assert pu.condition(pod, "Initialized") == "True"
    for name in ("first", "second"):
        term = pu.terminated(pod, name, init=True)
        assert term and term["exitCode"] == 0 and term["reason"] == "Completed", pu.dump(pod)
    first = pu.terminated(pod, "first", init=True)
    second = pu.terminated(pod, "second", init=True)
    assert first["finishedAt"] <= second["startedAt"], (first, second)
    deadline = time.monotonic() + 20
    while True:
        out = kubectl.ok("logs", "init-order", "-c", "main", "-n", ns).stdout
        if out or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert out == "one\ntwo\nthree\n"


def test_failing_init_container_fails_the_pod(kubectl, api, pods):
    ns = pods
    pod = pu.wait_pod(api, ns, "init-fails", lambda p: pu.phase(p) == "Failed", timeout=60,
                      what="Failed")
    term = pu.terminated(pod, "setup", init=True)
    assert term and term["exitCode"] == 7, pu.dump(pod)
    assert pu.condition(pod, "Initialized") == "False", pu.dump(pod)
    main = pu.container_status(pod, "main") or {}
    assert "running" not in main.get("state", {}) and "terminated" not in main.get("state", {}), main
    status = kubectl.ok("get", "pod", "init-fails", "-n", ns).stdout.splitlines()[1].split()[2]
    assert status == "Init:Error", status


def test_bad_image_gives_image_pull_back_off(kubectl, api, pods):
    ns = pods
    reasons = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "ImagePullBackOff" not in reasons:
        pod = pu.get_pod(api, ns, "bad-image")
        reason = pu.waiting_reason(pod, "main")
        if reason:
            reasons.add(reason)
        assert pu.phase(pod) == "Pending", pu.dump(pod)
        time.sleep(0.3)
    assert "ImagePullBackOff" in reasons, reasons
    assert reasons <= {"ErrImagePull", "ImagePullBackOff", "ContainerCreating"}, reasons
    # Kubernetes records the pull failure itself as a Failed event with ErrImagePull.
    pu.wait_event(api, ns, "bad-image", "Failed", message_part="ErrImagePull")
    status = kubectl.ok("get", "pod", "bad-image", "-n", ns).stdout.splitlines()[1].split()[2]
    assert status in ("ErrImagePull", "ImagePullBackOff"), status


def test_pull_policy_never_with_absent_image(api, pods):
    ns = pods
    pod = pu.wait_pod(api, ns, "never-pull",
                      lambda p: pu.waiting_reason(p, "main") == "ErrImageNeverPull", timeout=60,
                      what="ErrImageNeverPull")
    assert pu.phase(pod) == "Pending"
