"""The official Python client (Debian python3-kubernetes) against running pods: exec over the
v4.channel.k8s.io WebSocket protocol (exit codes, stdin) and port-forward over the plain WebSocket
port-forward protocol, the forms kubectl no longer uses."""

import time

import pytest

import netns
import podutil as pu

kubernetes = pytest.importorskip("kubernetes")
from kubernetes.stream import portforward, stream  # noqa: E402

KUBIA = """
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
"""


@pytest.fixture(scope="module")
def core(server, node):
    cfg = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=server.kubeconfig, client_configuration=cfg)
    client = kubernetes.client.ApiClient(cfg)
    yield kubernetes.client.CoreV1Api(client)
    client.close()


@pytest.fixture(scope="module")
def kubia(kubectl, api, module_ns):
    pu.create(kubectl, module_ns, KUBIA)
    pu.wait_pod(api, module_ns, "kubia", lambda p: pu.is_running(p) and pu.is_ready(p), timeout=60,
                what="Running and Ready")
    return module_ns


def test_exec_v4_output_and_exit_code(core, node, kubia):
    ns = kubia
    with netns.in_netns(node.path):  # every socket the client opens belongs to the node namespace
        out = stream(core.connect_get_namespaced_pod_exec, "kubia", ns,
                     command=["sh", "-c", "echo hello from $(hostname)"], stdout=True, stderr=True,
                     stdin=False, tty=False)
        assert out == "hello from kubia\n"
        ws = stream(core.connect_get_namespaced_pod_exec, "kubia", ns,
                    command=["sh", "-c", "echo out; echo err >&2; exit 5"], stdout=True,
                    stderr=True, stdin=False, tty=False, _preload_content=False)
    ws.run_forever(timeout=20)
    assert ws.read_stdout() == "out\n"
    assert ws.read_stderr() == "err\n"
    assert ws.returncode == 5


def test_exec_v4_stdin(core, node, kubia):
    ns = kubia
    with netns.in_netns(node.path):
        ws = stream(core.connect_get_namespaced_pod_exec, "kubia", ns,
                    command=["sh", "-c", "read line; echo got:$line"], stdout=True, stderr=True,
                    stdin=True, tty=False, _preload_content=False)
    ws.write_stdin("ping\n")
    ws.run_forever(timeout=20)
    assert ws.read_stdout() == "got:ping\n"
    assert ws.returncode == 0


def test_port_forward_websocket(core, node, kubia):
    ns = kubia
    for _ in range(2):  # a fresh forward each time
        with netns.in_netns(node.path):
            pf = portforward(core.connect_get_namespaced_pod_portforward, "kubia", ns, ports="8080")
        sock = pf.socket(8080)
        sock.setblocking(True)
        sock.settimeout(10)
        sock.sendall(b"GET / HTTP/1.0\r\nHost: kubia\r\n\r\n")
        data = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        sock.close()
        assert data.startswith(b"HTTP/1."), data
        assert data.endswith(b"You've hit kubia\n"), data
        assert pf.error(8080) is None
