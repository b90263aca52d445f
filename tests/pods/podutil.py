"""Small helpers the pod tests share: create from YAML, wait for pod states, read statuses and events."""

import time

import yaml


def client_pod(name, script, node_hostname=None):
    """A busybox pod that runs `script` once (restartPolicy Never), on the node with that
    kubernetes.io/hostname label when given. (Debian's busybox-static 1.35 crashes on `wget -T`,
    so the scripts bound wget with `timeout` instead.)"""
    selector = (f"  nodeSelector:\n    kubernetes.io/hostname: {node_hostname}\n"
                if node_hostname else "")
    return f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: Never
{selector}  containers:
  - name: client
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", {script!r}]
"""


def create(kubectl, ns, text):
    """`kubectl create -f -` of a YAML document (or several) in namespace `ns`."""
    return kubectl.ok("create", "-n", ns, "-f", "-", input=text)


def get_pod(api, ns, name):
    return api.get(f"/api/v1/namespaces/{ns}/pods/{name}")


def wait_pod(api, ns, name, predicate, timeout=60, what=None, interval=0.2):
    """Polls the pod until predicate(pod) is true; returns the pod. On timeout, fails with the last
    status seen."""
    deadline = time.monotonic() + timeout
    pod = None
    while True:
        pod = get_pod(api, ns, name)
        if pod is not None and predicate(pod):
            return pod
        if time.monotonic() > deadline:
            status = yaml.safe_dump((pod or {}).get("status"), default_flow_style=False)
            raise AssertionError(f"pod {ns}/{name}: timed out after {timeout}s waiting for "
                                 f"{what or 'condition'}; last status:\n{status}")
        time.sleep(interval)


def wait_pods(api, ns, names, predicate, timeout=60, what=None):
    """Like wait_pod for several pods with one shared deadline; returns {name: pod}."""
    deadline = time.monotonic() + timeout
    return {n: wait_pod(api, ns, n, predicate, max(1.0, deadline - time.monotonic()), what)
            for n in names}


def phase(pod):
    return (pod or {}).get("status", {}).get("phase")


def is_running(pod):
    return phase(pod) == "Running"


def condition(pod, ctype):
    for c in pod.get("status", {}).get("conditions", []) or []:
        if c.get("type") == ctype:
            return c.get("status")
    return None


def is_ready(pod):
    return condition(pod, "Ready") == "True"


def container_status(pod, name, init=False):
    key = "initContainerStatuses" if init else "containerStatuses"
    for cs in pod.get("status", {}).get(key, []) or []:
        if cs.get("name") == name:
            return cs
    return None


def waiting_reason(pod, name, init=False):
    cs = container_status(pod, name, init) or {}
    return (cs.get("state", {}).get("waiting") or {}).get("reason")


def terminated(pod, name, last=False, init=False):
    cs = container_status(pod, name, init) or {}
    return (cs.get("lastState" if last else "state", {}) or {}).get("terminated")


def restart_count(pod, name):
    return (container_status(pod, name) or {}).get("restartCount", 0)


def container_id(pod, name):
    """The runtime's container id without the "<runtime>://" prefix."""
    cid = (container_status(pod, name) or {}).get("containerID") or ""
    return cid.split("://", 1)[-1]


def events_for(api, ns, name):
    """core/v1 Events about the pod `name`, oldest first: list of dicts (reason, message, type,
    count)."""
    status, body = api.json("GET", f"/api/v1/namespaces/{ns}/events", expect=200)
    out = []
    for ev in body.get("items", []):
        inv = ev.get("involvedObject", {})
        if inv.get("kind") == "Pod" and inv.get("name") == name:
            out.append(ev)
    out.sort(key=lambda e: (e.get("lastTimestamp") or e.get("eventTime") or "",
                            e.get("metadata", {}).get("creationTimestamp", "")))
    return out


def event_reasons(api, ns, name):
    return [e.get("reason") for e in events_for(api, ns, name)]


def wait_event(api, ns, name, reason, timeout=60, message_part=None):
    deadline = time.monotonic() + timeout
    while True:
        evs = [e for e in events_for(api, ns, name) if e.get("reason") == reason and
               (message_part is None or message_part in (e.get("message") or ""))]
        if evs:
            return evs
        if time.monotonic() > deadline:
            seen = [(e.get("reason"), e.get("message")) for e in events_for(api, ns, name)]
            raise AssertionError(f"no {reason} event ({message_part!r}) for pod {ns}/{name} "
                                 f"after {timeout}s; events: {seen}")
        time.sleep(0.3)


def dump(pod):
    """The pod's status as YAML text (for assertion messages: pytest shortens dicts, not strings)."""
    return "\n" + yaml.safe_dump((pod or {}).get("status"), default_flow_style=False)
