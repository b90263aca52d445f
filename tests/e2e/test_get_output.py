"""kubectl get output formats: tables (default, -o wide, --show-labels, -L), yaml, json, name, jsonpath."""

import json

import yaml

from harness import apply_manifest, rows_by_name, table
import manifests


def setup_pods(api, ns):
    api.create_pod(ns, "alpha", labels={"app": "web", "tier": "fe"},
                   containers=[{"name": "a", "image": "nginx"}, {"name": "b", "image": "busybox"}])
    api.create_pod(ns, "beta", labels={"app": "db"})
    api.create_pod(ns, "gamma")


def test_get_table_columns(kubectl, api, ns):
    setup_pods(api, ns)
    r = kubectl.ok("get", "pods", "-n", ns)
    names, _ = table(r.stdout)
    assert names == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], r.stdout
    rows = rows_by_name(r.stdout)
    assert set(rows) == {"alpha", "beta", "gamma"}, r.stdout
    assert rows["alpha"]["READY"] == "0/2", rows["alpha"]
    assert rows["beta"]["READY"] == "0/1", rows["beta"]
    assert rows["alpha"]["STATUS"] == "Pending", rows["alpha"]
    assert rows["alpha"]["RESTARTS"] == "0"


def test_get_wide(kubectl, api, ns):
    setup_pods(api, ns)
    r = kubectl.ok("get", "pods", "-n", ns, "-o", "wide")
    names, _ = table(r.stdout)
    assert names[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], r.stdout
    for col in ("IP", "NODE", "NOMINATED NODE", "READINESS GATES"):
        assert col in names, r.stdout
    rows = rows_by_name(r.stdout)
    assert rows["alpha"]["NODE"] == "<none>", rows["alpha"]


def test_get_show_labels(kubectl, api, ns):
    setup_pods(api, ns)
    r = kubectl.ok("get", "pods", "-n", ns, "--show-labels")
    names, _ = table(r.stdout)
    assert names[-1] == "LABELS", r.stdout
    rows = rows_by_name(r.stdout)
    assert rows["alpha"]["LABELS"] == "app=web,tier=fe", rows["alpha"]
    assert rows["beta"]["LABELS"] == "app=db"
    assert rows["gamma"]["LABELS"] == "<none>"


def test_get_label_columns(kubectl, api, ns):
    setup_pods(api, ns)
    r = kubectl.ok("get", "pods", "-n", ns, "-L", "app,tier")
    names, _ = table(r.stdout)
    assert names[-2:] == ["APP", "TIER"], r.stdout
    rows = rows_by_name(r.stdout)
    assert (rows["alpha"]["APP"], rows["alpha"]["TIER"]) == ("web", "fe")
    assert (rows["beta"]["APP"], rows["beta"]["TIER"]) == ("db", "")
    assert (rows["gamma"]["APP"], rows["gamma"]["TIER"]) == ("", "")


def test_get_yaml_single(kubectl, api, ns):
    setup_pods(api, ns)
    r = kubectl.ok("get", "po", "alpha", "-n", ns, "-o", "yaml")
    obj = yaml.safe_load(r.stdout)
    assert obj["kind"] == "Pod" and obj["metadata"]["name"] == "alpha"
    assert obj["metadata"]["labels"] == {"app": "web", "tier": "fe"}
    assert [c["name"] for c in obj["spec"]["containers"]] == ["a", "b"]


def test_get_json_list(kubectl, api, ns):
    setup_pods(api, ns)
    obj = json.loads(kubectl.ok("get", "pods", "-n", ns, "-o", "json").stdout)
    assert obj["kind"] == "List" and obj["apiVersion"] == "v1"
    assert sorted(i["metadata"]["name"] for i in obj["items"]) == ["alpha", "beta", "gamma"]
    for item in obj["items"]:
        assert item["kind"] == "Pod" and item["metadata"]["namespace"] == ns


def test_get_yaml_list(kubectl, api, ns):
    setup_pods(api, ns)
    obj = yaml.safe_load(kubectl.ok("get", "pods", "-n", ns, "-o", "yaml").stdout)
    assert obj["kind"] == "List"
    assert len(obj["items"]) == 3


