#!/usr/bin/env python3
"""Where a process's threads spend their time, by sampling /proc: for each thread, how often it was
running or runnable (R), and otherwise in which system call it was blocked (from
/proc/PID/task/TID/syscall). Threads are grouped by name without trailing digits (api-0 .. api-7
become "api-*"). It needs no perf and no privileges beyond reading the process's /proc entries, so
it works on machines without profiling tools; it is a sampler, so short states are undercounted.

    thread_states.py PID SECONDS [--interval MS] [--while LOAD_PID] [--per N | --per-json FILE]

Prints one line per thread group: threads, CPU seconds used in the window (utime + stime, exact, from
/proc/PID/task/TID/stat), and the share of each sampled state, largest first. A group of one thread
that does a fixed share of every request (the commit writer, the watch dispatcher) bounds the
request rate at 1 / (its CPU seconds per request) on any number of cores; --per N divides by N
requests to print that cost.
A thread that is blocked in futex while it has work queued waits for a lock or a condition; one
in epoll_wait is idle; one in mprotect or page faults (state D) waits for the address space.
"""
import argparse
import collections
import os
import re
import sys
import time

# x86_64 system call numbers of the calls a server thread blocks in.
SYSCALLS = {
    0: "read", 1: "write", 7: "poll", 9: "mmap", 10: "mprotect", 11: "munmap", 12: "brk",
    17: "pread64", 18: "pwrite64", 19: "readv", 20: "writev", 23: "select", 28: "madvise",
    35: "nanosleep", 44: "sendto", 45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 74: "fsync",
    75: "fdatasync", 128: "rt_sigtimedwait", 202: "futex", 230: "clock_nanosleep", 232: "epoll_wait", 270: "pselect6",
    271: "ppoll", 281: "epoll_pwait", 441: "epoll_pwait2",
}


def read_state(pid, tid):
    """(thread name, state label) or None when the thread is gone."""
    try:
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    name = stat[stat.index("(") + 1:stat.rindex(")")]
    state = stat[stat.rindex(")") + 2]
    if state == "R":
        return name, "running"
    try:
        with open(f"/proc/{pid}/task/{tid}/syscall") as f:
            fields = f.read().split()
    except OSError:
        return name, state
    if not fields or fields[0] == "running":
        return name, "running"
    if fields[0] == "-1":
        return name, f"{state}:fault"  # blocked outside a system call: a page fault
    return name, f"{state}:{SYSCALLS.get(int(fields[0]), 'syscall ' + fields[0])}"


def cpu_ticks(pid, tid):
    """utime + stime of one thread in clock ticks, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("pid", type=int)
    ap.add_argument("seconds", type=float)
    ap.add_argument("--interval", type=float, default=1.0, help="ms between sampling rounds")
    ap.add_argument("--per", type=int, default=0,
                    help="requests served in the window: also print CPU microseconds per request")
    ap.add_argument("--while", dest="while_pid", type=int, default=0,
                    help="sample until this process (the load generator) exits; SECONDS is then a bound")
    ap.add_argument("--per-json", default="",
                    help="after sampling, read the request count from this file's JSON field \"ok\"")
    args = ap.parse_args()
    hz = os.sysconf("SC_CLK_TCK")
    start_ticks = {}
    for tid in os.listdir(f"/proc/{args.pid}/task"):
        t = cpu_ticks(args.pid, tid)
        if t is not None:
            start_ticks[tid] = t
    counts = collections.defaultdict(collections.Counter)
    threads = collections.defaultdict(set)
    rounds = 0
    end = time.monotonic() + args.seconds
    while time.monotonic() < end and (not args.while_pid or os.path.exists(f"/proc/{args.while_pid}")):
        try:
            tids = os.listdir(f"/proc/{args.pid}/task")
        except OSError:
            sys.exit(f"thread_states: process {args.pid} is gone")
        for tid in tids:
            got = read_state(args.pid, tid)
            if got is None:
                continue
            group = re.sub(r"\d+$", "*", got[0])
            counts[group][got[1]] += 1
            threads[group].add(tid)
        rounds += 1
        time.sleep(args.interval / 1000)
    cpu = collections.Counter()
    for group, tids in threads.items():
        for tid in tids:
            t = cpu_ticks(args.pid, tid)
            if t is not None:
                cpu[group] += (t - start_ticks.get(tid, 0)) / hz
    elapsed = time.monotonic() - (end - args.seconds)
    if args.per_json:
        import json
        for _ in range(50):  # the load generator writes its line as it exits
            try:
                with open(args.per_json) as f:
                    args.per = int(json.load(f)["ok"])
                break
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
    print(f"thread states of {args.pid}: {rounds} rounds over {elapsed:.1f} s"
          + (f", {args.per} requests" if args.per else ""))
    for group, c in sorted(counts.items(), key=lambda kv: -kv[1]["running"]):
        total = sum(c.values())
        shares = "  ".join(f"{k} {100 * v / total:.1f}%" for k, v in c.most_common(6))
        per = f" {cpu[group] * 1e6 / args.per:6.1f}us/req" if args.per else ""
        print(f"  {group:16s} x{len(threads[group]):<3d} cpu {cpu[group]:6.2f}s{per}  {shares}")


if __name__ == "__main__":
    main()
