"""Helpers shared by the test_workloads_*.py end-to-end tests (DaemonSet, Job, CronJob,
StatefulSet controllers against hollow nodes)."""

import json

from harness import apply_manifest, wait_until


def create(kubectl, tmp_path, ns, text, name="manifest.yaml"):
    r = apply_manifest(kubectl, tmp_path, text, "-n", ns, name=name)
    assert r.rc == 0, str(r)
    return r


def pods(kubectl, ns, selector):
    """Live pods (not being deleted) matching `selector`, by name."""
    items = kubectl.json("get", "pods", "-n", ns, "-l", selector)["items"]
    return {p["metadata"]["name"]: p for p in items if not p["metadata"].get("deletionTimestamp")}


def get(kubectl, ns, kind, name):
    return kubectl.json("get", kind, name, "-n", ns)


def wait_status(kubectl, ns, kind, name, predicate, timeout=60, what=None):
    """Waits until predicate(status) holds; returns the object."""
    last = {}

    def check():
        nonlocal last
        last = get(kubectl, ns, kind, name)
        return predicate(last.get("status", {}))

    try:
        wait_until(check, timeout=timeout, what=what or f"{kind}/{name} status")
    except AssertionError as e:
        raise AssertionError(f"{e}; last object: {json.dumps(last.get('status'), indent=1)}") from None
    return last


def revisions(kubectl, ns, owner_uid):
    """The ControllerRevisions controlled by `owner_uid`, as {revision: object}."""
    items = kubectl.json("get", "controllerrevisions", "-n", ns)["items"]
    out = {}
    for cr in items:
        refs = cr["metadata"].get("ownerReferences", [])
        if any(r.get("uid") == owner_uid and r.get("controller") for r in refs):
            out[cr["revision"]] = cr
    return out
