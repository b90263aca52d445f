"""Job and CronJob controllers end to end, with hollow nodes running the pods (their exit code
and run time come from pod annotations)."""

import pytest

from harness import rows_by_name, wait_until
from hollow import HollowNodes
from workloads_util import create, get, pods, wait_status

JOB = """
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
  completions: {completions}
  parallelism: {parallelism}
  backoffLimit: {backoff}
  completionMode: {mode}
  template:
    metadata:
      annotations:
        hollow.sampan.io/exit-code: "{code}"
        hollow.sampan.io/run-seconds: "1"
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox:1.36
"""


def job(name, completions=1, parallelism=1, backoff=6, mode="NonIndexed", code=0):
    return JOB.format(name=name, completions=completions, parallelism=parallelism,
                      backoff=backoff, mode=mode, code=code)


@pytest.fixture(scope="module")
def nodes(server):
    with HollowNodes(server, count=2, prefix="jobnode-") as n:
        yield n


def conditions(obj):
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])
            if c.get("status") == "True"}


def test_job_runs_to_completion(kubectl, ns, nodes, tmp_path):
    create(kubectl, tmp_path, ns, job("pi", completions=3, parallelism=2))
    r = kubectl.ok("wait", "--for=condition=complete", "job/pi", "-n", ns, "--timeout=60s")
    assert "condition met" in r.stdout, str(r)
    j = get(kubectl, ns, "job", "pi")
    assert j["status"]["succeeded"] == 3
    assert j["status"].get("active", 0) == 0
    assert j["status"]["completionTime"] and j["status"]["startTime"]
    conds = conditions(j)
    assert conds["Complete"]["reason"] == "CompletionsReached"
    assert "SuccessCriteriaMet" in conds
    rows = rows_by_name(kubectl.ok("get", "job", "pi", "-n", ns).stdout)
    assert rows["pi"]["COMPLETIONS"] == "3/3", rows
    ran = pods(kubectl, ns, "job-name=pi")
    assert len(ran) == 3
    for p in ran.values():
        assert p["status"]["phase"] == "Succeeded"
        assert "batch.kubernetes.io/job-tracking" not in p["metadata"].get("finalizers", [])
        assert p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] == j["metadata"]["uid"]


def test_job_fails_after_backoff_limit(kubectl, ns, nodes, tmp_path):
    # Two failures: the first, then a retry after the 10 s back-off.
    create(kubectl, tmp_path, ns, job("bad", backoff=1, code=3))
    r = kubectl.ok("wait", "--for=condition=failed", "job/bad", "-n", ns, "--timeout=60s")
    assert "condition met" in r.stdout, str(r)
    j = get(kubectl, ns, "job", "bad")
    assert j["status"]["failed"] == 2
    assert conditions(j)["Failed"]["reason"] == "BackoffLimitExceeded"
    assert conditions(j)["FailureTarget"]["reason"] == "BackoffLimitExceeded"
    assert "completionTime" not in j["status"]
    failed = sorted(pods(kubectl, ns, "job-name=bad").values(),
                    key=lambda p: p["metadata"]["creationTimestamp"])
    assert len(failed) == 2 and all(p["status"]["phase"] == "Failed" for p in failed)


def test_indexed_job(kubectl, ns, nodes, tmp_path):
    create(kubectl, tmp_path, ns, job("ix", completions=3, parallelism=3, mode="Indexed"))
    kubectl.ok("wait", "--for=condition=complete", "job/ix", "-n", ns, "--timeout=60s")
    j = get(kubectl, ns, "job", "ix")
    assert j["status"]["completedIndexes"] == "0-2"
    indexes = set()
    for p in pods(kubectl, ns, "job-name=ix").values():
        ix = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        assert p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == ix
        assert p["spec"]["hostname"] == f"ix-{ix}"
        env = {e["name"]: e for e in p["spec"]["containers"][0]["env"]}
        assert "JOB_COMPLETION_INDEX" in env
        indexes.add(ix)
    assert indexes == {"0", "1", "2"}


def test_cronjob_fires_every_minute(kubectl, ns, nodes, tmp_path):
    create(kubectl, tmp_path, ns, """
apiVersion: batch/v1
kind: CronJob
metadata:
  name: tick
spec:
  schedule: "*/1 * * * *"
  successfulJobsHistoryLimit: 1
  jobTemplate:
    spec:
      template:
        metadata:
          annotations:
            hollow.sampan.io/exit-code: "0"
        spec:
          restartPolicy: Never
          containers:
          - name: c
            image: busybox:1.36
""")
    cj = wait_status(kubectl, ns, "cronjob", "tick",
                     lambda s: "lastSuccessfulTime" in s and not s.get("active"), timeout=100,
                     what="a scheduled job to run and succeed")
    jobs = kubectl.json("get", "jobs", "-n", ns)["items"]
    assert len(jobs) == 1, [j["metadata"]["name"] for j in jobs]
    j = jobs[0]
    minute = j["metadata"]["name"].rsplit("-", 1)[1]
    assert j["metadata"]["name"] == f"tick-{minute}" and minute.isdigit()
    assert j["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    stamp = j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    assert stamp == cj["status"]["lastScheduleTime"]
    rows = rows_by_name(kubectl.ok("get", "cronjob", "tick", "-n", ns).stdout)
    assert rows["tick"]["SCHEDULE"] == "*/1 * * * *", rows


def test_on_failure_restarts_count_towards_the_backoff_limit(kubectl, ns, nodes, tmp_path):
    create(kubectl, tmp_path, ns, job("crash", backoff=2, code=1).replace(
        "restartPolicy: Never", "restartPolicy: OnFailure"))
    kubectl.ok("wait", "--for=condition=failed", "job/crash", "-n", ns, "--timeout=60s")
    j = get(kubectl, ns, "job", "crash")
    assert conditions(j)["Failed"]["reason"] == "BackoffLimitExceeded"
    # The restarting pod was deleted; it counts as the one failure.
    assert j["status"]["failed"] == 1
    wait_until(lambda: not pods(kubectl, ns, "job-name=crash"), timeout=30, what="pod deleted")


def test_ttl_after_finished_and_deletion_clean_up(kubectl, ns, nodes, tmp_path):
    create(kubectl, tmp_path, ns, job("brief").replace(
        "spec:\n  completions", "spec:\n  ttlSecondsAfterFinished: 1\n  completions"))
    wait_until(lambda: kubectl("get", "job", "brief", "-n", ns).rc != 0, timeout=60,
               what="the finished job to be deleted by its TTL")
    wait_until(lambda: not kubectl.json("get", "pods", "-n", ns)["items"], timeout=30,
               what="its pods to go with it")
    # Deleting a running job removes its pods too (their tracking finalizer is dropped).
    create(kubectl, tmp_path, ns, job("long", parallelism=2, completions=2).replace(
        'run-seconds: "1"', 'run-seconds: "600"'), name="long.yaml")
    wait_until(lambda: len(pods(kubectl, ns, "job-name=long")) == 2, timeout=30, what="2 pods")
    kubectl.ok("delete", "job", "long", "-n", ns)
    wait_until(lambda: not kubectl.json("get", "pods", "-n", ns)["items"], timeout=30,
               what="the deleted job's pods to go")
