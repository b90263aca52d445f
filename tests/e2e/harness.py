"""Helpers that start a real `sampan server` and talk to it.

Server:     one `sampan server --disable-agent` process on a temporary data dir and a free port.
Kubectl:    runs the real kubectl against that server with its own discovery cache and a timeout.
RestClient: a minimal HTTPS client that authenticates with the kubeconfig's client certificate, used
            for test setup and for checks kubectl cannot express (status codes, raw bodies).
"""

import base64
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
import urllib.parse
from dataclasses import dataclass

import yaml

DEFAULT_SAMPAN_BIN = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "sampan")
KUBECTL = os.environ.get("KUBECTL", "kubectl")

# Every server started by this process that is still running; conftest prints their log tails when a
# test fails.
RUNNING_SERVERS = []


def sampan_bin():
    return os.path.abspath(os.environ.get("SAMPAN_BIN", DEFAULT_SAMPAN_BIN))


def kubectl_dir():
    """The folder holding the versioned kubectl binaries (kubectl.1.29 ...)."""
    path = shutil.which(KUBECTL)
    if path is None:
        return None
    return os.path.dirname(os.path.realpath(path))


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str
    args: list

    @property
    def out(self):
        return self.stdout

    def __str__(self):
        return (f"$ {' '.join(self.args)}\nrc={self.rc}\n--- stdout\n{self.stdout}"
                f"--- stderr\n{self.stderr}")


class ServerError(Exception):
    pass