def test_get_name(kubectl, api, ns):
    setup_pods(api, ns)
    r = kubectl.ok("get", "pods", "-n", ns, "-o", "name")
    assert sorted(r.stdout.split()) == ["pod/alpha", "pod/beta", "pod/gamma"]
    r = kubectl.ok("get", "pod", "beta", "-n", ns, "-o", "name")
    assert r.stdout.strip() == "pod/beta"


def test_get_jsonpath(kubectl, api, ns):
    setup_pods(api, ns)
    r = kubectl.ok("get", "pod", "alpha", "-n", ns, "-o", "jsonpath={.metadata.labels.app}")
    assert r.stdout == "web"
    r = kubectl.ok("get", "pods", "-n", ns, "-o", "jsonpath={.items[*].metadata.name}")
    assert sorted(r.stdout.split()) == ["alpha", "beta", "gamma"]
    r = kubectl.ok("get", "pod", "alpha", "-n", ns, "-o",
                   "jsonpath={range .spec.containers[*]}{.name}={.image}{\"\\n\"}{end}")
    assert r.stdout.splitlines() == ["a=nginx", "b=busybox"]


def test_get_custom_columns(kubectl, api, ns):
    setup_pods(api, ns)
    r = kubectl.ok("get", "pods", "-n", ns, "-o", "custom-columns=N:.metadata.name,APP:.metadata.labels.app")
    rows = rows_by_name(r.stdout, key="N")
    assert rows["alpha"]["APP"] == "web" and rows["gamma"]["APP"] == "<none>"


def test_get_deployment_table(kubectl, ns, tmp_path):
    apply_manifest(kubectl, tmp_path, manifests.DEPLOYMENT.format(name="front", replicas=3,
                                                                  image="nginx:1.25"), "-n", ns)
    r = kubectl.ok("get", "deploy", "-n", ns)
    names, _ = table(r.stdout)
    assert names == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], r.stdout
    assert rows_by_name(r.stdout)["front"]["READY"] == "0/3"
    r = kubectl.ok("get", "deploy", "-n", ns, "-o", "wide")
    names, _ = table(r.stdout)
    for col in ("CONTAINERS", "IMAGES", "SELECTOR"):
        assert col in names, r.stdout
    row = rows_by_name(r.stdout)["front"]
    assert row["CONTAINERS"] == "web" and row["IMAGES"] == "nginx:1.25" and row["SELECTOR"] == "app=front"


def test_get_service_and_configmap_tables(kubectl, api, ns, tmp_path):
    apply_manifest(kubectl, tmp_path, manifests.SERVICE.format(name="websvc"), "-n", ns)
    r = kubectl.ok("get", "svc", "-n", ns)
    names, _ = table(r.stdout)
    assert names == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], r.stdout
    row = rows_by_name(r.stdout)["websvc"]
    assert row["TYPE"] == "ClusterIP" and row["PORT(S)"] == "80/TCP", row
    api.create_configmap(ns, "two", {"a": "1", "b": "2"})
    r = kubectl.ok("get", "cm", "two", "-n", ns)
    names, _ = table(r.stdout)
    assert names == ["NAME", "DATA", "AGE"], r.stdout
    assert rows_by_name(r.stdout)["two"]["DATA"] == "2"


def test_get_several_names_and_kinds(kubectl, api, ns):
    setup_pods(api, ns)
    api.create_configmap(ns, "cfg")
    r = kubectl.ok("get", "pod/alpha", "pod/beta", "configmap/cfg", "-n", ns, "-o", "name")
    assert r.stdout.split() == ["pod/alpha", "pod/beta", "configmap/cfg"]


def test_get_empty(kubectl, ns):
    r = kubectl.ok("get", "pods", "-n", ns)
    assert r.stdout == ""
    assert f"No resources found in {ns} namespace." in r.stderr


def test_list_paging(kubectl, api, ns):
    """kubectl follows metadata.continue; --chunk-size forces small pages."""
    for i in range(25):
        api.create_configmap(ns, f"page-{i:02d}")
    r = kubectl.ok("get", "cm", "-n", ns, "--chunk-size=7", "-o", "name")
    got = sorted(n for n in r.stdout.split() if n.startswith("configmap/page-"))
    assert got == [f"configmap/page-{i:02d}" for i in range(25)]
    r = kubectl.ok("get", "cm", "-n", ns, "--chunk-size=4")
    assert len([l for l in r.stdout.splitlines() if l.startswith("page-")]) == 25
