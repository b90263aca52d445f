"""Namespaces: create (protobuf body), get ns, get -n, get -A, delete ns with its contents."""

import json
import uuid

from harness import rows_by_name, table, wait_until


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_builtin_namespaces(kubectl):
    rows = rows_by_name(kubectl.ok("get", "ns").stdout)
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert name in rows, rows
        assert rows[name]["STATUS"] == "Active", rows[name]
    names, _ = table(kubectl.ok("get", "namespaces").stdout)
    assert names == ["NAME", "STATUS", "AGE"]


def test_create_namespace_protobuf(kubectl, api):
    """kubectl 1.32+ sends `create namespace` as a protobuf body."""
    name = unique("custom-ns")
    try:
        r = kubectl.ok("create", "namespace", name)
        assert r.stdout.strip() == f"namespace/{name} created"
        ns = kubectl.json("get", "ns", name)
        assert ns["metadata"]["name"] == name
        assert ns["status"]["phase"] == "Active"
        assert ns["spec"].get("finalizers") == ["kubernetes"], ns["spec"]
        assert ns["metadata"]["labels"].get("kubernetes.io/metadata.name") == name, ns["metadata"]
        rows = rows_by_name(kubectl.ok("get", "ns").stdout)
        assert rows[name]["STATUS"] == "Active"
    finally:
        api.delete_namespace(name)


def test_create_namespace_from_yaml(kubectl, api, tmp_path):
    name = unique("yaml-ns")
    path = tmp_path / "ns.yaml"
    path.write_text(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
    try:
        r = kubectl.ok("create", "-f", str(path))
        assert r.stdout.strip() == f"namespace/{name} created"
    finally:
        api.delete_namespace(name)


def test_create_namespace_twice(kubectl, api):
    name = unique("twice")
    try:
        kubectl.ok("create", "ns", name)
        r = kubectl.fails("create", "ns", name)
        assert f'Error from server (AlreadyExists): namespaces "{name}" already exists' in r.stderr, r
    finally:
        api.delete_namespace(name)


def test_create_namespace_invalid_name(kubectl):
    r = kubectl.fails("create", "namespace", "Bad_Name")
    assert 'The Namespace "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"' in r.stderr, r


def test_get_in_namespace(kubectl, api, ns):
    api.create_pod(ns, "only-here")
    out = kubectl.ok("get", "po", "-n", ns).stdout
    assert "only-here" in out
    out = kubectl.ok("get", "po", "--namespace", ns, "-o", "name").stdout
    assert out.split() == ["pod/only-here"]
    r = kubectl.ok("get", "po", "only-here", "-n", "default", "--ignore-not-found")
    assert r.stdout == ""


def test_get_all_namespaces(kubectl, api, server):
    a, b = unique("all-a"), unique("all-b")
    api.create_namespace(a)
    api.create_namespace(b)
    try:
        api.create_pod(a, "pa")
        api.create_pod(b, "pb")
        r = kubectl.ok("get", "po", "-A")
        names, rows = table(r.stdout)
        assert names[:2] == ["NAMESPACE", "NAME"], r.stdout
        pairs = {(row[0], row[1]) for row in rows}
        assert (a, "pa") in pairs and (b, "pb") in pairs, r.stdout
        r = kubectl.ok("get", "po", "--all-namespaces", "-o", "json")
        items = {(i["metadata"]["namespace"], i["metadata"]["name"])
                 for i in json.loads(r.stdout)["items"]}
        assert {(a, "pa"), (b, "pb")} <= items
    finally:
        api.delete_namespace(a)
        api.delete_namespace(b)


def test_delete_namespace_waits_and_removes_contents(kubectl, api):
    name = unique("doomed")
    api.create_namespace(name)
    api.create_pod(name, "p1")
    api.create_configmap(name, "c1")
    api.json("POST", f"/api/v1/namespaces/{name}/secrets",
             {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"},
              "stringData": {"k": "v"}}, expect=(200, 201))
    r = kubectl.ok("delete", "ns", name, timeout=120)
    assert r.stdout.strip() == f'namespace "{name}" deleted'
    # kubectl waited for the namespace to be gone.
    r = kubectl.fails("get", "ns", name)
    assert f'namespaces "{name}" not found' in r.stderr
    for kind in ("pods", "configmaps", "secrets"):
        status, obj = api.json("GET", f"/api/v1/namespaces/{name}/{kind}")
        assert status == 200 and obj["items"] == [], (kind, status, obj)


def test_terminating_namespace_refuses_new_objects(kubectl, api):
    """A finalizer on a ConfigMap holds the namespace in Terminating; creates are then refused."""
    name = unique("terminating")
    api.create_namespace(name)
    api.json("POST", f"/api/v1/namespaces/{name}/configmaps",
             {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "held", "finalizers": ["e2e.sampan.io/hold"]}},
             expect=(200, 201))
    r = kubectl.ok("delete", "ns", name, "--wait=false")
    assert r.stdout.strip() == f'namespace "{name}" deleted'
    ns = kubectl.json("get", "ns", name)
    assert ns["status"]["phase"] == "Terminating", ns
    assert ns["metadata"].get("deletionTimestamp"), ns
    rows = rows_by_name(kubectl.ok("get", "ns", name).stdout)
    assert rows[name]["STATUS"] == "Terminating"

    status, obj = api.json("POST", f"/api/v1/namespaces/{name}/configmaps",
                           {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}})
    assert status == 403 and obj["reason"] == "Forbidden", (status, obj)
    assert "being terminated" in obj["message"], obj

    # The held configmap gets a deletionTimestamp but stays until its finalizer goes.
    held = wait_until(lambda: (api.get(f"/api/v1/namespaces/{name}/configmaps/held") or {})
                      .get("metadata", {}).get("deletionTimestamp") and
                      api.get(f"/api/v1/namespaces/{name}/configmaps/held"),
                      timeout=30, what="deletionTimestamp on the held configmap")
    assert held["metadata"]["finalizers"] == ["e2e.sampan.io/hold"]
    kubectl.ok("patch", "cm", "held", "-n", name, "--type=merge", "-p",
               '{"metadata":{"finalizers":null}}')
    wait_until(lambda: api.get(f"/api/v1/namespaces/{name}") is None, timeout=60,
               what=f"namespace {name} to disappear")


def test_cannot_delete_default_namespace(kubectl):
    r = kubectl.fails("delete", "ns", "default", "--wait=false")
    assert "Error from server (Forbidden)" in r.stderr, r.stderr
    assert kubectl.json("get", "ns", "default")["status"]["phase"] == "Active"
