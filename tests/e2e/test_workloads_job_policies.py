"""Job successPolicy, backoffLimitPerIndex/maxFailedIndexes (with the FailIndex action) and
orphan adoption end to end through kubectl.

No nodes run here: the Job's pods stay Pending and the tests end them one by one with
`kubectl patch --subresource=status`, the way a kubelet would report them, so each index can
succeed or fail on its own.
"""

import json
import time

from harness import apply_manifest, rows_by_name, wait_until
from workloads_util import create, get, pods, wait_status

INDEXED = """
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
  completionMode: Indexed
  completions: {completions}
  parallelism: {completions}
{extra}
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox:1.36
"""

IX = "batch.kubernetes.io/job-completion-index"
FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"


def indexed(name, completions, extra):
    return INDEXED.format(name=name, completions=completions, extra=extra)


def true_conditions(obj):
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])
            if c.get("status") == "True"}


def by_index(kubectl, ns, job):
    """Live pods of the job by completion index."""
    out = {}
    for p in pods(kubectl, ns, f"job-name={job}").values():
        if p["status"].get("phase") in ("Succeeded", "Failed"):
            continue
        out.setdefault(p["metadata"]["annotations"][IX], []).append(p)
    return out


def end_pod(kubectl, ns, pod, phase, exit_code=None):
    status = {"phase": phase}
    if exit_code is not None:
        status["containerStatuses"] = [{
            "name": "c", "image": "busybox:1.36", "imageID": "", "ready": False,
            "restartCount": 0,
            "state": {"terminated": {"exitCode": exit_code, "reason": "Error",
                                     "finishedAt": "2026-01-01T00:00:00Z"}}}]
    kubectl.ok("patch", "pod", pod["metadata"]["name"], "-n", ns, "--subresource=status",
               "--type=merge", "-p", json.dumps({"status": status}))


def wait_indexes(kubectl, ns, job, want):
    return wait_until(lambda: (lambda m: m if sorted(m) == sorted(want) else None)(
        by_index(kubectl, ns, job)), timeout=30, what=f"running indexes {want} of {job}")


def test_success_policy_completes_early_and_removes_the_rest(kubectl, ns, tmp_path):
    create(kubectl, tmp_path, ns, indexed("lead", 3, """  successPolicy:
    rules:
    - succeededIndexes: "0"
"""))
    running = wait_indexes(kubectl, ns, "lead", ["0", "1", "2"])
    end_pod(kubectl, ns, running["0"][0], "Succeeded")
    r = kubectl.ok("wait", "--for=condition=complete", "job/lead", "-n", ns, "--timeout=60s")
    assert "condition met" in r.stdout, str(r)
    j = get(kubectl, ns, "job", "lead")
    conds = true_conditions(j)
    assert conds["SuccessCriteriaMet"]["reason"] == "SuccessPolicy", conds
    assert conds["SuccessCriteriaMet"]["message"] == "Matched rules at index 0", conds
    assert conds["Complete"]["reason"] == "SuccessPolicy", conds
    assert j["status"]["completedIndexes"] == "0"
    assert j["status"]["succeeded"] == 1
    assert j["status"].get("active", 0) == 0
    assert j["status"]["completionTime"]
    # Indexes 1 and 2 were stopped (their pods deleted), not run to the end.
    wait_until(lambda: not by_index(kubectl, ns, "lead"), timeout=30,
               what="the lingering pods to be removed")
    rows = rows_by_name(kubectl.ok("get", "job", "lead", "-n", ns).stdout)
    assert rows["lead"]["STATUS"] == "Complete", rows


