#!/usr/bin/env python3
"""Where a process's threads spend their time, by sampling /proc: for each thread, how often it was
running or runnable (R), and otherwise in which system call it was blocked (from
/proc/PID/task/TID/syscall). Threads are grouped by name without trailing digits (api-0 .. api-7
become "api-*"). It needs no perf and no privileges beyond reading the process's /proc entries, so
it works on machines without profiling tools; it is a sampler, so short states are undercounted.

    thread_states.py PID SECONDS [--interval MS]

Prints one line per thread group: threads, samples, and the share of each state, largest first.
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("pid", type=int)
    ap.add_argument("seconds", type=float)
    ap.add_argument("--interval", type=float, default=1.0, help="ms between sampling rounds")
    args = ap.parse_args()
    counts = collections.defaultdict(collections.Counter)
    threads = collections.defaultdict(set)
    rounds = 0
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
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
    print(f"thread states of {args.pid}: {rounds} rounds over {args.seconds:g} s")
    for group, c in sorted(counts.items(), key=lambda kv: -kv[1]["running"]):
        total = sum(c.values())
        shares = "  ".join(f"{k} {100 * v / total:.1f}%" for k, v in c.most_common(6))
        print(f"  {group:16s} x{len(threads[group]):<3d} {shares}")


if __name__ == "__main__":
    main()
