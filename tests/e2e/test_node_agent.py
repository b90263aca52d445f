"""Commands that need a node agent give a clear error (and never hang) under --disable-agent."""

import pytest


@pytest.fixture
def pod(api, ns):
    api.create_pod(ns, "web")
    return "web"


def assert_clear_error(r):
    assert r.rc not in (0, 124), str(r)
    msg = r.stderr.strip()
    assert msg.startswith("error:") or msg.startswith("Error from server"), str(r)


def test_logs_clear_error(kubectl, ns, pod):
    assert_clear_error(kubectl("logs", pod, "-n", ns, timeout=30))


def test_logs_container_flag_clear_error(kubectl, ns, pod):
    assert_clear_error(kubectl("logs", pod, "-c", "main", "-n", ns, timeout=30))


def test_logs_unknown_container(kubectl, ns, pod):
    r = kubectl("logs", pod, "-c", "nosuch", "-n", ns, timeout=30)
    assert_clear_error(r)


def test_exec_clear_error(kubectl, ns, pod):
    assert_clear_error(kubectl("exec", pod, "-n", ns, "--", "true", timeout=30))


def test_port_forward_clear_error(kubectl, ns, pod):
    r = kubectl("port-forward", pod, "18080:80", "-n", ns, timeout=30)
    assert_clear_error(r)


def test_log_subresource_status(api, ns, pod):
    """Raw GET of pods/log answers a Status error, not a hang or a 500."""
    status, obj = api.json("GET", f"/api/v1/namespaces/{ns}/pods/{pod}/log", timeout=20)
    assert 400 <= status < 500 or status == 503, (status, obj)
    assert obj and obj.get("kind") == "Status" and obj.get("message"), obj
