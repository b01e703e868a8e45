#pragma once

// Test certificates for the unit tests: a CA, a server certificate for
// localhost and 127.0.0.1, a client certificate with subject alternative
// names, one from another CA and an expired one, made at test time in a
// temporary directory (no private keys are committed).

#include <doctest/doctest.h>

#include <cstdio>
#include <memory>
#include <string>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

namespace castor_test {

using key_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using cert_ptr = std::unique_ptr<X509, decltype(&X509_free)>;

inline key_ptr make_key() {
  return key_ptr{EVP_EC_gen("P-256"), EVP_PKEY_free};
}

inline void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  REQUIRE(ext != nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `key` named `cn`, signed by `issuer` (self-signed when
// null), valid from now + from_days to now + to_days.
inline cert_ptr make_cert(EVP_PKEY* key, const char* cn, X509* issuer_cert,
                   EVP_PKEY* issuer_key, bool ca, const char* sans,
                   long from_days = -1, long to_days = 30) {
  static long serial = 1;
  cert_ptr cert{X509_new(), X509_free};
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), from_days * 86400);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), to_days * 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Castor"),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn), -1, -1,
                             0);
  X509* issuer = issuer_cert != nullptr ? issuer_cert : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer));
  add_ext(cert.get(), issuer, NID_basic_constraints,
          ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  if (ca)
    add_ext(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  if (sans != nullptr)
    add_ext(cert.get(), issuer, NID_subject_alt_name, sans);
  REQUIRE(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key,
                    EVP_sha256())
          > 0);
  return cert;
}

// A temporary directory with a CA, a server certificate, a good client
// certificate, one from another CA and an expired one.
struct pki {
  std::string dir;

  pki() {
    char tmpl[] = "/tmp/castor_tls_XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    auto ca_key = make_key();
    auto ca = make_cert(ca_key.get(), "Castor Test CA", nullptr, nullptr, true,
                        nullptr);
    write_cert("ca.pem", ca.get());
    auto other_key = make_key();
    auto other = make_cert(other_key.get(), "Other CA", nullptr, nullptr, true,
                           nullptr);
    write_cert("other_ca.pem", other.get());

    auto server_key = make_key();
    auto server = make_cert(server_key.get(), "localhost", ca.get(),
                            ca_key.get(), false, "DNS:localhost,IP:127.0.0.1");
    write_cert("server.pem", server.get());
    write_key("server.key", server_key.get());

    auto client_key = make_key();
    auto client
        = make_cert(client_key.get(), "sensor-1", ca.get(), ca_key.get(), false,
                    "DNS:sensor-1.example.com,email:ops@example.com,"
                    "URI:spiffe://castor/sensor-1");
    write_cert("client.pem", client.get());
    write_key("client.key", client_key.get());

    auto rogue_key = make_key();
    auto rogue = make_cert(rogue_key.get(), "rogue", other.get(),
                           other_key.get(), false, nullptr);
    write_cert("rogue.pem", rogue.get());
    write_key("rogue.key", rogue_key.get());

    auto old_key = make_key();
    auto old = make_cert(old_key.get(), "expired", ca.get(), ca_key.get(),
                         false, nullptr, -30, -1);
    write_cert("expired.pem", old.get());
    write_key("expired.key", old_key.get());
  }

  ~pki() {
    for (auto f : {"ca.pem", "other_ca.pem", "server.pem", "server.key",
                   "client.pem", "client.key", "rogue.pem", "rogue.key",
                   "expired.pem", "expired.key", "garbage.pem"})
      std::remove(path(f).c_str());
    ::rmdir(dir.c_str());
  }

  std::string path(const char* name) const {
    return dir + "/" + name;
  }

  void write_cert(const char* name, X509* cert) {
    std::FILE* f = std::fopen(path(name).c_str(), "wb");
    REQUIRE(f != nullptr);
    PEM_write_X509(f, cert);
    std::fclose(f);
  }

  void write_key(const char* name, EVP_PKEY* key) {
    std::FILE* f = std::fopen(path(name).c_str(), "wb");
    REQUIRE(f != nullptr);
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
  }
};

inline pki& test_pki() {
  static pki instance;
  return instance;
}

} // namespace castor_test
