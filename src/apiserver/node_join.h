// Joining a machine to the cluster (k3s' agent join): `sampan agent --server URL --token TOKEN`
// instead of copying the admin kubeconfig to every node.
//
// The server keeps DATA_DIR/server/node-token (0600): "K10<sha256 hex of the CA certificate
// PEM>::node:<secret>", as k3s' token format, so the token also pins the cluster CA. Two
// endpoints on the API port serve the join, both outside RBAC (they carry their own proof):
//   GET  /v1-sampan/cacerts            → {"ca": PEM}; anyone may ask: the agent checks it
//                                        against the token's hash before trusting it
//   POST /v1-sampan/node-credentials   ← {"nodeName": "n", "token": TOKEN}
//                                      → {"ca": PEM, "certificate": PEM, "key": PEM}: a client
//                                        certificate CN=system:node:n, O=system:nodes (the
//                                        node's identity, which the system:node ClusterRole
//                                        and the sampan node role are bound to)
// A wrong token answers 401; a node name that is not a DNS subdomain, 422.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "apiserver/certs.h"
#include "util/status.h"

namespace sampan::apiserver {

struct NodeToken {
  std::string ca_hash;  // 64 lowercase hex digits
  std::string secret;
};

// "K10<hash>::node:<secret>" (also "::server:", k3s' server tokens, are read).
Result<NodeToken> ParseNodeToken(std::string_view token);
std::string FormatNodeToken(const NodeToken& t);
// The SHA-256 of the CA certificate's PEM text, in lowercase hex.
std::string CaHash(std::string_view ca_pem);

// The node token in `path`: created with `secret` (random when empty) if absent; rewritten when
// `secret` is given and differs, or the CA changed. Returns the token.
Result<std::string> EnsureNodeToken(const std::string& path, const std::string& ca_pem,
                                    const std::string& secret);

class NodeJoin {
 public:
  // `scratch_dir`: where certificates are made before they are sent (removed after).
  NodeJoin(TlsFiles pki, std::string ca_pem, std::string token, std::string scratch_dir);
  const std::string& ca_pem() const { return ca_pem_; }
  // The credentials for `node_name` when `presented` is the cluster's token.
  Result<boost::json::object> Credentials(std::string_view presented,
                                          std::string_view node_name) const;

 private:
  TlsFiles pki_;
  std::string ca_pem_;
  NodeToken token_;
  std::string scratch_dir_;
};

}  // namespace sampan::apiserver
