"""Label selectors (-l) and field selectors, as kubectl sends them."""

import pytest


@pytest.fixture
def labelled(api, ns):
    api.create_pod(ns, "p-web-prod", labels={"app": "web", "env": "prod"})
    api.create_pod(ns, "p-web-dev", labels={"app": "web", "env": "dev"})
    api.create_pod(ns, "p-db", labels={"app": "db", "env": "prod"})
    api.create_pod(ns, "p-plain")
    return ns


def names(kubectl, ns, *selector):
    r = kubectl.ok("get", "pods", "-n", ns, "-o", "name", *selector)
    return sorted(n.removeprefix("pod/") for n in r.stdout.split())


@pytest.mark.parametrize("selector,expected", [
    ("app", ["p-db", "p-web-dev", "p-web-prod"]),
    ("!app", ["p-plain"]),
    ("app=web", ["p-web-dev", "p-web-prod"]),
    ("app==web", ["p-web-dev", "p-web-prod"]),
    ("app!=web", ["p-db", "p-plain"]),          # != also matches objects without the key
    ("env in (dev,staging)", ["p-web-dev"]),
    ("env notin (dev)", ["p-db", "p-plain", "p-web-prod"]),
    ("app=web,env=prod", ["p-web-prod"]),
    ("app=web,env!=prod", ["p-web-dev"]),
    ("app in (web,db),!nothere", ["p-db", "p-web-dev", "p-web-prod"]),
    ("app=nothing", []),
])
def test_label_selector(kubectl, labelled, selector, expected):
    assert names(kubectl, labelled, "-l", selector) == expected


def test_selector_empty_result_message(kubectl, labelled):
    r = kubectl.ok("get", "pods", "-n", labelled, "-l", "app=nothing")
    assert r.stdout == "" and f"No resources found in {labelled} namespace." in r.stderr


def test_selector_table_output(kubectl, labelled):
    r = kubectl.ok("get", "pods", "-n", labelled, "-l", "env=prod", "--show-labels")
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and lines[0].startswith("NAME"), r.stdout
    assert {l.split()[0] for l in lines[1:]} == {"p-web-prod", "p-db"}


def test_invalid_selector_rejected(kubectl, labelled):
    r = kubectl.fails("get", "pods", "-n", labelled, "-l", "app in (web")
    assert r.stderr.strip(), r


def test_field_selector_name(kubectl, labelled):
    assert names(kubectl, labelled, "--field-selector", "metadata.name=p-db") == ["p-db"]
    assert names(kubectl, labelled, "--field-selector", "metadata.name!=p-db") == \
        ["p-plain", "p-web-dev", "p-web-prod"]


def test_field_selector_status_phase(kubectl, labelled):
    assert len(names(kubectl, labelled, "--field-selector", "status.phase=Pending")) == 4
    assert names(kubectl, labelled, "--field-selector", "status.phase=Running") == []


def test_field_selector_with_label_selector(kubectl, labelled):
    assert names(kubectl, labelled, "-l", "app=web", "--field-selector",
                 "metadata.name!=p-web-dev") == ["p-web-prod"]


def test_unsupported_field_selector(kubectl, labelled):
    r = kubectl.fails("get", "pods", "-n", labelled, "--field-selector", "spec.nosuch=x")
    assert "Error from server (BadRequest)" in r.stderr, r.stderr
