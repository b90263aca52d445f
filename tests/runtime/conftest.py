"""Fixtures for the container runtime integration tests (run as root).

`rt`       a Runtime helper bound to a private state root; after each test it force-deletes every
           container it made and asserts nothing is left: no state directory, no cgroup, no mount.
`bundle`   a fresh bundle (config.json from `sampan runtime spec`, made non-interactive) whose rootfs
           is a busybox tree built once per session from Debian's busybox-static.

The binary is $SAMPAN_BIN (default: build/sampan of the repository). Run with
/usr/bin/python3 -m pytest tests/runtime.
"""

import glob
import json
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUSYBOX = "/bin/busybox"


def sampan_bin():
    path = os.environ.get("SAMPAN_BIN", os.path.join(REPO, "build", "sampan"))
    return os.path.abspath(path)


def pytest_collection_modifyitems(config, items):
    reason = None
    if os.geteuid() != 0:
        reason = "runtime tests need root"
    elif not os.path.exists(sampan_bin()):
        reason = f"no sampan binary at {sampan_bin()} (set SAMPAN_BIN)"
    elif not os.path.exists(BUSYBOX):
        reason = "busybox-static is not installed"
    if reason:
        for item in items:
            if "tests/runtime" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def workdir():
    # Every directory on the way must be searchable by others (user-namespace tests).
    d = tempfile.mkdtemp(prefix="sampan-rt-test-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def rootfs_template(workdir):
    root = os.path.join(workdir, "rootfs-template")
    for sub in ("bin", "proc", "sys", "dev", "tmp", "etc", "root", "mnt"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
    out = subprocess.run([os.path.join(root, "bin", "busybox"), "--list"], check=True,
                         capture_output=True, text=True).stdout.split()
    for applet in out:
        link = os.path.join(root, "bin", applet)
        if not os.path.exists(link):
            os.symlink("busybox", link)
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    return root


class Runtime:
    """Runs `sampan runtime --root <private root> ...` and tracks the containers it made."""

    def __init__(self, root, tag):
        self.root = root
        self.tag = tag
        self.ids = []

    def new_id(self, name="c"):
        cid = f"{name}-{self.tag}-{len(self.ids)}"
        self.ids.append(cid)
        return cid

    def cmd(self, *args, check=False, timeout=30):
        # Output goes to files, not pipes: a created container keeps the caller's stdio (as with
        # runc), so waiting for a pipe's EOF would wait for the container.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            p = subprocess.run([sampan_bin(), "runtime", "--root", self.root, *args], timeout=timeout,
                               stdin=subprocess.DEVNULL, stdout=out, stderr=err)
            out.seek(0)
            err.seek(0)
            p = subprocess.CompletedProcess(p.args, p.returncode, out.read(), err.read())
        if check and p.returncode != 0:
            raise AssertionError(f"sampan runtime {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p

    def state(self, cid):
        return json.loads(self.cmd("state", cid, check=True).stdout)

    def wait_status(self, cid, status, timeout=10.0):
        import time
        deadline = time.time() + timeout
        s = None
        while time.time() < deadline:
            s = self.state(cid)
            if s["status"] == status:
                return s
            time.sleep(0.02)
        raise AssertionError(f"{cid}: status {s and s['status']}, wanted {status}")


class Bundle:
    def __init__(self, path, cgroup_path):
        self.path = path
        self.config_path = os.path.join(path, "config.json")
        with open(self.config_path) as f:
            self.config = json.load(f)
        self.config["process"]["terminal"] = False
        self.config["root"]["readonly"] = False
        self.config["linux"]["cgroupsPath"] = cgroup_path
        self.cgroup_path = cgroup_path
        self.save()

    def set_args(self, *args):
        self.config["process"]["args"] = list(args)
        self.save()

    def save(self):
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=1)


def cgroup_dirs(rel):
    """The cgroup directories of `rel` on this host: one per v1 hierarchy (/sys/fs/cgroup/NAME/rel),
    the hybrid layout's /sys/fs/cgroup/unified/rel, and /sys/fs/cgroup/rel where cgroup2 is the root."""
    dirs = [d for d in glob.glob(f"/sys/fs/cgroup/*{rel}") if os.path.isdir(d)]
    if os.path.isdir(f"/sys/fs/cgroup{rel}"):
        dirs.append(f"/sys/fs/cgroup{rel}")
    return dirs


def unified_cgroup_dir(rel):
    """/sys/fs/cgroup/rel when cgroup2 is mounted at /sys/fs/cgroup (no v1 hierarchies), else None."""
    with open("/proc/self/mountinfo") as f:
        root_is_v2 = any(l.split(" - ")[1].startswith("cgroup2 ") and l.split()[4] == "/sys/fs/cgroup"
                         for l in f)
    return f"/sys/fs/cgroup{rel}" if root_is_v2 else None


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [l for l in f if f" {path}" in l]


@pytest.fixture
def rt(workdir):
    tag = uuid.uuid4().hex[:8]
    root = os.path.join(workdir, "state-" + tag)
    r = Runtime(root, tag)
    yield r
    for cid in r.ids:
        r.cmd("delete", "--force", cid)
    leftovers = []
    if os.path.isdir(root):
        leftovers += [f"state dir {e}" for e in os.listdir(root)]
        os.rmdir(root)
    leftovers += [f"cgroup {d}" for d in cgroup_dirs(f"/sampan-test-{tag}")]
    leftovers += [f"mount {m.split()[4]}" for m in mounts_under(workdir)]
    assert not leftovers, f"left behind: {leftovers}"


@pytest.fixture
def bundle(rt, workdir, rootfs_template):
    path = os.path.join(workdir, "bundle-" + rt.tag + "-" + uuid.uuid4().hex[:4])
    os.makedirs(path)
    os.chmod(path, 0o755)
    subprocess.run(["cp", "-a", rootfs_template, os.path.join(path, "rootfs")], check=True)
    subprocess.run([sampan_bin(), "runtime", "spec", "--bundle", path], check=True)
    b = Bundle(path, f"/sampan-test-{rt.tag}/{uuid.uuid4().hex[:6]}")
    yield b
    shutil.rmtree(path, ignore_errors=True)
