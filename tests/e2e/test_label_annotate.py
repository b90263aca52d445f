"""kubectl label and annotate (merge patches), including --overwrite, removal and --resource-version."""

import json


def labels(kubectl, ns, name, kind="pod"):
    return kubectl.json("get", kind, name, "-n", ns)["metadata"].get("labels", {})


def test_label_add(kubectl, api, ns):
    api.create_pod(ns, "web", labels={"app": "web"})
    r = kubectl.ok("label", "po", "web", "env=prod", "-n", ns)
    assert r.stdout.strip() == "pod/web labeled"
    assert labels(kubectl, ns, "web") == {"app": "web", "env": "prod"}


def test_label_existing_without_overwrite_fails(kubectl, api, ns):
    api.create_pod(ns, "web", labels={"env": "prod"})
    r = kubectl.fails("label", "po", "web", "env=dev", "-n", ns)
    assert "'env' already has a value (prod), and --overwrite is false" in r.stderr, r.stderr
    assert labels(kubectl, ns, "web") == {"env": "prod"}


def test_label_overwrite(kubectl, api, ns):
    api.create_pod(ns, "web", labels={"env": "prod"})
    r = kubectl.ok("label", "po", "web", "env=dev", "--overwrite", "-n", ns)
    assert r.stdout.strip() == "pod/web labeled"
    assert labels(kubectl, ns, "web") == {"env": "dev"}


def test_label_same_value_not_labeled(kubectl, api, ns):
    api.create_pod(ns, "web", labels={"env": "prod"})
    rv = kubectl.json("get", "po", "web", "-n", ns)["metadata"]["resourceVersion"]
    r = kubectl.ok("label", "po", "web", "env=prod", "-n", ns)
    assert r.stdout.strip() == "pod/web not labeled"
    assert kubectl.json("get", "po", "web", "-n", ns)["metadata"]["resourceVersion"] == rv


def test_label_remove(kubectl, api, ns):
    api.create_pod(ns, "web", labels={"env": "prod", "app": "web"})
    r = kubectl.ok("label", "po", "web", "env-", "-n", ns)
    assert r.stdout.strip() in ("pod/web unlabeled", "pod/web labeled"), r
    assert labels(kubectl, ns, "web") == {"app": "web"}


def test_label_bumps_resource_version(kubectl, api, ns):
    api.create_pod(ns, "web")
    before = kubectl.json("get", "po", "web", "-n", ns)["metadata"]
    kubectl.ok("label", "po", "web", "x=y", "-n", ns)
    after = kubectl.json("get", "po", "web", "-n", ns)["metadata"]
    assert int(after["resourceVersion"]) > int(before["resourceVersion"])
    assert after["uid"] == before["uid"]
    assert after.get("generation") == before.get("generation")  # metadata-only change


def test_label_stale_resource_version_conflicts(kubectl, api, ns):
    api.create_pod(ns, "web")
    rv = kubectl.json("get", "po", "web", "-n", ns)["metadata"]["resourceVersion"]
    kubectl.ok("label", "po", "web", "a=1", "-n", ns)
    r = kubectl.fails("label", "po", "web", "b=2", "--resource-version", rv, "-n", ns)
    assert "Error from server (Conflict)" in r.stderr, r.stderr
    assert 'Operation cannot be fulfilled on pods "web"' in r.stderr, r.stderr
    assert "b" not in labels(kubectl, ns, "web")


def test_invalid_label_value_rejected_by_server(api, ns):
    """kubectl checks label syntax itself, so ask the server directly: it must validate too."""
    status, obj = api.json("POST", f"/api/v1/namespaces/{ns}/configmaps",
                           {"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "badlabel", "labels": {"ok": "-not valid-"}}})
    assert status == 422, obj
    assert obj["reason"] == "Invalid", obj
    fields = [c.get("field", "") for c in obj.get("details", {}).get("causes", [])]
    assert any(f.startswith("metadata.labels") for f in fields), obj
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/badlabel") is None


def test_label_by_selector_all(kubectl, api, ns):
    api.create_pod(ns, "a1", labels={"grp": "a"})
    api.create_pod(ns, "a2", labels={"grp": "a"})
    api.create_pod(ns, "b1", labels={"grp": "b"})
    r = kubectl.ok("label", "po", "-l", "grp=a", "marked=yes", "-n", ns)
    assert sorted(r.stdout.splitlines()) == ["pod/a1 labeled", "pod/a2 labeled"]
    assert labels(kubectl, ns, "b1") == {"grp": "b"}


def test_annotate(kubectl, api, ns):
    api.create_pod(ns, "web")
    r = kubectl.ok("annotate", "pod", "web", "note=hello world", "-n", ns)
    assert r.stdout.strip() == "pod/web annotated"
    r = kubectl.ok("get", "pod", "web", "-n", ns, "-o", "jsonpath={.metadata.annotations.note}")
    assert r.stdout == "hello world"
    kubectl.fails("annotate", "pod", "web", "note=other", "-n", ns)
    kubectl.ok("annotate", "pod", "web", "note=other", "--overwrite", "-n", ns)
    ann = kubectl.json("get", "pod", "web", "-n", ns)["metadata"]["annotations"]
    assert ann["note"] == "other"
    kubectl.ok("annotate", "pod", "web", "note-", "-n", ns)
    ann = kubectl.json("get", "pod", "web", "-n", ns)["metadata"].get("annotations", {})
    assert "note" not in ann


def test_annotate_configmap_json_value(kubectl, api, ns):
    api.create_configmap(ns, "cfg", {"k": "v"})
    value = json.dumps({"nested": ["a", 1]})
    kubectl.ok("annotate", "cm", "cfg", f"blob={value}", "-n", ns)
    cm = kubectl.json("get", "cm", "cfg", "-n", ns)
    assert cm["metadata"]["annotations"]["blob"] == value
    assert cm["data"] == {"k": "v"}
