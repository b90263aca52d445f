"""kubectl logs (-c, -f, --previous, --tail, --since, --timestamps), exec (exit codes, stdin), port-forward
and cp against running pods, over WebSocket (kubectl's default) and over SPDY (the fallback older
kubectl versions use)."""

import os
import re
import time

import pytest

import cluster as cl
import harness
import podutil as pu

PODS = """
apiVersion: v1
kind: Pod
metadata:
  name: kubia
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: kubia
    image: docker.io/luksa/kubia:latest
    imagePullPolicy: IfNotPresent
    ports:
    - containerPort: 8080
---
apiVersion: v1
kind: Pod
metadata:
  name: logger
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command:
    - sh
    - -c
    - |
      echo "first line"
      echo "to stderr" >&2
      sleep 4
      i=0
      while true; do i=$((i+1)); echo "tick $i"; sleep 1; done
---
apiVersion: v1
kind: Pod
metadata:
  name: multi
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: alpha
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    env:
    - name: WHO
      value: alpha
    command: ["sh", "-c", "echo from-alpha; exec sleep 3600"]
  - name: beta
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    env:
    - name: WHO
      value: beta
    command: ["sh", "-c", "echo from-beta; exec sleep 3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: crasher
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - name: state
    emptyDir: {}
  containers:
  - name: main
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    volumeMounts:
    - name: state
      mountPath: /state
    command:
    - sh
    - -c
    - |
      n=$(cat /state/n 2>/dev/null || echo 0)
      n=$((n+1))
      echo $n > /state/n
      echo "instance $n"
      sleep 2
      exit 1
"""

# kubectl's transports: WebSocket (default since 1.30/1.31) and SPDY/3.1.
TRANSPORTS = {
    "websocket": {},
    "spdy": {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false", "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"},
}


@pytest.fixture(scope="module")
def pods(kubectl, api, module_ns):
    pu.create(kubectl, module_ns, PODS)
    pu.wait_pods(api, module_ns, ["kubia", "logger", "multi"], pu.is_running, timeout=60,
                 what="Running")
    return module_ns


def test_logs_both_streams_in_order(kubectl, pods):
    ns = pods
    out = kubectl.ok("logs", "logger", "-n", ns).stdout
    lines = out.splitlines()
    assert lines[:2] == ["first line", "to stderr"], out


def wait_ticks(kubectl, ns, n, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        out = kubectl.ok("logs", "logger", "-n", ns).stdout
        ticks = [int(m) for m in re.findall(r"^tick (\d+)$", out, re.M)]
        if ticks and ticks[-1] >= n:
            return out, ticks
        assert time.monotonic() < deadline, f"no tick {n} in the logs after {timeout}s:\n{out}"
        time.sleep(0.5)


def test_logs_tail(kubectl, pods):
    ns = pods
    wait_ticks(kubectl, ns, 3)
    out = kubectl.ok("logs", "logger", "-n", ns, "--tail=2").stdout
    lines = out.splitlines()
    assert len(lines) == 2, out
    a, b = (int(re.fullmatch(r"tick (\d+)", line).group(1)) for line in lines)
    assert b in (a + 1, a + 2), out  # the newest two (one more may have landed in between)
    assert kubectl.ok("logs", "logger", "-n", ns, "--tail=0").stdout == ""


def test_logs_timestamps(kubectl, pods):
    ns = pods
    wait_ticks(kubectl, ns, 1)
    out = kubectl.ok("logs", "logger", "-n", ns, "--timestamps").stdout
    lines = out.splitlines()
    assert len(lines) >= 3, out
    stamps = []
    for line in lines:
        m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)) (.*)", line)
        assert m, f"line without an RFC 3339 timestamp: {line!r}"
        stamps.append(m.group(1))
    assert lines[0].endswith(" first line") and lines[1].endswith(" to stderr"), out
    assert stamps == sorted(stamps), out


def test_logs_since(kubectl, pods):
    ns = pods
    wait_ticks(kubectl, ns, 6)  # "first line" is now at least 9 s old
    out = kubectl.ok("logs", "logger", "-n", ns, "--since=3s").stdout
    assert "first line" not in out and "to stderr" not in out, out
    ticks = re.findall(r"^tick \d+$", out, re.M)
    assert 1 <= len(ticks) <= 5, out
    full = kubectl.ok("logs", "logger", "-n", ns, "--since=1h").stdout
    assert full.startswith("first line\n"), full


