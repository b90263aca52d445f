"""configMap, secret and downward API: as volumes and as environment variables; configMap updates reach
the volume (not the environment); missing references give Kubernetes' reasons."""

import base64
import json
import re
import time

import pytest
import yaml

import cluster as cl
import podutil as pu

CONSUMER = """
apiVersion: v1
kind: Pod
metadata:
  name: consumer
  labels:
    tier: backend
    app: consumer
  annotations:
    note: hi there
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "exec sleep 3600"]
    resources:
      requests:
        cpu: 100m
        memory: 16Mi
      limits:
        cpu: 200m
        memory: 64Mi
    env:
    - name: GREETING
      valueFrom:
        configMapKeyRef:
          name: app-config
          key: greeting
    - name: PASSWORD
      valueFrom:
        secretKeyRef:
          name: app-secret
          key: password
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: POD_NAMESPACE
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace
    - name: POD_IP
      valueFrom:
        fieldRef:
          fieldPath: status.podIP
    - name: NODE_NAME
      valueFrom:
        fieldRef:
          fieldPath: spec.nodeName
    - name: MEM_LIMIT_MI
      valueFrom:
        resourceFieldRef:
          resource: limits.memory
          divisor: 1Mi
    - name: CPU_REQUEST_M
      valueFrom:
        resourceFieldRef:
          containerName: main
          resource: requests.cpu
          divisor: 1m
    - name: COMPOSED
      value: "$(GREETING)-world"
    envFrom:
    - prefix: CFG_
      configMapRef:
        name: app-config
    - secretRef:
        name: app-secret
    volumeMounts:
    - name: config
      mountPath: /etc/config
    - name: items
      mountPath: /etc/items
    - name: secret
      mountPath: /etc/secret
      readOnly: true
    - name: podinfo
      mountPath: /etc/podinfo
  volumes:
  - name: config
    configMap:
      name: app-config
  - name: items
    configMap:
      name: app-config
      items:
      - key: greeting
        path: sub/hello.txt
        mode: 0600
  - name: secret
    secret:
      secretName: app-secret
      defaultMode: 0400
  - name: podinfo
    downwardAPI:
      items:
      - path: labels
        fieldRef:
          fieldPath: metadata.labels
      - path: annotations
        fieldRef:
          fieldPath: metadata.annotations
      - path: name
        fieldRef:
          fieldPath: metadata.name
      - path: namespace
        fieldRef:
          fieldPath: metadata.namespace
      - path: mem_limit
        resourceFieldRef:
          containerName: main
          resource: limits.memory
          divisor: 1Mi
      - path: cpu_limit
        resourceFieldRef:
          containerName: main
          resource: limits.cpu
          divisor: 1m
"""

CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  greeting: hello
  mode: fast
  multi_line: |
    line1
    line2
"""

MISSING_REFS = """
apiVersion: v1
kind: Pod
metadata:
  name: missing-env
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "exec sleep 3600"]
    env:
    - name: X
      valueFrom:
        configMapKeyRef:
          name: no-such-config
          key: x
---
apiVersion: v1
kind: Pod
metadata:
  name: optional-refs
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "exec sleep 3600"]
    env:
    - name: X
      valueFrom:
        configMapKeyRef:
          name: no-such-config
          key: x
          optional: true
    volumeMounts:
    - name: maybe
      mountPath: /etc/maybe
  volumes:
  - name: maybe
    secret:
      secretName: no-such-secret
      optional: true
"""


LIVE = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: live-config
data:
  greeting: hello
  mode: fast
---
apiVersion: v1
kind: Pod
metadata:
  name: live
  labels:
    app: live
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "exec sleep 3600"]
    env:
    - name: GREETING
      valueFrom:
        configMapKeyRef:
          name: live-config
          key: greeting
    volumeMounts:
    - name: config
      mountPath: /etc/config
    - name: items
      mountPath: /etc/items
    - name: podinfo
      mountPath: /etc/podinfo
  volumes:
  - name: config
    configMap:
      name: live-config
  - name: items
    configMap:
      name: live-config
      items:
      - key: greeting
        path: sub/hello.txt
  - name: podinfo
    downwardAPI:
      items:
      - path: labels
        fieldRef:
          fieldPath: metadata.labels
"""


@pytest.fixture(scope="module")
def consumer(kubectl, api, module_ns):
    ns = module_ns
    pu.create(kubectl, ns, CONFIGMAP)
    kubectl.ok("create", "secret", "generic", "app-secret", "-n", ns,
               "--from-literal=password=s3cr3t", "--from-literal=token=abc")
    pu.create(kubectl, ns, CONSUMER)
    pu.create(kubectl, ns, MISSING_REFS)
    pu.create(kubectl, ns, LIVE)
    pod = pu.wait_pod(api, ns, "consumer", pu.is_running, timeout=60, what="Running")
    return ns, pod


