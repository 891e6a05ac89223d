#include "tls_client.hpp"

#include <gtest/gtest.h>

#include "sim_process.hpp"

// The simulator's certificates, seen through a verifying client: the
// generated CA and server certificate are accepted; a wrong host name, an
// expired certificate and an unknown CA are refused for the right reason;
// the advertised pin is the served key's.

namespace ordergate::sim::testing {
namespace {

TEST(SimTls, GeneratedCertificateVerifiesForLocalhostAndLoopbackIp) {
  SimProcess sim({});
  for (const char* host : {"localhost", "127.0.0.1"}) {
    TlsClient client(sim.port(), sim.ca_file(), host);
    EXPECT_FALSE(client.connect()) << host;
    EXPECT_EQ(client.verify_result(), X509_V_OK) << host;
    EXPECT_EQ(client.request("GET", "/api/v3/ping").status, 200) << host;
  }
}

TEST(SimTls, WrongHostCertificateFailsHostNameVerificationOnly) {
  SimProcess sim({"--cert-host", "other.example"});
  TlsClient expecting_localhost(sim.port(), sim.ca_file(), "localhost");
  EXPECT_TRUE(expecting_localhost.connect());
  EXPECT_EQ(expecting_localhost.verify_result(), X509_V_ERR_HOSTNAME_MISMATCH);
  // The chain itself is fine: a client that expects other.example connects.
  TlsClient expecting_other(sim.port(), sim.ca_file(), "other.example");
  EXPECT_FALSE(expecting_other.connect());
}

TEST(SimTls, ExpiredCertificateFailsVerification) {
  SimProcess sim({"--cert-expired"});
  TlsClient client(sim.port(), sim.ca_file());
  EXPECT_TRUE(client.connect());
  EXPECT_EQ(client.verify_result(), X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST(SimTls, CertificateFromAnotherCaFailsVerification) {
  SimProcess sim({});
  SimProcess other({});
  TlsClient client(sim.port(), other.ca_file());
  EXPECT_TRUE(client.connect());
  EXPECT_EQ(client.verify_result(), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST(SimTls, ServerRefusesTls11) {
  SimProcess sim({});
  net::io_context io;
  ssl::context tls(ssl::context::tls_client);
  SSL_CTX_set_security_level(tls.native_handle(), 0);
  SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(tls.native_handle(), TLS1_1_VERSION);
  tls.set_verify_mode(ssl::verify_none);
  beast::ssl_stream<tcp::socket> stream(io, tls);
  stream.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), sim.port()));
  beast::error_code ec;
  stream.handshake(ssl::stream_base::client, ec);
  EXPECT_TRUE(ec);
  TlsClient client(sim.port(), sim.ca_file());
  EXPECT_NE(client.request("GET", "/sim/stats").body.find("\"tls_handshakes_failed\":1"), std::string::npos);
  sim.stop();
  EXPECT_NE(sim.stderr_text().find("unsupported protocol"), std::string::npos) << "the server refused, not the client";
}

TEST(SimTls, ReadyLinePinIsTheServedPublicKey) {
  for (const char* key_type : {"ec", "rsa"}) {
    SimProcess sim({"--key-type", key_type});
    TlsClient client(sim.port(), sim.ca_file());
    ASSERT_FALSE(client.connect()) << key_type;
    EXPECT_EQ(client.peer_pin(), sim.pin()) << key_type;
  }
}

TEST(SimTls, WrittenCertificateAndKeyAreServedAgainAfterARestartWithTheSamePin) {
  TempDir keep;
  std::string first_pin;
  {
    SimProcess first({"--write-ca", keep.file("ca.pem"), "--write-cert", keep.file("server.pem"), "--write-key",
                      keep.file("server.key")});
    first_pin = first.pin();
    EXPECT_EQ(std::filesystem::status(keep.file("server.key")).permissions() & std::filesystem::perms::others_read,
              std::filesystem::perms::none);
  }
  SimProcess second({"--cert", keep.file("server.pem"), "--key", keep.file("server.key")});
  EXPECT_EQ(second.pin(), first_pin);
  EXPECT_EQ(second.ca_file(), "-");
  TlsClient client(second.port(), keep.file("ca.pem"));
  EXPECT_FALSE(client.connect());
  EXPECT_EQ(client.peer_pin(), first_pin);

  SimProcess print({"--cert", keep.file("server.pem"), "--key", keep.file("server.key"), "--print-pin"},
                   Environment{});  // printing a pin needs no credentials
  EXPECT_EQ(print.wait(), 0);
  EXPECT_EQ(print.read_stdout_rest(), first_pin + "\n");
}

TEST(SimTls, ReusedCaIssuesFreshServerCertificatesClientsStillTrust) {
  TempDir keep;
  { SimProcess first({"--write-ca", keep.file("ca.pem"), "--write-ca-key", keep.file("ca.key")}); }
  SimProcess second({"--ca-cert", keep.file("ca.pem"), "--ca-key", keep.file("ca.key")});
  TlsClient client(second.port(), keep.file("ca.pem"));
  EXPECT_FALSE(client.connect());
}

}  // namespace
}  // namespace ordergate::sim::testing
