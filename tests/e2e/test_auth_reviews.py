"""kubectl auth can-i / auth whoami: the review APIs (authorization.k8s.io/v1
SelfSubjectAccessReview and SelfSubjectRulesReview, authentication.k8s.io/v1 SelfSubjectReview).

The answers come from the authorizer (RBAC; the admin is in system:masters and may do all) for
the identity the server authenticated (the client certificate's CN and O), not anything the
client claims. Reviews are answered, never stored."""

import json
import os
import subprocess

import yaml

import harness


def kubeconfig_for(server, tmp_path, user, groups):
    """A kubeconfig whose client certificate (signed by the cluster CA) names `user` and
    `groups`, for the same server as the admin's."""
    tls = os.path.join(server.data_dir, "server", "tls")
    key, csr, crt = (str(tmp_path / f"{user}.{ext}") for ext in ("key", "csr", "crt"))
    subject = "/CN=" + user + "".join("/O=" + g for g in groups)
    subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
                    "-keyout", key, "-out", csr], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(tls, "server-ca.crt"),
                    "-CAkey", os.path.join(tls, "server-ca.key"), "-CAcreateserial", "-days", "1",
                    "-out", crt], check=True, capture_output=True)
    with open(server.kubeconfig) as f:
        cfg = yaml.safe_load(f)
    for u in cfg["users"]:
        u["user"] = {"client-certificate": crt, "client-key": key}
    path = tmp_path / f"{user}-kubeconfig.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return harness.Kubectl(str(path), str(tmp_path / f"cache-{user}"))


def table_rows(stdout):
    names, rows = harness.table(stdout)
    return [dict(zip(names, row)) for row in rows]


def test_can_i_says_yes(kubectl):
    for args in (("create", "pods"), ("delete", "nodes"), ("*", "*"), ("get", "/healthz"),
                 ("list", "secrets", "-n", "kube-system")):
        r = kubectl("auth", "can-i", *args)
        assert r.rc == 0 and r.stdout.strip() == "yes", f"can-i {args}:\n{r}"


def test_can_i_list_shows_every_rule(kubectl):
    rows = table_rows(kubectl.ok("auth", "can-i", "--list").stdout)
    resources = [r for r in rows if r.get("Resources") == "*.*"]
    assert resources and resources[0]["Verbs"] == "[*]", rows
    assert any(r.get("Non-Resource URLs") == "[*]" for r in rows), rows


def test_whoami_is_the_certificates_identity(server, kubectl, tmp_path):
    me = json.loads(kubectl.ok("auth", "whoami", "-o", "json").stdout)
    assert me["kind"] == "SelfSubjectReview" and me["apiVersion"] == "authentication.k8s.io/v1", me
    assert me["status"]["userInfo"]["username"] == "system:admin", me
    assert "system:masters" in me["status"]["userInfo"]["groups"], me

    other = kubeconfig_for(server, tmp_path, "jane", ["dev", "qa"])
    r = other.ok("auth", "whoami")
    rows = {row["ATTRIBUTE"]: row["VALUE"] for row in table_rows(r.stdout)}
    assert rows.get("Username") == "jane", r.stdout
    assert "dev" in rows.get("Groups", "") and "qa" in rows.get("Groups", ""), r.stdout
    # RBAC decides for jane: nothing until her group is bound to a role.
    assert other("auth", "can-i", "create", "deployments").stdout.strip() == "no"
    kubectl.ok("create", "rolebinding", "qa-edit", "--clusterrole=edit", "--group=qa",
               "-n", "default")
    try:
        assert other("auth", "can-i", "create", "deployments").stdout.strip() == "yes"
        assert other("auth", "can-i", "create", "deployments",
                     "-n", "kube-system").stdout.strip() == "no"
    finally:
        kubectl.ok("delete", "rolebinding", "qa-edit", "-n", "default")


def test_review_is_answered_and_not_stored(api):
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"resourceAttributes": {"verb": "get", "resource": "pods",
                                              "namespace": "default"}}}
    status, obj = api.json("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
    assert status == 201, (status, obj)
    assert obj["status"]["allowed"] is True, obj
    assert obj["spec"]["resourceAttributes"]["resource"] == "pods", obj
    assert "uid" not in obj["metadata"] and "resourceVersion" not in obj["metadata"], obj
    # Only create: nothing to list or get.
    status, obj = api.json("GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
    assert status == 405, (status, obj)


def test_review_without_a_question_is_invalid(api):
    for spec in ({}, {"resourceAttributes": {"verb": "get"}, "nonResourceAttributes": {"path": "/x",
                                                                                        "verb": "get"}}):
        status, obj = api.json("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                               {"apiVersion": "authorization.k8s.io/v1",
                                "kind": "SelfSubjectAccessReview", "spec": spec})
        assert status == 422 and obj["reason"] == "Invalid", (spec, status, obj)
        assert "exactly one of nonResourceAttributes or resourceAttributes" in obj["message"], obj
    # Unknown fields are refused under fieldValidation=Strict (kubectl's default).
    status, obj = api.json("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
                                   "?fieldValidation=Strict",
                           {"apiVersion": "authorization.k8s.io/v1",
                            "kind": "SelfSubjectAccessReview",
                            "spec": {"resourceAttributes": {"verb": "get", "bogus": 1}}})
    assert status in (400, 422) and "bogus" in obj["message"], (status, obj)
