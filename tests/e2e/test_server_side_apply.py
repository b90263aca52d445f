"""kubectl apply --server-side: field managers, managedFields, conflicts, shared ownership, removal of
fields a manager stops applying, dry run.

Facts from Kubernetes that these tests rely on:
- kubectl sends an `application/apply-patch+yaml` PATCH and prints `<kind>/<name> serverside-applied`;
  its default field manager for --server-side is "kubectl" (client-side apply's is
  "kubectl-client-side-apply").
- A conflict is a 409 (reason Conflict) whose message names the other manager and the field
  (`Apply failed with 1 conflict: conflict with "mgr-a": .data.x`); kubectl then adds advice that
  mentions `--force-conflicts`.
- Managers that apply the same value share the field; a field goes away when the last manager
  that applied it stops applying it.
- `kubectl get` hides managedFields unless --show-managed-fields is given.
"""

import yaml

from harness import apply_manifest


def configmap(name, data=None, labels=None):
    meta = {"name": name}
    if labels is not None:
        meta["labels"] = labels
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    if data is not None:
        obj["data"] = data
    return yaml.safe_dump(obj, sort_keys=False)


def deployment(name, image, replicas=2):
    return yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }, sort_keys=False)


def ssa(kubectl, tmp_path, ns, text, *args):
    """`kubectl apply --server-side -f <file> -n ns *args`; returns the Result (not checked)."""
    return apply_manifest(kubectl, tmp_path, text, "--server-side", "-n", ns, *args,
                          name="ssa.yaml", verb="apply")


def ssa_ok(kubectl, tmp_path, ns, text, *args):
    r = ssa(kubectl, tmp_path, ns, text, *args)
    assert r.rc == 0, f"server-side apply failed:\n{r}"
    return r


def get(kubectl, ns, kind, name):
    """The object as stored, managedFields included."""
    return kubectl.json("get", kind, name, "-n", ns, "--show-managed-fields")


def entries(obj, manager):
    return [e for e in obj["metadata"].get("managedFields") or [] if e.get("manager") == manager]


def owned_data_keys(obj, manager):
    """The data keys (f:KEY) that `manager` owns, over all its managedFields entries."""
    keys = set()
    for e in entries(obj, manager):
        keys |= {k for k in (e.get("fieldsV1") or {}).get("f:data", {}) if k.startswith("f:")}
    return keys


def test_ssa_creates_absent_object_with_managed_fields(kubectl, ns, tmp_path):
    r = ssa_ok(kubectl, tmp_path, ns, configmap("cfg", {"color": "blue"}))
    assert r.stdout.strip() == "configmap/cfg serverside-applied", \
        f"kubectl should report the server-side apply:\n{r}"
    cm = get(kubectl, ns, "cm", "cfg")
    assert cm["data"] == {"color": "blue"}, cm
    mine = entries(cm, "kubectl")
    assert len(mine) == 1, \
        f"expected one managedFields entry for kubectl's default SSA manager 'kubectl': " \
        f"{cm['metadata'].get('managedFields')}"
    e = mine[0]
    assert e.get("operation") == "Apply", e
    assert e.get("fieldsType") == "FieldsV1", e
    assert e.get("apiVersion") == "v1", e
    fields = e.get("fieldsV1") or {}
    assert "f:data" in fields and "f:color" in fields["f:data"], \
        f"fieldsV1 should record ownership of data.color: {fields}"


def test_ssa_updates_and_removes_dropped_key(kubectl, ns, tmp_path):
    ssa_ok(kubectl, tmp_path, ns, configmap("cfg", {"a": "1", "b": "2"}))
    r = ssa_ok(kubectl, tmp_path, ns, configmap("cfg", {"a": "10", "b": "2"}))
    assert r.stdout.strip() == "configmap/cfg serverside-applied", str(r)
    assert get(kubectl, ns, "cm", "cfg")["data"] == {"a": "10", "b": "2"}, "changed value not applied"

    ssa_ok(kubectl, tmp_path, ns, configmap("cfg", {"a": "10"}))
    cm = get(kubectl, ns, "cm", "cfg")
    assert cm["data"] == {"a": "10"}, \
        f"data.b was owned by 'kubectl' alone and dropped from its config: it must be removed: {cm['data']}"
    assert owned_data_keys(cm, "kubectl") == {"f:a"}, cm["metadata"].get("managedFields")


