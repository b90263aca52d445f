// `sampan streaming-test-node`: the kubelet API (src/streaming) served over a
// HostBackend, whose pods are plain host processes. Test infrastructure for the
// streaming end-to-end tests (tests/e2e/test_streaming.py): it stands in for a node
// agent so that kubectl logs/exec/attach/port-forward/cp can be driven through a real
// API server on any machine. Containers are started by JSON lines on stdin:
//   {"ns":"default","pod":"p","container":"c","argv":["sh","-c","..."],"stdin":false,"restart":false}
// each answered by a line "ok" or "error: <message>"; EOF on stdin stops the node.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>

#include "cmd/commands.h"
#include "streaming/kubelet_server.h"
#include "streaming/testing/host_backend.h"

namespace sampan::cmd {

namespace {

// A self-signed serving certificate (the API server does not verify node agents' certificates).
bool WriteSelfSigned(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* c = X509_new();
  if (!key || !c) return false;
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
  X509_gmtime_adj(X509_getm_notBefore(c), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c), 7 * 24 * 3600);
  X509_set_pubkey(c, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("streaming-test-node"), -1, -1,
                             0);
  X509_set_issuer_name(c, X509_get_subject_name(c));
  bool ok = X509_sign(c, key, EVP_sha256()) > 0;
  FILE* cf = std::fopen(cert_path.c_str(), "w");
  FILE* kf = std::fopen(key_path.c_str(), "w");
  ok = ok && cf && kf && PEM_write_X509(cf, c) &&
       PEM_write_PrivateKey(kf, key, nullptr, nullptr, 0, nullptr, nullptr);
  if (cf) std::fclose(cf);
  if (kf) std::fclose(kf);
  X509_free(c);
  EVP_PKEY_free(key);
  return ok;
}

void Usage() {
  std::fprintf(
      stderr,
      "Usage: sampan streaming-test-node --root DIR --client-ca FILE [--cert FILE --key FILE]\n"
      "                                  [--address 127.0.0.1] [--port 0]\n"
      "Without --cert/--key a self-signed serving certificate is made under DIR.\n"
      "Serves the kubelet API for pods that are host processes (a test fixture).\n"
      "Prints \"port N\" once listening; reads JSON container lines on stdin.\n");
}

}  // namespace

int StreamingTestNodeMain(int argc, char** argv) {
  streaming::ServerOptions opts;
  opts.bind_address = "127.0.0.1";
  opts.port = 0;
  std::string root;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--root")
      root = next();
    else if (a == "--cert")
      opts.cert_file = next();
    else if (a == "--key")
      opts.key_file = next();
    else if (a == "--client-ca")
      opts.client_ca_file = next();
    else if (a == "--address")
      opts.bind_address = next();
    else if (a == "--port")
      opts.port = std::atoi(next().c_str());
    else if (a == "--help" || a == "-h") {
      Usage();
      return 0;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      Usage();
      return 2;
    }
  }
  if (root.empty() || opts.client_ca_file.empty() ||
      opts.cert_file.empty() != opts.key_file.empty()) {
    Usage();
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (opts.cert_file.empty()) {
    opts.cert_file = root + "/serving.crt";
    opts.key_file = root + "/serving.key";
    if (!WriteSelfSigned(opts.cert_file, opts.key_file)) {
      std::fprintf(stderr, "streaming-test-node: cannot write a serving certificate under %s\n",
                   root.c_str());
      return 1;
    }
  }
  streaming::testing::HostBackend backend(root);
  auto server = streaming::KubeletServer::Start(opts, &backend);
  if (!server.ok()) {
    std::fprintf(stderr, "streaming-test-node: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("port %d\n", (*server)->port());
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    Status st;
    if (ec || !v.is_object()) {
      st = BadRequest("not a JSON object");
    } else {
      auto& o = v.as_object();
      auto str = [&](const char* k) {
        auto* x = o.if_contains(k);
        return x && x->is_string() ? std::string(x->as_string()) : std::string();
      };
      auto flag = [&](const char* k) {
        auto* x = o.if_contains(k);
        return x && x->is_bool() && x->as_bool();
      };
      std::vector<std::string> args;
      if (auto* a = o.if_contains("argv"); a && a->is_array())
        for (auto& e : a->as_array())
          if (e.is_string()) args.emplace_back(e.as_string());
      st = backend.Run(str("ns"), str("pod"), str("container"), args, flag("stdin"),
                       flag("restart"));
    }
    std::printf("%s\n", st.ok() ? "ok" : ("error: " + st.ToString()).c_str());
    std::fflush(stdout);
  }
  (*server)->Stop();
  return 0;
}

}  // namespace sampan::cmd
