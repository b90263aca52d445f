"""Discovery as kubectl sees it (api-resources, api-versions), the kinds of issue 2, status subresources."""

import json

import pytest

from harness import apply_manifest, rows_by_name, table
import manifests

# name -> (shortnames, apiversion, namespaced, kind), as Kubernetes 1.32 lists them.
EXPECTED = {
    "namespaces": ("ns", "v1", "false", "Namespace"),
    "pods": ("po", "v1", "true", "Pod"),
    "nodes": ("no", "v1", "false", "Node"),
    "configmaps": ("cm", "v1", "true", "ConfigMap"),
    "secrets": ("", "v1", "true", "Secret"),
    "serviceaccounts": ("sa", "v1", "true", "ServiceAccount"),
    "services": ("svc", "v1", "true", "Service"),
    "endpoints": ("ep", "v1", "true", "Endpoints"),
    "replicationcontrollers": ("rc", "v1", "true", "ReplicationController"),
    "leases": ("", "coordination.k8s.io/v1", "true", "Lease"),
    "replicasets": ("rs", "apps/v1", "true", "ReplicaSet"),
    "deployments": ("deploy", "apps/v1", "true", "Deployment"),
    "daemonsets": ("ds", "apps/v1", "true", "DaemonSet"),
    "statefulsets": ("sts", "apps/v1", "true", "StatefulSet"),
    "jobs": ("", "batch/v1", "true", "Job"),
    "cronjobs": ("cj", "batch/v1", "true", "CronJob"),
}


def test_api_resources(kubectl):
    out = kubectl.ok("api-resources").stdout
    names, rows = table(out)
    assert names == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"], out
    got = {}
    for r in rows:
        got.setdefault(r[0], []).append(tuple(r[1:]))
    for name, want in EXPECTED.items():
        assert want in got.get(name, []), (name, got.get(name))
    # Events exist in both core/v1 and events.k8s.io/v1.
    versions = {r[1] for r in got.get("events", [])}
    assert {"v1", "events.k8s.io/v1"} <= versions, got.get("events")


def test_api_resources_category_and_verbs(kubectl):
    out = kubectl.ok("api-resources", "--categories=all", "-o", "name").stdout.split()
    for name in ("pods", "services", "replicationcontrollers", "deployments.apps",
                 "replicasets.apps", "statefulsets.apps", "daemonsets.apps", "jobs.batch",
                 "cronjobs.batch"):
        assert name in out, out
    assert "configmaps" not in out and "secrets" not in out
    out = kubectl.ok("api-resources", "--verbs=list", "--namespaced=false", "-o", "name").stdout
    assert "namespaces" in out.split() and "nodes" in out.split()


def test_api_versions(kubectl):
    versions = set(kubectl.ok("api-versions").stdout.split())
    for gv in ("v1", "apps/v1", "batch/v1", "coordination.k8s.io/v1", "events.k8s.io/v1",
               "autoscaling/v1"):
        assert gv in versions, versions


@pytest.mark.parametrize("accept,ctype", [
    ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
     "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"),
    ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
     "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"),
])
def test_aggregated_discovery_negotiation(api, accept, ctype):
    status, body, headers = api.request("GET", "/apis", headers={"Accept": accept})
    assert status == 200
    got = {k.lower(): v for k, v in headers.items()}["content-type"]
    assert got.replace(" ", "") == ctype, got
    doc = json.loads(body)
    assert doc["kind"] == "APIGroupDiscoveryList"
    assert "apps" in {g["metadata"]["name"] for g in doc["items"]}


def test_legacy_discovery(api):
    status, obj = api.json("GET", "/api", expect=200)
    assert obj["kind"] == "APIVersions" and "v1" in obj["versions"]
    status, obj = api.json("GET", "/apis/apps/v1", expect=200)
    assert obj["kind"] == "APIResourceList" and obj["groupVersion"] == "apps/v1"
    scale = next(r for r in obj["resources"] if r["name"] == "deployments/scale")
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")


def test_lease_and_events_kinds(kubectl, ns, tmp_path):
    text = """\
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: leader
spec:
  holderIdentity: node-a
  leaseDurationSeconds: 15
---
apiVersion: events.k8s.io/v1
kind: Event
metadata:
  name: ev1
eventTime: "2024-01-01T00:00:00.000000Z"
reportingController: e2e.sampan.io/test
reportingInstance: e2e-1
action: Testing
reason: E2E
type: Normal
note: hello
regarding:
  kind: Pod
  name: nothing
"""
    r = apply_manifest(kubectl, tmp_path, text, "-n", ns)
    assert r.rc == 0, str(r)
    assert r.stdout.splitlines() == ["lease.coordination.k8s.io/leader created",
                                     "event.events.k8s.io/ev1 created"], str(r)
    lease = kubectl.json("get", "lease", "leader", "-n", ns)
    assert lease["spec"]["holderIdentity"] == "node-a"
    # Kubernetes stores both Event versions as one resource: the events.k8s.io Event is also a
    # core/v1 Event (reason kept, note -> message).
    ev = json.loads(kubectl.ok("get", "--raw", f"/api/v1/namespaces/{ns}/events/ev1").stdout)
    assert ev["kind"] == "Event" and ev["reason"] == "E2E" and ev["message"] == "hello", ev


def test_status_subresource(kubectl, api, ns):
    """Writes to the main resource ignore status; writes to /status change only status."""
    api.create_pod(ns, "web")
    kubectl.ok("patch", "pod", "web", "-n", ns, "--subresource=status", "--type=merge", "-p",
               '{"status":{"phase":"Running"}}')
    rows = rows_by_name(kubectl.ok("get", "po", "web", "-n", ns).stdout)
    assert rows["web"]["STATUS"] == "Running", rows
    pod = kubectl.json("get", "po", "web", "-n", ns)
    pod["status"]["phase"] = "Failed"
    pod["metadata"]["labels"] = {"changed": "yes"}
    status, obj = api.json("PUT", f"/api/v1/namespaces/{ns}/pods/web", pod, expect=200)
    assert obj["status"]["phase"] == "Running", obj["status"]
    assert obj["metadata"]["labels"] == {"changed": "yes"}
    # A /status write does not change the spec.
    obj["status"]["phase"] = "Succeeded"
    obj["spec"]["containers"][0]["image"] = "changed:by-status"
    status, obj2 = api.json("PUT", f"/api/v1/namespaces/{ns}/pods/web/status", obj, expect=200)
    assert obj2["status"]["phase"] == "Succeeded"
    assert obj2["spec"]["containers"][0]["image"] == "busybox:1.36", obj2["spec"]


def test_deployment_status_does_not_bump_generation(kubectl, api, ns, tmp_path):
    apply_manifest(kubectl, tmp_path, manifests.DEPLOYMENT.format(name="d", replicas=1,
                                                                  image="nginx"), "-n", ns)
    gen = kubectl.json("get", "deploy", "d", "-n", ns)["metadata"]["generation"]
    kubectl.ok("patch", "deploy", "d", "-n", ns, "--subresource=status", "--type=merge", "-p",
               '{"status":{"observedGeneration":1,"replicas":1}}')
    d = kubectl.json("get", "deploy", "d", "-n", ns)
    assert d["metadata"]["generation"] == gen
    assert d["status"]["replicas"] == 1
    kubectl.ok("label", "deploy", "d", "x=y", "-n", ns)
    assert kubectl.json("get", "deploy", "d", "-n", ns)["metadata"]["generation"] == gen
