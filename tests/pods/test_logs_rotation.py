"""Container log rotation (the kubelet's containerLogMaxSize / containerLogMaxFiles): a container that
prints more than --container-log-max-size gets its log rotated into timestamped files (older ones
gzip-compressed, at most --container-log-max-files in all), no line is lost at a rotation, and
`kubectl logs` (plain, --tail, -f across rotations, --previous) keeps working."""

import gzip
import os
import re
import time

import pytest

import cluster as cl
import harness
import podutil as pu

MAX_FILES = 3
SERVER_ARGS = ["--container-log-max-size=16Ki", f"--container-log-max-files={MAX_FILES}",
               "--container-log-monitor-interval=1s"]

PADDING = "x" * 80
PODS = f"""
apiVersion: v1
kind: Pod
metadata:
  name: chatty
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command:
    - sh
    - -c
    - |
      i=0
      while true; do
        i=$((i+1))
        echo "line $i {PADDING}"
        if [ $((i % 40)) = 0 ]; then sleep 0.2; fi
      done
---
apiVersion: v1
kind: Pod
metadata:
  name: burst
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command:
    - sh
    - -c
    - |
      i=0
      while [ $i -lt 1000 ]; do i=$((i+1)); echo "early $i {PADDING}"; done
      sleep 4
      echo "last words"
      sleep 1
      exit 1
"""

LINE = re.compile(r"^line (\d+) x+$")
ROTATED = re.compile(r"^0\.log\.\d{8}-\d{6}(\.gz)?$")


@pytest.fixture(scope="module")
def cluster(request, images_dir):
    c = cl.Cluster("logs-rotation", images_dir, extra_args=SERVER_ARGS)
    yield from cl.serve(c)


@pytest.fixture(scope="module")
def pods(kubectl, api, module_ns):
    pu.create(kubectl, module_ns, PODS)
    pu.wait_pods(api, module_ns, ["chatty", "burst"], pu.is_running, timeout=60, what="Running")
    return module_ns


def log_dir(server, api, ns, pod, container="main"):
    uid = pu.get_pod(api, ns, pod)["metadata"]["uid"]
    return os.path.join(server.data_dir, "agent", "pods", uid, "logs", container)


def numbers(text):
    """The line numbers of the chatty container's output lines."""
    return [int(m.group(1)) for m in (LINE.match(l) for l in text.splitlines()) if m]


def cri_text(data):
    """The content of CRI-format log lines ("<time> <stream> <tag> <text>")."""
    return "".join(line.split(" ", 3)[3] + "\n" for line in data.splitlines() if line.count(" ") >= 3)


def read_rotated(path):
    if path.endswith(".gz"):
        with gzip.open(path, "rt") as f:
            return f.read()
    with open(path) as f:
        return f.read()


