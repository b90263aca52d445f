"""kubectl edit (with a scripted KUBE_EDITOR), kubectl patch, and kubectl scale via /scale."""

import json
import stat

from harness import apply_manifest
import manifests


def editor(tmp_path, sed_expr):
    """A KUBE_EDITOR that rewrites the file kubectl hands it with one sed expression."""
    path = tmp_path / "editor.sh"
    path.write_text(f"#!/bin/sh\nexec sed -i -e '{sed_expr}' \"$1\"\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return {"KUBE_EDITOR": str(path), "EDITOR": str(path)}


def test_edit_configmap(kubectl, api, ns, tmp_path):
    api.create_configmap(ns, "cfg", {"color": "blue"})
    r = kubectl("edit", "cm", "cfg", "-n", ns, env=editor(tmp_path, "s/color: blue/color: green/"))
    assert r.rc == 0 and r.stdout.strip() == "configmap/cfg edited", str(r)
    assert kubectl.json("get", "cm", "cfg", "-n", ns)["data"] == {"color": "green"}


def test_edit_no_change(kubectl, api, ns, tmp_path):
    api.create_configmap(ns, "cfg", {"color": "blue"})
    r = kubectl("edit", "cm", "cfg", "-n", ns, env=editor(tmp_path, "s/nothing-matches//"))
    assert r.rc == 0, str(r)
    assert "Edit cancelled, no changes made." in r.stdout + r.stderr, str(r)


def test_edit_deployment_image(kubectl, ns, tmp_path):
    apply_manifest(kubectl, tmp_path, manifests.DEPLOYMENT.format(name="web", replicas=1,
                                                                  image="nginx:1.25"), "-n", ns)
    r = kubectl("edit", "deploy", "web", "-n", ns, env=editor(tmp_path, "s/nginx:1.25/nginx:1.27/"))
    assert r.rc == 0 and r.stdout.strip() == "deployment.apps/web edited", str(r)
    d = kubectl.json("get", "deploy", "web", "-n", ns)
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert d["metadata"]["generation"] == 2


def test_edit_invalid_is_rejected(kubectl, api, ns, tmp_path):
    """An edit that makes the object invalid is refused and the object stays as it was."""
    api.create_pod(ns, "web", labels={"app": "web"})
    r = kubectl("edit", "po", "web", "-n", ns, env=editor(tmp_path, "s/app: web/app: -bad value-/"))
    assert r.rc != 0, str(r)
    assert "is invalid" in r.stderr, str(r)
    assert kubectl.json("get", "po", "web", "-n", ns)["metadata"]["labels"] == {"app": "web"}


def test_patch_types(kubectl, api, ns):
    api.create_configmap(ns, "cfg", {"a": "1", "b": "2"})
    r = kubectl.ok("patch", "cm", "cfg", "-n", ns, "--type=merge", "-p", '{"data":{"a":null,"c":"3"}}')
    assert r.stdout.strip() == "configmap/cfg patched"
    assert kubectl.json("get", "cm", "cfg", "-n", ns)["data"] == {"b": "2", "c": "3"}
    kubectl.ok("patch", "cm", "cfg", "-n", ns, "--type=json", "-p",
               '[{"op":"replace","path":"/data/b","value":"22"},{"op":"add","path":"/data/d","value":"4"}]')
    assert kubectl.json("get", "cm", "cfg", "-n", ns)["data"] == {"b": "22", "c": "3", "d": "4"}
    r = kubectl("patch", "cm", "cfg", "-n", ns, "--type=json", "-p",
                '[{"op":"test","path":"/data/b","value":"nope"}]')
    assert r.rc != 0, str(r)
    r = kubectl.ok("patch", "cm", "cfg", "-n", ns, "--type=merge", "-p", '{"data":{"b":"22"}}')
    assert r.stdout.strip() == "configmap/cfg patched (no change)"


def test_scale_deployment(kubectl, ns, tmp_path):
    apply_manifest(kubectl, tmp_path, manifests.DEPLOYMENT.format(name="web", replicas=1,
                                                                  image="nginx:1.25"), "-n", ns)
    r = kubectl.ok("scale", "deployment", "web", "--replicas=3", "-n", ns)
    assert r.stdout.strip() == "deployment.apps/web scaled"
    assert kubectl.json("get", "deploy", "web", "-n", ns)["spec"]["replicas"] == 3
    # The /scale subresource itself.
    scale = json.loads(kubectl.ok("get", "--raw",
                                  f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale").stdout)
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"]["replicas"] == 3
    assert scale["status"].get("selector") == "app=web", scale
    assert scale["metadata"]["name"] == "web" and scale["metadata"]["namespace"] == ns


def test_scale_with_precondition(kubectl, ns, tmp_path):
    """--current-replicas makes kubectl GET /scale and PUT /scale."""
    apply_manifest(kubectl, tmp_path, manifests.DEPLOYMENT.format(name="web", replicas=2,
                                                                  image="nginx:1.25"), "-n", ns)
    kubectl.ok("scale", "deploy/web", "--current-replicas=2", "--replicas=5", "-n", ns)
    assert kubectl.json("get", "deploy", "web", "-n", ns)["spec"]["replicas"] == 5
    r = kubectl.fails("scale", "deploy/web", "--current-replicas=2", "--replicas=1", "-n", ns)
    assert "Expected replicas to be 2, was 5" in r.stderr, r.stderr
    assert kubectl.json("get", "deploy", "web", "-n", ns)["spec"]["replicas"] == 5


def test_scale_replicaset(kubectl, ns, tmp_path):
    apply_manifest(kubectl, tmp_path, manifests.REPLICASET.format(name="rs"), "-n", ns)
    r = kubectl.ok("scale", "rs", "rs", "--replicas=4", "-n", ns)
    assert r.stdout.strip() == "replicaset.apps/rs scaled"
    assert kubectl.json("get", "rs", "rs", "-n", ns)["spec"]["replicas"] == 4


def test_scale_to_zero_and_negative(kubectl, ns, tmp_path):
    apply_manifest(kubectl, tmp_path, manifests.DEPLOYMENT.format(name="web", replicas=1,
                                                                  image="nginx:1.25"), "-n", ns)
    kubectl.ok("scale", "deploy", "web", "--replicas=0", "-n", ns)
    assert kubectl.json("get", "deploy", "web", "-n", ns)["spec"]["replicas"] == 0
    r = kubectl.fails("scale", "deploy", "web", "--replicas=-1", "-n", ns)
    assert r.stderr.strip()


def test_scale_subresource_rejects_negative(api, kubectl, ns, tmp_path):
    """The server validates a Scale written directly (kubectl refuses negative counts itself)."""
    apply_manifest(kubectl, tmp_path, manifests.DEPLOYMENT.format(name="web", replicas=1,
                                                                  image="nginx:1.25"), "-n", ns)
    status, obj = api.json("PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale",
                           {"spec": {"replicas": -3}}, content_type="application/merge-patch+json")
    assert status == 422 and obj["reason"] == "Invalid", (status, obj)
    assert kubectl.json("get", "deploy", "web", "-n", ns)["spec"]["replicas"] == 1
