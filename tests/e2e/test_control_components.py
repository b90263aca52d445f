"""`sampan scheduler` and `sampan controller-manager` on their own, against a server that runs
neither (--disable-scheduler --disable-controller-manager): pods wait until a scheduler runs,
a second scheduler binds only the pods that name it, the controllers act once started, and a
stopped component hands its Lease back."""

import json
import os
import shutil
import subprocess

import pytest

import harness
from hollow import HollowNodes


class Component(harness.ManagedProcess):
    registry = harness.RUNNING_SERVERS

    def __init__(self, server, command, *args):
        super().__init__(os.path.join(server.workdir, f"{command}-{len(args)}.log"))
        self.name = command
        self.argv = [harness.sampan_bin(), command, "--kubeconfig", server.kubeconfig, *args]

    def start(self):
        self._launch(self.argv)
        return self


@pytest.fixture(scope="module")
def server(request):
    workdir = harness.new_workdir(request.module.__name__)
    srv = harness.Server(workdir, extra_args=["--disable-scheduler", "--disable-controller-manager"])
    try:
        srv.start()
    except harness.ServerError as e:
        pytest.fail(f"could not start sampan server: {e}", pytrace=False)
    yield srv
    srv.stop()
    if not os.environ.get("SAMPAN_E2E_KEEP"):
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def ns(request, server):
    """A fresh namespace with its `default` ServiceAccount, which pods need (ServiceAccount
    admission) and which no controller manager makes here until a test starts one."""
    for name in harness.fresh_namespace(request, server):
        server.rest.json("POST", f"/api/v1/namespaces/{name}/serviceaccounts",
                         {"apiVersion": "v1", "kind": "ServiceAccount",
                          "metadata": {"name": "default"}}, expect=201)
        yield name


@pytest.fixture(scope="module")
def nodes(server):
    h = HollowNodes(server, 2, prefix="ctl-").start()
    yield h
    h.stop()


@pytest.fixture
def components():
    started = []

    def start(server, command, *args):
        c = Component(server, command, *args).start()
        started.append(c)
        return c
    yield start
    for c in started:
        c.stop()


def pod(name, scheduler=None):
    spec = {"containers": [{"name": "c", "image": "busybox"}]}
    if scheduler:
        spec["schedulerName"] = scheduler
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def node_of(api, ns, name):
    return api.get(f"/api/v1/namespaces/{ns}/pods/{name}")["spec"].get("nodeName", "")


def lease_holder(api, name):
    status, body, _ = api.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{name}")
    if status == 404:
        return None
    return json.loads(body)["spec"].get("holderIdentity", "")


def test_scheduler_binds_pending_pods_and_releases_its_lease(server, api, ns, nodes, components):
    api.json("POST", f"/api/v1/namespaces/{ns}/pods", pod("waits"), expect=201)
    # Nothing schedules while no scheduler runs.
    with pytest.raises(AssertionError):
        harness.wait_until(lambda: node_of(api, ns, "waits"), timeout=2)
    sched = components(server, "scheduler")
    harness.wait_until(lambda: node_of(api, ns, "waits") in nodes.names, timeout=30,
                       what="the pod bound by `sampan scheduler`")
    assert lease_holder(api, "kube-scheduler")
    assert sched.stop() == 0
    # Stopping hands the Lease back, so a successor need not wait for it to expire.
    harness.wait_until(lambda: lease_holder(api, "kube-scheduler") == "", timeout=10,
                       what="the released kube-scheduler lease")


def test_second_scheduler_binds_only_its_own_pods(server, api, ns, nodes, components):
    components(server, "scheduler")
    components(server, "scheduler", "--scheduler-name", "second-scheduler")
    api.json("POST", f"/api/v1/namespaces/{ns}/pods", pod("mine", "second-scheduler"), expect=201)
    api.json("POST", f"/api/v1/namespaces/{ns}/pods", pod("nobodys", "no-such-scheduler"), expect=201)
    api.json("POST", f"/api/v1/namespaces/{ns}/pods", pod("default"), expect=201)
    harness.wait_until(lambda: node_of(api, ns, "mine") and node_of(api, ns, "default"), timeout=30,
                       what="both pods bound")
    assert lease_holder(api, "second-scheduler")
    events = api.get(f"/api/v1/namespaces/{ns}/events")["items"]
    sources = {e["involvedObject"]["name"]: e.get("reportingComponent") or e["source"].get("component")
               for e in events if e.get("reason") == "Scheduled"}
    assert sources.get("mine") == "second-scheduler", sources
    assert node_of(api, ns, "nobodys") == ""


def test_controller_manager_runs_the_controllers(server, api, ns, kubectl, components, tmp_path):
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "rs"}},
                   "template": {"metadata": {"labels": {"app": "rs"}},
                                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    api.json("POST", f"/apis/apps/v1/namespaces/{ns}/replicasets", rs, expect=201)
    pods = lambda: api.get(f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Drs")["items"]
    with pytest.raises(AssertionError):
        harness.wait_until(lambda: pods(), timeout=2)
    cm = components(server, "controller-manager")
    harness.wait_until(lambda: len(pods()) == 2, timeout=30, what="2 pods of the ReplicaSet")
    assert lease_holder(api, "kube-controller-manager")
    assert cm.stop() == 0


@pytest.mark.parametrize("args,message", [
    ([], "--kubeconfig is required"),
    (["--kubeconfig", "/x", "--leader-elect=maybe"], 'invalid value "maybe" for --leader-elect'),
    (["--kubeconfig", "/x", "--scheduler-name="], "--scheduler-name must not be empty"),
    (["--kubeconfig", "/x", "--bogus"], 'unknown flag "--bogus"'),
])
def test_scheduler_bad_flags(args, message):
    p = subprocess.run([harness.sampan_bin(), "scheduler", *args], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 2, p
    assert message in p.stderr, p.stderr


def test_controller_manager_missing_kubeconfig_file(tmp_path):
    p = subprocess.run([harness.sampan_bin(), "controller-manager", "--kubeconfig",
                        str(tmp_path / "absent.yaml")], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1, p
    assert "absent.yaml" in p.stderr, p.stderr
