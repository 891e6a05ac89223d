#pragma once

/// \file
/// The simulator's TLS identity: a test CA and a server certificate made in
/// memory with the OpenSSL 3 API, or PEM files loaded from disk; and the
/// SHA-256 public-key pin clients can check (`sha256//<base64>`, the form
/// curl's --pinnedpubkey and HPKP use).

#include <stdexcept>
#include <string>
#include <vector>

namespace ordergate::sim {

enum class KeyType { ec_p256, rsa_2048 };

struct CertificateRequest {
  /// Subject alternative names; entries that parse as an IP address become
  /// IP SANs, the rest DNS SANs. The first is also the subject CN.
  std::vector<std::string> hosts = {"localhost", "127.0.0.1"};
  /// Validity ended yesterday (for "expired certificate" tests).
  bool expired = false;
  KeyType key_type = KeyType::ec_p256;
  /// Sign with this CA (PEM) instead of a fresh one; both or neither.
  std::string ca_cert_pem;
  std::string ca_key_pem;
};

struct TlsIdentity {
  std::string cert_pem;     ///< server certificate (then any chain) PEM
  std::string key_pem;      ///< server private key PEM (PKCS#8)
  std::string ca_cert_pem;  ///< issuing CA; empty when loaded without one
  std::string ca_key_pem;   ///< CA private key; empty unless generated/loaded
  std::string pin;          ///< "sha256//" + base64(SHA-256(SubjectPublicKeyInfo DER))
};

/// Thrown for any OpenSSL or file failure, with a message that names what
/// failed (never key material).
class TlsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Creates (or reuses, see `CertificateRequest::ca_*`) a CA and issues a
/// server certificate for `request.hosts`.
[[nodiscard]] TlsIdentity generate_identity(const CertificateRequest& request);

/// Loads a server certificate (chain) and key from PEM files and checks that
/// they belong together.
[[nodiscard]] TlsIdentity load_identity(const std::string& cert_file, const std::string& key_file);

/// Pin of the public key in the first certificate of `cert_pem`.
[[nodiscard]] std::string public_key_pin(const std::string& cert_pem);

[[nodiscard]] std::string read_text_file(const std::string& path);
/// Writes `content` to `path` with the given permission bits (0600 for keys),
/// replacing the file.
void write_text_file(const std::string& path, const std::string& content, unsigned mode);

}  // namespace ordergate::sim
