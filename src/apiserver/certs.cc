#include "apiserver/certs.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <ctime>
#include <memory>
#include <set>

#include "apiserver/openssl_ptr.h"
#include "util/base64.h"
#include "util/fs.h"

namespace sampan::apiserver {
namespace {

constexpr long kDay = 24 * 3600;

Status SslError(const std::string& what) { return Internal(what + ": OpenSSL failure"); }

KeyPtr NewKey() { return KeyPtr(EVP_EC_gen("P-256")); }

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n);
}

Result<std::string> KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr))
    return SslError("encode key");
  return BioString(bio.get());
}

Result<std::string> CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) return SslError("encode certificate");
  return BioString(bio.get());
}

Result<KeyPtr> LoadKey(const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, fs::ReadFile(path));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Invalid(path + ": not a PEM private key");
  return key;
}

Result<CertPtr> LoadCert(const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, fs::ReadFile(path));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return Invalid(path + ": not a PEM certificate");
  return cert;
}

Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return SslError("extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return Status::Ok();
}

struct CertSpec {
  std::string cn;
  std::vector<std::string> orgs;
  bool is_ca = false;
  bool server = false;
  bool client = false;
  std::vector<std::string> sans;
  long days = 365;
};

// Signs a certificate for `key` (self-signed when issuer is null).
Result<CertPtr> MakeCert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.days * kDay);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const auto& o : spec.orgs)
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1, 0);
  X509* iss = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(iss));
  if (spec.is_ca) {
    RETURN_IF_ERROR(AddExt(cert.get(), iss, NID_basic_constraints, "critical,CA:TRUE"));
    RETURN_IF_ERROR(AddExt(cert.get(), iss, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"));
  } else {
    RETURN_IF_ERROR(AddExt(cert.get(), iss, NID_basic_constraints, "critical,CA:FALSE"));
    RETURN_IF_ERROR(AddExt(cert.get(), iss, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
    std::string eku;
    if (spec.server) eku = "serverAuth";
    if (spec.client) eku += eku.empty() ? "clientAuth" : ",clientAuth";
    RETURN_IF_ERROR(AddExt(cert.get(), iss, NID_ext_key_usage, eku));
  }
  RETURN_IF_ERROR(AddExt(cert.get(), iss, NID_subject_key_identifier, "hash"));
  if (!spec.sans.empty()) {
    std::string alt;
    for (const auto& s : spec.sans) {
      unsigned char buf[16];
      bool ip = inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
      if (!alt.empty()) alt += ",";
      alt += (ip ? "IP:" : "DNS:") + s;
    }
    RETURN_IF_ERROR(AddExt(cert.get(), iss, NID_subject_alt_name, alt));
  }
  if (!X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()))
    return SslError("sign " + spec.cn);
  return cert;
}

Status WritePair(X509* cert, EVP_PKEY* key, const std::string& cert_path,
                 const std::string& key_path) {
  ASSIGN_OR_RETURN(std::string kp, KeyPem(key));
  ASSIGN_OR_RETURN(std::string cp, CertPem(cert));
  RETURN_IF_ERROR(fs::WriteFileAtomic(key_path, kp, 0600));
  return fs::WriteFileAtomic(cert_path, cp, 0644);
}

// True if `cert` is valid for a while yet and its SANs include every name in `want`.
bool CertCovers(X509* cert, const std::set<std::string>& want) {
  if (X509_cmp_time(X509_get0_notAfter(cert), nullptr) <= 0) return false;
  std::set<std::string> have;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return want.empty();
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    if (g->type == GEN_DNS) {
      have.insert(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)));
    } else if (g->type == GEN_IPADD) {
      char buf[64];
      int len = ASN1_STRING_length(g->d.iPAddress);
      const unsigned char* d = ASN1_STRING_get0_data(g->d.iPAddress);
      if (inet_ntop(len == 4 ? AF_INET : AF_INET6, d, buf, sizeof buf)) have.insert(buf);
    }
  }
  GENERAL_NAMES_free(names);
  for (const auto& w : want) {
    unsigned char buf[16];
    std::string norm = w;
    if (inet_pton(AF_INET6, w.c_str(), buf) == 1) {
      char out[64];
      inet_ntop(AF_INET6, buf, out, sizeof out);
      norm = out;
    }
    if (!have.count(norm)) return false;
  }
  return true;
}


}  // namespace

