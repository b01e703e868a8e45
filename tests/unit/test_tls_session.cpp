// TLS over memory BIOs: a client tls_session and a server tls_session talk
// through strings. Certificates and keys are made at test time in a
// temporary directory; none are committed.

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include "security/tls_session.hpp"
#include "test_pki.hpp"

using namespace castor::security;
using castor_test::test_pki;

namespace {

tls_context server_ctx(verify_mode verify, const char* ca = "ca.pem") {
  auto& p = test_pki();
  tls_options opts;
  opts.cert_chain_file = p.path("server.pem");
  opts.key_file = p.path("server.key");
  if (verify != verify_mode::none)
    opts.ca_file = p.path(ca);
  opts.verify = verify;
  auto r = tls_context::make_server(opts);
  if (auto err = std::get_if<std::string>(&r))
    FAIL("server context: " << *err);
  return std::get<tls_context>(std::move(r));
}

tls_context client_ctx(const char* cert = nullptr, const char* key = nullptr) {
  auto& p = test_pki();
  tls_options opts;
  opts.ca_file = p.path("ca.pem");
  opts.server_name = "localhost";
  if (cert != nullptr) {
    opts.cert_chain_file = p.path(cert);
    opts.key_file = p.path(key);
  }
  auto r = tls_context::make_client(opts);
  if (auto err = std::get_if<std::string>(&r))
    FAIL("client context: " << *err);
  return std::get<tls_context>(std::move(r));
}

struct exchange {
  std::string server_plain;
  std::string client_plain;
  std::string server_error;
  std::string client_error;
};

// Moves bytes between the two sessions until neither has anything to send;
// feeds `chunk` bytes at a time.
exchange pump(tls_session& client, tls_session& server, std::string to_server,
              size_t chunk = SIZE_MAX) {
  exchange ex;
  std::string to_client;
  for (int round = 0; round < 50; ++round) {
    if (to_server.empty() && to_client.empty())
      break;
    for (size_t i = 0; i < to_server.size(); i += chunk) {
      auto r = server.feed_ciphertext(
          std::string_view{to_server}.substr(i, chunk));
      ex.server_plain += r.plaintext;
      to_client += r.ciphertext;
      if (!r.ok()) {
        ex.server_error = r.error;
        break;
      }
    }
    to_server.clear();
    for (size_t i = 0; i < to_client.size(); i += chunk) {
      auto r = client.feed_ciphertext(
          std::string_view{to_client}.substr(i, chunk));
      ex.client_plain += r.plaintext;
      to_server += r.ciphertext;
      if (!r.ok()) {
        ex.client_error = r.error;
        break;
      }
    }
    to_client.clear();
    if (!ex.server_error.empty() || !ex.client_error.empty())
      break;
  }
  return ex;
}

} // namespace

