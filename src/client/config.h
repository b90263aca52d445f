// Where the API server is and how to prove who we are: an explicit URL with
// PEM credentials, or the current context of a kubeconfig file.
#pragma once

#include <memory>
#include <string>

#include "util/status.h"

namespace sampan::client {

class LoopbackServer;  // client/loopback.h

struct ClientConfig {
  // "https://127.0.0.1:6443" or "http://127.0.0.1:8080" (plain HTTP: loopback tests only).
  std::string server;
  std::string ca_pem;           // trusted CA(s); empty = system roots
  std::string client_cert_pem;  // client certificate authentication (with client_key_pem)
  std::string client_key_pem;
  std::string bearer_token;  // token authentication (used when set)
  bool insecure_skip_verify = false;
  std::string user_agent = "sampan";
  int request_timeout_seconds = 30;  // per non-watch request
  // In-process loopback (client/loopback.h): when set, requests go straight to this API
  // server object in the same process (no TLS, TCP or HTTP text) as the identity it was made
  // for; `server` and the credentials above are then not used for requests.
  std::shared_ptr<LoopbackServer> loopback;
};

// Reads the current context of a kubeconfig file (YAML). Understands
// certificate-authority(-data), client-certificate(-data), client-key(-data),
// token, tokenFile and insecure-skip-tls-verify. File paths inside it are
// relative to the kubeconfig's folder. Invalid if the file does not say enough.
Result<ClientConfig> LoadKubeconfig(const std::string& path);

// Decodes standard base64 (with or without padding, whitespace ignored).
Result<std::string> DecodeBase64(std::string_view text);

}  // namespace sampan::client
