#include "apiserver/node_join.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <atomic>

#include "api/validate.h"
#include "util/fs.h"

namespace sampan::apiserver {

namespace {

std::string Hex(const unsigned char* data, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

std::string RandomSecret() {
  unsigned char buf[16];
  RAND_bytes(buf, sizeof buf);
  return Hex(buf, sizeof buf);
}

// Equal without telling by its timing where they differ.
bool SecretEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string CaHash(std::string_view ca_pem) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(ca_pem.data(), ca_pem.size(), md, &n, EVP_sha256(), nullptr);
  return Hex(md, n);
}

Result<NodeToken> ParseNodeToken(std::string_view token) {
  const auto bad = [] {
    return Invalid("the token is not of the form K10<CA hash>::node:<secret>");
  };
  if (token.substr(0, 3) != "K10") return bad();
  const size_t sep = token.find("::");
  if (sep == std::string_view::npos) return bad();
  NodeToken t;
  t.ca_hash = std::string(token.substr(3, sep - 3));
  std::string_view rest = token.substr(sep + 2);
  const size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return bad();
  t.secret = std::string(rest.substr(colon + 1));
  if (t.ca_hash.size() != 64 || t.secret.empty() ||
      t.ca_hash.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return bad();
  }
  return t;
}

std::string FormatNodeToken(const NodeToken& t) { return "K10" + t.ca_hash + "::node:" + t.secret; }

Result<std::string> EnsureNodeToken(const std::string& path, const std::string& ca_pem,
                                    const std::string& secret) {
  const std::string hash = CaHash(ca_pem);
  if (fs::Exists(path)) {
    ASSIGN_OR_RETURN(std::string text, fs::ReadFile(path));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    auto have = ParseNodeToken(text);
    if (have.ok() && have->ca_hash == hash && (secret.empty() || have->secret == secret)) {
      return text;
    }
  }
  NodeToken t{hash, secret.empty() ? RandomSecret() : secret};
  std::string token = FormatNodeToken(t);
  RETURN_IF_ERROR(fs::WriteFileAtomic(path, token + "\n", 0600));
  return token;
}

NodeJoin::NodeJoin(TlsFiles pki, std::string ca_pem, std::string token, std::string scratch_dir)
    : pki_(std::move(pki)), ca_pem_(std::move(ca_pem)), scratch_dir_(std::move(scratch_dir)) {
  if (auto t = ParseNodeToken(token); t.ok()) token_ = std::move(*t);
}

Result<boost::json::object> NodeJoin::Credentials(std::string_view presented,
                                                  std::string_view node_name) const {
  auto t = ParseNodeToken(presented);
  if (token_.secret.empty() || !t.ok() || !SecretEquals(t->secret, token_.secret) ||
      t->ca_hash != token_.ca_hash) {
    return Status(Code::kUnauthorized, "Unauthorized");
  }
  const std::string name(node_name);
  if (auto why = api::IsDns1123Subdomain(name); !why.empty()) {
    return Invalid("nodeName \"" + name + "\": " + why[0]);
  }
  static std::atomic<int> serial{0};
  RETURN_IF_ERROR(fs::MakeDirs(scratch_dir_));
  const std::string base = scratch_dir_ + "/" + name + "-" + std::to_string(serial++);
  Status issued =
      IssueClientCert(pki_, "system:node:" + name, {"system:nodes"}, base + ".crt", base + ".key");
  auto cert = issued.ok() ? fs::ReadFile(base + ".crt") : Result<std::string>(issued);
  auto key = cert.ok() ? fs::ReadFile(base + ".key") : Result<std::string>(cert.status());
  ::unlink((base + ".crt").c_str());
  ::unlink((base + ".key").c_str());
  if (!key.ok()) return key.status();
  boost::json::object out;
  out["ca"] = ca_pem_;
  out["certificate"] = *cert;
  out["key"] = *key;
  return out;
}

}  // namespace sampan::apiserver
