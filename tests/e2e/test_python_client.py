"""The official Python client (Debian python3-kubernetes) against sampan."""

import threading
import time

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config, utils, watch  # noqa: E402


@pytest.fixture
def k8s(server):
    return config.new_client_from_config(config_file=server.kubeconfig)


def test_list_pods(k8s, api, ns):
    api.create_pod(ns, "p1", labels={"app": "x"})
    api.create_pod(ns, "p2")
    v1 = client.CoreV1Api(k8s)
    pods = v1.list_namespaced_pod(ns)
    assert sorted(p.metadata.name for p in pods.items) == ["p1", "p2"]
    pods = v1.list_namespaced_pod(ns, label_selector="app=x")
    assert [p.metadata.name for p in pods.items] == ["p1"]
    assert pods.items[0].spec.containers[0].image == "busybox:1.36"
    all_pods = v1.list_pod_for_all_namespaces()
    assert {(p.metadata.namespace, p.metadata.name) for p in all_pods.items} >= {(ns, "p1"), (ns, "p2")}


def test_configmap_crud(k8s, ns):
    v1 = client.CoreV1Api(k8s)
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="pycm", labels={"from": "python"}),
                              data={"a": "1"})
    created = v1.create_namespaced_config_map(ns, body)
    assert created.metadata.uid and created.data == {"a": "1"}
    got = v1.read_namespaced_config_map("pycm", ns)
    assert got.metadata.uid == created.metadata.uid
    patched = v1.patch_namespaced_config_map("pycm", ns, {"data": {"b": "2"}})
    assert patched.data == {"a": "1", "b": "2"}
    # A replace with the resourceVersion read before the patch is stale: 409.
    got.data = {"c": "3"}
    with pytest.raises(client.exceptions.ApiException) as e:
        v1.replace_namespaced_config_map("pycm", ns, got)
    assert e.value.status == 409
    got = v1.read_namespaced_config_map("pycm", ns)
    got.data = {"c": "3"}
    replaced = v1.replace_namespaced_config_map("pycm", ns, got)
    assert replaced.data == {"c": "3"}
    v1.delete_namespaced_config_map("pycm", ns)
    with pytest.raises(client.exceptions.ApiException) as e:
        v1.read_namespaced_config_map("pycm", ns)
    assert e.value.status == 404


def test_create_conflict_status(k8s, ns):
    v1 = client.CoreV1Api(k8s)
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="twice"))
    v1.create_namespaced_config_map(ns, body)
    with pytest.raises(client.exceptions.ApiException) as e:
        v1.create_namespaced_config_map(ns, body)
    assert e.value.status == 409 and e.value.reason == "Conflict"


def test_watch_events(k8s, ns):
    v1 = client.CoreV1Api(k8s)
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version
    seen = []

    def produce():
        time.sleep(0.5)
        for i in range(3):
            v1.create_namespaced_config_map(
                ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"w{i}")))
        v1.delete_namespaced_config_map("w1", ns)

    t = threading.Thread(target=produce)
    t.start()
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=20):
        if ev["object"].metadata.name.startswith("w"):
            seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) >= 4:
            w.stop()
    t.join()
    assert seen == [("ADDED", "w0"), ("ADDED", "w1"), ("ADDED", "w2"), ("DELETED", "w1")], seen


def test_apps_and_batch(k8s, ns):
    apps = client.AppsV1Api(k8s)
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="pydep"),
        spec=client.V1DeploymentSpec(
            replicas=2, selector=client.V1LabelSelector(match_labels={"app": "pydep"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "pydep"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]))))
    apps.create_namespaced_deployment(ns, dep)
    scale = apps.read_namespaced_deployment_scale("pydep", ns)
    assert scale.spec.replicas == 2
    apps.patch_namespaced_deployment_scale("pydep", ns, {"spec": {"replicas": 4}})
    assert apps.read_namespaced_deployment("pydep", ns).spec.replicas == 4
    batch = client.BatchV1Api(k8s)
    assert batch.list_namespaced_job(ns).items == []


def test_create_from_yaml_multi_document(k8s, ns, tmp_path):
    path = tmp_path / "multi.yaml"
    path.write_text("""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: y1
data: {a: "1"}
---
apiVersion: v1
kind: Service
metadata:
  name: y2
spec:
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: y3
spec:
  selector: {matchLabels: {app: y3}}
  template:
    metadata: {labels: {app: y3}}
    spec:
      containers: [{name: c, image: nginx}]
""")
    utils.create_from_yaml(k8s, str(path), namespace=ns)
    v1 = client.CoreV1Api(k8s)
    assert v1.read_namespaced_config_map("y1", ns).data == {"a": "1"}
    assert v1.read_namespaced_service("y2", ns).spec.ports[0].port == 80
    assert client.AppsV1Api(k8s).read_namespaced_deployment("y3", ns).spec.replicas == 1


def test_discovery(k8s):
    groups = {g.name for g in client.ApisApi(k8s).get_api_versions().groups}
    assert {"apps", "batch", "coordination.k8s.io", "events.k8s.io"} <= groups, groups
    res = {r.name for r in client.CoreV1Api(k8s).get_api_resources().resources}
    for name in ("pods", "pods/status", "pods/log", "namespaces", "configmaps", "secrets",
                 "services", "endpoints", "events", "nodes", "serviceaccounts",
                 "replicationcontrollers", "replicationcontrollers/scale"):
        assert name in res, name
    assert client.VersionApi(k8s).get_code().minor.rstrip("+") == "32"