def test_success_policy_validation(kubectl, ns, tmp_path):
    r = apply_manifest(kubectl, tmp_path, INDEXED.format(name="bad", completions=3, extra="""
  successPolicy:
    rules:
    - succeededIndexes: "1,0"
    - succeededCount: 4
""").replace("completionMode: Indexed", "completionMode: Indexed"), "-n", ns)
    assert r.rc != 0
    assert ("spec.successPolicy.rules[0].succeededIndexes: Invalid value: \"1,0\": error parsing "
            "succeededIndexes: non-increasing order, previous: 1, current: 0") in r.stderr, r.stderr
    assert ("spec.successPolicy.rules[1].succeededCount: Invalid value: 4: must be less than or "
            "equal to 3 (the number of specified completions)") in r.stderr, r.stderr
    r = apply_manifest(kubectl, tmp_path, INDEXED.format(name="bad", completions=3, extra="""
  successPolicy:
    rules:
    - succeededCount: 1
""").replace("completionMode: Indexed", "completionMode: NonIndexed"), "-n", ns, name="b.yaml")
    assert r.rc != 0
    assert "spec.successPolicy: Invalid value:" in r.stderr, r.stderr
    assert "requires indexed completion mode" in r.stderr, r.stderr


def test_backoff_limit_per_index(kubectl, ns, tmp_path):
    create(kubectl, tmp_path, ns, indexed("per", 2, "  backoffLimitPerIndex: 1\n"))
    running = wait_indexes(kubectl, ns, "per", ["0", "1"])
    assert all(p[0]["metadata"]["annotations"][FAILURE_COUNT] == "0" for p in running.values())
    first = running["0"][0]
    end_pod(kubectl, ns, first, "Failed")
    # Index 0 is run again after its 10 s back-off, carrying its failure count.
    retry = wait_until(lambda: [p for p in by_index(kubectl, ns, "per").get("0", [])
                                if p["metadata"]["uid"] != first["metadata"]["uid"]],
                       timeout=40, what="a second pod for index 0")[0]
    assert retry["metadata"]["annotations"][FAILURE_COUNT] == "1"
    assert get(kubectl, ns, "job", "per")["status"].get("failedIndexes", "") == ""
    end_pod(kubectl, ns, retry, "Failed")
    # Its one retry used, index 0 is failed for good; index 1 still runs and succeeds.
    wait_status(kubectl, ns, "job", "per", lambda s: s.get("failedIndexes") == "0",
                what="failedIndexes 0")
    end_pod(kubectl, ns, by_index(kubectl, ns, "per")["1"][0], "Succeeded")
    r = kubectl.ok("wait", "--for=condition=failed", "job/per", "-n", ns, "--timeout=60s")
    assert "condition met" in r.stdout, str(r)
    j = get(kubectl, ns, "job", "per")
    conds = true_conditions(j)
    assert conds["Failed"]["reason"] == "FailedIndexes", conds
    assert conds["Failed"]["message"] == "Job has failed indexes", conds
    assert j["status"]["failedIndexes"] == "0"
    assert j["status"]["completedIndexes"] == "1"
    assert j["status"]["failed"] == 2
    assert j["spec"]["backoffLimit"] == 2147483647  # defaulted with backoffLimitPerIndex


def test_fail_index_action_and_max_failed_indexes(kubectl, ns, tmp_path):
    create(kubectl, tmp_path, ns, indexed("cap", 3, """  backoffLimitPerIndex: 5
  maxFailedIndexes: 0
  podFailurePolicy:
    rules:
    - action: FailIndex
      onExitCodes:
        operator: In
        values: [42]
"""))
    running = wait_indexes(kubectl, ns, "cap", ["0", "1", "2"])
    end_pod(kubectl, ns, running["1"][0], "Failed", exit_code=42)
    r = kubectl.ok("wait", "--for=condition=failed", "job/cap", "-n", ns, "--timeout=60s")
    assert "condition met" in r.stdout, str(r)
    j = get(kubectl, ns, "job", "cap")
    conds = true_conditions(j)
    assert conds["Failed"]["reason"] == "MaxFailedIndexesExceeded", conds
    assert conds["FailureTarget"]["message"] == \
        "Job has exceeded the specified maximal number of failed indexes", conds
    assert j["status"]["failedIndexes"] == "1"
    wait_until(lambda: not by_index(kubectl, ns, "cap"), timeout=30,
               what="the other indexes' pods to be removed")
    # FailIndex needs backoffLimitPerIndex.
    r = apply_manifest(kubectl, tmp_path, indexed("nolimit", 2, """  podFailurePolicy:
    rules:
    - action: FailIndex
      onExitCodes: {operator: In, values: [1]}
"""), "-n", ns, name="nolimit.yaml")
    assert r.rc != 0 and "requires the backoffLimitPerIndex to be set" in r.stderr, r.stderr


