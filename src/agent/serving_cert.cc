#include "agent/serving_cert.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "util/fs.h"

namespace sampan::agent {

namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

std::string BioText(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return std::string(data, n);
}

bool CertNames(const std::string& pem, const std::string& what) {
  Bio b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert c(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
  if (!c) return false;
  if (X509_cmp_current_time(X509_get0_notAfter(c.get())) <= 0) return false;
  if (what.empty()) return true;
  return X509_check_ip_asc(c.get(), what.c_str(), 0) == 1;
}

}  // namespace

Status EnsureSelfSignedCert(const std::string& cert_file, const std::string& key_file,
                            const std::string& node_name, const std::string& node_ip) {
  if (fs::Exists(cert_file) && fs::Exists(key_file)) {
    auto pem = fs::ReadFile(cert_file);
    if (pem.ok() && CertNames(*pem, node_ip)) return Status::Ok();
  }
  PKey key(EVP_EC_gen("P-256"));
  if (!key) return Internal("generating the kubelet serving key failed");
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  std::string cn = node_name + "@" + std::to_string(time(nullptr));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  std::string san = "DNS:" + node_name + ",DNS:localhost,IP:127.0.0.1";
  if (!node_ip.empty()) san += ",IP:" + node_ip;
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair<int, std::string>{NID_subject_alt_name, san},
                            {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                            {NID_ext_key_usage, "serverAuth"},
                            {NID_basic_constraints, "critical,CA:FALSE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    if (!ext) return Internal("building the kubelet serving certificate failed");
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    return Internal("signing the kubelet serving certificate failed");
  Bio cb(BIO_new(BIO_s_mem())), kb(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(cb.get(), cert.get());
  PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  RETURN_IF_ERROR(fs::WriteFileAtomic(key_file, BioText(kb.get()), 0600));
  return fs::WriteFileAtomic(cert_file, BioText(cb.get()), 0644);
}

}  // namespace sampan::agent
