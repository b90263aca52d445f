"""The ServiceAccount admission step with the real kubectl: a pod gets its namespace's `default`
account and the kube-api-access-* projected volume mounted in every container; automount can be
turned off on the pod or its account; a pod naming a missing account is refused; a pod created just
after its namespace waits for the `default` account the controller makes.

The server runs without a node agent: these tests only read the pods back.
"""

import re
import uuid

import harness

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
PROJECTED = {
    "defaultMode": 420,
    "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ],
}


def pod_json(kubectl, ns, name):
    return kubectl.json("get", "pod", name, "-n", ns)


def token_volumes(pod):
    return [v for v in pod["spec"].get("volumes", []) if v["name"].startswith("kube-api-access-")]


def token_mounts(container):
    return [m for m in container.get("volumeMounts", []) if m["mountPath"] == MOUNT_PATH]


def wait_default_account(kubectl, ns):
    harness.wait_until(lambda: kubectl("get", "serviceaccount", "default", "-n", ns).rc == 0,
                       timeout=30, what=f"serviceaccount default in {ns}")


def test_kubectl_run_gets_default_account_and_token_volume(kubectl, ns):
    kubectl.ok("run", "web", "--image=busybox", "-n", ns)
    pod = pod_json(kubectl, ns, "web")
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "default"
    assert spec["serviceAccount"] == "default"
    vols = token_volumes(pod)
    assert len(vols) == 1, spec.get("volumes")
    assert re.fullmatch(r"kube-api-access-[a-z0-9]{5}", vols[0]["name"]), vols[0]["name"]
    assert vols[0]["projected"] == PROJECTED
    mounts = token_mounts(spec["containers"][0])
    assert mounts == [{"name": vols[0]["name"], "readOnly": True, "mountPath": MOUNT_PATH}]
    # `kubectl describe` lists the volume as Kubernetes shows it.
    described = kubectl.ok("describe", "pod", "web", "-n", ns).stdout
    assert vols[0]["name"] in described


def test_create_f_mounts_in_init_and_app_containers(kubectl, ns, tmp_path):
    manifest = f"""
apiVersion: v1
kind: Pod
metadata:
  name: two
  namespace: {ns}
spec:
  initContainers:
  - name: init
    image: busybox
  containers:
  - name: a
    image: busybox
  - name: b
    image: busybox
    volumeMounts:
    - name: own
      mountPath: {MOUNT_PATH}
  volumes:
  - name: own
    emptyDir: {{}}
"""
    r = harness.apply_manifest(kubectl, tmp_path, manifest)
    assert r.rc == 0, str(r)
    pod = pod_json(kubectl, ns, "two")
    spec = pod["spec"]
    vols = token_volumes(pod)
    assert len(vols) == 1
    name = vols[0]["name"]
    assert [m["name"] for m in token_mounts(spec["initContainers"][0])] == [name]
    assert [m["name"] for m in token_mounts(spec["containers"][0])] == [name]
    # A container with its own mount at the path keeps it.
    assert [m["name"] for m in token_mounts(spec["containers"][1])] == ["own"]


def test_automount_false_on_pod(kubectl, ns, tmp_path):
    manifest = f"""
apiVersion: v1
kind: Pod
metadata:
  name: quiet
  namespace: {ns}
spec:
  automountServiceAccountToken: false
  containers:
  - name: c
    image: busybox
"""
    r = harness.apply_manifest(kubectl, tmp_path, manifest)
    assert r.rc == 0, str(r)
    pod = pod_json(kubectl, ns, "quiet")
    assert pod["spec"]["serviceAccountName"] == "default"
    assert token_volumes(pod) == []
    assert token_mounts(pod["spec"]["containers"][0]) == []


def test_automount_false_on_account_and_pod_override(kubectl, ns, tmp_path):
    kubectl.ok("create", "serviceaccount", "robot", "-n", ns)
    kubectl.ok("patch", "serviceaccount", "robot", "-n", ns, "-p",
               '{"automountServiceAccountToken": false}')
    manifest = f"""
apiVersion: v1
kind: Pod
metadata:
  name: mount-off
  namespace: {ns}
spec:
  serviceAccountName: robot
  containers:
  - name: c
    image: busybox
---
apiVersion: v1
kind: Pod
metadata:
  name: mount-on
  namespace: {ns}
spec:
  serviceAccountName: robot
  automountServiceAccountToken: true
  containers:
  - name: c
    image: busybox
"""
    r = harness.apply_manifest(kubectl, tmp_path, manifest)
    assert r.rc == 0, str(r)
    off = pod_json(kubectl, ns, "mount-off")
    assert off["spec"]["serviceAccountName"] == "robot"
    assert token_volumes(off) == []
    on = pod_json(kubectl, ns, "mount-on")
    assert len(token_volumes(on)) == 1
    assert len(token_mounts(on["spec"]["containers"][0])) == 1


def test_pod_naming_a_missing_account_is_forbidden(kubectl, ns, tmp_path):
    manifest = f"""
apiVersion: v1
kind: Pod
metadata:
  name: lost
  namespace: {ns}
spec:
  serviceAccountName: ghost
  containers:
  - name: c
    image: busybox
"""
    r = harness.apply_manifest(kubectl, tmp_path, manifest)
    assert r.rc != 0, str(r)
    assert (f'Error from server (Forbidden): error when creating "{tmp_path}/manifest.yaml": '
            f'pods "lost" is forbidden: error looking up service account {ns}/ghost: '
            f'serviceaccount "ghost" not found') in r.stderr, r.stderr
    r = kubectl("run", "lost2", "--image=busybox", "-n", ns,
                '--overrides={"spec":{"serviceAccountName":"ghost"}}')
    assert r.rc != 0, str(r)
    assert (f'Error from server (Forbidden): pods "lost2" is forbidden: error looking up service '
            f'account {ns}/ghost: serviceaccount "ghost" not found') in r.stderr, r.stderr
    assert kubectl("get", "pod", "lost", "-n", ns).rc != 0


def test_run_right_after_creating_the_namespace(kubectl, server):
    name = f"fresh-{uuid.uuid4().hex[:6]}"
    try:
        kubectl.ok("create", "namespace", name)
        kubectl.ok("run", "first", "--image=busybox", "-n", name)
        pod = pod_json(kubectl, name, "first")
        assert pod["spec"]["serviceAccountName"] == "default"
        assert len(token_volumes(pod)) == 1
        wait_default_account(kubectl, name)
    finally:
        server.rest.delete_namespace(name)