@pytest.fixture(scope="module")
def updated(kubectl, api, consumer):
    """The `live` pod, after its configMap and its labels were changed. Kubernetes applies such
    changes on the kubelet's next sync of the pod (up to about a minute), so the change is made here,
    early, and checked by the module's last tests while the others run."""
    ns, _ = consumer
    pu.wait_pod(api, ns, "live", pu.is_running, timeout=60, what="Running")
    data_before = sh(kubectl, ns, "readlink /etc/config/..data", pod="live").strip()
    assert sh(kubectl, ns, "cat /etc/config/greeting", pod="live") == "hello"
    kubectl.ok("patch", "configmap", "live-config", "-n", ns, "--type=merge",
               "-p", '{"data":{"greeting":"bonjour","mode":"slow"}}')
    kubectl.ok("label", "pod", "live", "-n", ns, "extra=yes")
    return ns, data_before, time.monotonic()


def sh(kubectl, ns, script, pod="consumer"):
    return kubectl.ok("exec", pod, "-n", ns, "--", "sh", "-c", script).stdout


def test_environment(kubectl, consumer, updated):
    # (`updated` starts the live pod's changes now; they are checked at the end of the module)
    ns, pod = consumer
    env = dict(line.split("=", 1) for line in sh(kubectl, ns, "env").splitlines() if "=" in line)
    expected = {
        "GREETING": "hello", "PASSWORD": "s3cr3t", "POD_NAME": "consumer", "POD_NAMESPACE": ns,
        "POD_IP": pod["status"]["podIP"], "NODE_NAME": pod["spec"]["nodeName"],
        "MEM_LIMIT_MI": "64", "CPU_REQUEST_M": "100", "COMPOSED": "hello-world",
        "CFG_greeting": "hello", "CFG_mode": "fast", "password": "s3cr3t", "token": "abc",
    }
    assert {k: env.get(k) for k in expected} == expected
    assert env.get("HOSTNAME") == "consumer"
    assert env.get("PATH", "").startswith("/"), env  # from the image


def test_config_map_volume(kubectl, consumer):
    ns, _ = consumer
    assert sh(kubectl, ns, "cat /etc/config/greeting") == "hello"
    assert sh(kubectl, ns, "cat /etc/config/mode") == "fast"
    assert sh(kubectl, ns, "cat /etc/config/multi_line") == "line1\nline2\n"
    names = sh(kubectl, ns, "ls /etc/config").split()
    assert names == ["greeting", "mode", "multi_line"], names
    # Kubernetes' atomic writer: each key is a symlink into ..data, which points at a timestamped dir.
    assert sh(kubectl, ns, "readlink /etc/config/greeting").strip() == "..data/greeting"
    assert sh(kubectl, ns, "stat -L -c %a /etc/config/greeting").strip() == "644"
    # items: only the listed key, at its path, with its mode.
    assert sh(kubectl, ns, "cat /etc/items/sub/hello.txt") == "hello"
    assert sh(kubectl, ns, "stat -L -c %a /etc/items/sub/hello.txt").strip() == "600"
    assert sh(kubectl, ns, "ls /etc/items").split() == ["sub"]


def test_secret_volume(kubectl, consumer):
    ns, _ = consumer
    assert sh(kubectl, ns, "cat /etc/secret/password") == "s3cr3t"
    assert sh(kubectl, ns, "cat /etc/secret/token") == "abc"
    assert sh(kubectl, ns, "stat -L -c %a /etc/secret/password").strip() == "400"
    r = kubectl("exec", "consumer", "-n", ns, "--", "sh", "-c", "touch /etc/secret/new")
    assert r.rc != 0 and "Read-only file system" in r.stderr, str(r)
    # Secret data is kept off the node's disk: the volume is a tmpfs.
    fs = sh(kubectl, ns, "awk '$2 == \"/etc/secret\" {print $3}' /proc/mounts").split()
    assert fs == ["tmpfs"], fs


def test_downward_api_volume(kubectl, consumer):
    ns, pod = consumer
    # Labels and annotations: key="value" lines sorted by key, no trailing newline.
    assert sh(kubectl, ns, "cat /etc/podinfo/labels") == 'app="consumer"\ntier="backend"'
    annotations = sh(kubectl, ns, "cat /etc/podinfo/annotations").split("\n")
    assert 'note="hi there"' in annotations, annotations
    assert annotations == sorted(annotations), annotations
    assert sh(kubectl, ns, "cat /etc/podinfo/name") == "consumer"
    assert sh(kubectl, ns, "cat /etc/podinfo/namespace") == ns
    assert sh(kubectl, ns, "cat /etc/podinfo/mem_limit") == "64"
    assert sh(kubectl, ns, "cat /etc/podinfo/cpu_limit") == "200"