def test_ssa_removes_dropped_label(kubectl, ns, tmp_path):
    ssa_ok(kubectl, tmp_path, ns, configmap("cfg", {"k": "v"}, labels={"a": "1", "b": "2"}))
    assert get(kubectl, ns, "cm", "cfg")["metadata"].get("labels") == {"a": "1", "b": "2"}
    ssa_ok(kubectl, tmp_path, ns, configmap("cfg", {"k": "v"}, labels={"a": "1"}))
    cm = get(kubectl, ns, "cm", "cfg")
    assert cm["metadata"].get("labels") == {"a": "1"}, \
        f"label b dropped from the applied config must be removed, a kept: {cm['metadata'].get('labels')}"
    assert cm["data"] == {"k": "v"}, cm


def test_ssa_conflict_then_force(kubectl, ns, tmp_path):
    ssa_ok(kubectl, tmp_path, ns, configmap("cfg", {"x": "1"}), "--field-manager=mgr-a")

    r = ssa(kubectl, tmp_path, ns, configmap("cfg", {"x": "2"}), "--field-manager=mgr-b")
    assert r.rc not in (0, 124), f"changing a field owned by mgr-a must conflict:\n{r}"
    assert "conflict" in r.stderr.lower(), f"the error should say it is a conflict:\n{r}"
    assert "mgr-a" in r.stderr and ".data.x" in r.stderr, \
        f"the conflict should name the owning manager and the field (.data.x):\n{r}"
    assert "--force-conflicts" in r.stderr, \
        f"kubectl adds its --force-conflicts advice only for a 409 Conflict status:\n{r}"
    cm = get(kubectl, ns, "cm", "cfg")
    assert cm["data"] == {"x": "1"}, f"a conflicting apply must not change the object: {cm['data']}"
    assert not entries(cm, "mgr-b"), \
        f"a rejected apply must not record mgr-b: {cm['metadata'].get('managedFields')}"

    r = ssa_ok(kubectl, tmp_path, ns, configmap("cfg", {"x": "2"}), "--field-manager=mgr-b",
               "--force-conflicts")
    assert r.stdout.strip() == "configmap/cfg serverside-applied", str(r)
    cm = get(kubectl, ns, "cm", "cfg")
    assert cm["data"] == {"x": "2"}, f"--force-conflicts must apply the value: {cm['data']}"
    assert "f:x" in owned_data_keys(cm, "mgr-b"), cm["metadata"].get("managedFields")
    assert "f:x" not in owned_data_keys(cm, "mgr-a"), \
        f"a forced apply takes ownership of data.x away from mgr-a: {cm['metadata'].get('managedFields')}"


def test_ssa_shared_ownership_keeps_field(kubectl, ns, tmp_path):
    ssa_ok(kubectl, tmp_path, ns, configmap("cfg", {"x": "same", "a": "1"}), "--field-manager=mgr-a")
    r = ssa(kubectl, tmp_path, ns, configmap("cfg", {"x": "same"}), "--field-manager=mgr-b")
    assert r.rc == 0, f"applying the value another manager already applied is no conflict:\n{r}"
    cm = get(kubectl, ns, "cm", "cfg")
    assert "f:x" in owned_data_keys(cm, "mgr-a") and "f:x" in owned_data_keys(cm, "mgr-b"), \
        f"both managers should own data.x: {cm['metadata'].get('managedFields')}"

    ssa_ok(kubectl, tmp_path, ns, configmap("cfg", {"a": "1"}), "--field-manager=mgr-a")
    cm = get(kubectl, ns, "cm", "cfg")
    assert cm["data"] == {"x": "same", "a": "1"}, \
        f"mgr-b still owns data.x, so mgr-a dropping it must keep it: {cm['data']}"
    assert "f:x" not in owned_data_keys(cm, "mgr-a"), cm["metadata"].get("managedFields")

    # The last owner lets go: now it goes away.
    ssa_ok(kubectl, tmp_path, ns, configmap("cfg", {"b": "1"}), "--field-manager=mgr-b")
    cm = get(kubectl, ns, "cm", "cfg")
    assert cm["data"] == {"a": "1", "b": "1"}, \
        f"data.x must be removed once no manager applies it: {cm['data']}"


