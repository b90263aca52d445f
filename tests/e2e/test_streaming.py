"""kubectl logs/exec/attach/port-forward/cp, and the Python client's exec and port-forward,
through a real `sampan server --disable-agent` to a real kubelet API server (src/streaming).

The node is `sampan streaming-test-node`: the KubeletServer of src/streaming over a HostBackend
(src/streaming/testing), whose "containers" are plain host processes in a temporary directory.
It stands in for the node agent's container backend only: every protocol under test is real
(kubectl → API server over HTTPS; the API server's proxy → the kubelet API over TLS with the
kubelet-client certificate; WebSocket v4/v5 channels, SPDY/3.1 with compressed headers, SPDY
tunnelled in WebSocket, the plain WebSocket port-forward). The fake Node object advertises
InternalIP 127.0.0.1 and the test node's port; port-forward targets a TCP echo server on
127.0.0.1 that this module starts (the test node's "pod localhost" is the host's loopback).
"""

import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import threading
import time

import pytest

import harness

NODE = "stream-node"


class Lines:
    """Collects a process's stdout and stderr lines (kubectl reports forwarding errors on stderr)."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = []
        self._cv = threading.Condition()
        self._threads = [threading.Thread(target=self._read, args=(f,), daemon=True)
                         for f in (proc.stdout, proc.stderr)]
        for t in self._threads:
            t.start()

    def _read(self, f):
        for line in f:
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                self._cv.notify_all()

    def text(self):
        with self._cv:
            return "\n".join(self.lines)

    def wait_for(self, predicate, timeout=30):
        deadline = time.monotonic() + timeout
        with self._cv:
            while not any(predicate(line) for line in self.lines):
                left = deadline - time.monotonic()
                assert left > 0, f"no matching line within {timeout}s; got:\n" + "\n".join(self.lines)
                self._cv.wait(min(left, 0.2))

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for t in self._threads:
            t.join(5)


# ---- fixtures ---------------------------------------------------------------------------------

class HostNode:
    def __init__(self, server, workdir):
        self.root = os.path.join(workdir, "node-root")
        os.makedirs(self.root, exist_ok=True)
        ca = os.path.join(server.data_dir, "server", "tls", "server-ca.crt")
        self.log = open(os.path.join(workdir, "node.log"), "ab")
        self.proc = subprocess.Popen(
            [harness.sampan_bin(), "streaming-test-node", "--root", self.root, "--client-ca", ca],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, text=True, bufsize=1, start_new_session=True)
        line = self.proc.stdout.readline()
        m = re.match(r"port (\d+)", line)
        assert m, f"test node did not start: {line!r}"
        self.port = int(m.group(1))
        self.lock = threading.Lock()

    def run(self, ns, pod, container, argv, stdin=False, restart=False):
        with self.lock:
            self.proc.stdin.write(json.dumps({"ns": ns, "pod": pod, "container": container,
                                              "argv": argv, "stdin": stdin,
                                              "restart": restart}) + "\n")
            reply = self.proc.stdout.readline().strip()
        assert reply == "ok", reply

    def dir(self, ns, pod, container):
        return os.path.join(self.root, ns, pod, container)

    def stop(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def node(server):
    n = HostNode(server, server.workdir)
    api = server.rest
    api.json("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                       "metadata": {"name": NODE}}, expect=(200, 201))
    status = {"status": {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                      {"type": "Hostname", "address": NODE}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": n.port}},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "test node", "lastHeartbeatTime": "2024-01-01T00:00:00Z",
                        "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}
    api.json("PATCH", f"/api/v1/nodes/{NODE}/status", status,
             content_type="application/merge-patch+json", expect=200)
    yield n
    n.stop()


@pytest.fixture(scope="module")
def echo_port():
    """A TCP echo server on 127.0.0.1."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    stop = threading.Event()

    def serve(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    srv.close()


def make_pod(api, node, ns, name, containers):
    """containers: [(name, argv, {stdin, restart})]; the pod is bound to the test node and
    reported Running."""
    spec = {"nodeName": NODE, "containers": [
        {"name": c[0], "image": "host-process", **({"stdin": True} if c[2].get("stdin") else {})}
        for c in containers]}
    api.json("POST", f"/api/v1/namespaces/{ns}/pods",
             {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec},
             expect=(200, 201))
    for c in containers:
        node.run(ns, name, c[0], c[1], **c[2])
    now = "2024-01-01T00:00:00Z"
    status = {"status": {"phase": "Running", "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
                         "startTime": now,
                         "containerStatuses": [{"name": c[0], "ready": True, "restartCount": 0,
                                                "image": "host-process", "imageID": "",
                                                "started": True,
                                                "state": {"running": {"startedAt": now}}}
                                               for c in containers]}}
    api.json("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status", status,
             content_type="application/merge-patch+json", expect=200)
    return name


SLEEPER = ["sh", "-c", "echo ready; exec sleep 100000"]


@pytest.fixture
def pod(api, node, ns):
    return make_pod(api, node, ns, "box", [("main", SLEEPER, {})])


def versioned(name):
    d = harness.kubectl_dir()
    path = os.path.join(d, name) if d else None
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"{name} is not installed next to kubectl")
    return path


