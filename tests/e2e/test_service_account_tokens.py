"""Service account tokens: `kubectl create token` (the TokenRequest API) issues a signed JWT in
Kubernetes' form, and the API server accepts it as a bearer token while the service account (and
the object the token is bound to) still exists."""

import base64
import json
import time

import yaml
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import harness


def claims_of(token):
    parts = token.split(".")
    assert len(parts) == 3, token
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


def with_token(server, tmp_path, token, name="tok"):
    """kubectl for the same server, authenticating with `token` only."""
    with open(server.kubeconfig) as f:
        cfg = yaml.safe_load(f)
    for u in cfg["users"]:
        u["user"] = {"token": token}
    path = tmp_path / f"{name}-kubeconfig.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return harness.Kubectl(str(path), str(tmp_path / f"cache-{name}"))


def whoami(k):
    r = k("auth", "whoami", "-o", "json")
    if r.rc != 0:
        return None, r
    return json.loads(r.stdout)["status"]["userInfo"], r


def test_token_is_a_kubernetes_style_jwt(kubectl, ns):
    before = int(time.time())
    token = kubectl.ok("create", "token", "default", "-n", ns).stdout.strip()
    c = claims_of(token)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "RS256" and header.get("kid"), header
    assert c["iss"] == "https://kubernetes.default.svc.cluster.local", c
    assert c["aud"] == ["https://kubernetes.default.svc.cluster.local"], c
    assert c["sub"] == f"system:serviceaccount:{ns}:default", c
    sa = kubectl.json("get", "sa", "default", "-n", ns)
    assert c["kubernetes.io"] == {"namespace": ns, "serviceaccount": {
        "name": "default", "uid": sa["metadata"]["uid"]}}, c
    assert before - 5 <= c["iat"] <= int(time.time()) + 5, c
    assert c["exp"] - c["iat"] == 3600, c  # the default lifetime

    c2 = claims_of(kubectl.ok("create", "token", "default", "-n", ns, "--duration=2h").stdout.strip())
    assert c2["exp"] - c2["iat"] == 7200, c2


def test_token_authenticates_as_the_service_account(server, kubectl, ns, tmp_path):
    token = kubectl.ok("create", "token", "default", "-n", ns).stdout.strip()
    k = with_token(server, tmp_path, token)
    user, r = whoami(k)
    assert user is not None, r
    assert user["username"] == f"system:serviceaccount:{ns}:default", user
    assert "system:serviceaccounts" in user["groups"], user
    assert f"system:serviceaccounts:{ns}" in user["groups"], user
    assert user["groups"].count("system:authenticated") == 1, user
    # Authenticated, and then authorized by RBAC like anyone: nothing until a binding grants it.
    r = k("get", "pods", "-n", ns)
    assert r.rc != 0 and (f'User "system:serviceaccount:{ns}:default" cannot list resource '
                          f'"pods"') in r.stderr, r
    kubectl.ok("create", "rolebinding", "default-view", "--clusterrole=view",
               f"--serviceaccount={ns}:default", "-n", ns)
    k.ok("get", "pods", "-n", ns)


def test_bad_requests(kubectl, ns):
    r = kubectl("create", "token", "default", "-n", ns, "--duration=5m")
    assert r.rc != 0 and "may not specify a duration less than 10 minutes" in r.stderr, r
    r = kubectl("create", "token", "nosuch", "-n", ns)
    assert r.rc != 0 and 'serviceaccounts "nosuch" not found' in r.stderr, r
    r = kubectl("create", "token", "default", "-n", ns, "--bound-object-kind=Pod",
                "--bound-object-name=p1")
    assert r.rc != 0 and 'pods "p1" not found' in r.stderr, r


def test_token_dies_with_its_service_account(server, kubectl, ns, tmp_path):
    kubectl.ok("create", "serviceaccount", "robot", "-n", ns)
    token = kubectl.ok("create", "token", "robot", "-n", ns).stdout.strip()
    k = with_token(server, tmp_path, token, "robot")
    assert whoami(k)[0] is not None
    kubectl.ok("delete", "serviceaccount", "robot", "-n", ns)
    user, r = whoami(k)
    assert user is None and "You must be logged in to the server" in r.stderr, r
    # A new account of the same name is another account: the old token stays dead.
    kubectl.ok("create", "serviceaccount", "robot", "-n", ns)
    assert whoami(k)[0] is None


def test_bound_token_dies_with_its_object(server, kubectl, ns, tmp_path):
    kubectl.ok("create", "secret", "generic", "anchor", "--from-literal=k=v", "-n", ns)
    token = kubectl.ok("create", "token", "default", "-n", ns, "--bound-object-kind=Secret",
                       "--bound-object-name=anchor").stdout.strip()
    secret = kubectl.json("get", "secret", "anchor", "-n", ns)
    assert claims_of(token)["kubernetes.io"]["secret"] == {
        "name": "anchor", "uid": secret["metadata"]["uid"]}
    k = with_token(server, tmp_path, token, "bound")
    assert whoami(k)[0] is not None
    kubectl.ok("delete", "secret", "anchor", "-n", ns)
    assert whoami(k)[0] is None


def test_forged_or_foreign_tokens_are_refused(server, kubectl, ns, tmp_path):
    token = kubectl.ok("create", "token", "default", "-n", ns).stdout.strip()
    header, payload, sig = token.split(".")
    # The same claims made to say another account: the signature no longer matches.
    c = claims_of(token)
    c["sub"] = f"system:serviceaccount:{ns}:admin"
    forged_payload = base64.urlsafe_b64encode(json.dumps(c).encode()).decode().rstrip("=")
    for bad in (f"{header}.{forged_payload}.{sig}", f"{header}.{payload}.", token + "x",
                "e30." + payload + "." + sig):  # e30 = {} : no algorithm
        user, r = whoami(with_token(server, tmp_path, bad, "forged"))
        assert user is None and "You must be logged in" in r.stderr, (bad, r)
    # A token for another audience is not for the API server.
    other = kubectl.ok("create", "token", "default", "-n", ns, "--audience=vault").stdout.strip()
    assert claims_of(other)["aud"] == ["vault"]
    assert whoami(with_token(server, tmp_path, other, "vault"))[0] is None


def test_issuer_discovery_verifies_the_tokens(kubectl, ns):
    """/.well-known/openid-configuration and /openid/v1/jwks: the public key that verifies the
    tokens, as other systems fetch it."""
    config = json.loads(kubectl.ok("get", "--raw", "/.well-known/openid-configuration").stdout)
    assert config["issuer"] == "https://kubernetes.default.svc.cluster.local", config
    assert config["jwks_uri"].endswith("/openid/v1/jwks"), config
    assert config["id_token_signing_alg_values_supported"] == ["RS256"], config
    jwks = json.loads(kubectl.ok("get", "--raw", "/openid/v1/jwks").stdout)
    token = kubectl.ok("create", "token", "default", "-n", ns).stdout.strip()
    header_b64, payload_b64, sig_b64 = token.split(".")
    kid = json.loads(base64.urlsafe_b64decode(header_b64 + "=="))["kid"]
    (key,) = [k for k in jwks["keys"] if k["kid"] == kid]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig", key

    def number(b64):
        return int.from_bytes(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)), "big")

    public = rsa.RSAPublicNumbers(number(key["e"]), number(key["n"])).public_key()
    signature = base64.urlsafe_b64decode(sig_b64 + "=" * (-len(sig_b64) % 4))
    # Raises InvalidSignature when the key does not verify the token.
    public.verify(signature, f"{header_b64}.{payload_b64}".encode(), padding.PKCS1v15(),
                  hashes.SHA256())