def test_ssa_after_client_side_label(kubectl, ns, tmp_path):
    text = configmap("cfg", {"k": "v"}, labels={"app": "web"})
    ssa_ok(kubectl, tmp_path, ns, text)
    r = kubectl.ok("label", "cm", "cfg", "extra=1", "-n", ns)
    assert r.stdout.strip() == "configmap/cfg labeled", str(r)

    r = ssa_ok(kubectl, tmp_path, ns, text)
    assert r.stdout.strip() == "configmap/cfg serverside-applied", str(r)
    cm = get(kubectl, ns, "cm", "cfg")
    assert cm["metadata"].get("labels") == {"app": "web", "extra": "1"}, \
        f"'kubectl' never applied label extra, so re-applying must keep it: {cm['metadata'].get('labels')}"
    assert cm["data"] == {"k": "v"}, cm

    # Applying the value the label command already set is no conflict; kubectl now owns it too.
    r = ssa(kubectl, tmp_path, ns, configmap("cfg", {"k": "v"}, labels={"app": "web", "extra": "1"}))
    assert r.rc == 0, f"applying the same value as another manager must not conflict:\n{r}"
    cm = get(kubectl, ns, "cm", "cfg")
    assert cm["metadata"].get("labels") == {"app": "web", "extra": "1"}, cm["metadata"]
    labels_owned = set()
    for e in entries(cm, "kubectl"):
        labels_owned |= set((e.get("fieldsV1") or {}).get("f:metadata", {}).get("f:labels", {}))
    assert {"f:app", "f:extra"} <= labels_owned, \
        f"'kubectl' should own both labels it applied: {cm['metadata'].get('managedFields')}"


