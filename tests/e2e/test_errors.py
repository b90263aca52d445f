"""Error replies as kubectl prints them, and bad input that must get a precise 4xx (never a crash)."""

import json

import pytest

from harness import apply_manifest
import manifests


def test_not_found(kubectl, ns):
    r = kubectl.fails("get", "po", "nope", "-n", ns)
    assert r.stderr.strip() == 'Error from server (NotFound): pods "nope" not found', r
    r = kubectl.fails("get", "deploy", "nope", "-n", ns)
    assert 'Error from server (NotFound): deployments.apps "nope" not found' in r.stderr, r


def test_namespace_not_found(kubectl):
    r = kubectl.fails("get", "ns", "no-such-namespace")
    assert 'Error from server (NotFound): namespaces "no-such-namespace" not found' in r.stderr


def test_create_in_missing_namespace(kubectl, tmp_path):
    r = apply_manifest(kubectl, tmp_path, manifests.CONFIGMAP.format(name="x"), "-n", "no-such-ns")
    assert r.rc != 0
    assert 'Error from server (NotFound): error when creating' in r.stderr, r
    assert 'namespaces "no-such-ns" not found' in r.stderr, r


def test_already_exists(kubectl, ns, tmp_path):
    assert apply_manifest(kubectl, tmp_path, manifests.POD.format(name="web"), "-n", ns).rc == 0
    r = apply_manifest(kubectl, tmp_path, manifests.POD.format(name="web"), "-n", ns,
                       name="pod2.yaml")
    assert r.rc != 0
    assert ('Error from server (AlreadyExists): error when creating "%s": pods "web" already exists'
            % (tmp_path / "pod2.yaml")) in r.stderr, r


def test_invalid_name(kubectl, ns, tmp_path):
    r = apply_manifest(kubectl, tmp_path, manifests.pod("Bad_Name"), "-n", ns)
    assert r.rc != 0
    assert 'The Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": ' in r.stderr, r
    assert "RFC 1123" in r.stderr, r
    assert kubectl("get", "po", "-n", ns, "-o", "name").stdout == ""


def test_invalid_pod_without_containers(kubectl, ns, tmp_path):
    text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: empty\nspec:\n  containers: []\n"
    r = apply_manifest(kubectl, tmp_path, text, "-n", ns)
    assert r.rc != 0
    assert 'The Pod "empty" is invalid: spec.containers: Required value' in r.stderr, r


def test_invalid_several_causes(kubectl, ns, tmp_path):
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: two-errors\nspec:\n  containers:\n"
            "  - name: Bad_Container\n    image: nginx\n")
    r = apply_manifest(kubectl, tmp_path, text, "-n", ns)
    assert r.rc != 0
    assert 'The Pod "two-errors" is invalid: spec.containers[0].name: Invalid value: "Bad_Container"' \
        in r.stderr, r


def test_unknown_field_strict(kubectl, ns, tmp_path):
    text = manifests.pod("strict") + "  foo: bar\n"
    r = apply_manifest(kubectl, tmp_path, text, "-n", ns)
    assert r.rc != 0
    assert "Error from server (BadRequest)" in r.stderr, r
    assert 'strict decoding error: unknown field "spec.foo"' in r.stderr, r
    assert kubectl("get", "po", "strict", "-n", ns).rc != 0


def test_unknown_field_nested_strict(kubectl, ns, tmp_path):
    text = manifests.pod("strict") + "    imagePullPolicyy: Always\n"
    r = apply_manifest(kubectl, tmp_path, text, "-n", ns)
    assert r.rc != 0
    assert 'unknown field "spec.containers[0].imagePullPolicyy"' in r.stderr, r


def test_unknown_field_warn_and_ignore(kubectl, ns, tmp_path):
    text = manifests.pod("lenient") + "  foo: bar\n  baz: qux\n"
    r = apply_manifest(kubectl, tmp_path, text, "-n", ns, "--validate=warn")
    assert r.rc == 0, str(r)
    # One Warning header per unknown field, each printed by kubectl.
    assert 'unknown field "spec.foo"' in r.stderr and 'unknown field "spec.baz"' in r.stderr, r
    r = apply_manifest(kubectl, tmp_path, text.replace("lenient", "lenient2"), "-n", ns,
                       "--validate=false")
    assert r.rc == 0 and r.stderr.strip() == "", str(r)
    pod = kubectl.json("get", "po", "lenient", "-n", ns)
    assert "foo" not in pod["spec"]