# ---- exec -------------------------------------------------------------------------------------

EXEC_VARIANTS = [
    pytest.param({}, None, id="websocket-v5"),
    pytest.param({"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}, None, id="spdy"),
    pytest.param({}, "kubectl.1.29", id="kubectl-1.29-spdy"),
]


@pytest.mark.parametrize("env,binary", EXEC_VARIANTS)
def test_exec_output_and_exit_code(server, ns, pod, env, binary):
    k = server.kubectl(binary=versioned(binary) if binary else None)
    r = k("exec", pod, "-n", ns, "--", "sh", "-c", "echo out; echo err >&2; exit 3",
          env=env, timeout=30)
    assert r.rc == 3, str(r)
    assert r.stdout == "out\n", str(r)
    assert "err" in r.stderr and "command terminated with exit code 3" in r.stderr, str(r)
    ok = k("exec", pod, "-n", ns, "--", "echo", "fine", env=env, timeout=30)
    assert ok.rc == 0 and ok.stdout == "fine\n", str(ok)


@pytest.mark.parametrize("env,binary", EXEC_VARIANTS)
def test_exec_stdin(server, ns, pod, env, binary):
    k = server.kubectl(binary=versioned(binary) if binary else None)
    payload = "".join(f"line {i} {'x' * 100}\n" for i in range(2000))  # ~220 KB
    r = k("exec", "-i", pod, "-n", ns, "--", "sh", "-c", "cat; echo done >&2",
          input=payload, env=env, timeout=60)
    assert r.rc == 0, str(r)[:2000]
    assert r.stdout == payload
    assert "done" in r.stderr


def test_exec_unknown_container_and_missing_command(kubectl, ns, pod):
    r = kubectl.fails("exec", pod, "-c", "nosuch", "-n", ns, "--", "true", timeout=30)
    assert "nosuch" in r.stderr, str(r)


@pytest.mark.parametrize("minor", ["27", "28", "30", "31", "33"])
def test_other_kubectl_versions(server, ns, pod, echo_port, minor):
    """exec with stdin and an exit code, and one forwarded connection, with each other kubectl."""
    k = server.kubectl(binary=versioned(f"kubectl.1.{minor}"))
    r = k("exec", "-i", pod, "-n", ns, "--", "sh", "-c", "cat; exit 6", input="abc\n", timeout=30)
    assert r.rc == 6 and r.stdout == "abc\n", str(r)
    local = harness.free_port()
    p = k.popen("port-forward", pod, f"{local}:{echo_port}", "-n", ns)
    lines = Lines(p)
    try:
        lines.wait_for(lambda line: "Forwarding from 127.0.0.1" in line, timeout=30)
        with socket.create_connection(("127.0.0.1", local), timeout=10) as s:
            s.sendall(b"v1." + minor.encode())
            assert s.recv(100) == b"v1." + minor.encode()
    finally:
        lines.stop()


def test_exec_large_output(kubectl, ns, pod):
    r = kubectl("exec", pod, "-n", ns, "--", "sh", "-c",
                "head -c 8000000 /dev/zero | tr '\\0' a; echo; echo tail", timeout=60)
    assert r.rc == 0, r.stderr
    assert r.stdout == "a" * 8000000 + "\ntail\n"


def test_exec_errors_from_the_node_agent(server, kubectl, api, node, ns):
    """The node agent's own errors (here: a container the node does not run) reach kubectl as
    Status errors, over both protocols."""
    make_pod(api, node, ns, "half", [("main", SLEEPER, {})])
    # A second container in the spec that the node never started.
    api.json("POST", f"/api/v1/namespaces/{ns}/pods",
             {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ghost"},
              "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": "x"}]}},
             expect=(200, 201))
    api.json("PATCH", f"/api/v1/namespaces/{ns}/pods/ghost/status", {"status": {"phase": "Running"}},
             content_type="application/merge-patch+json", expect=200)
    for env in ({}, {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}):
        r = kubectl.fails("exec", "ghost", "-n", ns, "--", "true", env=env, timeout=30)
        assert "ghost" in r.stderr and "not on this node" in r.stderr, str(r)
    r = kubectl.fails("logs", "ghost", "-n", ns, timeout=30)
    assert "not on this node" in r.stderr, str(r)


