// The TLS 1.3 record layer a server session moves to after its handshake
// (security/tls_record): an OpenSSL client (its own SSL object over memory
// BIOs) against a server tls_session, for every TLS 1.3 cipher suite, with
// key updates both ways, damaged records, alerts and close_notify; and two
// tls13_records against each other for the key limit.

#include <doctest/doctest.h>

#include <string>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "security/tls_record.hpp"
#include "security/tls_session.hpp"
#include "test_pki.hpp"

using namespace castor::security;
using castor_test::test_pki;

namespace {

tls_context server_ctx() {
  auto& p = test_pki();
  tls_options opts;
  opts.cert_chain_file = p.path("server.pem");
  opts.key_file = p.path("server.key");
  auto r = tls_context::make_server(opts);
  if (auto err = std::get_if<std::string>(&r))
    FAIL("server context: " << *err);
  return std::get<tls_context>(std::move(r));
}

// OpenSSL's own client, so that the server's records are checked by an
// implementation other than the one under test.
class openssl_client {
public:
  explicit openssl_client(const char* suites = nullptr,
                          int max_version = TLS1_3_VERSION) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    REQUIRE(ctx_ != nullptr);
    REQUIRE(SSL_CTX_load_verify_locations(
                ctx_, test_pki().path("ca.pem").c_str(), nullptr)
            == 1);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_max_proto_version(ctx_, max_version);
    if (suites != nullptr)
      REQUIRE(SSL_CTX_set_ciphersuites(ctx_, suites) == 1);
    ssl_ = SSL_new(ctx_);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in_, -1);
    SSL_set_bio(ssl_, in_, out_);
    SSL_set_connect_state(ssl_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
  }
  ~openssl_client() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  openssl_client(const openssl_client&) = delete;
  openssl_client& operator=(const openssl_client&) = delete;

  SSL* ssl() {
    return ssl_;
  }

  // Bytes the client has written.
  std::string take() {
    std::string s;
    char* data = nullptr;
    long n = BIO_get_mem_data(out_, &data);
    if (n > 0)
      s.assign(data, static_cast<size_t>(n));
    (void)BIO_reset(out_);
    return s;
  }

  // Feeds bytes from the server and reads what plaintext they hold; sets
  // closed on close_notify and error on a failure.
  std::string give(std::string_view bytes) {
    if (!bytes.empty())
      BIO_write(in_, bytes.data(), static_cast<int>(bytes.size()));
    std::string plain;
    if (!SSL_is_init_finished(ssl_)) {
      int r = SSL_do_handshake(ssl_);
      if (r != 1) {
        int e = SSL_get_error(ssl_, r);
        if (e != SSL_ERROR_WANT_READ)
          error = "handshake: " + errors();
        return plain;
      }
    }
    char buf[4096];
    for (;;) {
      int n = SSL_read(ssl_, buf, sizeof(buf));
      if (n > 0) {
        plain.append(buf, static_cast<size_t>(n));
        continue;
      }
      int e = SSL_get_error(ssl_, n);
      if (e == SSL_ERROR_ZERO_RETURN)
        closed = true;
      else if (e != SSL_ERROR_WANT_READ)
        error = "read: " + errors();
      break;
    }
    return plain;
  }

  std::string write(std::string_view plain) {
    REQUIRE(SSL_write(ssl_, plain.data(), static_cast<int>(plain.size()))
            == static_cast<int>(plain.size()));
    return take();
  }

  bool closed = false;
  std::string error;

private:
  static std::string errors() {
    std::string s;
    while (unsigned long e = ERR_get_error()) {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof(buf));
      s += buf;
      s += ';';
    }
    return s;
  }

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
};

// Runs the handshake to its end on both sides (the client reads the
// server's session tickets as well).
void handshake(openssl_client& client, tls_session& server) {
  std::string to_server;
  (void)client.give({});
  to_server = client.take();
  for (int i = 0; i < 10 && !to_server.empty(); ++i) {
    auto r = server.feed_ciphertext(to_server);
    REQUIRE(r.ok());
    CHECK(r.plaintext.empty());
    CHECK(client.give(r.ciphertext).empty());
    REQUIRE(client.error.empty());
    to_server = client.take();
  }
  REQUIRE(server.handshake_done());
  REQUIRE(SSL_is_init_finished(client.ssl()));
}

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>((i * 131 + seed * 7) & 0xff);
  return s;
}

} // namespace

