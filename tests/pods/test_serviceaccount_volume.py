"""The service account token volume on a real node: the ServiceAccount admission step gives a pod
the kube-api-access-* projected volume; the node agent fills it (a token from the TokenRequest API
bound to the pod, the cluster CA from the kube-root-ca.crt ConfigMap, the namespace from the
downward API) and mounts it read-only at /var/run/secrets/kubernetes.io/serviceaccount. The token
authenticates against the API server as the pod's service account."""

import base64
import json

import yaml

import cluster as cl
import podutil as pu

MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"

# Prints each file between markers, then whether the mount is writable (no single quotes: the
# script goes into YAML as a quoted string).
SCRIPT = (f"d={MOUNT}; for f in namespace ca.crt token; do echo \"=== $f\"; cat $d/$f; echo; "
          "done; echo \"=== writable\"; "
          "if touch $d/probe 2>/dev/null; then echo yes; else echo no; fi")


def sections(log):
    """{name: text} of the `=== name` sections the script prints."""
    out, name = {}, None
    for line in log.splitlines():
        if line.startswith("=== "):
            name = line[4:].strip()
            out[name] = []
        elif name is not None:
            out[name].append(line)
    return {k: "\n".join(v).strip() for k, v in out.items()}


def claims_of(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def with_token(server, tmp_path, token):
    """kubectl in the node namespace for the same server, authenticating with `token` only."""
    with open(server.kubeconfig) as f:
        cfg = yaml.safe_load(f)
    for u in cfg["users"]:
        u["user"] = {"token": token}
    path = tmp_path / "token-kubeconfig.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return cl.NetnsKubectl(str(path), str(tmp_path / "cache-token"), server.node.path)


def test_pod_reads_its_service_account_files(server, kubectl, api, ns, tmp_path):
    pu.create(kubectl, ns, pu.client_pod("reader", SCRIPT))
    pod = pu.wait_pod(api, ns, "reader", lambda p: pu.phase(p) in ("Succeeded", "Failed"),
                      timeout=90, what="reader finished")
    log = kubectl.ok("logs", "reader", "-n", ns).stdout
    assert pu.phase(pod) == "Succeeded", (pu.dump(pod), log)
    vols = [v for v in pod["spec"]["volumes"] if v["name"].startswith("kube-api-access-")]
    assert len(vols) == 1, pod["spec"]["volumes"]
    got = sections(log)

    assert got["namespace"] == ns, log
    assert got["writable"] == "no", log

    # ca.crt is the cluster CA: the one the admin kubeconfig trusts.
    with open(server.kubeconfig) as f:
        cfg = yaml.safe_load(f)
    ca = base64.b64decode(cfg["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    assert got["ca.crt"] == ca.strip(), log

    # The token: this pod's, bound to it, for the default account.
    token = got["token"]
    c = claims_of(token)
    assert c["sub"] == f"system:serviceaccount:{ns}:default", c
    assert c["kubernetes.io"]["namespace"] == ns, c
    assert c["kubernetes.io"]["pod"] == {"name": "reader", "uid": pod["metadata"]["uid"]}, c

    # It authenticates against the API server as the service account.
    k = with_token(server, tmp_path, token)
    r = k("auth", "whoami", "-o", "json")
    assert r.rc == 0, str(r)
    user = json.loads(r.stdout)["status"]["userInfo"]
    assert user["username"] == f"system:serviceaccount:{ns}:default", user
    assert f"system:serviceaccounts:{ns}" in user["groups"], user
