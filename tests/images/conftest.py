"""Fixtures for the image tests: the sampan binary, the test images, and real Debian
`docker-registry` servers on 127.0.0.1 (plain, htpasswd basic auth, bearer token auth)."""
import base64
import crypt
import datetime
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def sampan():
    path = os.environ.get("SAMPAN_BIN") or os.path.join(REPO, "build-images", "sampan")
    if not os.path.exists(path):
        path = os.path.join(REPO, "build", "sampan")
    assert os.path.exists(path), "build sampan first (SAMPAN_BIN=...)"
    return path


@pytest.fixture(scope="session")
def test_images(tmp_path_factory):
    out = tmp_path_factory.mktemp("test-images")
    subprocess.run([os.path.join(REPO, "scripts", "build-test-images.sh"), str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    return out


class Registry:
    def __init__(self, root, auth=None, token=None):
        self.port = free_port()
        self.root = os.path.join(root, "registry-%d" % self.port)
        os.makedirs(self.root)
        self.addr = "127.0.0.1:%d" % self.port
        self.storage = os.path.join(root, "storage")
        cfg = ["version: 0.1", "log:", "  level: error", "storage:", "  filesystem:",
               "    rootdirectory: " + self.storage, "  delete:", "    enabled: true",
               "http:", "  addr: " + self.addr]
        if auth:
            cfg += ["auth:", "  htpasswd:", "    realm: sampan-test", "    path: " + auth]
        if token:
            cfg += ["auth:", "  token:", "    realm: " + token["realm"],
                    "    service: " + token["service"], "    issuer: " + token["issuer"],
                    "    rootcertbundle: " + token["cert"]]
        path = os.path.join(root, "config.yml")
        with open(path, "w") as f:
            f.write("\n".join(cfg) + "\n")
        self.proc = subprocess.Popen(["docker-registry", "serve", path],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("docker-registry did not start")

    def push(self, archive, ref_name, dest, creds=None):
        cmd = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
               "oci-archive:%s:%s" % (archive, ref_name), "docker://%s/%s" % (self.addr, dest)]
        if creds:
            cmd.insert(2, "--dest-creds=" + creds)
        subprocess.run(cmd, check=True, env=dict(os.environ, HOME=self.root))

    def blob_path(self, digest):
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.storage, "docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def registry(tmp_path):
    r = Registry(str(tmp_path))
    yield r
    r.stop()


@pytest.fixture
def auth_registry(tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("alice:" + crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH)) + "\n")
    r = Registry(str(tmp_path), auth=str(htpasswd))
    yield r
    r.stop()


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """A minimal Docker token service: checks Basic credentials and issues ES256 JWTs that
    the registry verifies against a self-signed certificate (sent in the x5c header)."""

    def __init__(self, root, user, password):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sampan-token-test")])
        now = datetime.datetime.utcnow()
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(1)
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .sign(self.key, hashes.SHA256()))
        self.cert_path = os.path.join(root, "token.crt")
        with open(self.cert_path, "wb") as f:
            f.write(self.cert.public_bytes(serialization.Encoding.PEM))
        self.der = self.cert.public_bytes(serialization.Encoding.DER)
        self.user, self.password = user, password
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                server.requests.append(q)
                authz = self.headers.get("Authorization", "")
                ok = authz == "Basic " + base64.b64encode(
                    ("%s:%s" % (server.user, server.password)).encode()).decode()
                if not ok:
                    self.send_response(401)
                    self.end_headers()
                    return
                access = []
                for scope in q.get("scope", []):
                    typ, name, actions = scope.split(":")
                    access.append({"type": typ, "name": name, "actions": actions.split(",")})
                body = json.dumps({"token": server.sign(q.get("service", [""])[0], access),
                                   "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = "http://127.0.0.1:%d/token" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def sign(self, service, access):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        now = int(time.time())
        header = {"alg": "ES256", "typ": "JWT", "x5c": [base64.b64encode(self.der).decode()]}
        claims = {"iss": "sampan-test-issuer", "sub": self.user, "aud": service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": str(now) + str(len(self.requests)),
                  "access": access}
        signing_input = (_b64(json.dumps(header).encode()) + "." +
                         _b64(json.dumps(claims).encode())).encode()
        r, s = decode_dss_signature(self.key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return signing_input.decode() + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def stop(self):
        self.httpd.shutdown()


@pytest.fixture
def token_registry(tmp_path):
    ts = TokenServer(str(tmp_path), "bob", "hunter2")
    r = Registry(str(tmp_path), token={"realm": ts.realm, "service": "sampan-test-registry",
                                       "issuer": "sampan-test-issuer", "cert": ts.cert_path})
    r.token_server = ts
    yield r
    r.stop()
    ts.stop()
