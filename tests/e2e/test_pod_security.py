"""Pod Security admission with the real kubectl: the namespace labels
pod-security.kubernetes.io/{enforce,warn} choose the Pod Security Standard (privileged, baseline,
restricted) that pods are held to; an enforce violation is refused with Kubernetes' Forbidden
message, a warn violation is admitted with a `Warning: would violate PodSecurity ...` line, and
workloads (Deployments, ...) are only ever warned about.

The server runs without a node agent: pods stay Pending, which is all these tests need.
"""

import harness

ENFORCE = "pod-security.kubernetes.io/enforce"
WARN = "pod-security.kubernetes.io/warn"

RESTRICTED_DETAIL = (
    'allowPrivilegeEscalation != false (container "{c}" must set '
    'securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "{c}" '
    'must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container '
    '"{c}" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "{c}" must '
    'set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')

COMPLIANT = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  securityContext:
    runAsNonRoot: true
    runAsUser: 1000
    seccompProfile:
      type: RuntimeDefault
  containers:
  - name: app
    image: busybox
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop: ["ALL"]
"""


def label(kubectl, ns, *pairs):
    return kubectl.ok("label", "ns", ns, "--overwrite", *pairs)


def pods(kubectl, ns):
    return [p["metadata"]["name"] for p in kubectl.json("get", "pods", "-n", ns)["items"]]


def test_enforce_restricted_refuses_plain_pod(kubectl, ns, tmp_path):
    label(kubectl, ns, f"{ENFORCE}=restricted")
    r = kubectl.fails("run", "web", "--image=busybox", "-n", ns)
    assert r.stderr.strip() == (
        'Error from server (Forbidden): pods "web" is forbidden: violates PodSecurity '
        '"restricted:latest": ' + RESTRICTED_DETAIL.format(c="web")), r.stderr
    assert pods(kubectl, ns) == []
    # A pod that meets the restricted standard is admitted, without a warning.
    r = harness.apply_manifest(kubectl, tmp_path, COMPLIANT.format(name="good"), "-n", ns)
    assert r.rc == 0, str(r)
    assert r.stdout.strip() == "pod/good created"
    assert "Warning" not in r.stderr, r.stderr
    assert pods(kubectl, ns) == ["good"]


def test_enforce_baseline(kubectl, ns, tmp_path):
    label(kubectl, ns, f"{ENFORCE}=baseline")
    priv = """
apiVersion: v1
kind: Pod
metadata:
  name: priv
spec:
  containers:
  - name: c
    image: busybox
    securityContext:
      privileged: true
"""
    r = harness.apply_manifest(kubectl, tmp_path, priv, "-n", ns)
    assert r.rc != 0
    assert r.stderr.strip().endswith(
        'pods "priv" is forbidden: violates PodSecurity "baseline:latest": privileged '
        '(container "c" must not set securityContext.privileged=true)'), r.stderr
    r = kubectl.fails("run", "hostnet", "--image=busybox", "-n", ns,
                      '--overrides={"spec":{"hostNetwork":true}}')
    assert r.stderr.strip() == (
        'Error from server (Forbidden): pods "hostnet" is forbidden: violates PodSecurity '
        '"baseline:latest": host namespaces (hostNetwork=true)'), r.stderr
    hostpath = """
apiVersion: v1
kind: Pod
metadata:
  name: hp
spec:
  containers:
  - name: c
    image: busybox
    volumeMounts:
    - name: root
      mountPath: /host
  volumes:
  - name: root
    hostPath:
      path: /
"""
    r = harness.apply_manifest(kubectl, tmp_path, hostpath, "-n", ns, name="hp.yaml")
    assert r.rc != 0
    assert r.stderr.strip().endswith(
        'pods "hp" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes '
        '(volume "root")'), r.stderr
    # A plain pod meets baseline: admitted without a warning (warn follows enforce).
    r = kubectl.ok("run", "plain", "--image=busybox", "-n", ns)
    assert r.stdout.strip() == "pod/plain created"
    assert "Warning" not in r.stderr, r.stderr
    assert pods(kubectl, ns) == ["plain"]


def test_warn_restricted_admits_with_warning(kubectl, ns):
    label(kubectl, ns, f"{WARN}=restricted")
    r = kubectl.ok("run", "web", "--image=busybox", "-n", ns)
    assert r.stdout.strip() == "pod/web created"
    assert r.stderr.strip() == (
        'Warning: would violate PodSecurity "restricted:latest": '
        + RESTRICTED_DETAIL.format(c="web")), r.stderr
    assert pods(kubectl, ns) == ["web"]


def test_deployment_in_enforce_restricted_namespace_is_only_warned(kubectl, ns):
    label(kubectl, ns, f"{ENFORCE}=restricted")
    r = kubectl.ok("create", "deployment", "web", "--image=busybox", "-n", ns)
    assert r.stdout.strip() == "deployment.apps/web created"
    assert r.stderr.strip() == (
        'Warning: would violate PodSecurity "restricted:latest": '
        + RESTRICTED_DETAIL.format(c="busybox")), r.stderr
    # kubectl scale is a write of the scale subresource: no warning.
    r = kubectl.ok("scale", "deployment", "web", "--replicas=2", "-n", ns)
    assert "Warning" not in r.stderr, r.stderr
    # Its ReplicaSet's pods are held to the enforce level: none is created.
    harness.wait_until(
        lambda: kubectl.json("get", "replicasets", "-n", ns)["items"], timeout=30,
        what="the deployment's replicaset")
    assert pods(kubectl, ns) == []


def test_invalid_label_is_refused(kubectl, ns):
    r = kubectl.fails("label", "ns", ns, f"{ENFORCE}=strict")
    assert r.stderr.strip() == (
        f'The Namespace "{ns}" is invalid: metadata.labels[{ENFORCE}]: Invalid value: "strict": '
        'must be one of privileged, baseline, restricted'), r.stderr


def test_stricter_enforce_warns_about_existing_pods(kubectl, ns):
    kubectl.ok("run", "a", "--image=busybox", "-n", ns)
    kubectl.ok("run", "b", "--image=busybox", "-n", ns)
    r = label(kubectl, ns, f"{ENFORCE}=restricted")
    assert r.stderr.strip().splitlines() == [
        f'Warning: existing pods in namespace "{ns}" violate the new PodSecurity enforce level '
        '"restricted:latest"',
        'Warning: a (and 1 other pod): allowPrivilegeEscalation != false, unrestricted '
        'capabilities, runAsNonRoot != true, seccompProfile',
    ], r.stderr
    # The pods stay; a change of their image is now checked.
    assert pods(kubectl, ns) == ["a", "b"]
    r = kubectl.fails("set", "image", "pod/a", "a=busybox:1.36", "-n", ns)
    assert 'pods "a" is forbidden: violates PodSecurity "restricted:latest"' in r.stderr, r.stderr
    kubectl.ok("label", "pod", "a", "x=y", "-n", ns)
