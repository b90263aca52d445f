// The cluster's PKI: a CA made on first start, the API server's serving
// certificate and an admin client certificate, kept under DATA_DIR/server/tls.
// Later starts reuse what is there (the serving certificate is re-issued if its
// subject alternative names no longer cover what is asked).
#pragma once

#include <string>
#include <vector>

#include "util/status.h"

namespace sampan::apiserver {

struct TlsFiles {
  std::string ca_cert, ca_key;            // PEM files
  std::string serving_cert, serving_key;  // the API server's
  std::string admin_cert, admin_key;      // CN=system:admin, O=system:masters
  // What the API server presents to node agents (kubelet API: logs, exec, port-forward):
  // CN=kube-apiserver-kubelet-client, O=kubeadm:cluster-admins.
  std::string kubelet_client_cert, kubelet_client_key;
};

// Ensures all files exist in `dir` (created 0700; keys 0600). `sans` are extra
// DNS names or IP addresses for the serving certificate (localhost, 127.0.0.1,
// ::1, kubernetes.default.svc... and the host name are always included).
Result<TlsFiles> EnsurePki(const std::string& dir, const std::vector<std::string>& sans);

// Issues a client certificate signed by the CA (for node agents and users).
Status IssueClientCert(const TlsFiles& pki, const std::string& common_name,
                       const std::vector<std::string>& organizations, const std::string& cert_path,
                       const std::string& key_path);

// Writes a kubeconfig for `server_url` with the CA and a client certificate embedded
// (mode 0600, atomically). The context and cluster are named "default" like k3s'.
Status WriteKubeconfig(const std::string& path, const std::string& server_url,
                       const std::string& ca_cert_file, const std::string& client_cert_file,
                       const std::string& client_key_file);

}  // namespace sampan::apiserver
