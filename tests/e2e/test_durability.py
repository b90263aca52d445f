"""Durability: data and resourceVersions survive restarts; acknowledged writes survive kill -9."""

import shutil
import threading
import time

import pytest
import yaml

import harness

pytestmark = pytest.mark.slow


@pytest.fixture
def own_server(request):
    servers = []

    def make(name):
        srv = harness.Server(harness.new_workdir(name), name=name)
        servers.append(srv)
        try:
            srv.start()
        except harness.ServerError as e:
            pytest.fail(str(e), pytrace=False)
        return srv
    yield make
    for srv in servers:
        if srv.alive():
            srv.kill9()
        shutil.rmtree(srv.workdir, ignore_errors=True)


def ca_of(kubeconfig):
    with open(kubeconfig) as f:
        cfg = yaml.safe_load(f)
    c = cfg["clusters"][0]["cluster"]
    return c.get("certificate-authority-data") or open(c["certificate-authority"]).read()


def list_all(api, path):
    status, obj = api.json("GET", path, expect=200)
    return obj


def test_restart_keeps_data_and_revisions_grow(own_server):
    srv = own_server("restart")
    api = srv.rest
    api.create_namespace("keep")
    cm = api.create_configmap("keep", "cfg", {"a": "1"}, labels={"x": "y"})
    pod = api.create_pod("keep", "web")
    api.json("PATCH", "/api/v1/namespaces/keep/configmaps/cfg", {"data": {"a": "2"}}, expect=200,
             content_type="application/merge-patch+json")
    cm = api.get("/api/v1/namespaces/keep/configmaps/cfg")
    list_rv = int(list_all(api, "/api/v1/namespaces/keep/configmaps")["metadata"]["resourceVersion"])
    ca_before = ca_of(srv.kubeconfig)

    rc = srv.stop(timeout=30)
    assert rc == 0, f"graceful stop (SIGTERM) should exit 0, got {rc}\n{srv.log_tail(30)}"
    srv.start()
    api = srv.rest

    assert ca_of(srv.kubeconfig) == ca_before, "the CA must be kept in the data dir across restarts"
    cm2 = api.get("/api/v1/namespaces/keep/configmaps/cfg")
    assert cm2 is not None, srv.log_tail(30)
    for k in ("uid", "resourceVersion", "creationTimestamp", "labels"):
        assert cm2["metadata"][k] == cm["metadata"][k], (k, cm["metadata"], cm2["metadata"])
    assert cm2["data"] == {"a": "2"}
    pod2 = api.get("/api/v1/namespaces/keep/pods/web")
    assert pod2["metadata"]["uid"] == pod["metadata"]["uid"]
    assert api.get("/api/v1/namespaces/keep")["status"]["phase"] == "Active"
    list_rv2 = int(list_all(api, "/api/v1/namespaces/keep/configmaps")["metadata"]["resourceVersion"])
    assert list_rv2 >= list_rv
    new = api.create_configmap("keep", "after")
    assert int(new["metadata"]["resourceVersion"]) > list_rv
    status, upd = api.json("PATCH", "/api/v1/namespaces/keep/configmaps/cfg", {"data": {"a": "3"}},
                           expect=200, content_type="application/merge-patch+json")
    assert int(upd["metadata"]["resourceVersion"]) > int(new["metadata"]["resourceVersion"])
    # The restarted server serves kubectl as before.
    k = srv.kubectl()
    assert "cfg" in k.ok("get", "cm", "-n", "keep").stdout


def test_kill9_mid_writes_keeps_acknowledged(own_server):
    srv = own_server("kill9")
    srv.rest.create_namespace("durable")
    acked, attempted = set(), set()
    lock = threading.Lock()
    stop = threading.Event()
    errors_after_kill = []

    def rest_writer(t):
        client = harness.RestClient(srv.rest.host, srv.rest.port, srv.rest.ca_file,
                                    srv.rest.cert_file, srv.rest.key_file)
        i = 0
        while not stop.is_set():
            name = f"r{t}-{i}"
            i += 1
            with lock:
                attempted.add(name)
            try:
                status, _, _ = client.request(
                    "POST", "/api/v1/namespaces/durable/configmaps",
                    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                     "data": {"n": name}}, timeout=10)
            except Exception as e:  # the server is being killed; anything may happen
                errors_after_kill.append(repr(e))
                time.sleep(0.05)
                continue
            if status == 201:
                with lock:
                    acked.add(name)

    def kubectl_writer(t):
        k = srv.kubectl()
        i = 0
        while not stop.is_set():
            name = f"k{t}-{i}"
            i += 1
            with lock:
                attempted.add(name)
            r = k("create", "configmap", name, f"--from-literal=n={name}", "-n", "durable",
                  "--request-timeout=10s", timeout=30)
            if r.rc == 0 and r.stdout.strip() == f"configmap/{name} created":
                with lock:
                    acked.add(name)

    threads = [threading.Thread(target=rest_writer, args=(t,)) for t in range(6)] + \
              [threading.Thread(target=kubectl_writer, args=(t,)) for t in range(2)]
    for t in threads:
        t.start()
    try:
        harness.wait_until(lambda: len(acked) >= 200 and any(n.startswith("k") for n in acked),
                           timeout=60, what="writes to be acknowledged before the kill")
        time.sleep(0.5)
        srv.kill9()
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    acked_at_kill = set(acked)

    srv.start()
    present = {}
    cont = ""
    while True:
        status, obj = srv.rest.json(
            "GET", f"/api/v1/namespaces/durable/configmaps?limit=500{cont}", expect=200)
        for item in obj["items"]:
            present[item["metadata"]["name"]] = item
        c = obj["metadata"].get("continue")
        if not c:
            break
        cont = f"&continue={c}"
    missing = sorted(acked_at_kill - set(present))
    assert not missing, (f"{len(missing)} of {len(acked_at_kill)} acknowledged configmaps lost after "
                         f"kill -9: {missing[:20]}\n{srv.log_tail(40)}")
    unexpected = sorted(set(present) - attempted - {"kube-root-ca.crt"})
    assert not unexpected, unexpected
    for name, item in present.items():
        if name in attempted:
            assert item.get("data") == {"n": name}, item
    # Every recovered object is readable one by one and the server accepts new writes.
    for name in sorted(acked_at_kill)[:50]:
        assert srv.rest.get(f"/api/v1/namespaces/durable/configmaps/{name}") is not None, name
    srv.rest.create_configmap("durable", "after-restart")
    print(f"kill -9: {len(acked_at_kill)} acknowledged, {len(present)} present after restart")


def test_kill9_idle_then_restart(own_server):
    srv = own_server("kill9idle")
    srv.rest.create_namespace("idle")
    cm = srv.rest.create_configmap("idle", "one", {"v": "1"})
    srv.kill9()
    srv.start()
    got = srv.rest.get("/api/v1/namespaces/idle/configmaps/one")
    assert got is not None and got["metadata"]["uid"] == cm["metadata"]["uid"]
    again = srv.rest.create_configmap("idle", "two")
    assert int(again["metadata"]["resourceVersion"]) > int(cm["metadata"]["resourceVersion"])
