"""Pod start-up latency on one node (image present), in network namespaces made like the pod tests'.

Creates N busybox `sleep` pods through the API (one client, HTTPS keep-alive) and measures, per pod:
  client   request sent (client clock) -> a watch event first shows phase Running (client clock)
  api      metadata.creationTimestamp -> the watch event showing Running (wall clocks, same machine)
  started  metadata.creationTimestamp -> status.containerStatuses[].state.running.startedAt (server)
and, to see where the time goes, `client` split in two: request sent -> the watch shows spec.nodeName
(scheduler and binding: `to_bound`) and from there to Running (the node agent: `bound_to_running`).
Kubernetes' timestamps have one-second resolution; when the server writes no fractions, only `client`
resolves the targets below a second (the others are printed for completeness).

Runs, each on a fresh node: `serial` creates the next pod once the previous one is Running (latency
of an otherwise idle node); `paced` creates pods at --rate per second; `burst` creates them all as
fast as one client can. Targets: p50 <= 150 ms, p99 <= 400 ms (Kubernetes SLO: p99 <= 5 s).

Usage: /usr/bin/python3 bench/pod_startup.py [--pods N] [--rate R] [--runs serial,paced,burst]
"""

import argparse
import datetime
import json
import math
import os
import socket
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "pods"))

import cluster as cl  # noqa: E402  (tests/pods/cluster.py)

TARGET_P50_MS = 150
TARGET_P99_MS = 400
SLO_P99_MS = 5000


def parse_ts(text):
    if not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentile(values, q):
    if not values:
        return float("nan")
    s = sorted(values)  # nearest rank
    return s[max(0, min(len(s) - 1, math.ceil(q / 100.0 * len(s)) - 1))]


def summary(values):
    return {"n": len(values), "p50_ms": round(percentile(values, 50), 1),
            "p90_ms": round(percentile(values, 90), 1), "p99_ms": round(percentile(values, 99), 1),
            "max_ms": round(max(values), 1) if values else None}


class Watcher:
    """Watches pods in one namespace; remembers when each pod name was first seen Running, and that
    object."""

    def __init__(self, rest, ns):
        self.rest, self.ns = rest, ns
        self.running = {}  # name -> (monotonic, wall, object)
        self.bound = {}  # name -> monotonic time spec.nodeName was first seen set
        self.cv = threading.Condition()
        self.ready = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError(f"watch did not start: {self.error}")

    def run(self):
        try:
            _, body = self.rest.json("GET", f"/api/v1/namespaces/{self.ns}/pods", expect=200)
            rv = body["metadata"]["resourceVersion"]
            self.conn, resp = self.rest.open_stream(
                f"/api/v1/namespaces/{self.ns}/pods?watch=true&resourceVersion={rv}")
            assert resp.status == 200, resp.status
            self.ready.set()
            while True:
                line = resp.readline()
                if not line:
                    return
                mono, wall = time.monotonic(), time.time()
                ev = json.loads(line)
                obj = ev.get("object", {})
                name = obj.get("metadata", {}).get("name")
                if obj.get("spec", {}).get("nodeName") and name not in self.bound:
                    self.bound[name] = mono
                if obj.get("status", {}).get("phase") == "Running":
                    name = obj["metadata"]["name"]
                    with self.cv:
                        if name not in self.running:
                            self.running[name] = (mono, wall, obj)
                            self.cv.notify_all()
        except Exception as e:  # reported by the caller through missing pods
            self.error = e
            self.ready.set()

    def wait(self, names, timeout):
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                missing = [n for n in names if n not in self.running]
                left = deadline - time.monotonic()
                if not missing or left <= 0:
                    return missing
                self.cv.wait(min(left, 0.5))


def pod_body(name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "startup"}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "sleep", "image": "docker.io/library/busybox:latest",
                "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"]}]}}


