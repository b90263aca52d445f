"""pods/binding, as the scheduler uses it: node name, PodScheduled condition, annotations, conflicts."""


def test_binding_sets_node_and_pod_scheduled(api, ns):
    api.create_pod(ns, "bound")
    binding = {"apiVersion": "v1", "kind": "Binding",
               "metadata": {"name": "bound", "annotations": {"example.com/placed-by": "test"}},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"}}
    api.json("POST", f"/api/v1/namespaces/{ns}/pods/bound/binding", binding, expect=201)
    pod = api.get(f"/api/v1/namespaces/{ns}/pods/bound")
    assert pod["spec"]["nodeName"] == "node-a"
    assert pod["metadata"]["annotations"]["example.com/placed-by"] == "test"
    conds = [c for c in pod["status"].get("conditions", []) if c["type"] == "PodScheduled"]
    assert len(conds) == 1 and conds[0]["status"] == "True", pod["status"]
    assert conds[0].get("lastTransitionTime")

    # A bound pod cannot be bound again.
    binding["target"]["name"] = "node-b"
    status, obj = api.json("POST", f"/api/v1/namespaces/{ns}/pods/bound/binding", binding)
    assert status == 409, obj
    assert "already assigned to node" in obj["message"]


def test_binding_without_target_is_invalid(api, ns):
    api.create_pod(ns, "unbound")
    status, obj = api.json("POST", f"/api/v1/namespaces/{ns}/pods/unbound/binding",
                           {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "unbound"},
                            "target": {}})
    assert status == 422, obj
    assert obj["reason"] == "Invalid"
