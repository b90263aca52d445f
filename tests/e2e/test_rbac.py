"""RBAC with the real kubectl: the bootstrap roles, Roles and bindings deciding what a user may
do, Kubernetes' Forbidden messages, impersonation (--as), service account tokens as users,
`kubectl auth can-i` and escalation prevention.

The test's kubeconfig is the admin's (system:masters, allowed everything); the other users are
reached by impersonation, which the admin may do, or with a service account token.
"""

import json
import ssl
import subprocess
import urllib.request

import yaml

import harness


def forbidden(r, message):
    assert r.rc not in (0, 124), str(r)
    assert f"Error from server (Forbidden): {message}" in r.stderr, r.stderr


def test_bootstrap_roles_and_bindings_exist(kubectl):
    names = kubectl("get", "clusterroles", "-o", "name").stdout.split()
    for role in ("cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery",
                 "system:public-info-viewer", "system:node", "system:aggregate-to-view"):
        assert f"clusterrole.rbac.authorization.k8s.io/{role}" in names, names
    crb = kubectl.json("get", "clusterrolebinding", "cluster-admin")
    assert crb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                              "name": "cluster-admin"}
    assert {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
            "name": "system:masters"} in crb["subjects"]
    # The aggregated roles carry the rules of the roles that aggregate into them.
    view = kubectl.json("get", "clusterrole", "view")
    assert view["aggregationRule"]["clusterRoleSelectors"]
    assert any("pods" in r.get("resources", []) for r in view["rules"]), view["rules"]
    assert kubectl.ok("auth", "can-i", "create", "pods", "--as", "nobody",
                      "--as-group", "system:masters").stdout.strip() == "yes"


def test_a_user_without_grants_is_forbidden_with_kubernetes_messages(kubectl, ns):
    forbidden(kubectl("get", "pods", "-n", ns, "--as", "alice"),
              f'pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
              f'in the namespace "{ns}"')
    forbidden(kubectl("get", "deployment", "web", "-n", ns, "--as", "alice"),
              f'deployments.apps "web" is forbidden: User "alice" cannot get resource '
              f'"deployments" in API group "apps" in the namespace "{ns}"')
    forbidden(kubectl("get", "nodes", "--as", "alice"),
              'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at '
              'the cluster scope')
    r = kubectl("auth", "can-i", "list", "pods", "-n", ns, "--as", "alice")
    assert r.rc == 1 and r.stdout.strip() == "no", str(r)
    # Every authenticated user may ask what they may do and who they are.
    who = yaml.safe_load(kubectl.ok("auth", "whoami", "--as", "alice", "--as-group", "devs",
                                    "-o", "yaml").stdout)
    assert who["status"]["userInfo"]["username"] == "alice"
    assert who["status"]["userInfo"]["groups"] == ["devs", "system:authenticated"]


def test_a_role_binding_grants_in_its_namespace(kubectl, ns):
    kubectl.ok("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods",
               "-n", ns)
    kubectl.ok("create", "rolebinding", "alice-reads", "--role=pod-reader", "--user=alice",
               "-n", ns)
    kubectl.ok("run", "p", "--image=busybox", "-n", ns)
    out = kubectl.ok("get", "pods", "-n", ns, "--as", "alice", "-o", "name").stdout
    assert out.split() == ["pod/p"]
    assert kubectl.ok("auth", "can-i", "watch", "pods", "-n", ns,
                      "--as", "alice").stdout.strip() == "yes"
    forbidden(kubectl("delete", "pod", "p", "-n", ns, "--as", "alice"),
              f'pods "p" is forbidden: User "alice" cannot delete resource "pods" in API group '
              f'"" in the namespace "{ns}"')
    forbidden(kubectl("logs", "p", "-n", ns, "--as", "alice"),
              f'pods "p" is forbidden: User "alice" cannot get resource "pods/log" in API group '
              f'"" in the namespace "{ns}"')
    forbidden(kubectl("get", "pods", "-n", "default", "--as", "alice"),
              'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in '
              'the namespace "default"')
    # A group in the binding: alice through it, bob not.
    kubectl.ok("create", "rolebinding", "devs-read", "--role=pod-reader", "--group=devs",
               "-n", ns)
    kubectl.ok("get", "pods", "-n", ns, "--as", "carol", "--as-group", "devs")
    forbidden(kubectl("get", "pods", "-n", ns, "--as", "bob"),
              f'pods is forbidden: User "bob" cannot list resource "pods"')
    # The binding goes, and so does the grant, at once.
    kubectl.ok("delete", "rolebinding", "alice-reads", "-n", ns)
    forbidden(kubectl("get", "pods", "-n", ns, "--as", "alice"),
              f'pods is forbidden: User "alice" cannot list resource "pods"')
    rules = kubectl.ok("auth", "can-i", "--list", "-n", ns, "--as", "carol", "--as-group",
                       "devs").stdout
    assert any(line.split()[:1] == ["pods"] and "[get list watch]" in line
               for line in rules.splitlines()), rules