def one_run(images_dir, label, pods, rate, out, serial=False, server_args=()):
    c = cl.Cluster(f"bench-{label}", images_dir, extra_args=tuple(server_args))
    try:
        c.start()
        rest = c.server.rest
        ns = "bench"
        rest.create_namespace(ns)
        # The namespace's default ServiceAccount is made by a controller; give it a moment, and warm the
        # connection, so that the first pod does not pay for either.
        time.sleep(1.0)
        watcher = Watcher(rest, ns)
        sent = {}
        names = [f"sleep-{i:04d}" for i in range(pods)]
        t_start = time.monotonic()
        for i, name in enumerate(names):
            if rate > 0:
                delay = t_start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            sent[name] = time.monotonic()
            rest.json("POST", f"/api/v1/namespaces/{ns}/pods", pod_body(name), expect=(200, 201))
            if serial:
                watcher.wait([name], timeout=60)
        created_s = time.monotonic() - t_start
        missing = watcher.wait(names, timeout=120 + pods)
        all_s = time.monotonic() - t_start
        client_ms, api_ms, started_ms, bind_ms, node_ms = [], [], [], [], []
        fractional = False
        for name in names:
            if name not in watcher.running:
                continue
            mono, wall, obj = watcher.running[name]
            client_ms.append((mono - sent[name]) * 1000)
            if name in watcher.bound:
                bind_ms.append((watcher.bound[name] - sent[name]) * 1000)
                node_ms.append((mono - watcher.bound[name]) * 1000)
            created_text = obj["metadata"].get("creationTimestamp", "")
            fractional = fractional or "." in created_text
            created = parse_ts(created_text)
            api_ms.append((wall - created) * 1000)
            starts = [parse_ts(cs.get("state", {}).get("running", {}).get("startedAt"))
                      for cs in obj.get("status", {}).get("containerStatuses", [])]
            if starts and all(starts):
                started_ms.append((max(starts) - created) * 1000)
        rss = ""
        try:
            with open(f"/proc/{c.server.proc.pid}/status") as f:
                rss = next(line.split(":", 1)[1].strip() for line in f if line.startswith("VmRSS"))
        except (OSError, StopIteration):
            pass
        result = {
            "run": label, "pods": pods,
            "rate_per_s": "one at a time" if serial else (rate or "max"),
            "create_seconds": round(created_s, 2), "all_running_seconds": round(all_s, 2),
            "not_running": len(missing), "timestamps_have_fractions": fractional,
            "client": summary(client_ms), "api": summary(api_ms), "started": summary(started_ms),
            "to_bound": summary(bind_ms), "bound_to_running": summary(node_ms),
            "server_rss": rss,
        }
        print(json.dumps(result), file=out, flush=True)
        s = result["client"]
        verdict = lambda ok: "PASS" if ok else "FAIL"  # noqa: E731
        print(f"   {label}: create->Running (client clock) p50 {s['p50_ms']} ms "
              f"[target <= {TARGET_P50_MS}: {verdict(s['p50_ms'] <= TARGET_P50_MS)}], "
              f"p99 {s['p99_ms']} ms [target <= {TARGET_P99_MS}: "
              f"{verdict(s['p99_ms'] <= TARGET_P99_MS)}; Kubernetes SLO <= {SLO_P99_MS}: "
              f"{verdict(s['p99_ms'] <= SLO_P99_MS)}]"
              + (f"; {len(missing)} pods never Running" if missing else ""), file=out, flush=True)
        if os.environ.get("SAMPAN_E2E_KEEP"):
            print(f"   server log: {c.server.log_path}", file=out, flush=True)
        if missing:
            print(f"   server log tail:\n{c.server.log_tail(30)}", file=out, flush=True)
        return result
    finally:
        problems = c.teardown()
        if problems:
            print(f"   cleanup problems: {problems}", file=out, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--rate", type=float, default=10.0, help="pods/s in the paced run")
    ap.add_argument("--runs", default="serial,paced,burst")
    ap.add_argument("--server-arg", action="append", default=[],
                    help="extra `sampan server` argument (repeatable), e.g. --server-arg=--debug; "
                         "SAMPAN_E2E_KEEP=1 keeps the work directory with the server log")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("pod_startup.py needs root (network namespaces, containers)")
    out = sys.stdout
    with tempfile.TemporaryDirectory(prefix="sampan-bench-images-") as tmp:
        images_dir = cl.build_test_images(tmp)
        print(f"pods: {args.pods} busybox `sleep 3600`, image imported before the server starts; "
              f"node: {socket.gethostname()} netns, one sampan server (control plane + agent)",
              file=out)
        for run in args.runs.split(","):
            if run not in ("serial", "paced", "burst"):
                sys.exit(f"unknown run {run!r} (serial, paced, burst)")
            rate = args.rate if run == "paced" else 0
            one_run(images_dir, run, args.pods, rate, out, serial=run == "serial",
                    server_args=args.server_arg)


if __name__ == "__main__":
    main()