TEST_CASE("tls records: every TLS 1.3 suite, data both ways after the "
          "handshake, fed byte by byte") {
  auto sctx = server_ctx();
  for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                            "TLS_CHACHA20_POLY1305_SHA256"}) {
    CAPTURE(suite);
    openssl_client client{suite};
    tls_session server{sctx};
    handshake(client, server);
    CHECK(server.lean());
    CHECK(server.protocol_version() == "TLSv1.3");
    CHECK(server.cipher() == suite);

    // The client to the server: 70 kB in records of 16 kB, fed in pieces
    // of 1, 7 and 4,000 bytes.
    auto up = pattern(70000, 1);
    auto records = client.write(up);
    for (size_t piece : {size_t{1}, size_t{7}, size_t{4000}}) {
      std::string got;
      tls_session s2{sctx};
      openssl_client c2{suite};
      handshake(c2, s2);
      auto bytes = c2.write(up);
      for (size_t i = 0; i < bytes.size(); i += piece) {
        auto r = s2.feed_ciphertext(std::string_view{bytes}.substr(i, piece));
        REQUIRE(r.ok());
        got += r.plaintext;
      }
      CHECK(got == up);
    }
    auto r = server.feed_ciphertext(records);
    REQUIRE(r.ok());
    CHECK(r.plaintext == up);

    // The server to the client: one large write and many small ones.
    auto down = pattern(50000, 2);
    CHECK(client.give(server.write_plaintext(down)) == down);
    std::string small;
    std::string expect;
    for (int i = 0; i < 100; ++i) {
      auto piece = pattern(static_cast<size_t>(i), static_cast<unsigned>(i));
      small += server.write_plaintext(piece);
      expect += piece;
    }
    CHECK(client.give(small) == expect);
    CHECK(client.error.empty());

    // close_notify both ways.
    CHECK(SSL_shutdown(client.ssl()) == 0);
    auto bye = server.feed_ciphertext(client.take());
    CHECK(bye.ok());
    CHECK(bye.peer_closed);
    (void)client.give(server.close());
    CHECK(client.closed);
    CHECK(server.close().empty()); // close_notify goes once
  }
}

TEST_CASE("tls records: key updates from the client, asked for and not") {
  auto sctx = server_ctx();
  openssl_client client;
  tls_session server{sctx};
  handshake(client, server);
  REQUIRE(server.lean());
  for (int round = 0; round < 4; ++round) {
    CAPTURE(round);
    bool ask = round % 2 == 0;
    REQUIRE(SSL_key_update(client.ssl(), ask ? SSL_KEY_UPDATE_REQUESTED
                                             : SSL_KEY_UPDATE_NOT_REQUESTED)
            == 1);
    auto msg = "after update " + std::to_string(round);
    auto r = server.feed_ciphertext(client.write(msg));
    REQUIRE(r.ok());
    CHECK(r.plaintext == msg);
    // Asked: the server's KeyUpdate comes back at once, before any data.
    CHECK(r.ciphertext.empty() != ask);
    CHECK(client.give(r.ciphertext).empty());
    auto reply = "reply " + std::to_string(round);
    CHECK(client.give(server.write_plaintext(reply)) == reply);
    REQUIRE(client.error.empty());
  }
  // The client's key changed four times and the server's twice: an old key
  // no longer works, which the damaged-record case below shows in general.
}

TEST_CASE("tls records: a damaged record fails the connection with "
          "bad_record_mac, and it stays failed") {
  auto sctx = server_ctx();
  openssl_client client;
  tls_session server{sctx};
  handshake(client, server);
  REQUIRE(server.lean());
  auto ok = client.write("first");
  auto bad = client.write("second");
  auto third = client.write("third");
  bad[bad.size() - 3] ^= 0x01; // inside the tag
  auto r = server.feed_ciphertext(ok + bad);
  CHECK(r.plaintext == "first");
  CHECK_FALSE(r.ok());
  CHECK(r.error.find("bad record mac") != std::string::npos);
  // The alert reaches the client, which fails on it.
  (void)client.give(r.ciphertext);
  CHECK(client.error.find("bad record mac") != std::string::npos);
  // Stays failed, with the same error, sending nothing more.
  auto again = server.feed_ciphertext(third);
  CHECK(again.error == r.error);
  CHECK(again.plaintext.empty());
  CHECK(server.write_plaintext("x").empty());
  CHECK(server.close().empty());
}

