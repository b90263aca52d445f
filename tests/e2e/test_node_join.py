"""Joining nodes with the server's node token (`sampan agent --server URL --token TOKEN`): the token
names the cluster CA, the join endpoints hand a node its own certificate (system:node:NAME in
system:nodes) only for the right token, and the agent refuses a server whose CA is not the token's.
An agent that joins and runs pods is in tests/pods/test_pod_multinode.py."""

import hashlib
import os
import subprocess

import harness


def node_token(server):
    with open(os.path.join(server.data_dir, "server", "node-token")) as f:
        return f.read().strip()


def test_the_token_names_the_ca(server, api):
    token = node_token(server)
    anonymous = api.without_client_cert()
    status, body = anonymous.json("GET", "/v1-sampan/cacerts")
    assert status == 200, body
    assert token.startswith("K10" + hashlib.sha256(body["ca"].encode()).hexdigest() + "::node:")
    st = os.stat(os.path.join(server.data_dir, "server", "node-token"))
    assert st.st_mode & 0o777 == 0o600


def test_credentials_only_for_the_token(server, api, tmp_path):
    token = node_token(server)
    anonymous = api.without_client_cert()
    status, body = anonymous.json("POST", "/v1-sampan/node-credentials",
                                  {"nodeName": "joiner", "token": token[:-1] + "x"})
    assert status == 401 and body["reason"] == "Unauthorized", body
    status, body = anonymous.json("POST", "/v1-sampan/node-credentials",
                                  {"nodeName": "Bad_Name", "token": token})
    assert status == 422, body
    status, body = anonymous.json("POST", "/v1-sampan/node-credentials",
                                  {"nodeName": "joiner", "token": token})
    assert status == 200, body
    # The certificate is the node's identity: kubectl with it is system:node:joiner.
    for name in ("ca", "certificate", "key"):
        (tmp_path / name).write_text(body[name])
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters:
- cluster: {{server: "https://127.0.0.1:{api.port}", certificate-authority: {tmp_path / 'ca'}}}
  name: c
users:
- name: u
  user: {{client-certificate: {tmp_path / 'certificate'}, client-key: {tmp_path / 'key'}}}
contexts:
- context: {{cluster: c, user: u}}
  name: x
current-context: x
""")
    node = harness.Kubectl(str(kubeconfig), str(tmp_path / "cache"))
    who = node.json("auth", "whoami")
    assert who["status"]["userInfo"]["username"] == "system:node:joiner", who
    assert "system:nodes" in who["status"]["userInfo"]["groups"], who
    # A node may read Services (kube-proxy's rules) but not delete Namespaces.
    assert node("auth", "can-i", "watch", "services").stdout.strip() == "yes"
    assert node("auth", "can-i", "delete", "namespaces").stdout.strip() == "no"
    check_node_restriction(node, tmp_path)


def forbidden(result, message):
    assert result.rc != 0, str(result)
    # (`create -f` puts 'error when creating "FILE": ' before the server's message)
    assert result.stderr.startswith("Error from server (Forbidden): "), result.stderr
    assert message + "\n" in result.stderr, result.stderr


def check_node_restriction(node, tmp_path):
    """NodeRestriction: the node writes its own Node, Lease and mirror pods only."""
    manifest = tmp_path / "node.yaml"
    manifest.write_text("""apiVersion: v1
kind: Node
metadata:
  name: joiner
  labels: {kubernetes.io/hostname: joiner, node-restriction.kubernetes.io/trusted: "yes"}
""")
    forbidden(node("create", "-f", str(manifest)),
              'nodes "joiner" is forbidden: node "joiner" is not allowed to set the following '
              'labels: node-restriction.kubernetes.io/trusted')
    manifest.write_text(manifest.read_text().replace(', node-restriction.kubernetes.io/trusted: "yes"',
                                                     ""))
    node.ok("create", "-f", str(manifest))
    forbidden(node("label", "node", "joiner", "node-role.kubernetes.io/control-plane="),
              'nodes "joiner" is forbidden: is not allowed to modify labels: '
              'node-role.kubernetes.io/control-plane')
    node.ok("label", "node", "joiner", "example.com/rack=r1")  # outside kubernetes.io: allowed
    forbidden(node("taint", "node", "joiner", "k=v:NoSchedule"),
              'nodes "joiner" is forbidden: node "joiner" is not allowed to modify taints')
    other = tmp_path / "other.yaml"
    other.write_text("apiVersion: v1\nkind: Node\nmetadata:\n  name: another\n")
    forbidden(node("create", "-f", str(other)),
              'nodes "another" is forbidden: node "joiner" is not allowed to modify node '
              '"another"')
    pod = tmp_path / "pod.yaml"
    pod.write_text("""apiVersion: v1
kind: Pod
metadata: {name: sneaky, namespace: default}
spec:
  nodeName: joiner
  containers: [{name: c, image: busybox}]
""")
    forbidden(node("create", "-f", str(pod)),
              'pods "sneaky" is forbidden: pod does not have "kubernetes.io/config.mirror" '
              'annotation, node "joiner" can only create mirror pods')
    lease = tmp_path / "lease.yaml"
    lease.write_text("""apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: another, namespace: kube-node-lease}
spec: {holderIdentity: another}
""")
    forbidden(node("create", "-f", str(lease)),
              'leases.coordination.k8s.io "another" is forbidden: can only access node lease '
              'with the same name as the requesting node')


def test_the_agent_refuses_a_wrong_token(server, api, tmp_path):
    token = node_token(server)
    url = f"https://127.0.0.1:{api.port}"
    wrong_ca = "K10" + "0" * 64 + "::node:" + token.split("::node:")[1]
    for bad, message in ((wrong_ca, "is not the one the token names"),
                         (token[:-1] + "x", "Unauthorized"),
                         ("not-a-token", "the token is not of the form K10<CA hash>::node:<secret>")):
        r = subprocess.run([harness.sampan_bin(), "agent", "--server", url, "--token", bad,
                            "--data-dir", str(tmp_path / "data"), "--node-name", "refused"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0, r
        assert message in r.stderr, r.stderr
        assert not (tmp_path / "data" / "agent" / "client" / "node.key").exists()
    r = subprocess.run([harness.sampan_bin(), "agent", "--data-dir", str(tmp_path / "data")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert r.stderr == "sampan agent: --kubeconfig, or --server and --token, are required\n"
