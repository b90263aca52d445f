"""RBAC objects (rbac.authorization.k8s.io/v1): Role, ClusterRole, RoleBinding, ClusterRoleBinding
are created, shown, validated and applied as on Kubernetes. (The authorizer does not read them
yet: every authenticated user is allowed.)"""

import harness
from harness import apply_manifest


def rows(stdout):
    names, cells = harness.table(stdout)
    return [dict(zip(names, c)) for c in cells]


def test_create_and_show_roles_and_bindings(kubectl, ns):
    kubectl.ok("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods", "-n", ns)
    kubectl.ok("create", "rolebinding", "read-pods", "--role=pod-reader", "--user=jane",
               "--serviceaccount=" + ns + ":default", "-n", ns)
    r = kubectl.ok("get", "rolebinding", "read-pods", "-n", ns, "-o", "wide")
    (row,) = rows(r.stdout)
    assert row["ROLE"] == "Role/pod-reader", r.stdout
    assert row["USERS"] == "jane" and row["SERVICEACCOUNTS"] == ns + ":default", r.stdout

    role = kubectl.json("get", "role", "pod-reader", "-n", ns)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"],
                              "verbs": ["get", "list", "watch"]}], role
    binding = kubectl.json("get", "rolebinding", "read-pods", "-n", ns)
    # A user's API group is defaulted from its kind; a service account has none.
    assert {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "jane"} \
        in binding["subjects"], binding
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": "pod-reader"}, binding

    d = kubectl.ok("describe", "role", "pod-reader", "-n", ns).stdout
    assert "PolicyRule:" in d and "pods" in d and "[get list watch]" in d, d


def test_cluster_scoped_rbac(kubectl):
    kubectl.ok("create", "clusterrole", "e2e-health", "--verb=get", "--non-resource-url=/healthz")
    kubectl.ok("create", "clusterrolebinding", "e2e-devs", "--clusterrole=cluster-admin",
               "--group=devs", "--serviceaccount=kube-system:robot")
    try:
        (row,) = rows(kubectl.ok("get", "clusterrolebinding", "e2e-devs", "-o", "wide").stdout)
        assert row["ROLE"] == "ClusterRole/cluster-admin" and row["GROUPS"] == "devs", row
        assert row["SERVICEACCOUNTS"] == "kube-system:robot", row
        cr = kubectl.json("get", "clusterrole", "e2e-health")
        assert cr["rules"] == [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}], cr
        names = kubectl.ok("get", "clusterroles", "-o", "name").stdout.split()
        assert "clusterrole.rbac.authorization.k8s.io/e2e-health" in names, names
    finally:
        kubectl("delete", "clusterrole", "e2e-health")
        kubectl("delete", "clusterrolebinding", "e2e-devs")


def test_invalid_rules_and_bindings_are_refused(kubectl, ns, tmp_path):
    r = apply_manifest(kubectl, tmp_path, """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: bad}
rules:
- verbs: []
  resources: [pods]
- verbs: [get]
  nonResourceURLs: [/metrics]
""", "-n", ns)
    assert r.rc != 0, r
    assert "rules[0].verbs: Required value" in r.stderr, r.stderr
    assert "rules[0].apiGroups: Required value" in r.stderr, r.stderr
    assert "rules[1].nonResourceURLs: Invalid value" in r.stderr \
        and "namespaced rules cannot apply to non-resource URLs" in r.stderr, r.stderr

    r = apply_manifest(kubectl, tmp_path, """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-bad}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: x}
subjects:
- {kind: ServiceAccount, name: s}
- {kind: Robot, name: r}
""", name="crb.yaml")
    assert r.rc != 0, r
    assert 'roleRef.kind: Unsupported value: "Role"' in r.stderr, r.stderr
    assert "subjects[0].namespace: Required value" in r.stderr, r.stderr
    assert 'subjects[1].kind: Unsupported value: "Robot"' in r.stderr, r.stderr
    assert kubectl("get", "clusterrolebinding", "e2e-bad").rc != 0


def test_role_ref_cannot_change(kubectl, ns):
    kubectl.ok("create", "rolebinding", "rb", "--clusterrole=view", "--group=qa", "-n", ns)
    r = kubectl("patch", "rolebinding", "rb", "-n", ns, "--type=merge",
                "-p", '{"roleRef":{"name":"edit"}}')
    assert r.rc != 0 and "cannot change roleRef" in r.stderr, r
    # The subjects may change.
    kubectl.ok("patch", "rolebinding", "rb", "-n", ns, "--type=merge",
               "-p", '{"subjects":[{"kind":"Group","name":"ops","apiGroup":"rbac.authorization.k8s.io"}]}')
    assert kubectl.json("get", "rolebinding", "rb", "-n", ns)["subjects"][0]["name"] == "ops"


def test_apply_a_typical_chart(kubectl, ns, tmp_path):
    """The RBAC part of most charts: a service account, a role and its binding, applied twice."""
    text = f"""
apiVersion: v1
kind: ServiceAccount
metadata: {{name: app}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: app}}
rules:
- apiGroups: [""]
  resources: [configmaps, secrets]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: app}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: app}}
subjects:
- {{kind: ServiceAccount, name: app, namespace: {ns}}}
"""
    r = apply_manifest(kubectl, tmp_path, text, "-n", ns, verb="apply")
    assert r.rc == 0, r
    assert "role.rbac.authorization.k8s.io/app created" in r.stdout, r.stdout
    assert "rolebinding.rbac.authorization.k8s.io/app created" in r.stdout, r.stdout
    r = apply_manifest(kubectl, tmp_path, text.replace("watch]", "watch, update]"), "-n", ns,
                       verb="apply")
    assert r.rc == 0 and "role.rbac.authorization.k8s.io/app configured" in r.stdout, r
    assert kubectl.json("get", "role", "app", "-n", ns)["rules"][0]["verbs"] == \
        ["get", "list", "watch", "update"]
    kubectl.ok("delete", "-f", str(tmp_path / "manifest.yaml"), "-n", ns)
    assert kubectl("get", "rolebinding", "app", "-n", ns).rc != 0
