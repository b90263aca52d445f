#!/usr/bin/python3
"""Load generator for bench/apiserver.sh. Talks HTTPS to 127.0.0.1 only, with the kubeconfig's client cert.

  watch   W watchers on one resource (configmaps in a namespace); E creates; delivery latency p50/p99
  sqlite  raw SQLite on the same disk: WAL + synchronous=FULL, single-row commits and 100-row batches
  raw     one request (METHOD PATH [BODY]); prints the response body, exits 1 on a non-2xx status
          (the bench needs no kubectl)

Each prints one JSON line with its results. Clients are spread over processes (the GIL would otherwise
be the bottleneck); the generator's own CPU time is reported. Creates and gets are measured by the C++
generator bench/apiserver_load.cc, which costs the shared CPUs far less.
"""

import argparse
import asyncio
import base64
import http.client
import json
import multiprocessing as mp
import os
import re
import resource
import shutil
import sqlite3
import ssl
import sys
import tempfile
import time
import urllib.parse

import yaml

PAYLOAD = "x" * 256  # configmap data of a typical small size


# ---- kubeconfig ---------------------------------------------------------------------------------
def load_kubeconfig(path, workdir):
    with open(path) as f:
        cfg = yaml.safe_load(f)
    name = cfg.get("current-context")
    ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == name) if name \
        else cfg["contexts"][0]["context"]
    cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
    url = urllib.parse.urlparse(cluster["server"])
    if url.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"refusing to benchmark a non-local server: {cluster['server']}")

    def file_of(obj, key, fname):
        if obj.get(key + "-data"):
            p = os.path.join(workdir, fname)
            with open(p, "wb") as f:
                f.write(base64.b64decode(obj[key + "-data"]))
            return p
        return obj.get(key)

    return {"host": "127.0.0.1", "port": url.port,
            "ca": file_of(cluster, "certificate-authority", "ca.crt"),
            "cert": file_of(user, "client-certificate", "client.crt"),
            "key": file_of(user, "client-key", "client.key")}


def ssl_context(cfg):
    ctx = ssl.create_default_context(cafile=cfg["ca"])
    ctx.check_hostname = False
    ctx.load_cert_chain(cfg["cert"], cfg["key"])
    return ctx


def connect(cfg):
    return http.client.HTTPSConnection(cfg["host"], cfg["port"], context=ssl_context(cfg), timeout=60)


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


# ---- watch ---------------------------------------------------------------------------------------
T_RE = re.compile(rb'"t":"([0-9.]+)"')


async def read_watch(cfg, ctx, path, expect, lat, ready, stop_at):
    reader, writer = await asyncio.open_connection(cfg["host"], cfg["port"], ssl=ctx)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n"
                 .encode())
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"watch answered {status!r}")
    chunked = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower():
            chunked = True
    ready()
    got = 0
    buf = b""
    try:
        while got < expect and time.time() < stop_at:
            if chunked:
                size_line = await asyncio.wait_for(reader.readline(), stop_at - time.time())
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    break
                data = await reader.readexactly(size + 2)
                data = data[:-2]
            else:
                data = await asyncio.wait_for(reader.read(65536), stop_at - time.time())
                if not data:
                    break
            now = time.time()
            buf += data
            *events, buf = buf.split(b"\n")
            for ev in events:
                m = T_RE.search(ev)
                if m and b'"ADDED"' in ev[:40]:
                    lat.append(now - float(m.group(1)))
                    got += 1
    except asyncio.TimeoutError:
        pass
    finally:
        writer.close()


def watch_worker(cfg, args, count, rv, ready_evt, out_q):
    async def main():
        ctx = ssl_context(cfg)
        lat = []
        ready_n = [0]

        def ready():
            ready_n[0] += 1
            if ready_n[0] == count:
                ready_evt.set()
        path = (f"/api/v1/namespaces/{args.namespace}/configmaps?watch=true&resourceVersion={rv}"
                f"&labelSelector=bench%3Dwatch")
        stop_at = time.time() + args.duration
        tasks = []
        for i in range(count):
            tasks.append(asyncio.create_task(read_watch(cfg, ctx, path, args.events, lat, ready,
                                                        stop_at)))
            if i % 50 == 49:
                await asyncio.sleep(0.05)  # do not open 1,000 TLS handshakes at once
        res = await asyncio.gather(*tasks, return_exceptions=True)
        errs = [repr(r) for r in res if isinstance(r, Exception)]
        return lat, errs
    lat, errs = asyncio.run(main())
    out_q.put((lat, errs[:5], len(errs), cpu_seconds()))


