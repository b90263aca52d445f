// The kubelet API's serving certificate when none is given: a self-signed one (as the
// kubelet makes without --tls-cert-file), kept in files and reused while it matches.
#pragma once

#include <string>

#include "util/status.h"

namespace sampan::agent {

// Writes `cert_file`/`key_file` (PEM; ECDSA P-256, valid one year, SANs: node name,
// localhost, node IP, 127.0.0.1) unless both exist and the certificate names `node_ip`.
Status EnsureSelfSignedCert(const std::string& cert_file, const std::string& key_file,
                            const std::string& node_name, const std::string& node_ip);

}  // namespace sampan::agent
