"""kubectl get -w: the initial list, then updates streamed over a watch."""

import json
import re
import threading

import pytest

from harness import LineReader, wait_until


@pytest.fixture
def watcher():
    readers = []

    def start(kubectl, *args):
        reader = LineReader(kubectl.popen(*args))
        readers.append(reader)
        return reader
    yield start
    for r in readers:
        r.stop()


def test_watch_sees_update_jsonpath(kubectl, api, ns, watcher):
    api.create_configmap(ns, "cfg", {"v": "one"})
    w = watcher(kubectl, "get", "cm", "cfg", "-n", ns, "-w", "-o",
                'jsonpath={.metadata.name} {.data.v}{"\\n"}')
    first = w.wait_for(lambda l: l == "cfg one")
    assert first is not None, w.lines
    kubectl.ok("patch", "cm", "cfg", "-n", ns, "--type=merge", "-p", '{"data":{"v":"two"}}')
    assert w.wait_for(lambda l: l == "cfg two", start=first + 1) is not None, w.lines


def test_watch_table_sees_label_change_and_new_pod(kubectl, api, ns, watcher):
    api.create_pod(ns, "web")
    w = watcher(kubectl, "get", "po", "-n", ns, "-w", "-L", "stage")
    header = w.wait_for(lambda l: l.startswith("NAME"))
    assert header is not None, w.lines
    assert "STAGE" in w.lines[header]
    first = w.wait_for(lambda l: l.split()[:1] == ["web"], start=header)
    assert first is not None, w.lines
    kubectl.ok("label", "po", "web", "stage=two", "-n", ns)
    i = w.wait_for(lambda l: l.split()[:1] == ["web"] and l.split()[-1] == "two", start=first + 1)
    assert i is not None, w.lines
    api.create_pod(ns, "late")
    assert w.wait_for(lambda l: l.split()[:1] == ["late"], start=i + 1) is not None, w.lines


def test_watch_output_events_json(kubectl, api, ns, watcher):
    api.create_configmap(ns, "sentinel")
    w = watcher(kubectl, "get", "cm", "-n", ns, "-w", "--output-watch-events", "-o", "json")
    # The initial list is printed first; once the sentinel shows up, kubectl is watching.
    assert w.wait_for(lambda l: re.search(r'"name":\s*"sentinel"', l)) is not None, w.lines
    api.create_configmap(ns, "w1", {"k": "1"})
    api.json("PATCH", f"/api/v1/namespaces/{ns}/configmaps/w1", {"data": {"k": "2"}},
             expect=200, content_type="application/merge-patch+json")
    api.json("DELETE", f"/api/v1/namespaces/{ns}/configmaps/w1", expect=200)

    def events():
        # One JSON document per event (compact or indented, depending on the kubectl version).
        text, docs, pos = "\n".join(w.lines), [], 0
        decoder = json.JSONDecoder()
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            try:
                doc, pos = decoder.raw_decode(text, pos)
            except ValueError:
                break  # an incomplete document at the end
            docs.append(doc)
        return [(d["type"], d["object"]["metadata"]["name"], d["object"].get("data", {}).get("k"))
                for d in docs if d["object"]["metadata"]["name"] == "w1"]

    wait_until(lambda: len(events()) >= 3, timeout=30, what="three watch events")
    assert events() == [("ADDED", "w1", "1"), ("MODIFIED", "w1", "2"), ("DELETED", "w1", "2")], \
        w.lines


def test_watch_only_one_object(kubectl, api, ns, watcher):
    api.create_configmap(ns, "mine", {"v": "0"})
    api.create_configmap(ns, "other", {"v": "0"})
    w = watcher(kubectl, "get", "cm", "mine", "-n", ns, "-w", "-o",
                'jsonpath={.metadata.name}={.data.v}{"\\n"}')
    assert w.wait_for(lambda l: l == "mine=0") is not None, w.lines
    for n in ("other", "mine"):
        api.json("PATCH", f"/api/v1/namespaces/{ns}/configmaps/{n}", {"data": {"v": "1"}},
                 expect=200, content_type="application/merge-patch+json")
    assert w.wait_for(lambda l: l == "mine=1") is not None, w.lines
    assert not any(l.startswith("other") for l in w.lines), w.lines


def test_watch_stream_raw(api, ns):
    """The watch wire format: newline-delimited JSON events, resourceVersion-resumable."""
    api.create_configmap(ns, "a")
    status, lst = api.json("GET", f"/api/v1/namespaces/{ns}/configmaps", expect=200)
    rv = lst["metadata"]["resourceVersion"]
    api.create_configmap(ns, "b")
    api.create_configmap(ns, "c")
    status, body, headers = api.request(
        "GET", f"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=2",
        timeout=30)
    assert status == 200, body
    events = [json.loads(l) for l in body.decode().splitlines() if l.strip()]
    # The root-CA controller adds kube-root-ca.crt to every namespace, as Kubernetes does.
    events = [e for e in events if e["object"]["metadata"]["name"] != "kube-root-ca.crt"]
    names = [(e["type"], e["object"]["metadata"]["name"]) for e in events]
    assert names == [("ADDED", "b"), ("ADDED", "c")], names
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)


def test_watches_ending_on_timeout_over_tls(server, api, ns):
    """Many watches that the server ends (timeoutSeconds) while it still listens for the client
    hanging up; the server once crashed here, freeing a TLS stream with that read pending."""
    import threading
    api.create_configmap(ns, "a")
    ended = []
    errors = []

    def one_watcher():
        for _ in range(3):
            try:
                status, body, _ = api.request(
                    "GET", f"/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=1",
                    timeout=20)
                assert status == 200, body
                ended.append(body)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

    threads = [threading.Thread(target=one_watcher) for _ in range(30)]
    for t in threads:
        t.start()
    # Writes keep the allocator busy, so freed memory is reused while the watches end.
    i = 0
    while any(t.is_alive() for t in threads):
        api.create_configmap(ns, f"w{i}")
        i += 1
    for t in threads:
        t.join()
    assert server.alive()
    assert not errors, errors[:3]
    assert len(ended) == 90
    status, _, _ = api.request("GET", "/readyz")
    assert status == 200
