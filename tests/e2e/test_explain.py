"""kubectl explain: served from the OpenAPI v3 documents generated from the kind schemas."""

import re


def field_lines(stdout):
    """The `  name\t<type>` lines under FIELDS:, as {name: type-and-flags}."""
    fields = {}
    in_fields = False
    for line in stdout.splitlines():
        if line.startswith("FIELDS:"):
            in_fields = True
            continue
        m = re.match(r"^  (\S+)\s+(<[^>]+>.*)$", line)
        if in_fields and m:
            fields[m.group(1)] = m.group(2).strip()
    return fields


def test_explain_pods(kubectl):
    r = kubectl.ok("explain", "pods")
    assert re.search(r"^KIND:\s+Pod$", r.stdout, re.M), r.stdout
    assert re.search(r"^VERSION:\s+v1$", r.stdout, re.M), r.stdout
    assert "DESCRIPTION:" in r.stdout
    fields = field_lines(r.stdout)
    for name in ("apiVersion", "kind", "metadata", "spec", "status"):
        assert name in fields, f"field {name} missing from explain output:\n{r.stdout}"
    assert fields["apiVersion"].startswith("<string>")
    assert fields["spec"].startswith("<PodSpec>"), fields["spec"]


def test_explain_short_name(kubectl):
    r = kubectl.ok("explain", "po")
    assert re.search(r"^KIND:\s+Pod$", r.stdout, re.M), r.stdout


def test_explain_pod_spec_containers(kubectl):
    r = kubectl.ok("explain", "pod.spec.containers")
    assert re.search(r"^FIELD:\s+containers\s+<\[\]Container>", r.stdout, re.M), r.stdout
    fields = field_lines(r.stdout)
    for name in ("image", "name", "ports", "env", "resources", "command", "args"):
        assert name in fields, f"field {name} missing:\n{r.stdout}"
    assert "-required-" in fields["name"], f"containers[].name must be marked required: {fields['name']}"
    assert fields["ports"].startswith("<[]ContainerPort>"), fields["ports"]


def test_explain_nested_scalar(kubectl):
    r = kubectl.ok("explain", "deployment.spec.replicas")
    assert re.search(r"^KIND:\s+Deployment$", r.stdout, re.M), r.stdout
    assert re.search(r"^GROUP:\s+apps$", r.stdout, re.M), r.stdout
    assert re.search(r"^FIELD:\s+replicas\s+<integer>", r.stdout, re.M), r.stdout


def test_explain_cluster_scoped_kind(kubectl):
    r = kubectl.ok("explain", "namespaces.spec")
    assert re.search(r"^KIND:\s+Namespace$", r.stdout, re.M), r.stdout
    assert "finalizers" in field_lines(r.stdout), r.stdout


def test_explain_unknown_field(kubectl):
    r = kubectl.fails("explain", "pod.spec.nosuchfield")
    assert 'field "nosuchfield" does not exist' in r.stderr, r.stderr


def test_explain_unknown_resource(kubectl):
    r = kubectl.fails("explain", "nosuchkinds")
    assert "doesn't have a resource type" in r.stderr, r.stderr
