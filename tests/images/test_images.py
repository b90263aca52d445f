"""Integration tests of `sampan image`: import of both archive formats, pulls from a real
Debian docker-registry on 127.0.0.1 (direct, through a mirror rule with a rewrite, with basic
and bearer-token auth), clean failures that leave the store unchanged, and a container
process started from a pulled image's overlay rootfs. Never touches the internet: every
registries.yaml here disables the default endpoint for docker.io."""
import json
import os
import shutil
import subprocess
import time
import urllib.request

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (overlay, mknod)")


def run(sampan, data_dir, *args, check=True):
    p = subprocess.run([sampan, "image", "--data-dir", str(data_dir)] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and p.returncode != 0:
        raise AssertionError("sampan image %s failed: %s" % (" ".join(args), p.stderr))
    return p


def tree(data_dir):
    """Every path under the store (the lock file aside): 'the store is unchanged'."""
    out = []
    root = os.path.join(str(data_dir), "images")
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            rel = os.path.relpath(os.path.join(dirpath, n), root)
            if rel != "lock":
                out.append(rel)
    return sorted(out)


def write_config(path, text):
    with open(path, "w") as f:
        f.write(text)
    return str(path)


def test_import_both_formats(sampan, test_images, tmp_path):
    d = tmp_path / "data"
    out = run(sampan, d, "import", str(test_images / "busybox.docker.tar")).stdout
    assert "imported docker.io/library/busybox:latest" in out
    out = run(sampan, d, "import", str(test_images / "kubia.oci.tar"),
              str(test_images / "kubia-zstd.oci.tar")).stdout
    assert "imported docker.io/luksa/kubia:latest" in out
    assert "imported localhost:5000/kubia:zstd" in out
    names = run(sampan, d, "ls", "-q").stdout.split()
    assert names == ["docker.io/library/busybox:1.35", "docker.io/library/busybox:latest",
                     "docker.io/luksa/kubia:latest", "localhost:5000/kubia:v1",
                     "localhost:5000/kubia:zstd"]
    info = json.loads(run(sampan, d, "inspect", "luksa/kubia").stdout)
    assert info["Config"]["Entrypoint"] == ["/kubia"]
    assert info["Config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert len(info["RootFS"]["Layers"]) == 2
    bb = json.loads(run(sampan, d, "inspect", "busybox").stdout)
    # kubia is busybox's layer plus one: the shared layer is unpacked once.
    assert info["ChainIDs"][0] == bb["ChainIDs"][0]
    snaps = os.listdir(d / "images" / "snapshots")
    assert len(snaps) == 2
    # Reproducible test images: importing the OCI busybox gives the same image ID.
    run(sampan, d, "import", str(test_images / "busybox.oci.tar"))
    assert json.loads(run(sampan, d, "inspect", "busybox").stdout)["Id"] == bb["Id"]


def test_bad_archives_leave_store_unchanged(sampan, test_images, tmp_path):
    d = tmp_path / "data"
    run(sampan, d, "import", str(test_images / "busybox.oci.tar"))
    before = tree(d)
    data = (test_images / "kubia.oci.tar").read_bytes()
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    p = run(sampan, d, "import", str(truncated), check=False)
    assert p.returncode != 0 and "sampan image:" in p.stderr
    assert tree(d) == before
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"\x00garbage" * 1000)
    p = run(sampan, d, "import", str(garbage), check=False)
    assert p.returncode != 0
    assert tree(d) == before
    # Wrong platform: the archive is amd64; ask for arm64.
    p = run(sampan, d, "--platform", "linux/arm64", "import", str(test_images / "kubia.oci.tar"),
            check=False)
    assert p.returncode != 0 and "platform" in p.stderr
    assert tree(d) == before


def test_pull_direct_and_gc(sampan, test_images, registry, tmp_path):
    registry.push(test_images / "kubia.oci.tar", "v1", "kubia:v1")
    d = tmp_path / "data"
    cfg = write_config(tmp_path / "registries.yaml", "")
    out = run(sampan, d, "pull", "--registries", cfg, registry.addr + "/kubia:v1").stdout
    assert "pulled" in out
    info = json.loads(run(sampan, d, "inspect", registry.addr + "/kubia:v1").stdout)
    assert info["Config"]["Entrypoint"] == ["/kubia"]
    # Pull by digest.
    ref = registry.addr + "/kubia@" + info["Manifest"]
    run(sampan, d, "pull", "--registries", cfg, ref)
    assert ref in run(sampan, d, "ls", "-q").stdout.split()
    # rm + gc delete everything once no name is left.
    run(sampan, d, "rm", info["Id"])
    assert run(sampan, d, "ls", "-q").stdout.split() == []
    out = run(sampan, d, "prune", "--grace", "0").stdout
    assert "removed 4 blobs" in out and "2 snapshots" in out
    assert os.listdir(d / "images" / "blobs" / "sha256") == []


def test_pull_through_mirror_with_rewrite(sampan, test_images, registry, tmp_path):
    registry.push(test_images / "busybox.oci.tar", "latest", "mirrored/busybox:latest")
    registry.push(test_images / "kubia.oci.tar", "latest", "luksa/kubia:latest")
    d = tmp_path / "data"
    cfg = write_config(tmp_path / "registries.yaml", """
mirrors:
  docker.io:
    endpoint: ["http://%s"]
    rewrite:
      "^library/(.*)": "mirrored/$1"
disable_default_endpoint: true
""" % registry.addr)
    run(sampan, d, "pull", "--registries", cfg, "busybox")
    run(sampan, d, "pull", "--registries", cfg, "luksa/kubia")
    assert run(sampan, d, "ls", "-q").stdout.split() == [
        "docker.io/library/busybox:latest", "docker.io/luksa/kubia:latest"]
    # An image the mirror lacks: manifest unknown, nothing stored.
    before = tree(d)
    p = run(sampan, d, "pull", "--registries", cfg, "library/nothere:v9", check=False)
    assert p.returncode != 0 and "MANIFEST_UNKNOWN" in p.stderr, p.stderr
    assert tree(d) == before


def test_pull_corrupt_blob_fails_cleanly(sampan, test_images, registry, tmp_path):
    registry.push(test_images / "kubia.oci.tar", "v1", "kubia:v1")
    d = tmp_path / "data"
    cfg = write_config(tmp_path / "registries.yaml", "")
    # Find the kubia layer (the second) and flip bytes in it on the registry's disk.
    manifest = json.loads(urllib.request.urlopen(urllib.request.Request(
        "http://%s/v2/kubia/manifests/v1" % registry.addr,
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})).read())
    layer = manifest["layers"][1]["digest"]
    path = registry.blob_path(layer)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    run(sampan, d, "import", str(test_images / "busybox.oci.tar"))
    before = tree(d)
    p = run(sampan, d, "pull", "--registries", cfg, registry.addr + "/kubia:v1", check=False)
    assert p.returncode != 0
    assert "digest mismatch" in p.stderr, p.stderr
    assert tree(d) == before


