"""kubectl describe: pods (with their events) and namespaces."""

import re
import time


def field(stdout, name):
    m = re.search(rf"^{re.escape(name)}:[ \t]*(.*)$", stdout, re.M)
    return m.group(1).strip() if m else None


def test_describe_pod(kubectl, api, ns):
    api.create_pod(ns, "web", labels={"app": "web"},
                   containers=[{"name": "main", "image": "nginx:1.25",
                                "ports": [{"containerPort": 80}]}])
    r = kubectl.ok("describe", "po", "web", "-n", ns)
    out = r.stdout
    assert field(out, "Name") == "web", out
    assert field(out, "Namespace") == ns, out
    assert field(out, "Labels") == "app=web", out
    assert field(out, "Status") == "Pending", out
    assert re.search(r"^Containers:\n  main:\n", out, re.M), out
    assert re.search(r"^\s+Image:\s+nginx:1\.25$", out, re.M), out
    assert re.search(r"^\s+Port:\s+80/TCP$", out, re.M), out
    # The server runs the scheduler; with no nodes it reports why the pod waits, as Kubernetes
    # does. The event is written asynchronously: describe again until it shows (bounded).
    want = re.compile(r"Warning\s+FailedScheduling\s+.*default-scheduler\s+no nodes available")
    deadline = time.time() + 15
    while not want.search(out) and time.time() < deadline:
        time.sleep(0.2)
        out = kubectl.ok("describe", "po", "web", "-n", ns).stdout
    assert re.search(r"^Events:$", out, re.M), out
    assert want.search(out), out


def test_describe_pod_shows_events(kubectl, api, ns):
    pod = api.create_pod(ns, "web")
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web.e2e1"},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": "web",
                           "uid": pod["metadata"]["uid"], "apiVersion": "v1"},
        "reason": "E2ETest", "message": "hello from the e2e suite", "type": "Normal",
        "source": {"component": "e2e"}, "count": 1,
        "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:00:00Z",
    }
    api.json("POST", f"/api/v1/namespaces/{ns}/events", event, expect=(200, 201))
    # An event about another object must not show up.
    other = dict(event, metadata={"name": "other.e2e"},
                 involvedObject=dict(event["involvedObject"], name="other", uid="x"),
                 message="not for web")
    api.json("POST", f"/api/v1/namespaces/{ns}/events", other, expect=(200, 201))
    out = kubectl.ok("describe", "pod", "web", "-n", ns).stdout
    assert re.search(r"Normal\s+E2ETest\s+.*hello from the e2e suite", out), out
    assert "not for web" not in out, out


def test_describe_by_label(kubectl, api, ns):
    api.create_pod(ns, "one", labels={"d": "x"})
    api.create_pod(ns, "two", labels={"d": "x"})
    api.create_pod(ns, "three")
    out = kubectl.ok("describe", "pods", "-l", "d=x", "-n", ns).stdout
    assert sorted(re.findall(r"^Name:\s+(\S+)$", out, re.M)) == ["one", "two"], out


def test_describe_namespace(kubectl, ns):
    out = kubectl.ok("describe", "namespace", ns).stdout
    assert field(out, "Name") == ns, out
    assert field(out, "Status") == "Active", out


def test_describe_not_found(kubectl, ns):
    r = kubectl.fails("describe", "pod", "missing", "-n", ns)
    assert 'Error from server (NotFound): pods "missing" not found' in r.stderr, r.stderr
