"""A one-node sampan cluster inside network namespaces, for the pod tests and the pod benchmark.

NodeServer   `sampan server` (control plane + node agent) started with `nsenter --net=` in a node
             namespace (reachable at 127.0.0.1 there and at the node's address from other nodes); the
             test images are imported into its data dir before it starts.
AgentNode    `sampan agent` in a further node namespace, joining that server.
NetnsKubectl the real kubectl (tests/e2e/harness.Kubectl), run inside the node namespace.
NetnsRestClient harness.RestClient whose connections are made from inside the node namespace.
PodRecorder  a watch on every pod of the cluster: remembers each pod UID it saw (for cleanup).
Cluster      all of it for one test module (or one benchmark run), and its teardown.
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

import harness  # noqa: E402  (tests/e2e/harness.py, reused as is)
import netns  # noqa: E402

CLUSTER_CIDR = "10.244.0.0/16"
# The kubelet default (85%) would delete the suites' images whenever the host disk fills up.
NO_IMAGE_GC = ["--image-gc-high-threshold=100"]
API_PORT = 6443
KUBELET_PORT = 10250
NOT_READY_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")

# Every NodeServer of this process that is running (conftest adds their log tails to failures).
RUNNING = []


def build_test_images(out_dir):
    """Builds busybox.oci.tar and kubia.oci.tar (scripts/build-test-images.sh) into out_dir, unless
    $SAMPAN_TEST_IMAGES names a folder that already holds them."""
    given = os.environ.get("SAMPAN_TEST_IMAGES")
    if given and all(os.path.exists(os.path.join(given, f)) for f in ("busybox.oci.tar",
                                                                      "kubia.oci.tar")):
        return given
    subprocess.run([os.path.join(REPO, "scripts", "build-test-images.sh"), out_dir], check=True,
                   stdout=subprocess.DEVNULL)
    return out_dir


class NetnsHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, netns_path, **kw):
        super().__init__(*args, **kw)
        self.netns_path = netns_path

    def connect(self):
        with netns.in_netns(self.netns_path):
            super().connect()


class NetnsRestClient(harness.RestClient):
    """harness.RestClient whose TCP connections are opened inside a network namespace."""

    netns_path = None

    @classmethod
    def for_node(cls, kubeconfig, workdir, netns_path):
        base = harness.RestClient.from_kubeconfig(kubeconfig, workdir)
        client = cls(base.host, base.port, base.ca_file, base.cert_file, base.key_file)
        client.netns_path = netns_path
        return client

    def _conn(self, timeout):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = NetnsHTTPSConnection(self.host, self.port, context=self.ssl_context(),
                                        timeout=timeout, netns_path=self.netns_path)
            self._local.conn = conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def open_stream(self, path, timeout=None):
        """A new connection (not the thread's shared one) with a streaming GET; returns it and the
        response (for watches)."""
        conn = NetnsHTTPSConnection(self.host, self.port, context=self.ssl_context(),
                                    timeout=timeout, netns_path=self.netns_path)
        conn.request("GET", path, headers={"Accept": "application/json"})
        return conn, conn.getresponse()


class NetnsKubectl(harness.Kubectl):
    """The real kubectl, run with `nsenter --net=` inside the node namespace."""

    def __init__(self, kubeconfig, cache_dir, netns_path, binary=None, timeout=60):
        super().__init__(kubeconfig, cache_dir, binary=binary, timeout=timeout)
        self.netns_path = netns_path

    def argv(self, *args):
        return ["nsenter", f"--net={self.netns_path}", "--", *super().argv(*args)]


def http_get(netns_path, host, port, path="/", timeout=5):
    """GET http://host:port/path from inside a network namespace; returns (status, body text)."""
    with netns.in_netns(netns_path):
        sock = socket.create_connection((host, port), timeout=timeout)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn.sock = sock
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


class PodRecorder:
    """Watches every pod of the cluster (listing again after a broken watch, e.g. across server
    restarts) and remembers each pod UID it saw, so that teardown can find the pods' cgroups."""

    def __init__(self, rest):
        self.rest = rest
        self.uids = set()
        self._stop = threading.Event()
        self._conn = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _note(self, obj):
        uid = obj.get("metadata", {}).get("uid")
        if uid:
            self.uids.add(uid)

    def _run(self):
        while not self._stop.is_set():
            try:
                status, body = self.rest.json("GET", "/api/v1/pods", timeout=10)
                if status != 200:
                    raise OSError(f"list pods: {status}")
                for item in body.get("items", []):
                    self._note(item)
                rv = body["metadata"]["resourceVersion"]
                conn, resp = self.rest.open_stream(
                    f"/api/v1/pods?watch=true&resourceVersion={rv}&allowWatchBookmarks=true",
                    timeout=None)
                self._conn = conn
                if resp.status != 200:
                    conn.close()
                    raise OSError(f"watch pods: {resp.status}")
                while not self._stop.is_set():
                    line = resp.readline()
                    if not line:
                        break
                    ev = json.loads(line)
                    if ev.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                        self._note(ev.get("object", {}))
                conn.close()
            except Exception:  # the server restarts in some tests: list and watch again
                if self._stop.wait(0.2):
                    return

    def stop(self):
        self._stop.set()
        if self._conn is not None:
            try:
                self._conn.sock and self._conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)


