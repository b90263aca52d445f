"""PriorityClass (scheduling.k8s.io/v1) and the Priority admission step, with the real kubectl.

Classes are cluster-scoped and the server is shared by the module: each test uses its own class
names and deletes what it creates (a leftover globalDefault class would change later pods).
"""

import harness


def pod_manifest(name, ns, extra=""):
    return f"""apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {ns}
spec:
{extra}  containers:
  - name: c
    image: busybox
"""


def test_create_and_get_priorityclass(kubectl):
    r = kubectl.ok("create", "priorityclass", "high", "--value=1000",
                   "--description=for important pods")
    assert r.stdout.strip() == "priorityclass.scheduling.k8s.io/high created"
    try:
        pc = kubectl.json("get", "pc", "high")
        assert pc["apiVersion"] == "scheduling.k8s.io/v1"
        assert pc["value"] == 1000
        assert pc["description"] == "for important pods"
        assert pc["preemptionPolicy"] == "PreemptLowerPriority"
        assert "namespace" not in pc["metadata"]
        out = kubectl.ok("get", "priorityclass").stdout.splitlines()
        assert out[0].split() == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
        rows = {line.split()[0]: line.split() for line in out[1:]}
        assert rows["high"][1:3] == ["1000", "false"]
        assert rows["high"][4] == "PreemptLowerPriority"
        assert rows["system-cluster-critical"][1] == "2000000000"
        assert rows["system-node-critical"][1] == "2000001000"
    finally:
        kubectl.ok("delete", "priorityclass", "high")


def test_pod_gets_priority_from_class(kubectl, ns, tmp_path):
    kubectl.ok("create", "priorityclass", "gold", "--value=1000")
    kubectl.ok("create", "priorityclass", "meek", "--value=10", "--preemption-policy=Never")
    try:
        harness.apply_manifest(kubectl, tmp_path, pod_manifest("p1", ns, "  priorityClassName: gold\n"))
        spec = kubectl.json("get", "pod", "p1", "-n", ns)["spec"]
        assert spec["priority"] == 1000
        assert spec["priorityClassName"] == "gold"
        assert spec["preemptionPolicy"] == "PreemptLowerPriority"
        harness.apply_manifest(kubectl, tmp_path, pod_manifest("p2", ns, "  priorityClassName: meek\n"),
                               name="p2.yaml")
        spec = kubectl.json("get", "pod", "p2", "-n", ns)["spec"]
        assert spec["priority"] == 10 and spec["preemptionPolicy"] == "Never"
        harness.apply_manifest(kubectl, tmp_path, pod_manifest("p3", ns), name="p3.yaml")
        spec = kubectl.json("get", "pod", "p3", "-n", ns)["spec"]
        assert spec["priority"] == 0 and "priorityClassName" not in spec
    finally:
        kubectl.ok("delete", "priorityclass", "gold", "meek")


def test_missing_class_rejected(kubectl, ns, tmp_path):
    r = harness.apply_manifest(kubectl, tmp_path, pod_manifest("p", ns, "  priorityClassName: nope\n"))
    assert r.rc != 0
    assert 'pods "p" is forbidden: no PriorityClass with name nope was found' in r.stderr, r.stderr


def test_priority_disagreeing_with_class_rejected(kubectl, ns, tmp_path):
    kubectl.ok("create", "priorityclass", "silver", "--value=500")
    try:
        r = harness.apply_manifest(kubectl, tmp_path, pod_manifest(
            "p", ns, "  priorityClassName: silver\n  priority: 7\n"))
        assert r.rc != 0
        assert ("the integer value of priority (7) must not be provided in pod spec; priority "
                "admission controller computed 500 from the given PriorityClass name") in r.stderr
    finally:
        kubectl.ok("delete", "priorityclass", "silver")


def test_global_default_applies_and_is_unique(kubectl, ns, tmp_path):
    kubectl.ok("create", "priorityclass", "base", "--value=100", "--global-default=true")
    try:
        r = kubectl.fails("create", "priorityclass", "base2", "--value=5", "--global-default=true")
        assert ("PriorityClass base is already marked as default. Only one default can exist"
                in r.stderr), r.stderr
        harness.apply_manifest(kubectl, tmp_path, pod_manifest("p", ns))
        spec = kubectl.json("get", "pod", "p", "-n", ns)["spec"]
        assert spec["priorityClassName"] == "base" and spec["priority"] == 100
        rows = {l.split()[0]: l.split() for l in kubectl.ok("get", "pc").stdout.splitlines()[1:]}
        assert rows["base"][2] == "true"
    finally:
        kubectl.ok("delete", "priorityclass", "base")
    harness.apply_manifest(kubectl, tmp_path, pod_manifest("q", ns), name="q.yaml")
    assert kubectl.json("get", "pod", "q", "-n", ns)["spec"]["priority"] == 0


def test_invalid_classes_rejected(kubectl, tmp_path):
    r = kubectl.fails("create", "priorityclass", "huge", "--value=1000000001")
    assert "maximum allowed value of a user defined priority is 1000000000" in r.stderr, r.stderr
    r = kubectl.fails("create", "priorityclass", "system-mine", "--value=5")
    assert "priority class names with 'system-' prefix are reserved for system use only" in r.stderr
    r = harness.apply_manifest(kubectl, tmp_path, """apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: odd
value: 5
preemptionPolicy: Sometimes
""")
    assert r.rc != 0 and "Sometimes" in r.stderr, r.stderr
    kubectl.fails("get", "pc", "huge")
    kubectl.fails("get", "pc", "odd")


def test_value_and_policy_immutable(kubectl):
    kubectl.ok("create", "priorityclass", "fixed", "--value=42")
    try:
        r = kubectl.fails("patch", "pc", "fixed", "--type=merge", "-p", '{"value": 43}')
        assert "value: Forbidden: may not be changed in an update." in r.stderr, r.stderr
        r = kubectl.fails("patch", "pc", "fixed", "--type=merge", "-p",
                          '{"preemptionPolicy": "Never"}')
        assert "field is immutable" in r.stderr, r.stderr
        kubectl.ok("patch", "pc", "fixed", "--type=merge", "-p", '{"description": "ok"}')
    finally:
        kubectl.ok("delete", "pc", "fixed")


def test_explain_priorityclass(kubectl):
    out = kubectl.ok("explain", "priorityclass").stdout
    assert "scheduling.k8s.io" in out and "value" in out and "preemptionPolicy" in out