def test_pull_with_basic_auth(sampan, test_images, auth_registry, tmp_path):
    auth_registry.push(test_images / "kubia.oci.tar", "v1", "kubia:v1", creds="alice:s3cret")
    d = tmp_path / "data"
    ref = auth_registry.addr + "/kubia:v1"
    p = run(sampan, d, "pull", "--registries", write_config(tmp_path / "none.yaml", ""), ref,
            check=False)
    assert p.returncode != 0 and "Unauthorized" in p.stderr, p.stderr
    wrong = write_config(tmp_path / "wrong.yaml", """
configs:
  "%s":
    auth: {username: alice, password: nope}
""" % auth_registry.addr)
    p = run(sampan, d, "pull", "--registries", wrong, ref, check=False)
    assert p.returncode != 0 and "Unauthorized" in p.stderr, p.stderr
    assert tree(d) == [] or "index.json" not in tree(d)
    good = write_config(tmp_path / "good.yaml", """
configs:
  "%s":
    auth: {username: alice, password: s3cret}
""" % auth_registry.addr)
    run(sampan, d, "pull", "--registries", good, ref)
    assert run(sampan, d, "ls", "-q").stdout.split() == [ref]


def test_pull_with_bearer_token_through_mirror(sampan, test_images, token_registry, tmp_path):
    reg = token_registry
    # skopeo authenticates against the token service with the same credentials.
    reg.push(test_images / "kubia.oci.tar", "v1", "luksa/kubia:v1", creds="bob:hunter2")
    d = tmp_path / "data"
    cfg = write_config(tmp_path / "registries.yaml", """
mirrors:
  docker.io:
    endpoint: ["http://%s"]
configs:
  "%s":
    auth: {username: bob, password: hunter2}
disable_default_endpoint: true
""" % (reg.addr, reg.addr))
    before = len(reg.token_server.requests)
    run(sampan, d, "pull", "--registries", cfg, "luksa/kubia:v1")
    assert run(sampan, d, "ls", "-q").stdout.split() == ["docker.io/luksa/kubia:v1"]
    asked = reg.token_server.requests[before:]
    assert asked and asked[0]["scope"] == ["repository:luksa/kubia:pull"]
    assert asked[0]["service"] == ["sampan-test-registry"]