def wait_files(d, predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        names = sorted(os.listdir(d)) if os.path.isdir(d) else []
        if predicate(names):
            return names
        assert time.monotonic() < deadline, f"log files in {d}: {names}"
        time.sleep(0.3)


def settled_layout(names):
    """The rotated layout outside a rotation's few milliseconds: the current 0.log, at most
    MAX_FILES files, the newest rotated file plain and the older ones compressed."""
    rotated = [n for n in names if n != "0.log"]
    return ("0.log" in names and len(names) <= MAX_FILES and rotated
            and all(ROTATED.match(n) for n in rotated)
            and not rotated[-1].endswith(".gz") and all(n.endswith(".gz") for n in rotated[:-1]))


def read_settled(d, timeout=30):
    """Every log file's text, read while no rotation happened (the same settled listing before and
    after reading): the container keeps writing and the agent keeps rotating meanwhile."""
    deadline = time.monotonic() + timeout
    names = []
    while time.monotonic() < deadline:
        names = sorted(os.listdir(d))
        if settled_layout(names):
            try:
                texts = [cri_text(read_rotated(os.path.join(d, n))) for n in names if n != "0.log"]
                with open(os.path.join(d, "0.log")) as f:
                    texts.append(cri_text(f.read()))
            except FileNotFoundError:  # rotated or compressed while being read
                continue
            if sorted(os.listdir(d)) == names:
                return names, texts
        time.sleep(0.05)
    pytest.fail(f"no settled rotated layout in {d} within {timeout}s: {names}")


def test_rotated_files_and_no_line_lost(server, api, pods):
    ns = pods
    d = log_dir(server, api, ns, "chatty")
    # Enough rotations for compressed files and for the oldest to be removed.
    wait_files(d, lambda n: sum(x.endswith(".gz") for x in n) >= 1 and len(n) == MAX_FILES)
    time.sleep(4)
    names, texts = read_settled(d)
    rotated = [n for n in names if n != "0.log"]
    # Line 1 was rotated away and removed: the oldest kept file starts later.
    seen = [n for t in texts for n in numbers(t)]
    assert seen[0] > 1, seen[:5]
    # Across every rotation boundary the numbers go on without a gap or a repeat.
    assert seen == list(range(seen[0], seen[0] + len(seen))), \
        [(a, b) for a, b in zip(seen, seen[1:]) if b != a + 1][:5]
    # No rotated file is empty.
    assert all(texts[:-1]), [n for n, t in zip(rotated, texts) if not t]


def test_kubectl_logs_reads_the_current_file(kubectl, server, api, pods):
    ns = pods
    d = log_dir(server, api, ns, "chatty")
    wait_files(d, lambda n: len(n) >= 2)
    deadline = time.monotonic() + 10
    while True:  # the current file may have been rotated a moment ago (empty)
        out = kubectl.ok("logs", "chatty", "-n", ns).stdout
        got = numbers(out)
        if len(got) >= 10 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got, out[:500]
    assert got[0] > 1, got[:5]  # what was rotated away is not shown (as the kubelet does)
    assert got == list(range(got[0], got[0] + len(got))), got[:20]
    deadline = time.monotonic() + 10
    while True:
        tail = numbers(kubectl.ok("logs", "chatty", "-n", ns, "--tail=5").stdout)
        if len(tail) == 5 or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # a rotation just now: fewer than 5 lines yet
    assert len(tail) == 5 and tail == list(range(tail[0], tail[0] + 5)), tail
    assert tail[0] >= got[-1] - 4, (tail, got[-1])
    # --since filters the current file (it is younger than a second or two here).
    since = numbers(kubectl.ok("logs", "chatty", "-n", ns, "--since=1h").stdout)
    assert since and since[0] >= got[0], (since[:3], got[:3])
    assert since == list(range(since[0], since[0] + len(since))), since[:20]


def test_follow_across_rotations(kubectl, server, api, pods):
    ns = pods
    d = log_dir(server, api, ns, "chatty")
    before = {n[:len("0.log.") + 15] for n in os.listdir(d) if ROTATED.match(n)}
    reader = harness.LineReader(kubectl.popen("logs", "-f", "chatty", "-n", ns, "--tail=1"))
    try:
        assert reader.wait_for(lambda l: LINE.match(l) is not None, timeout=20) is not None, \
            reader.lines
        # Until the log was rotated at least three times under the reader (at most
        # MAX_FILES - 1 rotated files exist at a time: remember every name seen).
        seen = set()

        def rotated_thrice(names):
            seen.update(n[:len("0.log.") + 15] for n in names if ROTATED.match(n))
            return len(seen - before) >= 3

        wait_files(d, rotated_thrice, timeout=40)
        time.sleep(1.5)
        first = numbers("\n".join(reader.lines))[0]
        with open(os.path.join(d, "0.log")) as f:
            newest = numbers(cri_text(f.read()))
        last = newest[-1] if newest else first
        assert reader.wait_for(lambda l: (LINE.match(l) or [None, "0"])[1] == str(last),
                               timeout=20) is not None, reader.lines[-5:]
    finally:
        reader.stop()
    got = numbers("\n".join(reader.lines))
    assert got[-1] - got[0] > 500, (got[0], got[-1])
    assert got == list(range(got[0], got[0] + len(got))), \
        [(a, b) for a, b in zip(got, got[1:]) if b != a + 1][:5]


def test_previous_after_rotation(kubectl, server, api, pods):
    ns = pods
    pu.wait_pod(api, ns, "burst", lambda p: pu.restart_count(p, "main") >= 1, timeout=60,
                what="a restart")
    d = log_dir(server, api, ns, "burst")
    names = sorted(os.listdir(d))
    # The first instance's log was rotated while it slept (~100 KB > 16Ki).
    assert any(ROTATED.match(n) for n in names), names
    # --previous reads the first instance's current file: its last line, and not what was
    # rotated away before.
    out = kubectl.ok("logs", "burst", "--previous", "-n", ns).stdout
    assert out.endswith("last words\n"), out[-300:]
    assert not out.startswith("early 1 "), out[:300]
    early = [int(m) for m in re.findall(r"^early (\d+) ", out, re.M)]
    assert early == list(range(early[0], 1001)) if early else True, early[:5]
