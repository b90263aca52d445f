"""Authentication: requests without a valid client certificate are rejected with 401."""

import http.client
import json
import os
import ssl
import subprocess

import yaml

import harness


def raw_get(rest, path, cert=None, key=None, token=None):
    ctx = ssl.create_default_context(cafile=rest.ca_file)
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(cert, key)
    conn = http.client.HTTPSConnection(rest.host, rest.port, context=ctx, timeout=15)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


def test_no_client_cert_is_401(api):
    status, body = raw_get(api, "/api/v1/namespaces")
    assert status == 401, (status, body)
    obj = json.loads(body)
    assert obj["kind"] == "Status" and obj["reason"] == "Unauthorized" and obj["code"] == 401, obj


def test_no_client_cert_cannot_write(api):
    anon = api.without_client_cert()
    status, obj = anon.json("POST", "/api/v1/namespaces/default/configmaps",
                            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "anon"}})
    assert status == 401, (status, obj)
    assert api.get("/api/v1/namespaces/default/configmaps/anon") is None


def test_bogus_bearer_token_is_401(api):
    status, body = raw_get(api, "/api/v1/namespaces", token="not-a-real-token")
    assert status == 401, (status, body)


def test_foreign_client_cert_rejected(api, tmp_path):
    """A certificate signed by another CA must not authenticate (TLS failure or 401 are both fine)."""
    key, crt = tmp_path / "evil.key", tmp_path / "evil.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=admin/O=system:masters", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True)
    try:
        status, body = raw_get(api, "/api/v1/namespaces", cert=str(crt), key=str(key))
    except (ssl.SSLError, ConnectionError, OSError):
        return
    assert status == 401, (status, body)


def test_kubectl_with_bad_credentials(server, tmp_path):
    with open(server.kubeconfig) as f:
        cfg = yaml.safe_load(f)
    for u in cfg["users"]:
        u["user"] = {"token": "not-a-valid-token"}  # an empty user would make kubectl prompt
    path = tmp_path / "anon-kubeconfig.yaml"
    path.write_text(yaml.safe_dump(cfg))
    k = harness.Kubectl(str(path), str(tmp_path / "cache"))
    r = k("get", "pods")
    assert r.rc != 0
    # Kubernetes gives the same answer; kubectl words it "(Unauthorized)" or, when discovery fails
    # first, "(the server has asked for the client to provide credentials)".
    assert "error: You must be logged in to the server (" in r.stderr, r


def test_kubeconfig_works_and_is_private(server, kubectl):
    r = kubectl.ok("get", "--raw", "/api/v1/namespaces/default")
    assert json.loads(r.stdout)["metadata"]["name"] == "default"
    mode = os.stat(server.kubeconfig).st_mode & 0o777
    assert mode & 0o077 == 0, f"kubeconfig holds an admin key but has mode {oct(mode)}"


def test_plain_http_not_served(api):
    """The HTTPS port must not answer plain HTTP requests with data."""
    conn = http.client.HTTPConnection(api.host, api.port, timeout=10)
    try:
        conn.request("GET", "/api/v1/namespaces")
        resp = conn.getresponse()
        assert resp.status >= 400, resp.status
        assert b'"items"' not in resp.read()
    except (ConnectionError, OSError, http.client.HTTPException):
        pass
    finally:
        conn.close()


def test_health_endpoints(kubectl):
    for path in ("/healthz", "/livez", "/readyz"):
        r = kubectl.ok("get", "--raw", path)
        assert r.stdout.strip() == "ok", (path, r.stdout)


def test_version(kubectl):
    v = json.loads(kubectl.ok("get", "--raw", "/version").stdout)
    assert v["major"] == "1" and v["minor"].rstrip("+") == "32", v
    assert v["gitVersion"].startswith("v1.32"), v