def _run_in_pty(argv, env, script, timeout=30):
    """Runs argv with a pseudo-terminal as its stdio, types `script`, returns (rc, output)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, env)
    out = b""
    sent = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if not sent and (b"$" in out or b"#" in out or time.monotonic() > deadline - timeout + 3):
                os.write(fd, script.encode())
                sent = True
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


@pytest.mark.parametrize("env,binary", EXEC_VARIANTS)
def test_exec_interactive_tty(server, ns, pod, env, binary):
    k = server.kubectl(binary=versioned(binary) if binary else None)
    argv = k.argv("exec", "-it", pod, "-n", ns, "--", "sh", "-i")
    full_env = k.env(env)
    full_env["TERM"] = "dumb"
    rc, out = _run_in_pty(argv, full_env,
                          "echo product=$((6*7)); tty; stty size; exit 5\n")
    assert "product=42" in out, out
    assert re.search(r"/dev/pts/\d+", out), out
    assert rc == 5, out


# ---- attach -----------------------------------------------------------------------------------

def test_attach_output(server, api, node, ns):
    make_pod(api, node, ns, "ticker", [("main", ["sh", "-c",
                                                  "i=0; while true; do i=$((i+1)); echo tick $i; "
                                                  "sleep 0.2; done"], {})])
    p = server.kubectl().popen("attach", "ticker", "-n", ns)
    reader = Lines(p)
    try:
        reader.wait_for(lambda line: line.startswith("tick"), timeout=30)
    finally:
        reader.stop()


def test_attach_stdin_until_exit(server, api, node, ns):
    make_pod(api, node, ns, "reader", [("main", ["sh", "-c",
                                                  "while read l; do echo got:$l; "
                                                  "[ \"$l\" = quit ] && exit 4; done"],
                                         {"stdin": True})])
    k = server.kubectl()
    r = k("attach", "-i", "reader", "-n", ns, input="hello\nquit\n", timeout=30)
    assert "got:hello" in r.stdout and "got:quit" in r.stdout, str(r)
    assert r.rc == 4, str(r)


# ---- port-forward -----------------------------------------------------------------------------

PF_VARIANTS = [
    pytest.param({}, None, id="websocket-tunnel"),
    pytest.param({"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}, None, id="spdy"),
    pytest.param({}, "kubectl.1.29", id="kubectl-1.29-spdy"),
]


@pytest.mark.parametrize("env,binary", PF_VARIANTS)
def test_port_forward(server, ns, pod, echo_port, env, binary):
    k = server.kubectl(binary=versioned(binary) if binary else None)
    local = harness.free_port()
    p = k.popen("port-forward", pod, f"{local}:{echo_port}", "-n", ns, env=env)
    reader = Lines(p)
    try:
        reader.wait_for(lambda line: "Forwarding from 127.0.0.1" in line, timeout=30)
        # Several connections over the one upgraded stream, the last one 3 MB each way.
        for size in (10, 20000, 3_000_000):
            with socket.create_connection(("127.0.0.1", local), timeout=20) as s:
                msg = os.urandom(size)
                sender = threading.Thread(target=s.sendall, args=(msg,))
                sender.start()
                got = bytearray()
                while len(got) < len(msg):
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        break
                    got += chunk
                sender.join()
                assert bytes(got) == msg, (size, len(got))
        assert p.poll() is None, reader.text()
    finally:
        reader.stop()


def test_port_forward_refused_port_reports_error(server, ns, pod):
    k = server.kubectl()
    local = harness.free_port()
    closed = harness.free_port()
    p = k.popen("port-forward", pod, f"{local}:{closed}", "-n", ns)
    reader = Lines(p)
    try:
        reader.wait_for(lambda line: "Forwarding from 127.0.0.1" in line, timeout=30)
        with socket.create_connection(("127.0.0.1", local), timeout=10) as s:
            s.settimeout(10)
            try:
                assert s.recv(10) == b""
            except ConnectionResetError:
                pass
        reader.wait_for(lambda line: "connection refused" in line.lower(), timeout=20)
    finally:
        reader.stop()


# ---- cp ---------------------------------------------------------------------------------------

def test_cp_both_ways(server, kubectl, node, ns, pod, tmp_path):
    pod_dir = node.dir(ns, pod, "main")
    src = tmp_path / "upload.txt"
    data = "".join(f"{i}: some content\n" for i in range(5000))
    src.write_text(data)
    kubectl.ok("cp", str(src), f"{ns}/{pod}:{pod_dir}/uploaded.txt", timeout=60)
    with open(os.path.join(pod_dir, "uploaded.txt")) as f:
        assert f.read() == data
    with open(os.path.join(pod_dir, "made-in-pod.txt"), "w") as f:
        f.write("from the pod\n" * 100)
    dst = tmp_path / "downloaded.txt"
    kubectl.ok("cp", f"{ns}/{pod}:{pod_dir}/made-in-pod.txt", str(dst), timeout=60)
    assert dst.read_text() == "from the pod\n" * 100


# ---- logs -------------------------------------------------------------------------------------

@pytest.fixture
def logpod(api, node, ns):
    argv = ["sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2; "
                        "exec sleep 100000"]
    name = make_pod(api, node, ns, "logger", [("main", argv, {}), ("side", SLEEPER, {})])
    harness.wait_until(lambda: os.path.exists(os.path.join(node.dir(ns, name, "main"), "0.log"))
                       and "oops" in open(os.path.join(node.dir(ns, name, "main"), "0.log")).read(),
                       timeout=10, what="log written")
    return name


def test_logs_flags(kubectl, ns, logpod):
    all_lines = "line1\nline2\nline3\nline4\nline5\noops\n"
    assert kubectl.ok("logs", logpod, "-c", "main", "-n", ns).stdout == all_lines
    assert kubectl.ok("logs", logpod, "-c", "main", "-n", ns, "--tail=2").stdout == "line5\noops\n"
    assert kubectl.ok("logs", logpod, "-c", "main", "-n", ns, "--limit-bytes=8").stdout == "line1\nli"
    assert kubectl.ok("logs", logpod, "-c", "main", "-n", ns, "--since=1h").stdout == all_lines
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    assert kubectl.ok("logs", logpod, "-c", "main", "-n", ns, f"--since-time={future}").stdout == ""
    ts = kubectl.ok("logs", logpod, "-c", "main", "-n", ns, "--timestamps", "--tail=1").stdout
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z oops\n", ts), ts
    assert kubectl.ok("logs", logpod, "-c", "side", "-n", ns).stdout == "ready\n"
    # Without -c kubectl picks the first container and says so.
    r = kubectl.ok("logs", logpod, "-n", ns)
    assert r.stdout == all_lines and 'Defaulted container "main"' in r.stderr
    r = kubectl.fails("logs", logpod, "-c", "nosuch", "-n", ns)
    assert "nosuch" in r.stderr
    r = kubectl.fails("logs", logpod, "-c", "main", "-n", ns, "--previous")
    assert "previous terminated container" in r.stderr, str(r)


def test_logs_follow(server, api, node, ns):
    make_pod(api, node, ns, "counter", [("main", ["sh", "-c",
                                                   "i=0; while [ $i -lt 8 ]; do i=$((i+1)); "
                                                   "echo n$i; sleep 0.3; done"], {})])
    p = server.kubectl().popen("logs", "-f", "counter", "-n", ns)
    reader = Lines(p)
    try:
        reader.wait_for(lambda line: line == "n8", timeout=30)
        # The container exits after n8: a follow ends with it.
        p.wait(timeout=15)
        assert p.returncode == 0
        assert [line for line in reader.text().splitlines() if line.startswith("n")] == \
            [f"n{i}" for i in range(1, 9)]
    finally:
        reader.stop()


def test_logs_previous(server, api, node, ns, kubectl):
    make_pod(api, node, ns, "crasher", [("main", ["sh", "-c", "echo started at $(date +%s%N); "
                                                   "sleep 0.3; exit 1"], {"restart": True})])
    harness.wait_until(lambda: os.path.exists(os.path.join(node.dir(ns, "crasher", "main"),
                                                           "1.log")), timeout=15,
                       what="a restart")
    prev = kubectl.ok("logs", "crasher", "-n", ns, "--previous").stdout
    assert prev.startswith("started at "), prev
    cur = kubectl.ok("logs", "crasher", "-n", ns).stdout
    assert cur != prev


# ---- the Python client ------------------------------------------------------------------------

@pytest.fixture
def core(server):
    pytest.importorskip("kubernetes")
    from kubernetes import client as kclient, config as kconfig
    return kclient.CoreV1Api(kconfig.new_client_from_config(config_file=server.kubeconfig))


def stream(*args, **kw):
    from kubernetes.stream import stream as s
    return s(*args, **kw)


def portforward(*args, **kw):
    from kubernetes.stream import portforward as pf
    return pf(*args, **kw)


def test_python_exec(core, ns, pod):
    out = stream(core.connect_get_namespaced_pod_exec, pod, ns,
                 command=["sh", "-c", "echo from-python"], stderr=True, stdin=False,
                 stdout=True, tty=False)
    assert out == "from-python\n"
    resp = stream(core.connect_get_namespaced_pod_exec, pod, ns,
                  command=["sh", "-c", "cat; exit 7"], stderr=True, stdin=True, stdout=True,
                  tty=False, _preload_content=False)
    resp.write_stdin("typed\n")
    got = ""
    deadline = time.monotonic() + 10
    while "typed" not in got and time.monotonic() < deadline:
        resp.update(timeout=1)
        got += resp.read_stdout() if resp.peek_stdout() else ""
    assert got == "typed\n"
    resp.close()  # the Python client has no stdin EOF (v4): closing kills the command
    resp2 = stream(core.connect_get_namespaced_pod_exec, pod, ns,
                   command=["sh", "-c", "exit 7"], stderr=True, stdin=False, stdout=True,
                   tty=False, _preload_content=False)
    resp2.run_forever(timeout=10)
    assert resp2.returncode == 7


def test_python_port_forward(core, ns, pod, echo_port):
    pf = portforward(core.connect_get_namespaced_pod_portforward, pod, ns, ports=str(echo_port))
    s = pf.socket(echo_port)
    s.settimeout(10)
    s.sendall(b"ping from python")
    got = b""
    while len(got) < len(b"ping from python"):
        chunk = s.recv(1024)
        if not chunk:
            break
        got += chunk
    assert got == b"ping from python"
    s.close()
    assert pf.error(echo_port) is None


# ---- nodes/proxy ------------------------------------------------------------------------------

def test_node_proxy_reaches_the_kubelet_api(kubectl, ns, logpod):
    assert kubectl.ok("get", "--raw", f"/api/v1/nodes/{NODE}/proxy/healthz").stdout == "ok"
    r = kubectl.ok("get", "--raw", f"/api/v1/nodes/{NODE}/proxy/containerLogs/{ns}/{logpod}/main"
                   "?tailLines=1")
    assert r.stdout == "oops\n"


def test_unreachable_node_agent_is_a_clear_error(kubectl, api, ns, node):
    """A node whose kubelet port answers nothing: the API server says so, promptly."""
    name = f"gone-{ns}"[:60]
    api.json("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                       "metadata": {"name": name}}, expect=(200, 201))
    api.json("PATCH", f"/api/v1/nodes/{name}/status",
             {"status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                         "daemonEndpoints": {"kubeletEndpoint": {"Port": harness.free_port()}}}},
             content_type="application/merge-patch+json", expect=200)
    try:
        api.json("POST", f"/api/v1/namespaces/{ns}/pods",
                 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lost"},
                  "spec": {"nodeName": name, "containers": [{"name": "c", "image": "x"}]}},
                 expect=(200, 201))
        r = kubectl.fails("logs", "lost", "-n", ns, timeout=30)
        assert "error dialing backend" in r.stderr, str(r)
        r = kubectl.fails("exec", "lost", "-n", ns, "--", "true", timeout=30)
        assert "error dialing backend" in r.stderr, str(r)
    finally:
        api.request("DELETE", f"/api/v1/nodes/{name}")


# ---- pods/proxy -------------------------------------------------------------------------------

def test_pod_proxy_reaches_the_pod_over_http(kubectl, ns, pod):
    """pods/NAME:PORT/proxy/PATH is an HTTP request to the pod's IP (here 127.0.0.1)."""
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"pod says hi to {self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        port = httpd.server_address[1]
        r = kubectl.ok("get", "--raw", f"/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy/a/b?x=1")
        assert r.stdout == "pod says hi to /a/b?x=1"
        r = kubectl.ok("get", "--raw", f"/api/v1/namespaces/{ns}/pods/http:{pod}:{port}/proxy/")
        assert r.stdout == "pod says hi to /"
        r = kubectl.fails("get", "--raw", f"/api/v1/namespaces/{ns}/pods/nosuch:{port}/proxy/")
        assert "NotFound" in r.stderr or "not found" in r.stderr, str(r)
    finally:
        httpd.shutdown()
        t.join()