class NodeServer(harness.ManagedProcess):
    """`sampan server` (with its node agent) in a node namespace. `start()` waits for /readyz and for
    the Node object to be Ready."""

    registry = RUNNING

    def __init__(self, workdir, node, images_dir, name="server", extra_args=()):
        super().__init__(os.path.join(workdir, f"{name}.log"))
        self.workdir = workdir
        self.node = node
        self.images_dir = images_dir
        self.name = name
        self.data_dir = os.path.join(workdir, "data")
        self.kubeconfig = os.path.join(workdir, "kubeconfig.yaml")
        self.extra_args = list(extra_args)
        self.rest = None
        self.node_name = None
        os.makedirs(self.data_dir, exist_ok=True)

    def import_images(self):
        files = [os.path.join(self.images_dir, f) for f in ("busybox.oci.tar", "kubia.oci.tar")]
        p = subprocess.run([harness.sampan_bin(), "image", "--data-dir", self.data_dir, "import",
                            *files], capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise harness.ServerError(f"sampan image import failed: {p.stderr or p.stdout}")

    def args(self):
        return [harness.sampan_bin(), "server", "--data-dir", self.data_dir,
                "--https-listen-port", str(API_PORT), "--write-kubeconfig", self.kubeconfig,
                # Listens on every address of the node namespace (lo and eth0 only): the admin
                # kubeconfig the server writes names https://127.0.0.1, and the node address is
                # what other nodes use (hence --tls-san).
                "--tls-san", self.node.address, "--node-ip", self.node.address,
                "--kubelet-port", str(KUBELET_PORT), "--cluster-cidr", CLUSTER_CIDR,
                # The cluster DNS answers cluster names only: it never forwards to a real resolver.
                "--cluster-dns-upstream", "none",
                # Image GC follows the host disk's fill level; off unless a test asks for it.
                *NO_IMAGE_GC, *self.extra_args]

    def start(self, timeout=60, wait_node=True):
        if os.path.exists(self.kubeconfig):
            os.unlink(self.kubeconfig)
        self._launch(self.node.nsenter(self.args()))
        deadline = time.monotonic() + timeout
        last_err = "kubeconfig not written"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self._forget()
                raise harness.ServerError(f"sampan server exited with {code} during startup\n"
                                          f"{self.log_tail()}")
            if os.path.exists(self.kubeconfig):
                try:
                    if self.rest is None:
                        self.rest = NetnsRestClient.for_node(self.kubeconfig, self.workdir,
                                                             self.node.path)
                    status, body, _ = self.rest.request("GET", "/readyz", timeout=5)
                    if status == 200:
                        if not wait_node or self._node_ready():
                            return self
                        last_err = "no Ready Node object yet"
                    else:
                        last_err = f"/readyz answered {status}: {body[:200]!r}"
                except (OSError, ValueError, KeyError, http.client.HTTPException) as e:
                    last_err = f"{type(e).__name__}: {e}"
            time.sleep(0.1)
        self.stop()
        raise harness.ServerError(f"sampan server not ready after {timeout}s ({last_err})\n"
                                  f"{self.log_tail()}")

    def _node_ready(self):
        status, body = self.rest.json("GET", "/api/v1/nodes", timeout=5)
        if status != 200:
            return False
        for item in body.get("items", []):
            addrs = [a.get("address") for a in item.get("status", {}).get("addresses", [])]
            if self.node.address not in addrs:
                continue  # another node's
            # Ready, and the not-ready taint the node starts with is gone (until then the scheduler
            # rightly keeps pods off it).
            taints = [t.get("key") for t in item.get("spec", {}).get("taints", []) or []]
            if any(k in NOT_READY_TAINTS for k in taints):
                continue
            for cond in item.get("status", {}).get("conditions", []):
                if cond.get("type") == "Ready" and cond.get("status") == "True":
                    self.node_name = item["metadata"]["name"]
                    return True
        return False

    def kubectl(self, binary=None):
        return NetnsKubectl(self.kubeconfig, os.path.join(self.workdir, "kubectl-cache"),
                            self.node.path, binary=binary)


class AgentNode(harness.ManagedProcess):
    """`sampan agent` in another node namespace, joining the server through the node address."""

    registry = RUNNING

    def __init__(self, workdir, node, images_dir, server, name, join=False):
        super().__init__(os.path.join(workdir, "agent.log"))
        self.join = join  # join with the server's node token instead of its admin kubeconfig
        self.workdir = workdir
        self.node = node
        self.images_dir = images_dir
        self.server = server
        self.name = name  # the Node's name
        self.data_dir = os.path.join(workdir, "data")
        self.kubeconfig = os.path.join(workdir, "kubeconfig.yaml")
        os.makedirs(self.data_dir, exist_ok=True)

    def start(self, timeout=60):
        # The server's admin kubeconfig names https://127.0.0.1:PORT; from this node the server is at
        # the server node's address (in the serving certificate through --tls-san).
        with open(self.server.kubeconfig) as f:
            text = f.read()
        local = f"https://127.0.0.1:{API_PORT}"
        assert local in text, f"unexpected server URL in {self.server.kubeconfig}"
        with open(self.kubeconfig, "w") as f:
            f.write(text.replace(local, f"https://{self.server.node.address}:{API_PORT}"))
        NodeServer.import_images(self)
        credentials = ["--kubeconfig", self.kubeconfig]
        if self.join:
            credentials = ["--server", f"https://{self.server.node.address}:{API_PORT}",
                           "--token-file", os.path.join(self.server.data_dir, "server", "node-token")]
        self._launch(self.node.nsenter([
            harness.sampan_bin(), "agent", *credentials, "--data-dir",
            self.data_dir, "--node-name", self.name, "--node-ip", self.node.address,
            "--kubelet-port", str(KUBELET_PORT), "--cluster-cidr", CLUSTER_CIDR,
            "--cluster-dns-upstream", "none", *NO_IMAGE_GC]))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise harness.ServerError(f"sampan agent exited with {self.proc.returncode}\n"
                                          f"{self.log_tail()}")
            node = self.server.rest.get(f"/api/v1/nodes/{self.name}")
            conds = (node or {}).get("status", {}).get("conditions", [])
            taints = [t.get("key") for t in (node or {}).get("spec", {}).get("taints", []) or []]
            if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds) and \
                    not any(k in NOT_READY_TAINTS for k in taints):
                return self
            time.sleep(0.2)
        raise harness.ServerError(f"node {self.name} not Ready after {timeout}s\n{self.log_tail()}")