class ManagedProcess:
    """A long-running sampan process with its own log file, in its own session (so a kill reaches
    its children). Subclasses set `registry`: the list of running instances whose logs test
    reports show."""

    registry = None

    def __init__(self, log_path):
        self.log_path = log_path
        self.proc = None
        self._log = None
        self.starts = 0

    def _launch(self, argv):
        self._log = open(self.log_path, "ab")
        self._log.write(f"\n===== start #{self.starts + 1} =====\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.starts += 1
        self.registry.append(self)

    def stop(self, timeout=30):
        """SIGTERM, then SIGKILL after `timeout`. Returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_group()
                self.proc.wait()
        else:
            rc = self.proc.returncode
        self._forget()
        return rc

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self._kill_group()
            self.proc.wait()
        self._forget()

    def restart(self):
        self.stop()
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _kill_group(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _forget(self):
        if self in self.registry:
            self.registry.remove(self)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_tail(self, lines=60, since=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                text = f.read().decode(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])


class Server(ManagedProcess):
    """A `sampan server` process. `start()` waits until /readyz answers 200."""

    registry = RUNNING_SERVERS

    def __init__(self, workdir, name="server", extra_args=()):
        super().__init__(os.path.join(workdir, f"{name}.log"))
        self.workdir = workdir
        self.name = name
        self.data_dir = os.path.join(workdir, "data")
        self.kubeconfig = os.path.join(workdir, "kubeconfig.yaml")
        # Several API threads (each with its own event loop) even on a 2-CPU machine, where the
        # server's default is one: the tests then also cover requests and watches spread over
        # threads. SAMPAN_E2E_SERVER_ARGS replaces these arguments.
        self.extra_args = shlex.split(os.environ.get("SAMPAN_E2E_SERVER_ARGS", "--threads 3"))
        self.extra_args += list(extra_args)
        self.rest = None
        os.makedirs(self.data_dir, exist_ok=True)

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout=60):
        binary = sampan_bin()
        if not os.access(binary, os.X_OK):
            raise ServerError(f"sampan binary not found at {binary} (set SAMPAN_BIN)")
        if os.path.exists(self.kubeconfig):
            os.unlink(self.kubeconfig)  # a restart must write a fresh one (the port may change)
        self._launch([binary, "server", "--data-dir", self.data_dir, "--https-listen-port", "0",
                      "--write-kubeconfig", self.kubeconfig, "--disable-agent",
                      "--bind-address", "127.0.0.1", *self.extra_args])
        deadline = time.monotonic() + timeout
        last_err = "kubeconfig not written"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"sampan server exited with {self.proc.returncode} during "
                                  f"startup\n{self.log_tail()}")
            if os.path.exists(self.kubeconfig):
                try:
                    self.rest = RestClient.from_kubeconfig(self.kubeconfig, self.workdir)
                    status, body, _ = self.rest.request("GET", "/readyz", timeout=5)
                    if status == 200:
                        return self
                    last_err = f"/readyz answered {status}: {body[:200]!r}"
                except (OSError, ValueError, KeyError, yaml.YAMLError, http.client.HTTPException) as e:
                    last_err = f"{type(e).__name__}: {e}"
            time.sleep(0.1)
        self.stop()
        raise ServerError(f"sampan server not ready after {timeout}s ({last_err})\n{self.log_tail()}")

    # ---- clients ---------------------------------------------------------------------------------
    def kubectl(self, binary=None):
        return Kubectl(self.kubeconfig, os.path.join(self.workdir, "kubectl-cache"), binary=binary)


class Kubectl:
    """Runs kubectl against one kubeconfig with its own cache dir (discovery is cached for hours)."""

    def __init__(self, kubeconfig, cache_dir, binary=None, timeout=60):
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir
        self.binary = binary or KUBECTL
        self.timeout = timeout

    def env(self, extra=None):
        env = dict(os.environ)
        env.pop("KUBECONFIG", None)
        env["HOME"] = os.path.dirname(self.cache_dir)  # keep ~/.kube writes inside the test dir
        if extra:
            env.update(extra)
        return env

    def argv(self, *args):
        return [self.binary, "--kubeconfig", self.kubeconfig, "--cache-dir", self.cache_dir,
                *[str(a) for a in args]]

    def __call__(self, *args, input=None, timeout=None, env=None):
        argv = self.argv(*args)
        try:
            p = subprocess.run(argv, input=input, capture_output=True, text=True,
                               stdin=subprocess.DEVNULL if input is None else None,
                               timeout=timeout or self.timeout, env=self.env(env))
            return Result(p.returncode, p.stdout, p.stderr, argv)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
            return Result(124, out, err + f"\n[harness] kubectl timed out after "
                          f"{timeout or self.timeout}s", argv)

    def ok(self, *args, **kw):
        """Runs kubectl and asserts rc == 0."""
        r = self(*args, **kw)
        assert r.rc == 0, str(r)
        return r

    def fails(self, *args, **kw):
        """Runs kubectl and asserts it failed (rc != 0, not a timeout)."""
        r = self(*args, **kw)
        assert r.rc not in (0, 124), str(r)
        return r

    def json(self, *args, **kw):
        return json.loads(self.ok(*args, "-o", "json", **kw).stdout)

    def popen(self, *args, env=None):
        return subprocess.Popen(self.argv(*args), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=self.env(env), bufsize=1, start_new_session=True)


def apply_manifest(kubectl, tmp_path, text, *args, name="manifest.yaml", verb="create"):
    """Writes `text` to a file and runs `kubectl <verb> -f file *args`. Returns the Result."""
    path = os.path.join(str(tmp_path), name)
    with open(path, "w") as f:
        f.write(text)
    return kubectl(verb, "-f", path, *args)


class LineReader:
    """Collects the lines of a running process's stdout on a thread, for `kubectl get -w`."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = []
        self._cv = threading.Condition()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        for line in self.proc.stdout:
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self._cv.notify_all()

    def wait_for(self, predicate, timeout=30, start=0):
        """Waits until a line at index >= start satisfies predicate; returns its index or None."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for i in range(start, len(self.lines)):
                    if predicate(self.lines[i]):
                        return i
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._t.is_alive()):
                    return None
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
        self._t.join(5)
        return self.proc.stderr.read() if self.proc.stderr else ""


class RestClient:
    """HTTPS client authenticated by the kubeconfig's admin client certificate."""

    def __init__(self, host, port, ca_file, cert_file=None, key_file=None):
        self.host = host
        self.port = port
        self.ca_file = ca_file
        self.cert_file = cert_file
        self.key_file = key_file
        self._local = threading.local()

    @staticmethod
    def from_kubeconfig(path, workdir, with_client_cert=True):
        with open(path) as f:
            cfg = yaml.safe_load(f)
        ctx_name = cfg.get("current-context")
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name) \
            if ctx_name else cfg["contexts"][0]["context"]
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        url = urllib.parse.urlparse(cluster["server"])
        if url.scheme != "https":
            raise ValueError(f"kubeconfig server is not https: {cluster['server']}")
        certdir = os.path.join(workdir, "certs")
        os.makedirs(certdir, exist_ok=True)

        def materialize(obj, key, fname):
            if obj.get(key + "-data"):
                p = os.path.join(certdir, fname)
                with open(p, "wb") as f:
                    f.write(base64.b64decode(obj[key + "-data"]))
                return p
            if obj.get(key):
                p = obj[key]
                return p if os.path.isabs(p) else os.path.join(os.path.dirname(path), p)
            return None

        ca = materialize(cluster, "certificate-authority", "ca.crt")
        cert = key = None
        if with_client_cert:
            cert = materialize(user, "client-certificate", "client.crt")
            key = materialize(user, "client-key", "client.key")
        return RestClient(url.hostname, url.port or 443, ca, cert, key)

    def without_client_cert(self):
        return RestClient(self.host, self.port, self.ca_file)

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.ca_file)
        ctx.check_hostname = False  # the serving cert's SANs are the server's business; pin the CA
        if self.cert_file:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def _conn(self, timeout):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self.ssl_context(),
                                               timeout=timeout)
            self._local.conn = conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def request(self, method, path, body=None, content_type="application/json", timeout=30,
                headers=None):
        """Returns (status, body bytes, response headers). Reuses one connection per thread."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        hdrs = {"Accept": "application/json"}
        if body is not None:
            hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        for attempt in range(2):
            conn = self._conn(timeout)
            try:
                conn.request(method, path, body=body, headers=hdrs)
                resp = conn.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                return resp.status, data, dict(resp.getheaders())
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 1 or method not in ("GET", "HEAD"):
                    raise
            except Exception:
                self.close()
                raise
        raise AssertionError("unreachable")

    def close(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def json(self, method, path, body=None, expect=None, **kw):
        status, data, _ = self.request(method, path, body, **kw)
        try:
            obj = json.loads(data) if data else None
        except ValueError:
            obj = None
        if expect is not None:
            ok = status in expect if isinstance(expect, (tuple, list, set)) else status == expect
            assert ok, f"{method} {path} -> {status}: {data[:500]!r}"
        return status, obj

    # ---- conveniences for test setup ---------------------------------------------------------------
    def create_namespace(self, name):
        self.json("POST", "/api/v1/namespaces",
                  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                  expect=(200, 201))

    def delete_namespace(self, name):
        try:
            self.request("DELETE", f"/api/v1/namespaces/{name}", timeout=10)
        except OSError:
            pass

    def create_configmap(self, ns, name, data=None, labels=None):
        meta = {"name": name}
        if labels:
            meta["labels"] = labels
        return self.json("POST", f"/api/v1/namespaces/{ns}/configmaps",
                         {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                          "data": data or {}}, expect=(200, 201))[1]

    def create_pod(self, ns, name, labels=None, containers=None):
        meta = {"name": name}
        if labels:
            meta["labels"] = labels
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
               "spec": {"containers": containers or [{"name": "main", "image": "busybox:1.36"}]}}
        return self.json("POST", f"/api/v1/namespaces/{ns}/pods", pod, expect=(200, 201))[1]

    def get(self, path):
        """Returns the object, or None on 404."""
        status, obj = self.json("GET", path, expect=(200, 404))
        return obj if status == 200 else None


def namespace_name(test_name):
    """A fresh, valid namespace name derived from a test's name ("test_foo[x]" -> "foo-x-1a2b3c")."""
    base = re.sub(r"[^a-z0-9-]+", "-", test_name.lower().replace("test_", "")).strip("-")
    return f"{base[:40].strip('-')}-{uuid.uuid4().hex[:6]}"


