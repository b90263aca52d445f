"""Simulated ("hollow") nodes for end-to-end tests: `sampan hollow-nodes` against a test server.

    from hollow import HollowNodes
    with HollowNodes(server, count=3) as nodes:          # returns once the nodes are registered
        ...                                              # pods bound to hollow-0..2 turn Running/Ready
    # leaving the block stops the process and deletes the nodes (delete_on_exit=True)

    nodes = HollowNodes(server, count=2, prefix="gpu-", labels={"pool": "gpu"},
                        taints=["gpu=true:NoSchedule"], delete_on_exit=False).start()
    nodes.stop()       # SIGTERM: nodes stay, their leases go stale (node failure)

Pod annotations understood by hollow nodes:
    hollow.sampan.io/exit-code: "0"      containers exit with this code ...
    hollow.sampan.io/run-seconds: "2"    ... this long after they started (default 0); restartPolicy
                                         Never ends the pod Succeeded (0) / Failed (other), Always and
                                         OnFailure+nonzero restart it in place (restartCount+1)
    hollow.sampan.io/ready: "false"      the pod runs but is never Ready
"""

import os
import signal
import subprocess
import time

import harness


class HollowNodes:
    def __init__(self, server, count, prefix="hollow-", cpu="4", memory="16Gi", pods=110,
                 labels=None, taints=(), delete_on_exit=True, extra_args=()):
        self.server = server
        self.count = count
        self.prefix = prefix
        self.names = [f"{prefix}{i}" for i in range(count)]
        self.args = [harness.sampan_bin(), "hollow-nodes", "--kubeconfig", server.kubeconfig,
                     "--count", str(count), "--name-prefix", prefix, "--cpu", str(cpu),
                     "--memory", str(memory), "--pods", str(pods), *extra_args]
        for k, v in (labels or {}).items():
            self.args += ["--label", f"{k}={v}"]
        for t in taints:
            self.args += ["--taint", t]
        if delete_on_exit:
            self.args.append("--delete-on-exit")
        self.log_path = os.path.join(server.workdir, f"hollow-{prefix.rstrip('-')}.log")
        self.proc = None
        self._log = None

    def start(self, timeout=60):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sampan hollow-nodes exited with {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            if "nodes ready" in self.log_tail(200):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"hollow nodes not registered after {timeout}s:\n{self.log_tail()}")

    def stop(self, timeout=30):
        """SIGTERM (nodes stay unless delete_on_exit), SIGKILL after `timeout`."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