def test_missing_config_map_reference(api, consumer):
    ns, _ = consumer
    pod = pu.wait_pod(api, ns, "missing-env",
                      lambda p: pu.waiting_reason(p, "main") == "CreateContainerConfigError",
                      timeout=60, what="CreateContainerConfigError")
    msg = pu.container_status(pod, "main")["state"]["waiting"].get("message", "")
    assert "no-such-config" in msg, msg
    assert pu.phase(pod) == "Pending"
    # optional references that do not resolve are simply left out.
    pod = pu.wait_pod(api, ns, "optional-refs", pu.is_running, timeout=60, what="Running")
    assert pu.restart_count(pod, "main") == 0


def test_downward_api_labels_follow_updates(kubectl, updated):
    ns, _, changed_at = updated
    want = 'app="live"\nextra="yes"'
    while True:
        got = sh(kubectl, ns, "cat /etc/podinfo/labels", pod="live")
        if got == want:
            break
        assert time.monotonic() < changed_at + 90, f"labels file never updated: {got!r}"
        time.sleep(1)


def test_config_map_update_reaches_the_volume_not_the_env(kubectl, updated):
    ns, before, changed_at = updated
    while True:
        got = sh(kubectl, ns, "cat /etc/config/greeting; echo; cat /etc/items/sub/hello.txt",
                 pod="live")
        if got == "bonjour\nbonjour":
            break
        assert time.monotonic() < changed_at + 90, \
            f"configMap update never reached the volume: {got!r}"
        time.sleep(1)
    assert sh(kubectl, ns, "cat /etc/config/mode", pod="live") == "slow"
    # A new timestamped directory, swapped in through the ..data symlink.
    after = sh(kubectl, ns, "readlink /etc/config/..data", pod="live").strip()
    assert after != before and re.match(r"^\.\.\d{4}_", after), (before, after)
    # The environment was fixed when the container started.
    assert sh(kubectl, ns, "echo $GREETING", pod="live") == "hello\n"


API_ACCESS = """
apiVersion: v1
kind: Pod
metadata:
  name: api-access
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "exec sleep 3600"]
    volumeMounts:
    - name: kube-api-access
      mountPath: /var/run/secrets/kubernetes.io/serviceaccount
      readOnly: true
  volumes:
  - name: kube-api-access
    projected:
      defaultMode: 420
      sources:
      - serviceAccountToken:
          expirationSeconds: 3607
          path: token
      - configMap:
          name: kube-root-ca.crt
          items:
          - key: ca.crt
            path: ca.crt
      - downwardAPI:
          items:
          - path: namespace
            fieldRef:
              fieldPath: metadata.namespace
"""


def test_service_account_token_volume(kubectl, api, server, ns, tmp_path):
    """The volume Kubernetes' admission gives every pod (kube-api-access-*): a token of the pod's
    service account bound to the pod, the cluster CA and the namespace. The token authenticates
    against the API server as the service account, and stops when the pod goes."""
    pu.create(kubectl, ns, API_ACCESS)
    pod = pu.wait_pod(api, ns, "api-access", pu.is_running, timeout=60, what="Running")
    base = "/var/run/secrets/kubernetes.io/serviceaccount"
    token = sh(kubectl, ns, f"cat {base}/token", pod="api-access")
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == f"system:serviceaccount:{ns}:default", claims
    assert claims["kubernetes.io"]["pod"] == {"name": "api-access",
                                              "uid": pod["metadata"]["uid"]}, claims
    assert claims["exp"] - claims["iat"] == 3607, claims
    assert sh(kubectl, ns, f"cat {base}/namespace", pod="api-access") == ns
    ca = kubectl.json("get", "configmap", "kube-root-ca.crt", "-n", ns)["data"]["ca.crt"]
    assert sh(kubectl, ns, f"cat {base}/ca.crt", pod="api-access") == ca
    assert sh(kubectl, ns, f"stat -L -c %a {base}/token", pod="api-access").strip() == "644"

    with open(server.kubeconfig) as f:
        cfg = yaml.safe_load(f)
    for u in cfg["users"]:
        u["user"] = {"token": token}
    path = tmp_path / "token-kubeconfig.yaml"
    path.write_text(yaml.safe_dump(cfg))
    as_pod = cl.NetnsKubectl(str(path), str(tmp_path / "cache"), kubectl.netns_path)
    who = json.loads(as_pod.ok("auth", "whoami", "-o", "json").stdout)
    assert who["status"]["userInfo"]["username"] == f"system:serviceaccount:{ns}:default", who
    kubectl.ok("delete", "pod", "api-access", "-n", ns, "--wait=true")
    r = as_pod("auth", "whoami")
    assert r.rc != 0 and "You must be logged in" in r.stderr, r
