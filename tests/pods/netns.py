"""Network namespaces for pod tests: an underlay ("fabric") namespace with a bridge, and one namespace
per node joined to it by a veth. Nothing is created in the host's own network namespace.

    fabric = Fabric("sp1234a")            # netns sp1234a-ul, bridge br0 192.168.200.1/24, no uplink
    node = fabric.add_node("node1")       # netns sp1234a-node1, eth0 192.168.200.11/24, lo up,
                                          # default route to 192.168.200.1 (inside the fabric only)
    node.run(["ip", "addr"])              # nsenter --net=/run/netns/sp1234a-node1 ip addr
    with in_netns(node.path): socket...   # sockets made by this thread belong to the node namespace
    fabric.destroy()                      # kills what runs in them, deletes every namespace

Processes are started with `nsenter --net=PATH` (not `ip netns exec`, which remounts /sys and so hides
/sys/fs/cgroup from the process). Also: cleanup of the mounts, cgroups and processes a test cluster
left behind (`kill_processes`, `unmount_under`, `remove_pod_cgroups`).
"""

import contextlib
import ctypes
import glob
import os
import signal
import subprocess
import time

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd, nstype):
    if _libc.setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def in_netns(path):
    """Moves the calling thread (only it) into the network namespace at `path` for the block.
    Sockets created inside the block stay in that namespace after it ends."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target, CLONE_NEWNET)
        try:
            yield
        finally:
            _setns(own, CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(own)


def run(argv, check=True, timeout=30, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def ns_inode(path):
    return os.stat(path).st_ino


class Namespace:
    """One named network namespace (/run/netns/NAME)."""

    def __init__(self, name):
        self.name = name
        self.path = os.path.join(NETNS_DIR, name)

    def create(self):
        run(["ip", "netns", "add", self.name])
        self.ip("link", "set", "lo", "up")
        return self

    def exists(self):
        return os.path.exists(self.path)

    def nsenter(self, argv):
        """The argv that runs `argv` inside this namespace."""
        return ["nsenter", f"--net={self.path}", "--", *argv]

    def run(self, argv, check=True, timeout=30, **kw):
        return run(self.nsenter(argv), check=check, timeout=timeout, **kw)

    def ip(self, *args, check=True):
        return run(["ip", "-n", self.name, *args], check=check)

    def popen(self, argv, **kw):
        return subprocess.Popen(self.nsenter(argv), **kw)

    def veths(self):
        """Names of the veth interfaces in this namespace."""
        out = self.ip("-o", "link", "show", "type", "veth").stdout
        return sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines()
                      if line.strip())

    def nft_tables(self):
        p = self.run(["nft", "list", "tables"], check=False)
        return [line.split()[-1] for line in p.stdout.splitlines() if line.startswith("table")], p

    def delete(self):
        if not self.exists():
            return
        kill_processes_in_netns(self.path)
        for family_table in self._nft_family_tables("sampan"):
            self.run(["nft", "delete", "table", *family_table], check=False)
        run(["ip", "netns", "del", self.name], check=False)

    def _nft_family_tables(self, name):
        p = self.run(["nft", "list", "tables"], check=False)
        out = []
        for line in p.stdout.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "table" and parts[2] == name:
                out.append([parts[1], parts[2]])
        return out


class Node(Namespace):
    def __init__(self, name, short, address, prefix_len, gateway):
        super().__init__(name)
        self.short = short          # "node1"
        self.address = address      # "192.168.200.11"
        self.prefix_len = prefix_len
        self.gateway = gateway


class Fabric:
    """The underlay: a namespace holding bridge br0 (192.168.200.1/24 by default, no uplink, no
    default route), and the node namespaces attached to it."""

    def __init__(self, tag, subnet="192.168.200"):
        self.tag = tag
        self.subnet = subnet
        self.underlay = Namespace(f"{tag}-ul")
        self.nodes = []
        self.gateway = f"{subnet}.1"
        self.underlay.create()
        try:
            self.underlay.ip("link", "add", "br0", "type", "bridge")
            self.underlay.ip("addr", "add", f"{self.gateway}/24", "dev", "br0")
            self.underlay.ip("link", "set", "br0", "up")
        except Exception:
            self.destroy()
            raise

    def add_node(self, short):
        index = len(self.nodes) + 1
        node = Node(f"{self.tag}-{short}", short, f"{self.subnet}.{10 + index}", 24, self.gateway)
        node.create()
        self.nodes.append(node)
        port = f"v{index}"
        # The veth is made inside the underlay and its peer moved straight into the node namespace:
        # neither end ever exists in the host's namespace.
        self.underlay.ip("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
                         node.name)
        self.underlay.ip("link", "set", port, "master", "br0")
        self.underlay.ip("link", "set", port, "up")
        node.ip("addr", "add", f"{node.address}/{node.prefix_len}", "dev", "eth0")
        node.ip("link", "set", "eth0", "up")
        node.ip("route", "add", "default", "via", self.gateway)
        check_isolated(node)
        return node

    def destroy(self):
        for node in reversed(self.nodes):
            node.delete()
        self.underlay.delete()


def check_isolated(node):
    """Asserts the node namespace has no interface but lo and eth0 and routes only into the fabric."""
    links = node.ip("-o", "link", "show").stdout
    names = sorted(line.split(":")[1].strip().split("@")[0] for line in links.splitlines())
    assert names == ["eth0", "lo"], f"unexpected links in {node.name}: {names}"
    routes = node.ip("-4", "route", "show").stdout
    for line in routes.splitlines():
        assert "dev eth0" in line, f"route outside the fabric in {node.name}: {line}"


# ---- process, mount and cgroup cleanup ------------------------------------------------------------

def _pids():
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            yield int(entry)


def _readlink(path):
    try:
        return os.readlink(path)
    except OSError:
        return None


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def processes_where(predicate):
    me = os.getpid()
    return [pid for pid in _pids() if pid != me and predicate(pid)]


def kill_pids(pids, sig=signal.SIGKILL):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def kill_processes_in_netns(path):
    """SIGKILLs every process whose network namespace is the one at `path`."""
    try:
        want = f"net:[{ns_inode(path)}]"
    except OSError:
        return
    for _ in range(20):
        pids = processes_where(lambda pid: _readlink(f"/proc/{pid}/ns/net") == want)
        if not pids:
            return
        kill_pids(pids)
        time.sleep(0.05)


def processes_of_pods(uids):
    """Processes in a cgroup of one of these pods (any hierarchy)."""
    uids = [u for u in uids if u]
    if not uids:
        return []
    keys = set(uids) | {u.replace("-", "_") for u in uids}

    def match(pid):
        text = _read(f"/proc/{pid}/cgroup")
        return any(k in text for k in keys)
    return processes_where(match)


def processes_rooted_under(directory):
    """Processes whose root or cwd lies under `directory` (containers whose rootfs is there)."""
    prefix = os.path.realpath(directory).rstrip("/") + "/"

    def match(pid):
        for link in ("root", "cwd"):
            target = _readlink(f"/proc/{pid}/{link}")
            if target and (target + "/").startswith(prefix):
                return True
        return False
    return processes_where(match)


def kill_until_gone(find, rounds=40):
    for _ in range(rounds):
        pids = find()
        if not pids:
            return True
        kill_pids(pids)
        time.sleep(0.05)
    return not find()


def mounts_under(directory):
    """Mount points (host mount namespace) at or below `directory`, deepest first."""
    prefix = os.path.realpath(directory).rstrip("/")
    points = []
    for line in _read("/proc/self/mountinfo").splitlines():
        fields = line.split()
        if len(fields) > 4:
            point = fields[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    return sorted(set(points), key=lambda p: p.count("/"), reverse=True)


def mounts_mentioning(words):
    """mountinfo lines (host mount namespace) that mention any of `words`."""
    words = [w for w in words if w]
    return [line for line in _read("/proc/self/mountinfo").splitlines()
            if any(w in line for w in words)]


def unmount_under(directory):
    for _ in range(5):
        points = mounts_under(directory)
        if not points:
            return
        for point in points:
            if subprocess.run(["umount", point], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", point], capture_output=True)


CGROUP_ROOT = "/sys/fs/cgroup"


def kubepods_roots():
    """The kubepods* cgroup directories of every hierarchy (v2: /sys/fs/cgroup/kubepods*;
    v1/hybrid: /sys/fs/cgroup/<controller>/kubepods*)."""
    roots = glob.glob(os.path.join(CGROUP_ROOT, "kubepods*"))
    roots += glob.glob(os.path.join(CGROUP_ROOT, "*", "kubepods*"))
    return sorted(r for r in roots if os.path.isdir(r) and not os.path.islink(r))


def pod_cgroups(uids):
    """cgroup directories (every hierarchy) whose name carries one of the pod UIDs."""
    keys = {u for u in uids if u} | {u.replace("-", "_") for u in uids if u}
    found = []
    for root in kubepods_roots():
        for dirpath, dirnames, _ in os.walk(root):
            for d in dirnames:
                if any(k in d for k in keys):
                    found.append(os.path.join(dirpath, d))
    return sorted(set(found))


def _rmdir_tree(path):
    """Removes a cgroup directory and its children (deepest first), killing what is left in it."""
    for dirpath, dirnames, _ in sorted(os.walk(path), key=lambda t: t[0].count("/"), reverse=True):
        procs = _read(os.path.join(dirpath, "cgroup.procs")).split()
        kill_pids(int(p) for p in procs if p.isdigit())
        for _ in range(20):
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)


def remove_pod_cgroups(uids):
    for path in sorted(pod_cgroups(uids), key=lambda p: p.count("/"), reverse=True):
        _rmdir_tree(path)