class Cluster:
    """Fabric + one node namespace + NodeServer, and everything needed to take them down again:
    processes, mounts under the work dir, the pods' cgroups, the namespaces."""

    _count = 0

    def __init__(self, label, images_dir, extra_args=()):
        Cluster._count += 1
        self.tag = f"sp{os.getpid() % 100000}{chr(ord('a') + Cluster._count % 26)}"
        self.label = label
        self.workdir = tempfile.mkdtemp(prefix=f"sampan-pods-{label}-")
        os.chmod(self.workdir, 0o755)
        self.images_dir = images_dir
        self.extra_args = extra_args
        self.host_tables_before = self._host_sampan_tables()
        self.fabric = None
        self.node = None
        self.server = None
        self.recorder = None
        self.agents = []

    @staticmethod
    def _host_sampan_tables():
        p = netns.run(["nft", "list", "tables"], check=False)
        return {line.strip() for line in p.stdout.splitlines() if line.split()[-1:] == ["sampan"]}

    def start(self):
        self.fabric = netns.Fabric(self.tag)
        self.node = self.fabric.add_node("node1")
        self.server = NodeServer(self.workdir, self.node, self.images_dir,
                                 extra_args=self.extra_args)
        self.server.import_images()
        self.server.start()
        self.recorder = PodRecorder(self.server.rest)
        return self

    def add_agent_node(self, join=False):
        """Starts `sampan agent` in a new node namespace of the fabric; returns the AgentNode once its
        Node is Ready."""
        index = len(self.fabric.nodes) + 1
        node = self.fabric.add_node(f"node{index}")
        workdir = os.path.join(self.workdir, f"node{index}")
        agent = AgentNode(workdir, node, self.images_dir, self.server, f"{self.tag}-node{index}",
                          join=join)
        self.agents.append(agent)
        return agent.start()

    def _run_dirs(self):
        """The run dirs (tmpfs) of the server's agent and of every agent node."""
        found = []
        for data in [os.path.join(self.workdir, "data")] + [a.data_dir for a in self.agents]:
            try:
                with open(os.path.join(data, "agent", "run-dir")) as f:
                    d = f.read().strip()
            except OSError:
                continue
            if d.startswith("/run/sampan-agent/") and d not in found:
                found.append(d)
        return found

    def teardown(self):
        """Takes everything down; returns a list of problems found (leaks into the host)."""
        problems = []
        uids = set(self.recorder.uids) if self.recorder else set()
        if self.recorder:
            self.recorder.stop()
        for agent in self.agents:
            agent.stop(timeout=20)
        if self.server:
            self.server.stop(timeout=20)
        # Each agent keeps its runtime state and bundles (the containers' rootfs mount points) on a
        # tmpfs outside the work dir; DATA_DIR/agent/run-dir names it.
        run_dirs = self._run_dirs()
        # Containers outlive the agent on purpose; take them down here.
        netns.kill_until_gone(lambda: netns.processes_of_pods(uids) +
                              netns.processes_rooted_under(self.workdir) +
                              sum((netns.processes_rooted_under(d) for d in run_dirs), []))
        if self.fabric:
            self.fabric.destroy()
        netns.unmount_under(self.workdir)
        for d in run_dirs:
            netns.unmount_under(d)
            left = netns.mounts_under(d)
            if left:
                problems.append(f"mounts left under {d}: {left}")
            else:
                shutil.rmtree(d, ignore_errors=True)
        # Only the pods' own cgroups: kubepods/{burstable,besteffort} are shared by every agent on
        # this machine (other test runs may be using them right now).
        netns.remove_pod_cgroups(uids)
        leftover_tables = self._host_sampan_tables() - self.host_tables_before
        if leftover_tables:
            problems.append(f"nftables table(s) {leftover_tables} appeared in the host namespace")
            for line in leftover_tables:
                netns.run(["nft", "delete", "table", *line.split()[1:3]], check=False)
        left = netns.mounts_under(self.workdir)
        if left:
            problems.append(f"mounts left under {self.workdir}: {left}")
        left = netns.pod_cgroups(uids)
        if left:
            problems.append(f"pod cgroups that could not be removed: {left}")
        left = netns.processes_of_pods(uids)
        if left:
            problems.append(f"pod processes that could not be killed: {left}")
        left = [n.name for n in ([self.fabric.underlay] + self.fabric.nodes if self.fabric else [])
                if n.exists()]
        if left:
            problems.append(f"network namespaces left: {left}")
        if not os.environ.get("SAMPAN_E2E_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)
        return problems


def serve(c):
    """The body of a module-scoped cluster fixture (`yield from cluster.serve(c)`): starts `c`,
    yields it, tears it down; the module fails if the start fails or the cleanup finds leaks."""
    import pytest
    problems = []
    try:
        try:
            c.start()
        except harness.ServerError as e:
            pytest.fail(f"could not start sampan server in the node namespace: {e}", pytrace=False)
        yield c
    finally:
        problems = c.teardown()
    if problems:
        pytest.fail("cleanup found leaks: " + "; ".join(problems), pytrace=False)