def test_duplicate_field_strict(api, ns):
    body = ('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},'
            '"data":{"a":"1"},"data":{"b":"2"}}')
    status, obj = api.json("POST", f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Strict", body)
    assert status == 400, obj
    assert 'duplicate field "data"' in obj["message"], obj


def test_malformed_yaml_client_side(kubectl, ns, tmp_path):
    r = apply_manifest(kubectl, tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n",
                       "-n", ns)
    assert r.rc != 0 and "error" in r.stderr.lower(), r


@pytest.mark.parametrize("ctype,body", [
    ("application/json", '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"'),
    ("application/json", "not json at all"),
    ("application/json", "[1,2,3]"),
    ("application/yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [x\n"),
    ("application/vnd.kubernetes.protobuf", "k8s\x00\x0a\xff\xff\xff"),
])
def test_malformed_body_is_400(api, ns, ctype, body):
    status, obj = api.json("POST", f"/api/v1/namespaces/{ns}/configmaps", body, content_type=ctype)
    assert status == 400, (status, obj)
    assert obj["kind"] == "Status" and obj["reason"] == "BadRequest" and obj["code"] == 400, obj
    assert obj["message"], obj


def test_yaml_body_accepted(api, ns):
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fromyaml\ndata:\n  a: b\n"
    status, obj = api.json("POST", f"/api/v1/namespaces/{ns}/configmaps", body,
                           content_type="application/yaml")
    assert status == 201, obj
    assert obj["data"] == {"a": "b"}


def test_unsupported_media_type(api, ns):
    status, obj = api.json("POST", f"/api/v1/namespaces/{ns}/configmaps", "a=b",
                           content_type="text/plain")
    assert status == 415, (status, obj)


def test_wrong_kind_for_path(kubectl, api, ns, tmp_path):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-as-pod"}}
    status, obj = api.json("POST", f"/api/v1/namespaces/{ns}/pods", body)
    assert status == 400 and obj["reason"] == "BadRequest", (status, obj)
    assert api.get(f"/api/v1/namespaces/{ns}/pods/cm-as-pod") is None
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/cm-as-pod") is None
    # Through kubectl's raw mode, too.
    path = tmp_path / "cm.json"
    path.write_text(json.dumps(body))
    r = kubectl.fails("create", "--raw", f"/api/v1/namespaces/{ns}/pods", "-f", str(path))
    assert "Error from server (BadRequest)" in r.stderr, r


def test_wrong_api_version_for_path(api, ns):
    body = {"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    status, obj = api.json("POST", f"/api/v1/namespaces/{ns}/configmaps", body)
    assert status == 400, (status, obj)


def test_namespace_mismatch(api, ns):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "other"}}
    status, obj = api.json("POST", f"/api/v1/namespaces/{ns}/configmaps", body)
    assert status == 400 and obj["reason"] == "BadRequest", (status, obj)
    assert "does not match the namespace" in obj["message"], obj


def test_name_mismatch_on_update(api, ns):
    cm = api.create_configmap(ns, "real")
    cm["metadata"]["name"] = "other"
    status, obj = api.json("PUT", f"/api/v1/namespaces/{ns}/configmaps/real", cm)
    assert status == 400, (status, obj)


def test_stale_update_conflict(api, ns):
    cm = api.create_configmap(ns, "cfg", {"v": "1"})
    fresh = dict(cm, data={"v": "2"})
    api.json("PUT", f"/api/v1/namespaces/{ns}/configmaps/cfg", fresh, expect=200)
    stale = dict(cm, data={"v": "3"})
    status, obj = api.json("PUT", f"/api/v1/namespaces/{ns}/configmaps/cfg", stale)
    assert status == 409 and obj["reason"] == "Conflict", (status, obj)
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/cfg")["data"] == {"v": "2"}


def test_unknown_resource_type(kubectl):
    r = kubectl.fails("get", "frobnicators")
    assert 'error: the server doesn\'t have a resource type "frobnicators"' in r.stderr, r


def test_unknown_path_is_404(api):
    status, obj = api.json("GET", "/api/v1/frobnicators")
    assert status == 404, (status, obj)
    status, obj = api.json("GET", "/apis/nosuchgroup.example/v1/things")
    assert status == 404, (status, obj)


def test_method_not_allowed(api, ns):
    status, _ = api.json("POST", f"/api/v1/namespaces/{ns}/configmaps/named",
                         {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "named"}})
    assert status in (404, 405), status


def test_oversized_body(api, ns, server):
    big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "huge"},
           "data": {"k": "x" * (8 * 1024 * 1024)}}
    try:
        status, obj = api.json("POST", f"/api/v1/namespaces/{ns}/configmaps", big, timeout=60)
        assert 400 <= status < 500, (status, obj)
    except (ConnectionError, OSError):
        pass  # closing the connection on an oversized body is acceptable
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/huge") is None
    assert server.alive()


def test_deeply_nested_body(api, ns, server):
    depth = 100000
    body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"data":' + \
        "[" * depth + "]" * depth + "}"
    status, obj = api.json("POST", f"/api/v1/namespaces/{ns}/configmaps", body, timeout=60)
    assert 400 <= status < 500, (status, obj)
    assert server.alive()
    status, obj = api.json("POST", f"/api/v1/namespaces/{ns}/configmaps",
                           "a: " + "[" * depth, content_type="application/yaml", timeout=60)
    assert 400 <= status < 500, (status, obj)
    assert server.alive()


def test_wrong_type_for_field(api, ns):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "typed"},
            "data": {"n": 5}}
    status, obj = api.json("POST", f"/api/v1/namespaces/{ns}/configmaps", body)
    # Kubernetes answers 400 (the body cannot be decoded); 422 Invalid with the field is as clear.
    assert status in (400, 422) and obj["reason"] in ("BadRequest", "Invalid"), (status, obj)
    assert "data" in json.dumps(obj), obj
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/typed") is None


def test_server_survives_all_of_the_above(server, kubectl):
    assert server.alive()
    kubectl.ok("get", "--raw", "/readyz")
