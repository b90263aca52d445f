"""Containers with a terminal (`tty: true`) and with `stdin: true`, driven the way users do: `kubectl run
-it --rm ... -- sh` and `kubectl attach -it` from a real pseudo-terminal (the shell's prompt, a command,
the terminal size, exit), and `kubectl run -i --rm ... -- cat` with piped input."""

import time

import pytest

import podutil as pu
import ptyutil

PROMPT = r"/ # "


def wait_gone(api, ns, name, timeout=30):
    deadline = time.time() + timeout
    while pu.get_pod(api, ns, name) is not None:
        assert time.time() < deadline, f"pod {ns}/{name} still exists after {timeout}s"
        time.sleep(0.2)

TTY_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: shell
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh"]
    stdin: true
    tty: true
{extra}"""


def test_run_it_rm_shell(kubectl, api, ns):
    p = ptyutil.spawn_kubectl(kubectl, "run", "-it", "--rm", "t", "-n", ns, "--image=busybox:latest",
                              "--image-pull-policy=IfNotPresent", "--", "sh")
    try:
        # The prompt written before kubectl attached is not replayed: Enter gets a fresh one.
        p.expect(PROMPT, timeout=60, poke="\r")
        p.send("echo result-$((6*7)) && tty\r")
        p.expect(r"result-42\r\n/dev/pts/\d+")
        p.send("exit\r")
        rc = p.wait(timeout=60)
    finally:
        p.close()
    assert rc == 0, p.output
    assert f'pod "t" deleted' in p.output, p.output
    wait_gone(api, ns, "t")


# kubectl's transports for attach: WebSocket (its default) and SPDY/3.1.
TRANSPORTS = {"websocket": {}, "spdy": {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}}


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_attach_it_terminal_size_input_and_log(kubectl, api, ns, transport):
    env = TRANSPORTS[transport]
    pu.create(kubectl, ns, TTY_POD.format(name="term", extra=""))
    pu.wait_pod(api, ns, "term", pu.is_running, what="Running")
    p = ptyutil.spawn_kubectl(kubectl, "attach", "-it", "term", "-n", ns, rows=33, cols=111,
                              env=env)
    try:
        p.expect(PROMPT, timeout=30, poke="\r")
        # kubectl sends its terminal's size first: the container's terminal has it.
        p.send("stty size\r")
        p.expect(r"33 111")
        p.send("echo marker-$((2+3))\r")
        p.expect(r"marker-5")
        # A resize of the user's terminal reaches the container's terminal (SIGWINCH → resize).
        p.resize(40, 132)
        p.expect(r"size-40x132", timeout=20, poke='echo size-$(stty size | tr " " x)\r')
    finally:
        p.close()  # leaving: the shell goes on (no stdinOnce)
    # The output went to the container's log too (CRI format, stdout).
    log = kubectl.ok("logs", "term", "-n", ns).stdout
    assert "marker-5" in log, log
    pod = pu.get_pod(api, ns, "term")
    assert pu.is_running(pod) and pu.restart_count(pod, "shell") == 0
    # A second attach still gets the same shell (stdin stayed open).
    p = ptyutil.spawn_kubectl(kubectl, "attach", "-it", "term", "-n", ns, env=env)
    try:
        p.expect(PROMPT, timeout=30, poke="\r")
        p.send("echo again-$((3*3)); exit 7\r")
        p.expect(r"again-9")
        p.wait(timeout=30)
    finally:
        p.close()
    pod = pu.wait_pod(api, ns, "term", lambda o: pu.restart_count(o, "shell") >= 1 or
                      pu.terminated(o, "shell", last=True) is not None, what="the shell's exit")
    last = pu.terminated(pod, "shell", last=True) or pu.terminated(pod, "shell")
    assert last and last["exitCode"] == 7, pu.dump(pod)


def test_attach_streams_output_of_a_container_without_tty(kubectl, api, ns):
    pu.create(kubectl, ns, """
apiVersion: v1
kind: Pod
metadata:
  name: plain
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "while true; do echo tick; sleep 1; done"]
""")
    pu.wait_pod(api, ns, "plain", pu.is_running, what="Running")
    # Without stdin the non-tty attach streams the output.
    proc = kubectl.popen("attach", "plain", "-n", ns)
    try:
        line = proc.stdout.readline()
        assert line == "tick\n", line
    finally:
        proc.kill()
        proc.wait()


def test_run_i_rm_cat_with_piped_input(kubectl, api, ns):
    r = kubectl("run", "-i", "--rm", "cat", "-n", ns, "--image=busybox:latest",
                "--image-pull-policy=IfNotPresent", "--restart=Never", "--", "cat",
                input="hello\nworld\n", timeout=90)
    assert r.rc == 0, str(r)
    assert "hello\nworld\n" in r.stdout, str(r)
    assert 'pod "cat" deleted' in r.stdout + r.stderr, str(r)
    wait_gone(api, ns, "cat")


def test_stdin_once_closes_after_first_attach(kubectl, api, ns):
    pu.create(kubectl, ns, """
apiVersion: v1
kind: Pod
metadata:
  name: once
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "wc -l; echo stdin-closed"]
    stdin: true
    stdinOnce: true
""")
    pu.wait_pod(api, ns, "once", pu.is_running, what="Running")
    r = kubectl("attach", "-i", "once", "-n", ns, input="a\nb\nc\n", timeout=60)
    assert r.rc == 0, str(r)
    pod = pu.wait_pod(api, ns, "once", lambda o: pu.phase(o) == "Succeeded", what="Succeeded")
    log = kubectl.ok("logs", "once", "-n", ns).stdout
    assert log.split() == ["3", "stdin-closed"], log
    assert pu.terminated(pod, "main")["exitCode"] == 0