def test_the_aggregated_view_role_reads_but_not_secrets(kubectl, ns):
    kubectl.ok("create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice",
               "-n", ns)
    kubectl.ok("create", "configmap", "c", "--from-literal=k=v", "-n", ns)
    kubectl.ok("create", "secret", "generic", "s", "--from-literal=k=v", "-n", ns)
    kubectl.ok("get", "configmaps,deployments,services,jobs", "-n", ns, "--as", "alice")
    forbidden(kubectl("get", "secret", "s", "-n", ns, "--as", "alice"),
              f'secrets "s" is forbidden: User "alice" cannot get resource "secrets" in API '
              f'group "" in the namespace "{ns}"')
    forbidden(kubectl("delete", "configmap", "c", "-n", ns, "--as", "alice"),
              f'configmaps "c" is forbidden: User "alice" cannot delete resource "configmaps"')
    # A new role labelled to aggregate into view extends it.
    kubectl.ok("apply", "-f", "-", input=f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: e2e-view-secrets-{ns}
  labels: {{rbac.authorization.k8s.io/aggregate-to-view: "true"}}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
""")
    harness.wait_until(
        lambda: kubectl("get", "secret", "s", "-n", ns, "--as", "alice").rc == 0, timeout=20)
    kubectl.ok("delete", "clusterrole", f"e2e-view-secrets-{ns}")
    harness.wait_until(
        lambda: kubectl("get", "secret", "s", "-n", ns, "--as", "alice").rc != 0, timeout=20)


def test_nobody_grants_permissions_they_do_not_hold(kubectl, ns):
    # alice may manage roles and bindings in the namespace, and read pods; nothing more (`*`
    # would include the escalate and bind verbs).
    kubectl.ok("create", "role", "rbac-manager", "-n", ns,
               "--verb=get,list,create,update,patch,delete",
               "--resource=roles.rbac.authorization.k8s.io",
               "--resource=rolebindings.rbac.authorization.k8s.io")
    kubectl.ok("create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", ns)
    kubectl.ok("create", "rolebinding", "alice-rbac", "--role=rbac-manager", "--user=alice",
               "-n", ns)
    kubectl.ok("create", "rolebinding", "alice-pods", "--role=pod-reader", "--user=alice",
               "-n", ns)
    # Within what she holds: fine.
    kubectl.ok("create", "role", "pod-getter", "--verb=get", "--resource=pods", "-n", ns,
               "--as", "alice")
    kubectl.ok("create", "rolebinding", "bob-gets", "--role=pod-getter", "--user=bob", "-n", ns,
               "--as", "alice")
    # Beyond it: refused, naming what is missing.
    r = kubectl("create", "role", "pod-deleter", "--verb=get,delete", "--resource=pods",
                "-n", ns, "--as", "alice")
    forbidden(r, 'roles.rbac.authorization.k8s.io "pod-deleter" is forbidden: user "alice" '
                 '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not '
                 'currently held:')
    assert '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}' in r.stderr, r.stderr
    r = kubectl("create", "rolebinding", "bob-admin", "--clusterrole=admin", "--user=bob",
                "-n", ns, "--as", "alice")
    # (kubectl create rolebinding words its errors its own way)
    assert r.rc == 1 and ('error: failed to create rolebinding: rolebindings.rbac.authorization'
                          '.k8s.io "bob-admin" is forbidden: user "alice"') in r.stderr, str(r)
    # Editing a role she made to grant more is refused too.
    r = kubectl("patch", "role", "pod-getter", "-n", ns, "--as", "alice", "--type=json", "-p",
                '[{"op":"add","path":"/rules/0/verbs/-","value":"delete"}]')
    forbidden(r, 'roles.rbac.authorization.k8s.io "pod-getter" is forbidden: user "alice"')
    assert kubectl.json("get", "role", "pod-getter", "-n", ns)["rules"][0]["verbs"] == ["get"]


def write_token_kubeconfig(server, path, token):
    admin = yaml.safe_load(open(server.kubeconfig))
    cluster = admin["clusters"][0]["cluster"]
    cfg = {"apiVersion": "v1", "kind": "Config",
           "clusters": [{"name": "c", "cluster": cluster}],
           "users": [{"name": "u", "user": {"token": token}}],
           "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
           "current-context": "x"}
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)


def test_a_service_account_token_is_its_account(kubectl, server, ns, tmp_path):
    kubectl.ok("create", "serviceaccount", "robot", "-n", ns)
    token = kubectl.ok("create", "token", "robot", "-n", ns).stdout.strip()
    cfg = str(tmp_path / "robot.yaml")
    write_token_kubeconfig(server, cfg, token)
    robot = harness.Kubectl(cfg, str(tmp_path / "cache"))
    who = yaml.safe_load(robot.ok("auth", "whoami", "-o", "yaml").stdout)["status"]["userInfo"]
    assert who["username"] == f"system:serviceaccount:{ns}:robot"
    assert set(who["groups"]) == {"system:serviceaccounts", f"system:serviceaccounts:{ns}",
                                  "system:authenticated"}
    forbidden(robot("get", "configmaps", "-n", ns),
              f'configmaps is forbidden: User "system:serviceaccount:{ns}:robot" cannot list '
              f'resource "configmaps" in API group "" in the namespace "{ns}"')
    # It may not impersonate anyone.
    forbidden(robot("get", "configmaps", "-n", ns, "--as", "system:admin"),
              'users "system:admin" is forbidden: User "system:serviceaccount:'
              f'{ns}:robot" cannot impersonate resource "users" in API group "" at the cluster '
              'scope')
    # Bound by its ServiceAccount subject, it may.
    kubectl.ok("create", "rolebinding", "robot-edit", "--clusterrole=edit",
               f"--serviceaccount={ns}:robot", "-n", ns)
    robot.ok("create", "configmap", "made-by-robot", "-n", ns)
    robot.ok("get", "configmaps", "-n", ns)
    # Impersonating the account gives the same answers, groups included.
    assert kubectl.ok("auth", "can-i", "create", "configmaps", "-n", ns, "--as",
                      f"system:serviceaccount:{ns}:robot").stdout.strip() == "yes"
    # Discovery is open to every authenticated user (system:discovery), health to everyone.
    robot.ok("api-resources")
    ctx = ssl.create_default_context(cafile=server.rest.ca_file)
    with urllib.request.urlopen(f"https://127.0.0.1:{server.rest.port}/version", context=ctx,
                                timeout=30) as reply:
        assert json.load(reply)["gitVersion"]


def test_authorization_mode_flag(tmp_path):
    r = subprocess.run([harness.sampan_bin(), "server", "--authorization-mode", "Webhook",
                        "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "--authorization-mode: unsupported mode \"Webhook\"" in r.stderr, r.stderr


def review_path(manifest, ns=None):
    group, version = manifest["apiVersion"].split("/")
    plural = manifest["kind"].lower() + "s"
    where = f"/namespaces/{ns}" if ns else ""
    return f"/apis/{group}/{version}{where}/{plural}"


def create_json(kubectl, manifest, ns=None, k=None):
    """POSTs a review with `kubectl create --raw`. (`kubectl create -f` of a kind without PATCH
    asks the server for its CRDs to decide how to validate; sampan has no CRD API yet.)"""
    return json.loads((k or kubectl).ok("create", "--raw", review_path(manifest, ns), "-f", "-",
                                        input=json.dumps(manifest)).stdout)


def test_delegated_reviews_subject_access_and_token(kubectl, server, ns, tmp_path):
    """SubjectAccessReview, LocalSubjectAccessReview and TokenReview: what other components
    (webhooks, proxies in front of their own APIs) ask the API server on a user's behalf."""
    kubectl.ok("create", "role", "cm-reader", "--verb=get", "--resource=configmaps", "-n", ns)
    kubectl.ok("create", "rolebinding", "alice-cm", "--role=cm-reader", "--user=alice", "-n", ns)

    def sar(user, groups, attrs, kind="SubjectAccessReview", ns=None):
        spec = {"user": user, "groups": groups}
        spec["resourceAttributes" if "resource" in attrs else "nonResourceAttributes"] = attrs
        return create_json(kubectl, {"apiVersion": "authorization.k8s.io/v1", "kind": kind,
                                     "spec": spec}, ns)["status"]

    st = sar("alice", [], {"verb": "get", "resource": "configmaps", "namespace": ns})
    assert st["allowed"] is True, st
    assert st["reason"] == 'RBAC: allowed by RoleBinding "alice-cm" of Role "cm-reader"', st
    assert sar("alice", [], {"verb": "delete", "resource": "configmaps",
                             "namespace": ns})["allowed"] is False
    assert sar("bob", ["system:masters"], {"verb": "delete", "resource": "nodes"})["allowed"]
    assert sar("bob", ["system:authenticated"], {"verb": "get", "path": "/version"})["allowed"]
    # The namespaced form takes its namespace from the URL.
    st = sar("alice", [], {"verb": "get", "resource": "configmaps"},
             "LocalSubjectAccessReview", ns)
    assert st["allowed"] is True, st
    nobody = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}}
    r = kubectl("create", "--raw", review_path(nobody), "-f", "-", input=json.dumps(nobody))
    assert r.rc != 0 and "at least one of user or group must be specified" in r.stderr, str(r)

    # TokenReview: a service account token is that account; anything else is not.
    kubectl.ok("create", "serviceaccount", "checked", "-n", ns)
    token = kubectl.ok("create", "token", "checked", "-n", ns).stdout.strip()
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
              "spec": {"token": token}}
    st = create_json(kubectl, review)["status"]
    assert st["authenticated"] is True, st
    sa = kubectl.json("get", "serviceaccount", "checked", "-n", ns)
    assert st["user"]["username"] == f"system:serviceaccount:{ns}:checked", st
    assert st["user"]["uid"] == sa["metadata"]["uid"], st
    assert set(st["user"]["groups"]) == {"system:serviceaccounts", f"system:serviceaccounts:{ns}",
                                         "system:authenticated"}, st
    assert st["audiences"] == ["https://kubernetes.default.svc.cluster.local"], st
    # A token for another audience is valid only when that audience is asked for.
    vault = kubectl.ok("create", "token", "checked", "-n", ns, "--audience=vault").stdout.strip()
    st = create_json(kubectl, {**review, "spec": {"token": vault}})["status"]
    assert not st.get("authenticated") and st["error"], st
    st = create_json(kubectl, {**review, "spec": {"token": vault, "audiences": ["vault"]}})
    assert st["status"]["authenticated"] is True and st["status"]["audiences"] == ["vault"], st
    st = create_json(kubectl, {**review, "spec": {"token": token + "x"}})["status"]
    assert not st.get("authenticated") and st["error"], st

    # Asking needs the right: system:auth-delegator grants both reviews.
    cfg = str(tmp_path / "checked.yaml")
    write_token_kubeconfig(server, cfg, token)
    checked = harness.Kubectl(cfg, str(tmp_path / "cache"))
    r = checked("create", "--raw", review_path(review), "-f", "-", input=json.dumps(review))
    assert r.rc != 0 and ('tokenreviews.authentication.k8s.io is forbidden: User "system:'
                          f'serviceaccount:{ns}:checked" cannot create resource "tokenreviews" in '
                          'API group "authentication.k8s.io" at the cluster scope') in r.stderr, r
    kubectl.ok("create", "clusterrolebinding", f"delegator-{ns}", "--clusterrole=system:auth-delegator",
               f"--serviceaccount={ns}:checked")
    try:
        assert create_json(kubectl, review, k=checked)["status"]["authenticated"]
    finally:
        kubectl.ok("delete", "clusterrolebinding", f"delegator-{ns}")
