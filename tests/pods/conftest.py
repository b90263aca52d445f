"""pytest fixtures for the pod end-to-end tests (run as root).

`cluster`  per test module: an underlay network namespace with a bridge, a node namespace joined to it by a
           veth (192.168.200.0/24, no way out), and `sampan server` (control plane + node agent) started
           in the node namespace with nsenter, on a temporary data dir into which the test images
           (scripts/build-test-images.sh: busybox, kubia) were imported. Teardown (also after failures)
           stops the server, kills the containers, deletes the namespaces (and with them the bridge,
           veths and nftables tables in them), unmounts what is left under the temp dir, removes the
           pods' cgroups, and reports anything that leaked into the host.
`server`, `node`, `kubectl` (the real kubectl run inside the node namespace), `api` (REST client
           whose connections are made inside the node namespace), `ns` (a fresh namespace per test).

When a test fails, the part of the server log written during the test and the pods of the cluster are
added to the report. SAMPAN_BIN picks the binary (default build/sampan); SAMPAN_TEST_IMAGES a folder
with busybox.oci.tar and kubia.oci.tar already built; SAMPAN_E2E_KEEP=1 keeps the temp dirs.
Run with /usr/bin/python3 -m pytest tests/pods.
"""

import os
import re
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster as cluster_mod  # noqa: E402
import harness  # noqa: E402  (on sys.path through cluster.py)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: longer tests (restarts, back-off)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        offsets = getattr(item, "_sampan_log_offsets", {})
        servers = list(cluster_mod.RUNNING)
        for proc in servers:
            since = offsets.get(id(proc), 0)
            report.sections.append(
                (f"sampan {proc.name} log ({proc.log_path}, since test start)",
                 proc.log_tail(100, since=since)))
        for server in [s for s in servers if isinstance(s, cluster_mod.NodeServer)][:1]:
            try:
                r = server.kubectl()("get", "pods", "-A", "-o", "wide", timeout=15)
                report.sections.append(("pods", r.stdout + r.stderr))
            except Exception as e:  # diagnostics only
                report.sections.append(("pods", f"(kubectl failed: {e})"))


@pytest.fixture(autouse=True)
def _remember_log_offsets(request):
    request.node._sampan_log_offsets = {id(s): s.log_size() for s in cluster_mod.RUNNING}
    yield


@pytest.fixture(scope="session")
def images_dir():
    if os.geteuid() != 0:
        pytest.fail("the pod tests need root (network namespaces, mounts, cgroups)", pytrace=False)
    binary = harness.sampan_bin()
    if not os.access(binary, os.X_OK):
        pytest.fail(f"sampan binary not found at {binary}; build it or set SAMPAN_BIN",
                    pytrace=False)
    out = tempfile.mkdtemp(prefix="sampan-pods-images-")
    try:
        yield cluster_mod.build_test_images(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(request, images_dir):
    label = re.sub(r"[^a-z0-9]+", "-", request.module.__name__.lower()).strip("-")[-30:]
    c = cluster_mod.Cluster(label, images_dir)
    yield from cluster_mod.serve(c)


@pytest.fixture(scope="module")
def server(cluster):
    return cluster.server


@pytest.fixture(scope="module")
def node(cluster):
    return cluster.node


@pytest.fixture(autouse=True)
def _server_health(request):
    yield from harness.guard_server(request)


@pytest.fixture(scope="module")
def kubectl(server):
    return server.kubectl()


@pytest.fixture(scope="module")
def api(server):
    return server.rest


def _wait_default_account(server, name):
    """Waits for the namespace's `default` ServiceAccount, as Kubernetes' e2e framework does for
    each test namespace: pods are refused without it (ServiceAccount admission), and after a server
    restart the controller manager makes it only once it holds its Lease again."""
    harness.wait_until(
        lambda: server.rest.get(f"/api/v1/namespaces/{name}/serviceaccounts/default") is not None,
        timeout=60, what=f"the default ServiceAccount of {name}")


@pytest.fixture
def ns(request, server):
    for name in harness.fresh_namespace(request, server):
        _wait_default_account(server, name)
        yield name


@pytest.fixture(scope="module")
def module_ns(request, server):
    """One namespace for a module whose pods are created together up front."""
    name = harness.namespace_name(request.module.__name__.split(".")[-1])
    server.rest.create_namespace(name)
    _wait_default_account(server, name)
    yield name
    if server.alive():
        server.rest.delete_namespace(name)