TEST_CASE("tls records: records that break the rules") {
  auto sctx = server_ctx();
  SUBCASE("a plaintext record after the handshake") {
    openssl_client client;
    tls_session server{sctx};
    handshake(client, server);
    std::string ccs("\x14\x03\x03\x00\x01\x01", 6);
    auto r = server.feed_ciphertext(ccs);
    CHECK(r.error.find("unexpected message") != std::string::npos);
  }
  SUBCASE("a record over 2^14 + 256 bytes, refused from its header") {
    openssl_client client;
    tls_session server{sctx};
    handshake(client, server);
    std::string big("\x17\x03\x03\x41\x01", 5);
    auto r = server.feed_ciphertext(big);
    CHECK(r.error.find("record overflow") != std::string::npos);
  }
  SUBCASE("a record too short for its tag") {
    openssl_client client;
    tls_session server{sctx};
    handshake(client, server);
    std::string tiny("\x17\x03\x03\x00\x05hello", 10);
    auto r = server.feed_ciphertext(tiny);
    CHECK(r.error.find("bad record mac") != std::string::npos);
  }
  SUBCASE("a record of another connection") {
    openssl_client client;
    tls_session server{sctx};
    handshake(client, server);
    openssl_client other;
    tls_session server2{sctx};
    handshake(other, server2);
    auto r = server.feed_ciphertext(other.write("not yours"));
    CHECK(r.error.find("bad record mac") != std::string::npos);
  }
}

TEST_CASE("tls records: alerts from the peer") {
  std::string c(32, 'c');
  std::string s(32, 's');
  auto server = tls13_records::make(tls13_records::suite::aes_128_gcm, c, s, 0);
  auto client = tls13_records::make(tls13_records::suite::aes_128_gcm, s, c, 0);
  REQUIRE(server);
  REQUIRE(client);
  std::string wire;
  std::string plain;
  std::string answer;
  // user_canceled as a warning is passed over; data goes on.
  client->alert(1, 90, wire);
  client->write("still here", wire);
  auto in = server->read(wire, plain, answer);
  CHECK(in.error.empty());
  CHECK(plain == "still here");
  // A fatal alert fails the connection and names it; nothing is answered.
  wire.clear();
  client->alert(2, 40, wire);
  client->write("never read", wire);
  plain.clear();
  in = server->read(wire, plain, answer);
  CHECK(in.error == "TLS read failed: the peer sent the alert alert 40");
  CHECK(plain.empty());
  CHECK(answer.empty());
}

TEST_CASE("tls records: TLS 1.2 stays on OpenSSL") {
  auto sctx = server_ctx();
  openssl_client client{nullptr, TLS1_2_VERSION};
  tls_session server{sctx};
  handshake(client, server);
  CHECK_FALSE(server.lean());
  CHECK(server.protocol_version() == "TLSv1.2");
  auto r = server.feed_ciphertext(client.write("hello 1.2"));
  CHECK(r.plaintext == "hello 1.2");
  CHECK(client.give(server.write_plaintext("back")) == "back");
}

TEST_CASE("tls records: past the key limit the writer updates its key, "
          "and the reader follows") {
  std::string c(32, 'c');
  std::string s(32, 's');
  // A server and the client side of the same connection (secrets swapped).
  auto server = tls13_records::make(tls13_records::suite::aes_128_gcm, c, s, 0);
  auto client = tls13_records::make(tls13_records::suite::aes_128_gcm, s, c, 0);
  REQUIRE(server);
  REQUIRE(client);
  server->set_records_per_key(3);
  std::string wire;
  std::string expect;
  for (int i = 0; i < 10; ++i) {
    auto msg = "message " + std::to_string(i);
    server->write(msg, wire);
    expect += msg;
  }
  // 10 records and 3 KeyUpdates (after records 3, 6 and 9).
  size_t records = 0;
  for (size_t i = 0; i + 5 <= wire.size();
       i += 5
            + ((size_t{static_cast<uint8_t>(wire[i + 3])} << 8)
               | static_cast<uint8_t>(wire[i + 4])))
    ++records;
  CHECK(records == 13);
  std::string plain;
  std::string answer;
  auto in = client->read(wire, plain, answer);
  CHECK(in.error.empty());
  CHECK(plain == expect);
  CHECK(answer.empty()); // update_not_requested: nothing to answer
}