Result<TlsFiles> EnsurePki(const std::string& dir, const std::vector<std::string>& extra_sans) {
  RETURN_IF_ERROR(fs::MakeDirs(dir, 0700));
  TlsFiles f{dir + "/server-ca.crt",  dir + "/server-ca.key",     dir + "/serving.crt",
             dir + "/serving.key",    dir + "/client-admin.crt", dir + "/client-admin.key"};
  KeyPtr ca_key;
  CertPtr ca;
  if (fs::Exists(f.ca_cert) && fs::Exists(f.ca_key)) {
    ASSIGN_OR_RETURN(ca_key, LoadKey(f.ca_key));
    ASSIGN_OR_RETURN(ca, LoadCert(f.ca_cert));
  } else {
    ca_key = NewKey();
    CertSpec spec{.cn = "sampan-ca@" + std::to_string(std::time(nullptr)), .is_ca = true, .days = 3650};
    ASSIGN_OR_RETURN(ca, MakeCert(spec, ca_key.get(), nullptr, nullptr));
    RETURN_IF_ERROR(WritePair(ca.get(), ca_key.get(), f.ca_cert, f.ca_key));
  }
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::set<std::string> sans = {"localhost",
                                "kubernetes",
                                "kubernetes.default",
                                "kubernetes.default.svc",
                                "kubernetes.default.svc.cluster.local",
                                "127.0.0.1",
                                "::1"};
  if (host[0]) sans.insert(host);
  for (const auto& s : extra_sans) sans.insert(s);
  bool need_serving = true;
  if (fs::Exists(f.serving_cert) && fs::Exists(f.serving_key)) {
    auto cert = LoadCert(f.serving_cert);
    need_serving = !cert.ok() || !CertCovers(cert->get(), sans);
  }
  if (need_serving) {
    KeyPtr key = NewKey();
    CertSpec spec{.cn = "sampan-apiserver", .server = true,
                  .sans = std::vector<std::string>(sans.begin(), sans.end())};
    ASSIGN_OR_RETURN(CertPtr cert, MakeCert(spec, key.get(), ca.get(), ca_key.get()));
    RETURN_IF_ERROR(WritePair(cert.get(), key.get(), f.serving_cert, f.serving_key));
  }
  if (!fs::Exists(f.admin_cert) || !fs::Exists(f.admin_key)) {
    RETURN_IF_ERROR(IssueClientCert(f, "system:admin", {"system:masters"}, f.admin_cert, f.admin_key));
  }
  f.kubelet_client_cert = dir + "/client-kubelet.crt";
  f.kubelet_client_key = dir + "/client-kubelet.key";
  if (!fs::Exists(f.kubelet_client_cert) || !fs::Exists(f.kubelet_client_key)) {
    RETURN_IF_ERROR(IssueClientCert(f, "kube-apiserver-kubelet-client", {"kubeadm:cluster-admins"},
                                    f.kubelet_client_cert, f.kubelet_client_key));
  }
  return f;
}

Status IssueClientCert(const TlsFiles& pki, const std::string& common_name,
                       const std::vector<std::string>& organizations, const std::string& cert_path,
                       const std::string& key_path) {
  ASSIGN_OR_RETURN(KeyPtr ca_key, LoadKey(pki.ca_key));
  ASSIGN_OR_RETURN(CertPtr ca, LoadCert(pki.ca_cert));
  KeyPtr key = NewKey();
  CertSpec spec{.cn = common_name, .orgs = organizations, .client = true};
  ASSIGN_OR_RETURN(CertPtr cert, MakeCert(spec, key.get(), ca.get(), ca_key.get()));
  return WritePair(cert.get(), key.get(), cert_path, key_path);
}

Status WriteKubeconfig(const std::string& path, const std::string& server_url,
                       const std::string& ca_cert_file, const std::string& client_cert_file,
                       const std::string& client_key_file) {
  ASSIGN_OR_RETURN(std::string ca, fs::ReadFile(ca_cert_file));
  ASSIGN_OR_RETURN(std::string cert, fs::ReadFile(client_cert_file));
  ASSIGN_OR_RETURN(std::string key, fs::ReadFile(client_key_file));
  std::string y;
  y += "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n";
  y += "    certificate-authority-data: " + Base64Encode(ca) + "\n";
  y += "    server: " + server_url + "\n  name: default\n";
  y += "contexts:\n- context:\n    cluster: default\n    user: default\n  name: default\n";
  y += "current-context: default\npreferences: {}\nusers:\n- name: default\n  user:\n";
  y += "    client-certificate-data: " + Base64Encode(cert) + "\n";
  y += "    client-key-data: " + Base64Encode(key) + "\n";
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) RETURN_IF_ERROR(fs::MakeDirs(path.substr(0, slash)));
  return fs::WriteFileAtomic(path, y, 0600);
}

}  // namespace sampan::apiserver