def test_logs_follow(kubectl, pods):
    ns = pods
    _, ticks = wait_ticks(kubectl, ns, 1)
    reader = harness.LineReader(kubectl.popen("logs", "-f", "logger", "-n", ns))
    try:
        assert reader.wait_for(lambda l: l == "first line", timeout=20) is not None, reader.lines
        later = ticks[-1] + 2
        idx = reader.wait_for(lambda l: l == f"tick {later}", timeout=20)
        assert idx is not None, f"follow did not stream tick {later}: {reader.lines}"
        assert reader.proc.poll() is None  # still following
    finally:
        reader.stop()


def test_logs_container_flag(kubectl, pods):
    ns = pods
    assert kubectl.ok("logs", "multi", "-c", "beta", "-n", ns).stdout == "from-beta\n"
    assert kubectl.ok("logs", "multi", "-c", "alpha", "-n", ns).stdout == "from-alpha\n"
    # Without -c kubectl picks the first container (and says so on stderr).
    r = kubectl.ok("logs", "multi", "-n", ns)
    assert r.stdout == "from-alpha\n", str(r)
    both = kubectl.ok("logs", "multi", "--all-containers", "-n", ns).stdout
    assert sorted(both.splitlines()) == ["from-alpha", "from-beta"], both
    r = kubectl("logs", "multi", "-c", "gamma", "-n", ns)
    assert r.rc not in (0, 124) and "gamma" in r.stderr, str(r)


def test_logs_previous(kubectl, api, pods):
    ns = pods
    deadline = time.monotonic() + 60
    while True:
        before = pu.restart_count(pu.get_pod(api, ns, "crasher"), "main")
        if before >= 1:
            r = kubectl("logs", "crasher", "--previous", "-n", ns)
            after = pu.restart_count(pu.get_pod(api, ns, "crasher"), "main")
            if before == after:
                # After N restarts the previous instance is number N (the current one is N+1).
                assert r.rc == 0, str(r)
                assert r.stdout == f"instance {before}\n", str(r)
                break
        assert time.monotonic() < deadline, "crasher never restarted"
        time.sleep(0.5)
    # No previous instance: a clear error, as Kubernetes gives.
    r = kubectl("logs", "logger", "--previous", "-n", ns)
    assert r.rc not in (0, 124), str(r)
    assert "previous terminated container" in r.stderr and "not found" in r.stderr, str(r)


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_exec_output_and_exit_codes(kubectl, pods, transport):
    ns, env = pods, TRANSPORTS[transport]
    r = kubectl.ok("exec", "kubia", "-n", ns, "--", "echo", "hello", "world", env=env)
    assert r.stdout == "hello world\n", str(r)
    r = kubectl("exec", "kubia", "-n", ns, "--", "sh", "-c", "echo out; echo err >&2; exit 3",
                env=env)
    assert r.rc == 3, str(r)
    assert r.stdout == "out\n", str(r)
    assert "err" in r.stderr and "command terminated with exit code 3" in r.stderr, str(r)
    r = kubectl("exec", "kubia", "-n", ns, "--", "/no/such/binary", env=env)
    assert r.rc not in (0, 124), str(r)
    # The pod's own hostname, and a chosen container's environment.
    assert kubectl.ok("exec", "kubia", "-n", ns, "--", "hostname", env=env).stdout == "kubia\n"
    r = kubectl.ok("exec", "multi", "-c", "beta", "-n", ns, "--", "sh", "-c", "echo $WHO", env=env)
    assert r.stdout == "beta\n", str(r)


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_exec_stdin(kubectl, pods, transport):
    ns, env = pods, TRANSPORTS[transport]
    data = "hello\nworld\n" + "x" * 100000 + "\n"
    r = kubectl.ok("exec", "-i", "kubia", "-n", ns, "--", "sh", "-c", "cat; echo done",
                   input=data, env=env)
    assert r.stdout == data + "done\n", (len(r.stdout), r.stderr)
    r = kubectl.ok("exec", "-i", "kubia", "-n", ns, "--", "wc", "-l", input="a\nb\nc\n", env=env)
    assert r.stdout.strip() == "3", str(r)


