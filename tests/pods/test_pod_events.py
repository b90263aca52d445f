"""Events of a real pod as kubectl shows them: container events carry involvedObject.fieldPath
(spec.containers{name}, spec.initContainers{name}); a crash-looping container's BackOff event is
one Event whose count rises (firstTimestamp kept, lastTimestamp moving, no series), which
`kubectl describe` prints as "(xN over T)"; `kubectl get pods` prints CrashLoopBackOff and
"N (Ts ago)" restarts."""

import re

import podutil as pu
from harness import rows_by_name

CRASH = """
apiVersion: v1
kind: Pod
metadata:
  name: crash
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: setup
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["true"]
  containers:
  - name: app
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "exit 1"]
"""


def field_paths(api, ns, name, reason):
    return {e.get("involvedObject", {}).get("fieldPath", "")
            for e in pu.events_for(api, ns, name) if e.get("reason") == reason}


def test_container_events_name_their_container_and_repeats_are_counted(kubectl, api, ns):
    pu.create(kubectl, ns, CRASH)
    pu.wait_pod(api, ns, "crash", lambda p: pu.restart_count(p, "app") >= 2, timeout=90,
                what="two restarts of the failing container")
    pu.wait_event(api, ns, "crash", "BackOff", message_part="Back-off restarting failed container")
    assert field_paths(api, ns, "crash", "Started") == {"spec.initContainers{setup}",
                                                        "spec.containers{app}"}
    assert "spec.containers{app}" in field_paths(api, ns, "crash", "Created")
    assert "spec.initContainers{setup}" in field_paths(api, ns, "crash", "Pulled")

    def backoff():
        evs = [e for e in pu.events_for(api, ns, "crash") if e.get("reason") == "BackOff"]
        return evs[0] if len(evs) == 1 and evs[0].get("count", 0) >= 2 else None

    ev = pu.wait_pod(api, ns, "crash", lambda p: backoff() is not None, timeout=60,
                     what="the BackOff event counted twice") and backoff()
    assert ev["involvedObject"]["fieldPath"] == "spec.containers{app}", ev
    assert ev["type"] == "Warning", ev
    assert ev["firstTimestamp"] < ev["lastTimestamp"], ev
    assert not ev.get("series"), ev
    assert ev["source"] == {"component": "kubelet", "host": ev["source"]["host"]}, ev

    out = kubectl.ok("describe", "pod", "crash", "-n", ns).stdout
    events = out[out.index("Events:"):]
    assert re.search(r"Warning\s+BackOff\s+\S+ \(x\d+ over \S+\)\s+kubelet\s+"
                     r"Back-off restarting failed container app", events), out
    wide = rows_by_name(kubectl.ok("get", "events", "-n", ns, "-o", "wide").stdout, key="NAME")
    subobjects = {r["SUBOBJECT"] for r in wide.values() if r.get("REASON") == "BackOff"}
    assert subobjects == {"spec.containers{app}"}, wide

    row = rows_by_name(kubectl.ok("get", "pods", "-n", ns).stdout)["crash"]
    assert row["STATUS"] in ("CrashLoopBackOff", "Error"), row
    assert re.fullmatch(r"\d+ \(\d+[smh]\d*[sm]? ago\)", row["RESTARTS"]), row
    assert row["READY"] == "0/1", row
