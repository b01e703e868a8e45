#pragma once

// TLS for a connection actor that owns the socket (OpenSSL 3, TLS 1.2 and
// 1.3): feed the bytes read from the socket, send the bytes it returns, and
// hand the plaintext to the MQTT or WebSocket layer. No I/O happens here.
//
// OpenSSL reads from and writes to a BIO without storage of its own: it
// reads the bytes being fed and writes into the string being returned. Once
// a server's TLS 1.3 handshake is done, its SSL object is freed and
// tls13_records carries the connection (security/tls_record.hpp): an idle
// TLS connection then holds a few hundred bytes instead of OpenSSL's 11 kB.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "security/tls_record.hpp"

// Forward declarations of OpenSSL's opaque types.
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;
typedef struct bio_method_st BIO_METHOD;

namespace castor::security {

/// Whether the server asks for and checks client certificates.
enum class verify_mode : uint8_t {
  none,     ///< no certificate requested
  optional, ///< requested; a certificate that is sent must verify
  required, ///< requested; the handshake fails without a valid one
};

struct tls_options {
  std::string cert_chain_file; ///< PEM: the certificate, then intermediates
  std::string key_file;        ///< PEM private key for the certificate
  std::string ca_file;         ///< PEM CAs for verifying the peer
  verify_mode verify = verify_mode::none;
  /// Client side only: the name to check in the server's certificate and
  /// to send as SNI (empty: no name check).
  std::string server_name;
};

/// A configured SSL_CTX, shared by every session of one listener.
class tls_context {
public:
  /// Builds a server context. Errors name the file at fault (never its
  /// contents).
  static std::variant<tls_context, std::string>
  make_server(const tls_options& opts);

  /// Builds a client context (bridges and tests): `ca_file` verifies the
  /// server; certificate and key are optional.
  static std::variant<tls_context, std::string>
  make_client(const tls_options& opts);

  bool is_server() const noexcept {
    return server_;
  }

  SSL_CTX* native() const noexcept {
    return ctx_.get();
  }

  const tls_options& options() const noexcept {
    return opts_;
  }

private:
  static std::variant<tls_context, std::string> build(const tls_options& opts,
                                                      bool server);

  tls_context() = default;
  std::shared_ptr<SSL_CTX> ctx_;
  tls_options opts_;
  bool server_ = true;
};

/// The verified certificate of the peer, for mapping it to a principal.
struct peer_identity {
  bool present = false; ///< the peer sent a certificate (and it verified)
  std::string subject;  ///< one-line RFC 2253 subject
  std::string common_name;
  std::vector<std::string> dns_names;
  std::vector<std::string> emails;
  std::vector<std::string> uris;
};

/// Which certificate field names the principal of a client that presents a
/// certificate (as EMQX's peer_cert_as_username).
enum class cert_principal : uint8_t {
  common_name, ///< the subject's CN
  subject,     ///< the whole subject, RFC 2253
  dns,         ///< the first DNS subject alternative name
  email,       ///< the first email subject alternative name
  uri,         ///< the first URI subject alternative name
};

/// The principal name `source` gives for `peer`; nothing when the peer sent
/// no certificate or the field is absent or empty.
std::optional<std::string> principal_from(const peer_identity& peer,
                                          cert_principal source);

/// What one call produced.
struct tls_result {
  std::string plaintext;    ///< application bytes from the peer
  std::string ciphertext;   ///< bytes to write to the socket
  std::string error;        ///< non-empty: the session has failed
  bool peer_closed = false; ///< the peer sent close_notify
  bool ok() const noexcept {
    return error.empty();
  }
};

/// One TLS connection over memory BIOs.
class tls_session {
public:
  explicit tls_session(const tls_context& ctx);
  ~tls_session();

  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;
  tls_session(tls_session&&) noexcept;
  tls_session& operator=(tls_session&&) noexcept;

  /// Client side: the first handshake flight (ClientHello). Empty on a
  /// server.
  std::string start();

  /// Processes bytes read from the socket: advances the handshake, decrypts
  /// records and returns plaintext, bytes to send (handshake messages,
  /// alerts, plaintext queued before the handshake finished) or an error.
  /// After an error every call returns the same error.
  tls_result feed_ciphertext(std::string_view bytes);

  /// Encrypts application bytes. Before the handshake has finished they are
  /// kept and sent once it has (by feed_ciphertext). Returns the bytes to
  /// send; empty on a failed session (see error()).
  std::string write_plaintext(std::string_view bytes);

  /// Sends close_notify; returns the bytes to send.
  std::string close();

  bool handshake_done() const noexcept {
    return handshake_done_;
  }

  bool failed() const noexcept {
    return !error_.empty();
  }

  const std::string& error() const noexcept {
    return error_;
  }

  /// The peer's certificate after the handshake (present == false when the
  /// peer sent none).
  const peer_identity& peer() const noexcept {
    return peer_;
  }

  /// "TLSv1.3" etc. after the handshake.
  std::string protocol_version() const;

  /// The negotiated cipher suite after the handshake.
  std::string cipher() const;

  /// Whether the connection runs on tls13_records (its SSL object freed).
  bool lean() const noexcept {
    return records_.has_value();
  }

private:
  struct handover; // the traffic secrets, caught during the handshake

  void fail(int ssl_error, const char* during);
  std::string drain_output();
  void on_handshake_done();
  void try_handover();
  void attach();
  tls_result feed_records(std::string_view bytes);

  // The BIO's and the key log's callbacks (OpenSSL's C interface).
  static int bio_read(BIO* bio, char* buf, int len);
  static int bio_write(BIO* bio, const char* buf, int len);
  static long bio_ctrl(BIO* bio, int cmd, long num, void* ptr);
  static void key_log(const SSL* ssl, const char* line);
  static BIO_METHOD* bio_method();
  friend void enable_handover(SSL_CTX* ctx);

  SSL* ssl_ = nullptr;
  BIO* bio_ = nullptr;     // owned by ssl_
  std::string_view input_; // what the BIO reads during a call
  std::string output_;     // what the BIO has written during a call
  std::unique_ptr<handover> handover_;
  std::optional<tls13_records> records_;
  const char* version_ = ""; // static strings of OpenSSL's
  const char* cipher_ = "";
  bool handshake_done_ = false;
  bool server_ = true;
  bool closed_ = false; // close_notify sent (tls13_records)
  std::string pending_plaintext_;
  std::string error_;
  peer_identity peer_;
};

} // namespace castor::security
