// Fuzzes the TLS record path (security/tls_session, and security/transport
// for a tls listener): the server side over memory BIOs, fed what a client
// sends, split at fuzzed points.
//
// A CA, a server certificate and a client certificate are made at start-up
// (P-256 keys, in a temporary directory removed once the contexts have read
// it; no key is committed).
//
// Input: byte 0 picks the mode and the setting:
//   bit 0   clear: the rest is a client's byte stream from the start (no
//           real client): fed once whole and once in chunks whose sizes
//           come from byte 1; both runs must end the same way.
//           set: a real client (tls_session) completes a handshake with the
//           server first; the rest is a list of operations on the
//           connection (see run_ops): data both ways in fuzzed splits,
//           bytes injected into or removed from the client's stream, bits
//           flipped in records, records made up here, close_notify.
//   bit 1   the server asks for client certificates (verify optional)
//   bit 2   the client presents its certificate
//   bit 3   the client offers TLS 1.2 at most (else 1.3)
//   bit 4   the server side is a transport of kind tls (else the session)
// Checked: the server never hands over plaintext the client did not send
// (what it delivers is always a prefix of what the client wrote), every
// byte it sends is accepted by the client until it fails, a failed session
// stays failed with the same error, a close ends the data, and the client
// certificate shows in the peer identity exactly when it was presented.

#include "security/tls_session.hpp"
#include "security/transport.hpp"

#include <cstdio>
#include <memory>
#include <string>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include "fuzz_check.hpp"

using namespace castor::security;