def test_ssa_deployment_container_image(kubectl, ns, tmp_path):
    r = ssa_ok(kubectl, tmp_path, ns, deployment("web", "busybox:1.36"))
    assert r.stdout.strip() == "deployment.apps/web serverside-applied", str(r)
    r = ssa_ok(kubectl, tmp_path, ns, deployment("web", "busybox:1.37"))
    assert r.stdout.strip() == "deployment.apps/web serverside-applied", str(r)

    d = get(kubectl, ns, "deploy", "web")
    cs = d["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in cs] == [("app", "busybox:1.37")], \
        f"containers merge by name: one container 'app' with the new image expected: {cs}"
    assert d["spec"]["replicas"] == 2, d["spec"]
    mine = entries(d, "kubectl")
    assert len(mine) == 1 and mine[0].get("operation") == "Apply", d["metadata"].get("managedFields")
    assert mine[0].get("apiVersion") == "apps/v1", mine[0]
    containers = mine[0]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert 'k:{"name":"app"}' in containers, \
        f"containers is a list keyed by name; its item is recorded as k:{{\"name\":\"app\"}}: {containers}"
    assert "f:image" in containers['k:{"name":"app"}'], containers


def test_ssa_conflict_with_an_imperative_scale(kubectl, ns, tmp_path):
    """`kubectl scale` (an Update through the scale subresource, manager from the User-Agent:
    "kubectl") takes spec.replicas; re-applying the old replica count then conflicts, as on
    Kubernetes, until --force-conflicts hands the field back."""
    ssa_ok(kubectl, tmp_path, ns, deployment("web", "busybox:1.36", replicas=2))
    kubectl("scale", "deploy", "web", "--replicas=5", "-n", ns)
    d = get(kubectl, ns, "deploy", "web")
    updaters = [e for e in d["metadata"].get("managedFields") or [] if e.get("operation") == "Update"]
    assert any("f:replicas" in (e.get("fieldsV1") or {}).get("f:spec", {}) for e in updaters), \
        f"the scale should own spec.replicas: {d['metadata'].get('managedFields')}"

    r = ssa(kubectl, tmp_path, ns, deployment("web", "busybox:1.36", replicas=2))
    assert r.rc != 0, f"re-applying the old replica count must conflict:\n{r}"
    assert "conflict with" in r.stderr and ".spec.replicas" in r.stderr \
        and "using apps/v1" in r.stderr, r.stderr
    assert get(kubectl, ns, "deploy", "web")["spec"]["replicas"] == 5

    # The same file without a change to replicas' value is fine; forcing takes the field back.
    ssa_ok(kubectl, tmp_path, ns, deployment("web", "busybox:1.36", replicas=5))
    ssa_ok(kubectl, tmp_path, ns, deployment("web", "busybox:1.36", replicas=2), "--force-conflicts")
    d = get(kubectl, ns, "deploy", "web")
    assert d["spec"]["replicas"] == 2, d["spec"]
    updaters = [e for e in d["metadata"].get("managedFields") or [] if e.get("operation") == "Update"]
    assert not any("f:replicas" in (e.get("fieldsV1") or {}).get("f:spec", {}) for e in updaters), \
        f"after --force-conflicts only the applier owns spec.replicas: {d['metadata']['managedFields']}"


def test_ssa_server_dry_run(kubectl, ns, tmp_path):
    r = ssa_ok(kubectl, tmp_path, ns, configmap("cfg", {"k": "v"}), "--dry-run=server")
    assert "configmap/cfg" in r.stdout and "serverside-applied" in r.stdout \
        and "server dry run" in r.stdout, f"kubectl should print the dry-run result:\n{r}"
    r = kubectl.fails("get", "cm", "cfg", "-n", ns)
    assert "NotFound" in r.stderr, f"a server dry run must not create the object:\n{r}"

    # On an existing object too, nothing is persisted.
    ssa_ok(kubectl, tmp_path, ns, configmap("cfg", {"k": "v"}))
    ssa_ok(kubectl, tmp_path, ns, configmap("cfg", {"k": "changed"}), "--dry-run=server")
    assert get(kubectl, ns, "cm", "cfg")["data"] == {"k": "v"}, "a server dry run changed the object"


def test_ssa_reapply_identical_is_noop(kubectl, ns, tmp_path):
    text = configmap("cfg", {"k": "v", "num": "1"}, labels={"app": "web"})
    ssa_ok(kubectl, tmp_path, ns, text)
    before = get(kubectl, ns, "cm", "cfg")
    r = ssa_ok(kubectl, tmp_path, ns, text)
    assert r.stdout.strip() == "configmap/cfg serverside-applied", str(r)
    after = get(kubectl, ns, "cm", "cfg")
    assert after["metadata"]["uid"] == before["metadata"]["uid"], "the object was recreated"
    assert after["data"] == before["data"] == {"k": "v", "num": "1"}, (before["data"], after["data"])
    assert after["metadata"].get("labels") == before["metadata"].get("labels") == {"app": "web"}
    mine = entries(after, "kubectl")
    assert len(mine) == 1 and mine[0].get("operation") == "Apply", \
        f"one Apply entry for 'kubectl' expected after re-applying: {after['metadata'].get('managedFields')}"
    assert [e.get("fieldsV1") for e in entries(before, "kubectl")] == [mine[0].get("fieldsV1")], \
        "the same config should record the same owned fields"