def test_job_adopts_orphans_and_releases_relabelled_pods(kubectl, ns, tmp_path):
    create(kubectl, tmp_path, ns, """
apiVersion: v1
kind: Pod
metadata:
  name: stray
  labels: {app: adopt}
spec:
  containers: [{name: c, image: busybox:1.36}]
""", name="stray.yaml")
    create(kubectl, tmp_path, ns, """
apiVersion: batch/v1
kind: Job
metadata:
  name: foster
spec:
  manualSelector: true
  selector:
    matchLabels: {app: adopt}
  parallelism: 2
  completions: 2
  template:
    metadata:
      labels: {app: adopt}
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox:1.36}]
""", name="job.yaml")
    job_uid = get(kubectl, ns, "job", "foster")["metadata"]["uid"]

    def owner(name):
        p = get(kubectl, ns, "pod", name)
        refs = [r for r in p["metadata"].get("ownerReferences", []) if r.get("controller")]
        return (refs[0]["uid"] if refs else None), p["metadata"].get("finalizers", [])

    wait_until(lambda: owner("stray")[0] == job_uid, timeout=30, what="the orphan to be adopted")
    assert owner("stray")[1] == ["batch.kubernetes.io/job-tracking"]
    # It counts as one of the two: only one more pod is made.
    wait_status(kubectl, ns, "job", "foster", lambda s: s.get("active") == 2, what="2 active")
    assert len(pods(kubectl, ns, "app=adopt")) == 2
    kubectl.ok("label", "pod", "stray", "-n", ns, "app=elsewhere", "--overwrite")
    wait_until(lambda: owner("stray") == (None, []), timeout=30,
               what="the relabelled pod to be released")
    wait_until(lambda: len(pods(kubectl, ns, "app=adopt")) == 2, timeout=30,
               what="a replacement for the released pod")
    j = get(kubectl, ns, "job", "foster")
    assert j["status"]["active"] == 2 and j["status"].get("failed", 0) == 0, j["status"]


MANAGED = """
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
  managedBy: {managed_by}
  parallelism: 2
  completions: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: c, image: busybox:1.36}}]
"""


def test_job_managed_by_another_controller_is_left_alone(kubectl, ns, tmp_path):
    create(kubectl, tmp_path, ns, MANAGED.format(name="ext", managed_by="example.com/queue"),
           name="ext.yaml")
    create(kubectl, tmp_path, ns,
           MANAGED.format(name="own", managed_by="kubernetes.io/job-controller"), name="own.yaml")
    # The built-in controller runs "own"; by the time it did, it had seen "ext" and left it alone.
    wait_status(kubectl, ns, "job", "own", lambda s: s.get("active") == 2, what="2 active")
    time.sleep(1)
    ext = get(kubectl, ns, "job", "ext")
    assert not ext.get("status"), ext.get("status")
    assert pods(kubectl, ns, "batch.kubernetes.io/job-name=ext") == {}
    # Immutable once set.
    r = kubectl.fails("patch", "job", "ext", "-n", ns, "--type=merge",
                      "-p", '{"spec":{"managedBy":"kubernetes.io/job-controller"}}')
    assert "spec.managedBy: Invalid value: " in r.stderr and "field is immutable" in r.stderr, r.stderr
    # Validation: a domain-prefixed path of at most 63 characters.
    r = apply_manifest(kubectl, tmp_path, MANAGED.format(name="bad", managed_by="queue"),
                       "-n", ns, name="bad.yaml")
    assert r.rc != 0
    assert ('spec.managedBy: Invalid value: "queue": must be a domain-prefixed path '
            '(such as "acme.io/foo")') in r.stderr, r.stderr
    r = apply_manifest(kubectl, tmp_path,
                       MANAGED.format(name="bad", managed_by="example.com/" + "q" * 60),
                       "-n", ns, name="bad2.yaml")
    assert r.rc != 0
    assert "spec.managedBy: Too long: may not be more than 63 bytes" in r.stderr, r.stderr