def test_container_runs_from_pulled_rootfs(sampan, test_images, registry, tmp_path):
    """The pulled kubia image's overlay rootfs runs the server (in its own UTS and mount
    namespaces, so the hostname it reports is the container's) and answers over HTTP."""
    registry.push(test_images / "kubia.oci.tar", "v1", "kubia:v1")
    d = tmp_path / "data"
    cfg = write_config(tmp_path / "registries.yaml", "")
    ref = registry.addr + "/kubia:v1"
    run(sampan, d, "pull", "--registries", cfg, ref)
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    run(sampan, d, "rootfs", ref, "kubia-1", "--mount", str(rootfs))
    port = __import__("conftest").free_port()
    proc = subprocess.Popen(
        ["unshare", "--uts", "--fork", "--kill-child=SIGTERM", "sh", "-c",
         "hostname kubia-test-pod && exec chroot %s /kubia" % rootfs],
        env={"PORT": str(port)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        body = None
        for _ in range(100):
            try:
                body = urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=2).read()
                break
            except OSError:
                time.sleep(0.05)
        assert body == b"You've hit kubia-test-pod\n"
        # The container's writes land in its upper dir, not in the shared snapshots.
        subprocess.run(["chroot", str(rootfs), "/bin/sh", "-c", "echo x > /etc/written"],
                       check=True)
        assert (d / "images" / "containers" / "kubia-1" / "upper" / "etc" / "written").exists()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        subprocess.run(["umount", "-l", str(rootfs)], check=False)
    run(sampan, d, "rootfs-rm", "kubia-1")
    assert not (d / "images" / "containers" / "kubia-1").exists()


def test_sampan_runtime_runs_pulled_image(sampan, test_images, registry, tmp_path):
    """`sampan runtime run` (the project's OCI runtime) starts a container whose root is
    the overlay rootfs prepared from a pulled image."""
    registry.push(test_images / "busybox.oci.tar", "latest", "busybox:latest")
    d = tmp_path / "data"
    ref = registry.addr + "/busybox:latest"
    run(sampan, d, "pull", "--registries", write_config(tmp_path / "r.yaml", ""), ref)
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    run(sampan, d, "rootfs", ref, "bb-1", "--mount", str(bundle / "rootfs"))
    try:
        subprocess.run([sampan, "runtime", "spec"], cwd=bundle, check=True)
        spec = json.loads((bundle / "config.json").read_text())
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["/bin/sh", "-c", "cat /etc/group | head -1; echo ok > /tmp/f"]
        spec["root"] = {"path": "rootfs", "readonly": False}
        (bundle / "config.json").write_text(json.dumps(spec))
        p = subprocess.run([sampan, "runtime", "--root", str(tmp_path / "state"), "run", "bb-1"],
                           cwd=bundle, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        assert p.stdout == "root:x:0:\n"
        assert (d / "images" / "containers" / "bb-1" / "upper" / "tmp" / "f").read_text() == "ok\n"
    finally:
        subprocess.run(["umount", "-l", str(bundle / "rootfs")], check=False)
    run(sampan, d, "rootfs-rm", "bb-1")


def test_disk_full_leaves_store_unchanged(sampan, test_images, tmp_path):
    d = tmp_path / "small"
    d.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(d)], check=True)
    try:
        run(sampan, d, "import", str(test_images / "busybox.oci.tar"))
        before = tree(d)
        # kubia's extra layer plus staging does not fit in what is left.
        p = run(sampan, d, "import", str(test_images / "kubia-zstd.oci.tar"), check=False)
        assert p.returncode != 0
        assert "No space left on device" in p.stderr, p.stderr
        assert tree(d) == before
        assert run(sampan, d, "ls", "-q").stdout.split() == [
            "docker.io/library/busybox:1.35", "docker.io/library/busybox:latest"]
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)