TEST_CASE("tls: handshake and data both ways over memory, TLS 1.3") {
  auto sctx = server_ctx(verify_mode::none);
  auto cctx = client_ctx();
  tls_session server{sctx};
  tls_session client{cctx};
  CHECK(server.start().empty());
  // Plaintext written before the handshake is held back and sent after it.
  CHECK(client.write_plaintext("early").empty());
  auto ex = pump(client, server, client.start());
  REQUIRE(ex.server_error.empty());
  REQUIRE(ex.client_error.empty());
  CHECK(server.handshake_done());
  CHECK(client.handshake_done());
  CHECK(server.protocol_version() == "TLSv1.3");
  CHECK_FALSE(server.cipher().empty());
  CHECK_FALSE(server.peer().present);
  CHECK(client.peer().present);
  CHECK(client.peer().common_name == "localhost");
  CHECK(ex.server_plain == "early");

  std::string big(100000, 'x');
  for (size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>('a' + i % 26);
  auto ex2 = pump(client, server, client.write_plaintext(big));
  CHECK(ex2.server_plain == big);
  std::string reply;
  auto r = client.feed_ciphertext(server.write_plaintext("pong"));
  CHECK(r.ok());
  CHECK(r.plaintext == "pong");

  // close_notify reaches the other side.
  auto closing = server.feed_ciphertext(client.close());
  CHECK(closing.ok());
  CHECK(closing.peer_closed);
}

TEST_CASE("tls: byte-by-byte feeding and TLS 1.2") {
  auto sctx = server_ctx(verify_mode::none);
  auto cctx = client_ctx();
  SSL_CTX_set_max_proto_version(cctx.native(), TLS1_2_VERSION);
  tls_session server{sctx};
  tls_session client{cctx};
  auto ex = pump(client, server, client.start(), 1);
  REQUIRE(ex.server_error.empty());
  REQUIRE(ex.client_error.empty());
  CHECK(server.handshake_done());
  CHECK(server.protocol_version() == "TLSv1.2");
  auto ex2 = pump(client, server, client.write_plaintext("hello mqtt"), 1);
  CHECK(ex2.server_plain == "hello mqtt");
}

TEST_CASE("tls: a client certificate gives the peer identity") {
  auto sctx = server_ctx(verify_mode::required);
  auto cctx = client_ctx("client.pem", "client.key");
  tls_session server{sctx};
  tls_session client{cctx};
  auto ex = pump(client, server, client.start());
  REQUIRE(ex.server_error.empty());
  REQUIRE(ex.client_error.empty());
  auto ex2 = pump(client, server, client.write_plaintext("x"));
  CHECK(ex2.server_plain == "x");
  REQUIRE(server.handshake_done());
  auto& id = server.peer();
  CHECK(id.present);
  CHECK(id.common_name == "sensor-1");
  CHECK(id.subject.find("CN=sensor-1") != std::string::npos);
  CHECK(id.dns_names == std::vector<std::string>{"sensor-1.example.com"});
  CHECK(id.emails == std::vector<std::string>{"ops@example.com"});
  CHECK(id.uris == std::vector<std::string>{"spiffe://castor/sensor-1"});
  // Principal mapping.
  CHECK(principal_from(id, cert_principal::common_name)
        == std::optional<std::string>("sensor-1"));
  CHECK(principal_from(id, cert_principal::dns)
        == std::optional<std::string>("sensor-1.example.com"));
  CHECK(principal_from(id, cert_principal::email)
        == std::optional<std::string>("ops@example.com"));
  CHECK(principal_from(id, cert_principal::uri)
        == std::optional<std::string>("spiffe://castor/sensor-1"));
  CHECK(principal_from(id, cert_principal::subject) == id.subject);
  // The server certificate has no email name; no certificate gives nothing.
  CHECK_FALSE(principal_from(client.peer(), cert_principal::email));
  CHECK_FALSE(principal_from(peer_identity{}, cert_principal::common_name));
}

TEST_CASE("tls: optional client certificates") {
  auto sctx = server_ctx(verify_mode::optional);
  SUBCASE("none sent") {
    auto cctx = client_ctx();
    tls_session server{sctx};
    tls_session client{cctx};
    auto ex = pump(client, server, client.start());
    auto ex2 = pump(client, server, client.write_plaintext("x"));
    CHECK(ex.server_error.empty());
    CHECK(ex2.server_plain == "x");
    CHECK_FALSE(server.peer().present);
  }
  SUBCASE("a bad one is still refused") {
    auto cctx = client_ctx("rogue.pem", "rogue.key");
    tls_session server{sctx};
    tls_session client{cctx};
    auto ex = pump(client, server, client.start());
    auto ex2 = pump(client, server, client.write_plaintext("x"));
    CHECK_FALSE(server.handshake_done());
    CHECK(server.failed());
    CHECK(ex2.server_plain.empty());
  }
}

TEST_CASE("tls: bad client certificates fail the handshake clearly") {
  auto sctx = server_ctx(verify_mode::required);
  auto run = [&](const char* cert, const char* key) {
    auto cctx = cert != nullptr ? client_ctx(cert, key) : client_ctx();
    tls_session server{sctx};
    tls_session client{cctx};
    auto ex = pump(client, server, client.start());
    // With TLS 1.3 the client finishes first; its next flight reaches the
    // server, which then refuses.
    if (ex.server_error.empty())
      ex = pump(client, server, client.write_plaintext("x"));
    CHECK_FALSE(server.handshake_done());
    CHECK(server.failed());
    CHECK(ex.server_plain.empty());
    CHECK(server.error().rfind("TLS handshake failed", 0) == 0);
    // A failed session keeps failing.
    auto again = server.feed_ciphertext("more");
    CHECK(again.error == server.error());
    return server.error();
  };
  auto unknown_ca = run("rogue.pem", "rogue.key");
  CHECK(unknown_ca.find("certificate verify failed") != std::string::npos);
  CHECK(unknown_ca.find("unable to get local issuer certificate")
        != std::string::npos);
  auto expired = run("expired.pem", "expired.key");
  CHECK(expired.find("certificate has expired") != std::string::npos);
  auto missing = run(nullptr, nullptr);
  CHECK(missing.find("certificate") != std::string::npos);
}

TEST_CASE("tls: garbage before the handshake fails cleanly") {
  auto sctx = server_ctx(verify_mode::none);
  tls_session server{sctx};
  auto r = server.feed_ciphertext("GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK_FALSE(r.ok());
  CHECK(r.plaintext.empty());
  CHECK(r.error.rfind("TLS handshake failed", 0) == 0);
  CHECK(server.failed());
  CHECK_FALSE(server.handshake_done());
  CHECK(server.write_plaintext("secret").empty());
  CHECK(server.feed_ciphertext("\x16\x03\x01").error == r.error);
  // A handshake record that carries a ServerHello to a server.
  tls_session server2{sctx};
  std::string junk("\x16\x03\x03\x00\x05\x02\x00\x00\x01\x00", 10);
  auto r2 = server2.feed_ciphertext(junk);
  CHECK_FALSE(r2.ok());
  // A record longer than TLS allows.
  tls_session server4{sctx};
  auto r4 = server4.feed_ciphertext(std::string("\x16\x03\x01\xff\xff", 5));
  CHECK_FALSE(r4.ok());
  // Partial but valid-looking header: waits for more, no error yet.
  tls_session server3{sctx};
  auto r3 = server3.feed_ciphertext("\x16\x03\x01");
  CHECK(r3.ok());
  CHECK(r3.ciphertext.empty());
}

TEST_CASE("tls: context errors name the file") {
  auto& p = test_pki();
  {
    std::ofstream out{p.path("garbage.pem")};
    out << "not a certificate\n";
  }
  auto err_of = [](const tls_options& o) {
    auto r = tls_context::make_server(o);
    REQUIRE(std::holds_alternative<std::string>(r));
    return std::get<std::string>(r);
  };
  tls_options o;
  o.cert_chain_file = p.path("missing.pem");
  o.key_file = p.path("server.key");
  auto e = err_of(o);
  CHECK(e.find("certificate chain file '" + p.path("missing.pem") + "'")
        != std::string::npos);
  CHECK(e.find("No such file") != std::string::npos);

  o.cert_chain_file = p.path("garbage.pem");
  e = err_of(o);
  CHECK(e.find("'" + p.path("garbage.pem") + "' holds no usable PEM")
        != std::string::npos);

  o.cert_chain_file = p.path("server.pem");
  o.key_file = p.path("client.key");
  e = err_of(o);
  CHECK(e.find("does not match") != std::string::npos);
  CHECK(e.find(p.path("client.key")) != std::string::npos);

  o.key_file = p.path("server.pem"); // a certificate, not a key
  e = err_of(o);
  CHECK(e.find("private key file '" + p.path("server.pem") + "'")
        != std::string::npos);
  CHECK(e.find("BEGIN") == std::string::npos);

  o.key_file = p.path("server.key");
  o.verify = verify_mode::required;
  e = err_of(o);
  CHECK(e.find("no CA file") != std::string::npos);

  o.ca_file = p.path("garbage.pem");
  e = err_of(o);
  CHECK(e.find("CA file '" + p.path("garbage.pem") + "'") != std::string::npos);
}
