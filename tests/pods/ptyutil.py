"""Drives an interactive command (kubectl run -it, attach -it, debug -it) through a pseudo-terminal,
the way a user at a terminal does: what it prints is collected, input is typed into the terminal."""

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time


class PtyProcess:
    def __init__(self, argv, env=None, rows=24, cols=80):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True,
                                     preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.output = ""
        self.argv = argv

    def _read(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: every holder of the terminal's other side has closed it
            return None
        if not data:
            return None
        self.output += data.decode(errors="replace")
        return True

    def expect(self, pattern, timeout=30, poke=None):
        """Waits until the output (since the start) matches `pattern`; returns the match. `poke`,
        if given, is typed every 2 s while waiting (e.g. "\\r" to get a fresh prompt)."""
        deadline = time.time() + timeout
        next_poke = time.time() + 2
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.output)
            if m:
                return m
            now = time.time()
            if now > deadline:
                raise AssertionError(f"timed out waiting for {pattern!r}; output so far:\n"
                                     f"{self.output!r}")
            if poke is not None and now >= next_poke:
                self.send(poke)
                next_poke = now + 2
            if self._read(min(0.5, deadline - now)) is None:
                m = rx.search(self.output)
                if m:
                    return m
                raise AssertionError(f"output ended before {pattern!r}; output:\n{self.output!r}")

    def send(self, text):
        os.write(self.master, text.encode())

    def resize(self, rows, cols):
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        # kubectl watches SIGWINCH of its terminal; the kernel sends it to the foreground group.

    def wait(self, timeout=60):
        """Reads until the process exits; returns its exit code."""
        deadline = time.time() + timeout
        while self.proc.poll() is None and time.time() < deadline:
            self._read(0.2)
        while self._read(0.1):
            pass
        if self.proc.poll() is None:
            raise AssertionError(f"{self.argv} still runs after {timeout}s; output:\n"
                                 f"{self.output!r}")
        return self.proc.returncode

    def close(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        os.close(self.master)


def spawn_kubectl(kubectl, *args, rows=24, cols=80, env=None):
    return PtyProcess(kubectl.argv(*args), env=kubectl.env(env), rows=rows, cols=cols)
