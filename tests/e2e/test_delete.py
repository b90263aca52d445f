"""kubectl delete: by name, by label, --all, `delete all --all`, and finalizers/grace."""

from harness import apply_manifest, wait_until
import manifests


def pod_names(kubectl, ns):
    return sorted(n.removeprefix("pod/") for n in
                  kubectl.ok("get", "po", "-n", ns, "-o", "name").stdout.split())


def test_delete_pod_by_name(kubectl, api, ns):
    api.create_pod(ns, "web")
    api.create_pod(ns, "keep")
    r = kubectl.ok("delete", "po", "web", "-n", ns)
    assert r.stdout.strip() == 'pod "web" deleted'
    r = kubectl.fails("get", "po", "web", "-n", ns)
    assert 'Error from server (NotFound): pods "web" not found' in r.stderr
    assert pod_names(kubectl, ns) == ["keep"]


def test_delete_pod_not_found(kubectl, ns):
    r = kubectl.fails("delete", "po", "missing", "-n", ns)
    assert 'Error from server (NotFound): pods "missing" not found' in r.stderr, r
    kubectl.ok("delete", "po", "missing", "-n", ns, "--ignore-not-found")


def test_delete_pods_by_label(kubectl, api, ns):
    api.create_pod(ns, "a1", labels={"app": "a"})
    api.create_pod(ns, "a2", labels={"app": "a"})
    api.create_pod(ns, "b1", labels={"app": "b"})
    r = kubectl.ok("delete", "po", "-l", "app=a", "-n", ns)
    assert sorted(r.stdout.splitlines()) == ['pod "a1" deleted', 'pod "a2" deleted']
    assert pod_names(kubectl, ns) == ["b1"]


def test_delete_pods_all(kubectl, api, ns):
    for n in ("x", "y", "z"):
        api.create_pod(ns, n)
    api.create_configmap(ns, "survivor")
    r = kubectl.ok("delete", "po", "--all", "-n", ns)
    assert sorted(r.stdout.splitlines()) == ['pod "x" deleted', 'pod "y" deleted',
                                             'pod "z" deleted']
    assert pod_names(kubectl, ns) == []
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/survivor") is not None


def test_delete_all_all(kubectl, api, ns, tmp_path):
    """`delete all --all` deletes every kind in the `all` category, nothing else."""
    text = "---\n".join([
        manifests.POD.format(name="p"),
        manifests.SERVICE.format(name="s"),
        manifests.DEPLOYMENT.format(name="d", replicas=1, image="nginx:1.25"),
        manifests.REPLICASET.format(name="rs"),
        manifests.CONFIGMAP.format(name="cm"),
    ])
    assert apply_manifest(kubectl, tmp_path, text, "-n", ns).rc == 0
    api.json("POST", f"/api/v1/namespaces/{ns}/secrets",
             {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"}}, expect=(200, 201))
    r = kubectl.ok("delete", "all", "--all", "-n", ns, timeout=120)
    out = r.stdout.splitlines()
    for line in ('pod "p" deleted', 'service "s" deleted', 'deployment.apps "d" deleted',
                 'replicaset.apps "rs" deleted'):
        assert line in out, r.stdout
    r = kubectl("get", "all", "-n", ns, "-o", "name")
    assert r.rc == 0 and r.stdout.strip() == "", str(r)
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/cm") is not None
    assert api.get(f"/api/v1/namespaces/{ns}/secrets/sec") is not None


def test_get_all_lists_category(kubectl, api, ns, tmp_path):
    text = "---\n".join([manifests.POD.format(name="p"), manifests.SERVICE.format(name="s"),
                         manifests.CONFIGMAP.format(name="cm")])
    assert apply_manifest(kubectl, tmp_path, text, "-n", ns).rc == 0
    names = kubectl.ok("get", "all", "-n", ns, "-o", "name").stdout.split()
    assert "pod/p" in names and "service/s" in names
    assert "configmap/cm" not in names


def test_delete_with_finalizer_waits(kubectl, api, ns):
    """An object with a finalizer gets a deletionTimestamp and stays until the finalizer is removed."""
    api.json("POST", f"/api/v1/namespaces/{ns}/configmaps",
             {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "held", "finalizers": ["e2e.sampan.io/hold"]}},
             expect=(200, 201))
    r = kubectl.ok("delete", "cm", "held", "-n", ns, "--wait=false")
    assert r.stdout.strip() == 'configmap "held" deleted'
    cm = api.get(f"/api/v1/namespaces/{ns}/configmaps/held")
    assert cm is not None and cm["metadata"].get("deletionTimestamp"), cm
    # Writes to a terminating object may only remove finalizers; a second delete is harmless.
    kubectl.ok("delete", "cm", "held", "-n", ns, "--wait=false")
    # kubectl's default wait blocks while the finalizer is there.
    r = kubectl("delete", "cm", "held", "-n", ns, "--timeout=3s")
    assert r.rc != 0, str(r)
    kubectl.ok("patch", "cm", "held", "-n", ns, "--type=json", "-p",
               '[{"op":"remove","path":"/metadata/finalizers"}]')
    wait_until(lambda: api.get(f"/api/v1/namespaces/{ns}/configmaps/held") is None, timeout=30,
               what="finalized configmap to disappear")


def test_delete_dry_run(kubectl, api, ns):
    api.create_pod(ns, "web")
    r = kubectl.ok("delete", "po", "web", "-n", ns, "--dry-run=server")
    assert "server dry run" in r.stdout
    assert pod_names(kubectl, ns) == ["web"]


def test_delete_from_file(kubectl, ns, tmp_path):
    path = tmp_path / "cm.yaml"
    path.write_text(manifests.CONFIGMAP.format(name="fromfile"))
    kubectl.ok("create", "-f", str(path), "-n", ns)
    r = kubectl.ok("delete", "-f", str(path), "-n", ns)
    assert r.stdout.strip() == 'configmap "fromfile" deleted'


def test_force_delete(kubectl, api, ns):
    api.create_pod(ns, "web")
    r = kubectl.ok("delete", "po", "web", "-n", ns, "--grace-period=0", "--force")
    assert r.stdout.strip() == 'pod "web" force deleted', r
    assert api.get(f"/api/v1/namespaces/{ns}/pods/web") is None