def cmd_watch(args, cfg):
    conn = connect(cfg)
    conn.request("GET", f"/api/v1/namespaces/{args.namespace}/configmaps?limit=1",
                 headers={"Accept": "application/json"})
    resp = conn.getresponse()
    rv = json.loads(resp.read())["metadata"]["resourceVersion"]
    procs = max(1, min(args.processes, args.watchers))
    counts = [args.watchers // procs + (1 if i < args.watchers % procs else 0) for i in range(procs)]
    q = mp.Queue()
    readies = [mp.Event() for _ in range(procs)]
    ps = [mp.Process(target=watch_worker, args=(cfg, args, counts[i], rv, readies[i], q))
          for i in range(procs)]
    for p in ps:
        p.start()
    t0 = time.time()
    for e in readies:
        e.wait(max(1, 120 - (time.time() - t0)))
    connected_after = time.time() - t0
    time.sleep(1.0)
    # Create the events at a steady rate; each carries its send time.
    sent = 0
    interval = 1.0 / args.rate
    next_t = time.time()
    for i in range(args.events):
        now = time.time()
        if now < next_t:
            time.sleep(next_t - now)
        next_t += interval
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": f"{args.prefix}-{i}", "labels": {"bench": "watch"}},
                           "data": {"t": repr(time.time())}})
        conn.request("POST", f"/api/v1/namespaces/{args.namespace}/configmaps", body=body,
                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status == 201:
            sent += 1
    results = [q.get() for _ in ps]
    for p in ps:
        p.join()
    lat = sorted(l for r in results for l in r[0])
    errors = sum(r[2] for r in results)
    print(json.dumps({
        "watchers": args.watchers, "events": sent, "expected_deliveries": sent * args.watchers,
        "deliveries": len(lat), "watch_errors": errors,
        "error_samples": [e for r in results for e in r[1]][:3],
        "connect_s": round(connected_after, 2),
        "p50_ms": round(percentile(lat, 50) * 1000, 2) if lat else None,
        "p99_ms": round(percentile(lat, 99) * 1000, 2) if lat else None,
        "max_ms": round(lat[-1] * 1000, 2) if lat else None,
        "client_cpu_s": round(sum(r[3] for r in results), 2)}))


# ---- raw sqlite ----------------------------------------------------------------------------------
def cmd_sqlite(args, _cfg):
    path = os.path.join(args.dir, "raw-sqlite-bench.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE kv (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, "
               "created INTEGER, deleted INTEGER, create_revision INTEGER, prev_revision INTEGER, "
               "lease INTEGER, value BLOB, old_value BLOB)")
    db.execute("CREATE INDEX kv_name ON kv (name, id)")
    value = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "x" * 20, "namespace": "bench", "uid": "u" * 36,
                                     "resourceVersion": "123456",
                                     "creationTimestamp": "2026-01-01T00:00:00Z"},
                        "data": {"v": PAYLOAD}}).encode()

    def run(batch):
        rows = 0
        commits = 0
        start = time.perf_counter()
        deadline = start + args.seconds
        while time.perf_counter() < deadline and rows < args.max_rows:
            db.execute("BEGIN IMMEDIATE")
            for _ in range(batch):
                db.execute("INSERT INTO kv (name, created, deleted, create_revision, prev_revision, "
                           "lease, value, old_value) VALUES (?, 1, 0, 0, 0, 0, ?, NULL)",
                           (f"/registry/configmaps/bench/r{rows}", value))
                rows += 1
            db.execute("COMMIT")
            commits += 1
        elapsed = time.perf_counter() - start
        return {"batch": batch, "commits_per_s": round(commits / elapsed, 1),
                "rows_per_s": round(rows / elapsed, 1), "rows": rows, "seconds": round(elapsed, 2)}

    single = run(1)
    batched = run(100)
    db.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    print(json.dumps({"single": single, "batched": batched}))


def cmd_raw(args, cfg):
    conn = connect(cfg)
    body = args.body.encode() if args.body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(args.method, args.path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    sys.stdout.write(data.decode(errors="replace"))
    if not 200 <= resp.status < 300:
        sys.exit(f"{args.method} {args.path}: HTTP {resp.status}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("watch")
    w.add_argument("--watchers", type=int, default=1000)
    w.add_argument("--events", type=int, default=100)
    w.add_argument("--rate", type=float, default=10, help="creates per second")
    w.add_argument("--duration", type=float, default=120, help="upper bound in seconds")
    w.add_argument("--prefix", default="w")
    s = sub.add_parser("sqlite")
    s.add_argument("--dir", required=True)
    s.add_argument("--seconds", type=float, default=5)
    s.add_argument("--max-rows", type=int, default=500000)
    r = sub.add_parser("raw")
    r.add_argument("method")
    r.add_argument("path")
    r.add_argument("body", nargs="?")
    r.add_argument("--kubeconfig", required=True)
    for p in (w,):
        p.add_argument("--kubeconfig", required=True)
        p.add_argument("--namespace", default="bench")
        p.add_argument("--processes", type=int, default=4)
    args = ap.parse_args()
    cfg = None
    workdir = None
    if args.cmd != "sqlite":
        workdir = tempfile.mkdtemp(prefix="sampan-bench-certs-")
        cfg = load_kubeconfig(args.kubeconfig, workdir)
    try:
        {"watch": cmd_watch, "sqlite": cmd_sqlite, "raw": cmd_raw}[args.cmd](args, cfg)
    finally:
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
