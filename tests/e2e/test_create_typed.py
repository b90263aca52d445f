"""`kubectl create <thing>` generators. kubectl 1.32+ sends these bodies as Kubernetes protobuf."""

import base64


def test_create_configmap_literal_and_file(kubectl, ns, tmp_path):
    f = tmp_path / "app.properties"
    f.write_text("a=1\nb=2\n")
    r = kubectl.ok("create", "configmap", "cfg", "-n", ns, "--from-literal=color=blue",
                   "--from-literal=empty=", f"--from-file={f}")
    assert r.stdout.strip() == "configmap/cfg created"
    cm = kubectl.json("get", "cm", "cfg", "-n", ns)
    assert cm["data"] == {"color": "blue", "empty": "", "app.properties": "a=1\nb=2\n"}


def test_create_configmap_binary_data(kubectl, ns, tmp_path):
    blob = bytes(range(256))
    f = tmp_path / "blob.bin"
    f.write_bytes(blob)
    kubectl.ok("create", "configmap", "bin", "-n", ns, f"--from-file={f}")
    cm = kubectl.json("get", "cm", "bin", "-n", ns)
    assert base64.b64decode(cm["binaryData"]["blob.bin"]) == blob


def test_create_secret_generic(kubectl, ns):
    r = kubectl.ok("create", "secret", "generic", "creds", "-n", ns,
                   "--from-literal=user=admin", "--from-literal=pass=s3cr=t")
    assert r.stdout.strip() == "secret/creds created"
    s = kubectl.json("get", "secret", "creds", "-n", ns)
    assert s["type"] == "Opaque"
    assert {k: base64.b64decode(v).decode() for k, v in s["data"].items()} == \
        {"user": "admin", "pass": "s3cr=t"}


def test_create_secret_docker_registry(kubectl, ns):
    r = kubectl.ok("create", "secret", "docker-registry", "regcred", "-n", ns,
                   "--docker-server=registry.example", "--docker-username=u", "--docker-password=p")
    assert r.stdout.strip() == "secret/regcred created"
    s = kubectl.json("get", "secret", "regcred", "-n", ns)
    assert s["type"] == "kubernetes.io/dockerconfigjson"
    assert b"registry.example" in base64.b64decode(s["data"][".dockerconfigjson"])


def test_create_deployment(kubectl, ns):
    r = kubectl.ok("create", "deployment", "web", "--image=nginx:1.25", "--replicas=2",
                   "--port=80", "-n", ns)
    assert r.stdout.strip() == "deployment.apps/web created"
    d = kubectl.json("get", "deploy", "web", "-n", ns)
    assert d["spec"]["replicas"] == 2
    assert d["spec"]["selector"]["matchLabels"] == {"app": "web"}
    assert d["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    c = d["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "nginx:1.25" and c["name"] == "nginx"
    assert c["ports"][0]["containerPort"] == 80
    assert d["metadata"]["labels"] == {"app": "web"}


def test_create_serviceaccount(kubectl, ns):
    r = kubectl.ok("create", "serviceaccount", "robot", "-n", ns)
    assert r.stdout.strip() == "serviceaccount/robot created"
    sa = kubectl.json("get", "sa", "robot", "-n", ns)
    assert sa["kind"] == "ServiceAccount" and sa["metadata"]["name"] == "robot"


def test_create_job(kubectl, ns):
    r = kubectl.ok("create", "job", "once", "--image=busybox", "-n", ns, "--", "echo", "hi")
    assert r.stdout.strip() == "job.batch/once created"
    j = kubectl.json("get", "job", "once", "-n", ns)
    tmpl = j["spec"]["template"]["spec"]
    assert tmpl["containers"][0]["command"] == ["echo", "hi"]
    assert tmpl["restartPolicy"] == "Never"


def test_create_cronjob(kubectl, ns):
    r = kubectl.ok("create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *",
                   "-n", ns, "--", "date")
    assert r.stdout.strip() == "cronjob.batch/tick created"
    cj = kubectl.json("get", "cronjob", "tick", "-n", ns)
    assert cj["spec"]["schedule"] == "*/5 * * * *"


def test_create_service_clusterip(kubectl, ns):
    r = kubectl.ok("create", "service", "clusterip", "websvc", "--tcp=80:8080", "-n", ns)
    assert r.stdout.strip() == "service/websvc created"
    svc = kubectl.json("get", "svc", "websvc", "-n", ns)
    p = svc["spec"]["ports"][0]
    assert (p["port"], p["targetPort"]) == (80, 8080)


def test_create_typed_dry_run_server(kubectl, ns):
    r = kubectl.ok("create", "configmap", "ghost", "--from-literal=a=b", "--dry-run=server", "-n", ns)
    assert "configmap/ghost created (server dry run)" in r.stdout
    r = kubectl.fails("get", "cm", "ghost", "-n", ns)
    assert "NotFound" in r.stderr


def test_create_typed_already_exists(kubectl, ns):
    kubectl.ok("create", "configmap", "dup", "-n", ns)
    r = kubectl.fails("create", "configmap", "dup", "-n", ns)
    # The typed generators word it their own way (same as against Kubernetes).
    assert 'error: failed to create configmap: configmaps "dup" already exists' in r.stderr, r