def test_exec_sees_the_pod_network_files(kubectl, api, pods):
    ns = pods
    pod = pu.get_pod(api, ns, "kubia")
    ip = pod["status"]["podIP"]
    hosts = kubectl.ok("exec", "kubia", "-n", ns, "--", "cat", "/etc/hosts").stdout
    assert re.search(rf"^{re.escape(ip)}\s+kubia$", hosts, re.M), hosts
    assert re.search(r"^127\.0\.0\.1\s+localhost$", hosts, re.M), hosts
    addr = kubectl.ok("exec", "kubia", "-n", ns, "--", "ip", "-4", "-o", "addr", "show",
                      "eth0").stdout
    assert f"inet {ip}/" in addr, addr
    route = kubectl.ok("exec", "kubia", "-n", ns, "--", "ip", "route").stdout
    assert route.startswith("default via "), route


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_port_forward(kubectl, node, pods, transport):
    ns, env = pods, TRANSPORTS[transport]
    reader = harness.LineReader(kubectl.popen("port-forward", "pod/kubia", "8888:8080", "-n", ns,
                                              env=env))
    try:
        idx = reader.wait_for(lambda l: "Forwarding from 127.0.0.1:8888 -> 8080" in l, timeout=20)
        assert idx is not None, f"port-forward did not start: {reader.lines} " \
                                f"{reader.proc.stderr.read() if reader.proc.poll() is not None else ''}"
        for _ in range(3):  # one tunnel, several connections
            status, body = cl.http_get(node.path, "127.0.0.1", 8888)
            assert (status, body) == (200, "You've hit kubia\n")
        assert reader.proc.poll() is None, "port-forward exited"
    finally:
        err = reader.stop()
    assert "error" not in err.lower(), err


def test_cp_both_ways(kubectl, pods, tmp_path):
    ns = pods
    src = tmp_path / "in.txt"
    payload = "line one\nline two\n" + "".join(chr(65 + i % 26) for i in range(5000)) + "\n"
    src.write_text(payload)
    kubectl.ok("cp", str(src), f"{ns}/kubia:/tmp/in.txt")
    assert kubectl.ok("exec", "kubia", "-n", ns, "--", "cat", "/tmp/in.txt").stdout == payload
    kubectl.ok("exec", "kubia", "-n", ns, "--", "sh", "-c",
               "mkdir -p /tmp/d/sub && echo made-in-pod > /tmp/d/sub/f.txt")
    back = tmp_path / "back.txt"
    kubectl.ok("cp", f"{ns}/kubia:/tmp/in.txt", str(back))
    assert back.read_text() == payload
    outdir = tmp_path / "d"
    kubectl.ok("cp", f"{ns}/kubia:/tmp/d", str(outdir))
    assert (outdir / "sub" / "f.txt").read_text() == "made-in-pod\n"
    assert os.path.isdir(outdir / "sub")


def test_kubectl_1_29_exec_and_port_forward(server, node, pods):
    """kubectl 1.29 speaks SPDY/3.1 directly for exec and port-forward (no WebSocket at all)."""
    ns = pods
    folder = harness.kubectl_dir()
    binary = os.path.join(folder or "", "kubectl.1.29")
    assert folder and os.access(binary, os.X_OK), "kubectl.1.29 is not installed beside kubectl"
    old = server.kubectl(binary=binary)
    r = old("exec", "-i", "kubia", "-n", ns, "--", "sh", "-c", "cat; exit 4", input="spdy stdin\n")
    assert r.rc == 4 and r.stdout == "spdy stdin\n", str(r)
    assert "command terminated with exit code 4" in r.stderr, str(r)
    reader = harness.LineReader(old.popen("port-forward", "pod/kubia", "8889:8080", "-n", ns))
    try:
        idx = reader.wait_for(lambda l: "Forwarding from 127.0.0.1:8889 -> 8080" in l, timeout=20)
        assert idx is not None, f"port-forward did not start: {reader.lines}"
        assert cl.http_get(node.path, "127.0.0.1", 8889) == (200, "You've hit kubia\n")
    finally:
        reader.stop()
