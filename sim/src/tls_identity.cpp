#include "tls_identity.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <fstream>
#include <memory>
#include <sstream>

#include "ordergate/core/error_text.hpp"
#include "ordergate/security/crypto.hpp"

namespace ordergate::sim {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const noexcept { BN_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

constexpr long kDay = long{24} * 60 * 60;

void check(bool ok, const char* what) {
  if (!ok) throw TlsError(std::string("TLS setup failed: ") + what);
}

PkeyPtr generate_key(KeyType type) {
  EVP_PKEY* key = type == KeyType::ec_p256 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                                           : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  check(key != nullptr, "key generation");
  return PkeyPtr(key);
}

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string cert_to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  check(bio && PEM_write_bio_X509(bio.get(), cert) == 1, "writing a certificate");
  return bio_to_string(bio.get());
}

std::string key_to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  check(bio && PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "writing a private key");
  return bio_to_string(bio.get());
}

X509Ptr cert_from_pem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  check(bio != nullptr, "reading a certificate");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  check(cert != nullptr, "parsing a certificate (not PEM?)");
  return cert;
}

PkeyPtr key_from_pem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  check(bio != nullptr, "reading a private key");
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  check(key != nullptr, "parsing a private key (not PEM, or encrypted?)");
  return key;
}

bool is_ip_address(const std::string& host) {
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
  if (ip == nullptr) return false;
  ASN1_OCTET_STRING_free(ip);
  return true;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  check(extension != nullptr, "building a certificate extension");
  const int added = X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
  check(added == 1, "adding a certificate extension");
}

void set_random_serial(X509* cert) {
  std::array<unsigned char, 16> bytes{};
  check(RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) == 1, "random serial");
  bytes[0] &= 0x7F;  // positive
  BnPtr number(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  check(number != nullptr && BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(cert)) != nullptr, "serial");
}

void set_name(X509_NAME* name, const std::string& common_name) {
  check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("ordergate-sim"),
                                   -1, -1, 0) == 1,
        "subject name");
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0) == 1,
        "subject name");
}

X509Ptr make_certificate(EVP_PKEY* subject_key, const std::string& common_name, long not_before_offset,
                         long not_after_offset) {
  X509Ptr cert(X509_new());
  check(cert != nullptr && X509_set_version(cert.get(), 2) == 1, "certificate version");
  set_random_serial(cert.get());
  check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before_offset) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after_offset) != nullptr,
        "certificate validity");
  check(X509_set_pubkey(cert.get(), subject_key) == 1, "certificate public key");
  set_name(X509_get_subject_name(cert.get()), common_name);
  return cert;
}

}  // namespace

std::string public_key_pin(const std::string& cert_pem) {
  X509Ptr cert = cert_from_pem(cert_pem);
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  check(key != nullptr, "certificate public key");
  unsigned char* der = nullptr;
  const int size = i2d_PUBKEY(key, &der);
  check(size > 0, "encoding the public key");
  const auto digest = security::sha256(std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(size)));
  OPENSSL_free(der);
  std::array<unsigned char, 4 * ((32 + 2) / 3) + 1> encoded{};
  const int length = EVP_EncodeBlock(encoded.data(), digest.data(), static_cast<int>(digest.size()));
  return "sha256//" + std::string(reinterpret_cast<const char*>(encoded.data()), static_cast<std::size_t>(length));
}

TlsIdentity generate_identity(const CertificateRequest& request) {
  check(!request.hosts.empty(), "no certificate host names");
  check(request.ca_cert_pem.empty() == request.ca_key_pem.empty(), "a CA needs both its certificate and its key");

  X509Ptr ca_cert;
  PkeyPtr ca_key;
  if (!request.ca_cert_pem.empty()) {
    ca_cert = cert_from_pem(request.ca_cert_pem);
    ca_key = key_from_pem(request.ca_key_pem);
    check(X509_check_private_key(ca_cert.get(), ca_key.get()) == 1, "the CA key does not match the CA certificate");
  } else {
    ca_key = generate_key(request.key_type);
    ca_cert = make_certificate(ca_key.get(), "ordergate-sim test CA", -kDay, 3650 * kDay);
    check(X509_set_issuer_name(ca_cert.get(), X509_get_subject_name(ca_cert.get())) == 1, "CA issuer");
    add_extension(ca_cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_extension(ca_cert.get(), ca_cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(ca_cert.get(), ca_cert.get(), NID_subject_key_identifier, "hash");
    check(X509_sign(ca_cert.get(), ca_key.get(), EVP_sha256()) > 0, "signing the CA certificate");
  }

  PkeyPtr server_key = generate_key(request.key_type);
  const long not_before = request.expired ? -30 * kDay : -kDay;
  const long not_after = request.expired ? -kDay : 365 * kDay;
  X509Ptr server = make_certificate(server_key.get(), request.hosts.front(), not_before, not_after);
  check(X509_set_issuer_name(server.get(), X509_get_subject_name(ca_cert.get())) == 1, "server issuer");
  std::string alt_names;
  for (const auto& host : request.hosts) {
    if (!alt_names.empty()) alt_names += ',';
    alt_names += (is_ip_address(host) ? "IP:" : "DNS:") + host;
  }
  add_extension(server.get(), ca_cert.get(), NID_subject_alt_name, alt_names);
  add_extension(server.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(server.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add_extension(server.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth");
  add_extension(server.get(), ca_cert.get(), NID_subject_key_identifier, "hash");
  add_extension(server.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always");
  check(X509_sign(server.get(), ca_key.get(), EVP_sha256()) > 0, "signing the server certificate");

  TlsIdentity identity;
  identity.cert_pem = cert_to_pem(server.get());
  identity.key_pem = key_to_pem(server_key.get());
  identity.ca_cert_pem = cert_to_pem(ca_cert.get());
  identity.ca_key_pem = key_to_pem(ca_key.get());
  identity.pin = public_key_pin(identity.cert_pem);
  return identity;
}

TlsIdentity load_identity(const std::string& cert_file, const std::string& key_file) {
  TlsIdentity identity;
  identity.cert_pem = read_text_file(cert_file);
  identity.key_pem = read_text_file(key_file);
  X509Ptr cert = cert_from_pem(identity.cert_pem);
  PkeyPtr key = key_from_pem(identity.key_pem);
  check(X509_check_private_key(cert.get(), key.get()) == 1, "the --key does not match the --cert");
  identity.pin = public_key_pin(identity.cert_pem);
  return identity;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TlsError("cannot read " + path + ": " + error_text(errno));
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

void write_text_file(const std::string& path, const std::string& content, unsigned mode) {
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) throw TlsError("cannot write " + path + ": " + error_text(errno));
  ::fchmod(fd, static_cast<mode_t>(mode));
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      throw TlsError("cannot write " + path + ": " + error_text(error));
    }
    written += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    throw TlsError("cannot write " + path + ": " + error_text(errno));
  }
}

}  // namespace ordergate::sim
