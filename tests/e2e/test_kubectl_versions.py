"""Older and newer kubectl binaries (kubectl.1.29 ... installed next to kubectl) work too.

1.29 asks only for discovery v2beta1, 1.31 sends JSON for typed creates, 1.33 sends protobuf.
"""

import json
import os

import pytest

import harness
import manifests

VERSIONS = ["1.29", "1.31", "1.32", "1.33"]


def versioned(server, version, tmp_path):
    d = harness.kubectl_dir()
    path = os.path.join(d, f"kubectl.{version}") if d else None
    if not path or not os.access(path, os.X_OK):
        pytest.skip(f"kubectl.{version} not installed")
    return harness.Kubectl(server.kubeconfig, str(tmp_path / f"cache-{version}"), binary=path)


@pytest.mark.parametrize("version", VERSIONS)
def test_version_get_create_delete(server, api, ns, tmp_path, version):
    k = versioned(server, version, tmp_path)
    r = k.ok("version", "-o", "json")
    assert json.loads(r.stdout)["clientVersion"]["minor"].rstrip("+") == version.split(".")[1]
    # Discovery + Table.
    api.create_pod(ns, "seed", labels={"app": "seed"})
    rows = harness.rows_by_name(k.ok("get", "po", "-n", ns, "--show-labels").stdout)
    assert rows["seed"]["LABELS"] == "app=seed"
    assert "default" in harness.rows_by_name(k.ok("get", "ns").stdout)
    # create -f (OpenAPI v3 validation) and get -o json.
    path = tmp_path / "cm.yaml"
    path.write_text(manifests.CONFIGMAP.format(name="cm-" + version.replace(".", "-")))
    r = k.ok("create", "-f", str(path), "-n", ns)
    assert r.stdout.strip() == f"configmap/cm-{version.replace('.', '-')} created"
    # Typed create (protobuf from 1.32 on, JSON before).
    r = k.ok("create", "configmap", "typed", "--from-literal=a=b", "-n", ns)
    assert r.stdout.strip() == "configmap/typed created"
    assert k.json("get", "cm", "typed", "-n", ns)["data"] == {"a": "b"}
    ns2 = f"{ns[:40]}-v{version.replace('.', '')}"
    r = k.ok("create", "namespace", ns2)
    assert r.stdout.strip() == f"namespace/{ns2} created"
    r = k.ok("create", "deployment", "d", "--image=nginx", "-n", ns)
    assert r.stdout.strip() == "deployment.apps/d created"
    # label, apply, scale, delete.
    k.ok("label", "po", "seed", "v=x", "-n", ns)
    r = k.ok("apply", "-f", str(path), "-n", ns)
    assert "configured" in r.stdout or "unchanged" in r.stdout, r
    k.ok("scale", "deploy", "d", "--replicas=2", "-n", ns)
    r = k.ok("delete", "po", "seed", "-n", ns)
    assert r.stdout.startswith('pod "seed" deleted')
    r = k.ok("delete", "ns", ns2, timeout=120)
    r = k.fails("get", "ns", ns2)
    assert "NotFound" in r.stderr


def test_dispatcher_picks_server_minor(server, tmp_path):
    """/usr/bin/kubectl runs kubectl.1.<server minor>; sampan reports 32."""
    k = server.kubectl()
    info = json.loads(k.ok("version", "-o", "json").stdout)
    assert info["serverVersion"]["minor"].rstrip("+") == "32", info
    assert info["clientVersion"]["minor"].rstrip("+") == "32", info


@pytest.mark.parametrize("version", VERSIONS)
def test_version_apply_server_side_auth_and_tokens(server, ns, tmp_path, version):
    """Server-side apply, auth can-i/whoami and create token with each kubectl version."""
    k = versioned(server, version, tmp_path)
    name = "ssa-" + version.replace(".", "-")
    path = tmp_path / "ssa.yaml"
    path.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: '1'\n")
    r = k.ok("apply", "--server-side", "-f", str(path), "-n", ns)
    assert r.stdout.strip() == f"configmap/{name} serverside-applied", r
    path.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  b: '2'\n")
    k.ok("apply", "--server-side", "-f", str(path), "-n", ns)
    assert k.json("get", "cm", name, "-n", ns)["data"] == {"b": "2"}
    assert k.ok("auth", "can-i", "create", "pods", "-n", ns).stdout.strip() == "yes"
    who = json.loads(k.ok("auth", "whoami", "-o", "json").stdout)
    assert who["status"]["userInfo"]["username"] == "system:admin", who
    token = k.ok("create", "token", "default", "-n", ns).stdout.strip()
    assert token.count(".") == 2, token