namespace {

// -- test certificates ---------------------------------------------------------

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  FUZZ_CHECK(ext != nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* make_cert(EVP_PKEY* key, const char* cn, X509* issuer_cert,
                EVP_PKEY* issuer_key, bool ca, const char* sans) {
  static long serial = 1;
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), -86400);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3650L * 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn), -1, -1,
                             0);
  X509* issuer = issuer_cert != nullptr ? issuer_cert : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(issuer));
  add_ext(cert, issuer, NID_basic_constraints,
          ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  if (ca)
    add_ext(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  if (sans != nullptr)
    add_ext(cert, issuer, NID_subject_alt_name, sans);
  FUZZ_CHECK(X509_sign(cert, issuer_key != nullptr ? issuer_key : key,
                       EVP_sha256())
             > 0);
  return cert;
}

void write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  FUZZ_CHECK(f != nullptr);
  if (cert != nullptr)
    PEM_write_X509(f, cert);
  if (key != nullptr)
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

struct contexts {
  std::shared_ptr<const tls_context> server[2]; // verify none, optional
  std::shared_ptr<const tls_context> client[2]; // without, with certificate
  std::shared_ptr<const tls_context> client12[2];

  contexts() {
    char tmpl[] = "/tmp/castor_fuzz_tls_XXXXXX";
    FUZZ_CHECK(::mkdtemp(tmpl) != nullptr);
    std::string dir = tmpl;
    EVP_PKEY* ca_key = EVP_EC_gen("P-256");
    EVP_PKEY* server_key = EVP_EC_gen("P-256");
    EVP_PKEY* client_key = EVP_EC_gen("P-256");
    X509* ca = make_cert(ca_key, "Castor fuzz CA", nullptr, nullptr, true,
                         nullptr);
    X509* server_cert = make_cert(server_key, "localhost", ca, ca_key, false,
                                  "DNS:localhost,IP:127.0.0.1");
    X509* client_cert
        = make_cert(client_key, "device-1", ca, ca_key, false,
                    "DNS:device-1.example,email:d1@example.com,"
                    "URI:urn:castor:device-1");
    write_pem(dir + "/ca.pem", ca, nullptr);
    write_pem(dir + "/server.pem", server_cert, nullptr);
    write_pem(dir + "/server.key", nullptr, server_key);
    write_pem(dir + "/client.pem", client_cert, nullptr);
    write_pem(dir + "/client.key", nullptr, client_key);
    for (int verify = 0; verify < 2; ++verify) {
      tls_options o;
      o.cert_chain_file = dir + "/server.pem";
      o.key_file = dir + "/server.key";
      o.ca_file = dir + "/ca.pem";
      o.verify = verify ? verify_mode::optional : verify_mode::none;
      server[verify] = make(tls_context::make_server(o));
    }
    for (int cert = 0; cert < 2; ++cert) {
      for (int old = 0; old < 2; ++old) {
        tls_options o;
        o.ca_file = dir + "/ca.pem";
        o.server_name = "localhost";
        if (cert) {
          o.cert_chain_file = dir + "/client.pem";
          o.key_file = dir + "/client.key";
        }
        auto ctx = make(tls_context::make_client(o));
        if (old)
          SSL_CTX_set_max_proto_version(ctx->native(), TLS1_2_VERSION);
        (old ? client12 : client)[cert] = ctx;
      }
    }
    for (auto f : {"ca.pem", "server.pem", "server.key", "client.pem",
                   "client.key"})
      ::unlink((dir + "/" + f).c_str());
    ::rmdir(dir.c_str());
    X509_free(ca);
    X509_free(server_cert);
    X509_free(client_cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(server_key);
    EVP_PKEY_free(client_key);
  }

  static std::shared_ptr<const tls_context>
  make(std::variant<tls_context, std::string>&& r) {
    if (auto err = std::get_if<std::string>(&r)) {
      std::fprintf(stderr, "fuzz_tls: %s\n", err->c_str());
      FUZZ_CHECK(!"the test contexts build");
    }
    return std::make_shared<const tls_context>(
        std::get<tls_context>(std::move(r)));
  }
};

const contexts& ctx() {
  static const contexts c;
  return c;
}

// -- the server side, as a session or as a transport -----------------------------

struct server_result {
  std::string plaintext;
  std::string ciphertext;
  std::string error;
  bool closed = false; ///< close_notify from the client (or the transport closed)
};

class server_side {
public:
  server_side(std::shared_ptr<const tls_context> c, bool as_transport) {
    if (as_transport) {
      opts_.kind = transport_kind::tls;
      opts_.tls = std::move(c);
      transport_ = std::make_unique<transport>(opts_);
    } else {
      session_ = std::make_unique<tls_session>(*c);
      FUZZ_CHECK(session_->start().empty()); // a server sends nothing first
    }
  }

  server_result feed(std::string_view bytes) {
    server_result r;
    if (transport_) {
      transport_input in;
      transport_->read(bytes, in);
      r.plaintext = std::move(in.data);
      r.ciphertext = std::move(in.to_send);
      r.error = std::move(in.error);
      r.closed = in.closed;
      if (r.closed && r.error.empty() && !transport_->established())
        r.error = "closed before the handshake";
    } else {
      auto t = session_->feed_ciphertext(bytes);
      r.plaintext = std::move(t.plaintext);
      r.ciphertext = std::move(t.ciphertext);
      r.error = std::move(t.error);
      r.closed = t.peer_closed;
      FUZZ_CHECK(r.error.empty() == !session_->failed());
      if (!r.error.empty())
        FUZZ_CHECK(r.error == session_->error());
    }
    return r;
  }

  std::string write(std::string_view bytes) {
    if (transport_) {
      std::string out;
      transport_->write(bytes, out);
      return out;
    }
    return session_->write_plaintext(bytes);
  }

  std::string close() {
    return transport_ ? transport_->close() : session_->close();
  }

  bool handshake_done() const {
    return transport_ ? transport_->established()
                      : session_->handshake_done();
  }

  const peer_identity* peer() const {
    return transport_ ? transport_->peer() : &session_->peer();
  }

private:
  transport_options opts_;
  std::unique_ptr<transport> transport_;
  std::unique_ptr<tls_session> session_;
};

// -- raw mode -------------------------------------------------------------------

struct raw_outcome {
  bool failed = false;
  bool done = false;
  bool closed = false;
  std::string plaintext;
};

raw_outcome run_raw(std::shared_ptr<const tls_context> c, bool as_transport,
                    std::string_view stream, uint8_t seed, bool split) {
  server_side server{std::move(c), as_transport};
  raw_outcome out;
  uint32_t lcg = seed * 2654435761u + 1;
  size_t pos = 0;
  while (pos < stream.size()) {
    size_t n = stream.size() - pos;
    if (split) {
      lcg = lcg * 1103515245u + 12345u;
      n = std::min<size_t>(n, 1 + (lcg >> 16) % (seed % 64 + 1));
    }
    auto r = server.feed(stream.substr(pos, n));
    pos += n;
    if (out.failed) {
      // A failed session stays failed and says nothing more.
      FUZZ_CHECK(!r.error.empty() || (as_transport && r.closed));
      FUZZ_CHECK(r.plaintext.empty());
      continue;
    }
    out.plaintext += r.plaintext;
    out.failed = !r.error.empty();
    out.closed = out.closed || r.closed;
  }
  out.done = server.handshake_done();
  // Nothing a client could send without a key completes a handshake.
  FUZZ_CHECK(!out.done);
  FUZZ_CHECK(out.plaintext.empty());
  return out;
}

// -- handshake mode -----------------------------------------------------------

struct connection {
  tls_session client;
  server_side server;
  std::string client_wrote;  ///< plaintext the client wrote
  std::string server_got;    ///< plaintext the server delivered
  std::string server_wrote;  ///< plaintext the server wrote
  std::string client_got;    ///< plaintext the client received
  std::string to_server;     ///< client bytes not yet fed to the server
  bool intact = true;        ///< the server got the client's bytes unchanged
  bool server_failed = false;
  bool server_closed = false; ///< close_notify from the client
  bool server_done = false;   ///< closed by the server: no more reading
  bool client_failed = false;
  std::string server_error;

  connection(std::shared_ptr<const tls_context> s,
             std::shared_ptr<const tls_context> c, bool as_transport)
      : client(*c), server(std::move(s), as_transport) {}

  bool client_usable() {
    client_failed = client_failed || client.failed();
    return !client_failed;
  }

  /// The client encrypts `text`; returns its records.
  std::string client_write(std::string_view text) {
    if (!client_usable())
      return {};
    auto records = client.write_plaintext(text);
    if (client_usable())
      client_wrote += text;
    return records;
  }

  /// Feeds the client's pending bytes to the server in chunks from `in`.
  void deliver_to_server(castor_fuzz::input& in, bool split) {
    std::string bytes = std::move(to_server);
    to_server.clear();
    std::string_view rest = bytes;
    while (!rest.empty() && !server_done) {
      size_t n = rest.size();
      if (split)
        n = std::min<size_t>(n, 1 + in.byte() % 128);
      server_feed(rest.substr(0, n));
      rest.remove_prefix(n);
    }
  }

  void server_feed(std::string_view bytes) {
    auto r = server.feed(bytes);
    if (server_failed || server_closed) {
      FUZZ_CHECK(r.plaintext.empty());
      if (server_failed)
        FUZZ_CHECK(r.error == server_error || r.closed);
      return;
    }
    server_got += r.plaintext;
    // Integrity: only what the client wrote, in order.
    FUZZ_CHECK(server_got.size() <= client_wrote.size());
    FUZZ_CHECK(client_wrote.compare(0, server_got.size(), server_got) == 0);
    if (!r.error.empty()) {
      server_failed = true;
      server_error = r.error;
    }
    server_closed = server_closed || r.closed;
    client_feed(r.ciphertext, !server_failed);
  }

  /// Gives the server's bytes to the client; `valid` when the server had
  /// not failed (then the client must accept them).
  void client_feed(std::string_view bytes, bool valid) {
    if (bytes.empty() || !client_usable())
      return;
    auto r = client.feed_ciphertext(bytes);
    client_got += r.plaintext;
    FUZZ_CHECK(client_got.size() <= server_wrote.size());
    FUZZ_CHECK(server_wrote.compare(0, client_got.size(), client_got) == 0);
    if (!r.ok()) {
      client_failed = true;
      FUZZ_CHECK(!valid);
    }
    to_server += r.ciphertext;
  }

  bool handshake() {
    to_server = client.start();
    for (int round = 0; round < 8 && !to_server.empty(); ++round) {
      std::string bytes = std::move(to_server);
      to_server.clear();
      server_feed(bytes);
      if (server_failed || client_failed)
        return false;
    }
    return server.handshake_done() && client.handshake_done();
  }
};

/// Runs the operations in the rest of the input on an established
/// connection.
void run_ops(connection& c, castor_fuzz::input& in) {
  for (int step = 0; step < 64 && !in.empty(); ++step) {
    auto op = in.byte();
    switch (op % 10) {
    case 0: // the client writes; the server reads it (in fuzzed chunks)
    case 1: {
      c.to_server += c.client_write(in.string());
      c.deliver_to_server(in, op % 10 == 1);
      if (c.intact && !c.server_failed && !c.server_closed && !c.server_done)
        FUZZ_CHECK(c.server_got == c.client_wrote);
      break;
    }
    case 2: { // a bit flipped in the client's records
      auto records = c.client_write(in.string());
      if (records.empty())
        break;
      auto pos = in.u16() % records.size();
      records[pos] = static_cast<char>(records[pos] ^ (in.byte() | 1));
      c.intact = false;
      c.to_server += records;
      c.deliver_to_server(in, true);
      break;
    }
    case 3: // bytes of the input straight into the client's stream
      c.to_server += in.string();
      c.intact = false;
      c.deliver_to_server(in, true);
      break;
    case 4: { // a record made up here: type, version, payload
      std::string record;
      record += static_cast<char>(in.byte());
      record += "\x03\x03";
      auto payload = in.string();
      auto len = payload.size() + (in.byte() % 4 == 0 ? in.byte() % 5 : 0);
      record += static_cast<char>(len >> 8);
      record += static_cast<char>(len & 0xFF);
      record += payload;
      c.to_server += record;
      c.intact = false;
      c.deliver_to_server(in, false);
      break;
    }
    case 5: { // part of a record now, the rest later (or never)
      auto records = c.client_write(in.string());
      auto cut = records.empty() ? 0 : in.u16() % records.size();
      c.to_server += records.substr(0, cut);
      c.deliver_to_server(in, true);
      if (in.flag()) {
        c.to_server += records.substr(cut);
      } else if (cut < records.size()) {
        c.intact = false; // a hole in the stream: the client is done
        c.client_failed = true;
      }
      break;
    }
    case 6: { // the server writes; the client reads
      auto text = in.string();
      if (c.server_failed || c.server_closed || c.server_done)
        break;
      c.server_wrote += text;
      c.client_feed(c.server.write(text), true);
      break;
    }
    case 7: // close_notify from the client
      if (!c.client_usable())
        break;
      c.to_server += c.client.close();
      c.deliver_to_server(in, in.flag());
      if (c.intact && !c.server_failed && !c.server_done)
        FUZZ_CHECK(c.server_closed);
      break;
    case 8: { // the server closes, and reads no more
      auto bye = c.server.close();
      if (!c.server_done)
        c.client_feed(bye, !c.server_failed);
      c.server_done = true;
      break;
    }
    case 9: // the client's bytes dropped in the middle
      if (!c.to_server.empty()) {
        auto from = in.u16() % c.to_server.size();
        c.to_server.erase(from, in.u16() % (c.to_server.size() - from + 1));
        c.intact = false;
      }
      c.deliver_to_server(in, true);
      break;
    }
  }
  // Whatever happened, the connection can be closed.
  c.server.close();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  castor_fuzz::input in{data, size};
  auto mode = in.byte();
  bool verify = (mode & 0x02) != 0;
  bool client_cert = (mode & 0x04) != 0;
  bool tls12 = (mode & 0x08) != 0;
  bool as_transport = (mode & 0x10) != 0;
  auto server_ctx = ctx().server[verify];
  if ((mode & 1) == 0) {
    auto seed = in.byte();
    auto stream = in.rest();
    auto whole = run_raw(server_ctx, as_transport, stream, seed, false);
    auto split = run_raw(server_ctx, as_transport, stream, seed, true);
    FUZZ_CHECK(whole.failed == split.failed);
    FUZZ_CHECK(whole.closed == split.closed);
    return 0;
  }
  auto client_ctx = (tls12 ? ctx().client12 : ctx().client)[client_cert];
  connection c{server_ctx, client_ctx, as_transport};
  FUZZ_CHECK(c.handshake());
  auto peer = c.server.peer();
  FUZZ_CHECK(peer != nullptr);
  FUZZ_CHECK(peer->present == (verify && client_cert));
  if (peer->present) {
    FUZZ_CHECK(peer->common_name == "device-1");
    FUZZ_CHECK(principal_from(*peer, cert_principal::dns)
               == std::optional<std::string>("device-1.example"));
  }
  run_ops(c, in);
  return 0;
}
