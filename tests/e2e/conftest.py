"""pytest fixtures for the sampan end-to-end tests.

`server`     one `sampan server --disable-agent` per test module (temp data dir, free port), killed at
             module teardown, also when tests fail.
`kubectl`    the real kubectl bound to that server's kubeconfig, with its own --cache-dir.
`api`        a RestClient using the kubeconfig's admin client certificate.
`ns`         a fresh namespace per test (created over REST so a kubectl bug cannot break setup).

When a test fails, the tail of each running server's log (the part written during the test) is added
to the report. Run with /usr/bin/python3 -m pytest (Debian's pytest and python3-kubernetes).
"""

import os
import shutil

import pytest

import harness


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: longer tests (kill -9, restarts)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        offsets = getattr(item, "_sampan_log_offsets", {})
        for server in list(harness.RUNNING_SERVERS):
            since = offsets.get(id(server), 0)
            report.sections.append(
                (f"sampan {server.name} log ({server.log_path}, since test start)",
                 server.log_tail(80, since=since)))


@pytest.fixture(autouse=True)
def _remember_log_offsets(request):
    request.node._sampan_log_offsets = {id(s): s.log_size() for s in harness.RUNNING_SERVERS}
    yield


def _start_server(name):
    workdir = harness.new_workdir(name)
    srv = harness.Server(workdir, name="server")
    try:
        srv.start()
    except harness.ServerError as e:
        if not os.environ.get("SAMPAN_E2E_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)  # the message carries the log tail
        pytest.fail(f"could not start sampan server: {e}", pytrace=False)
    return srv


@pytest.fixture(scope="module")
def server(request):
    binary = harness.sampan_bin()
    if not os.access(binary, os.X_OK):
        pytest.fail(f"sampan binary not found at {binary}; build it or set SAMPAN_BIN", pytrace=False)
    srv = _start_server(request.module.__name__)
    yield srv
    srv.stop()
    if not os.environ.get("SAMPAN_E2E_KEEP"):
        shutil.rmtree(srv.workdir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _server_health(request):
    yield from harness.guard_server(request)


@pytest.fixture
def kubectl(server):
    return server.kubectl()


@pytest.fixture
def api(server):
    return server.rest


@pytest.fixture
def ns(request, server):
    yield from harness.fresh_namespace(request, server)