def fresh_namespace(request, server):
    """The body of an `ns` fixture (`yield from harness.fresh_namespace(request, server)`): a
    namespace per test, created over REST (so a kubectl bug cannot break setup), deleted after."""
    name = namespace_name(request.node.name)
    server.rest.create_namespace(name)
    yield name
    if server.alive():
        server.rest.delete_namespace(name)


def guard_server(request, log_lines=20):
    """The body of an autouse fixture (`yield from harness.guard_server(request)`): restarts a
    crashed module server before a test, so one crash does not fail the rest of the module, and
    fails the test during which the server died, with its exit status and log."""
    import pytest
    if "server" not in request.fixturenames:
        yield
        return
    srv = request.getfixturevalue("server")
    if not srv.alive():
        srv.stop()
        try:
            srv.start()
        except ServerError as e:
            pytest.fail(f"could not restart sampan server after a crash: {e}", pytrace=False)
        request.node._sampan_log_offsets[id(srv)] = srv.log_size()
    yield
    if not srv.alive():
        code = srv.proc.returncode if srv.proc is not None else None
        since = request.node._sampan_log_offsets.get(id(srv), 0)
        pytest.fail(f"sampan server died during this test (exit status {code}); log:\n"
                    f"{srv.log_tail(log_lines, since=since)}", pytrace=False)


def wait_until(predicate, timeout=30, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def table(stdout):
    """Parses kubectl's column output into (header list, list of row lists)."""
    lines = [l for l in stdout.splitlines() if l.strip()]
    if not lines:
        return [], []
    header = lines[0]
    # Column starts are where a header word begins after 2+ spaces (headers may contain one space,
    # e.g. "NOMINATED NODE").
    starts = [0] + [m.end() for m in re.finditer(r" {2,}", header)]
    names = [header[s:e].strip() for s, e in zip(starts, starts[1:] + [None])]
    rows = []
    for line in lines[1:]:
        cells = [line[s:e].strip() if s < len(line) else ""
                 for s, e in zip(starts, starts[1:] + [None])]
        rows.append(cells)
    return names, rows


def rows_by_name(stdout, key="NAME"):
    names, rows = table(stdout)
    if not names:  # kubectl printed no table ("No resources found" goes to stderr)
        return {}
    idx = names.index(key)
    return {r[idx]: dict(zip(names, r)) for r in rows}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_workdir(prefix):
    return tempfile.mkdtemp(prefix=f"sampan-e2e-{prefix}-")
