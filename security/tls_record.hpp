#pragma once

// The TLS 1.3 record layer of an established server connection (RFC 8446,
// section 5), without OpenSSL's SSL object.
//
// OpenSSL does the handshake; once it is done, a tls_session hands the
// connection to this class with the two application traffic secrets and
// the number of records already sent under the server's. What an idle
// connection then holds is the keys, IVs, secrets and sequence numbers of
// both directions (about 200 bytes) instead of OpenSSL's SSL object and
// cipher contexts (about 11 kB). The AEAD contexts are per thread and take
// the key of the record at hand.
//
// Handled after the handshake: application data, alerts (close_notify ends
// the stream, any other alert fails it), KeyUpdate in both directions
// (answered when the peer asks; sent by this side before its sequence
// number nears the cipher's limit). Any other handshake message, a record
// that does not authenticate, an oversized record or a padding-only
// record fails the connection with the alert RFC 8446 names.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace castor::security {

class tls13_records {
public:
  /// The cipher suites handled here.
  enum class suite : uint8_t { aes_128_gcm, aes_256_gcm, chacha20_poly1305 };

  /// The suite of an OpenSSL cipher name ("TLS_AES_128_GCM_SHA256", ...);
  /// nothing for any other.
  static std::optional<suite> suite_of(std::string_view openssl_name);

  /// The hash length of `s`'s HKDF (32 or 48): the length of its secrets.
  static size_t secret_size(suite s) noexcept;

  /// A record layer from the client's and the server's application traffic
  /// secrets (each secret_size(s) bytes); `sent` records have already gone
  /// out under the server's. Nothing when a key cannot be derived.
  static std::optional<tls13_records> make(suite s,
                                           std::string_view client_secret,
                                           std::string_view server_secret,
                                           uint64_t sent);

  tls13_records(const tls13_records&) = default;
  tls13_records& operator=(const tls13_records&) = default;
  ~tls13_records(); // wipes the keys

  /// What reading produced.
  struct input {
    std::string error;        ///< non-empty: the connection has failed
    bool peer_closed = false; ///< close_notify came
  };

  /// Decrypts the records in `bytes` (a partial record is kept for the
  /// next call): application data goes to `plaintext`, answers (KeyUpdate,
  /// the alert of a failure) to `to_send`.
  input read(std::string_view bytes, std::string& plaintext,
             std::string& to_send);

  /// Encrypts `plaintext` into records of at most 16 kB, appended to `out`.
  void write(std::string_view plaintext, std::string& out);

  /// Appends the encrypted alert `level`, `description` (close_notify: 1, 0).
  void alert(uint8_t level, uint8_t description, std::string& out);

  /// Encryption failed (OpenSSL refused): nothing more is written, and the
  /// connection must end.
  bool write_failed() const noexcept {
    return write_failed_;
  }

  /// After this many records under one key, write() sends a KeyUpdate and
  /// goes on under the next key (2^24 unless a test sets it lower).
  void set_records_per_key(uint64_t n) noexcept {
    records_per_key_ = n;
  }

private:
  /// One direction's traffic state.
  struct direction {
    std::array<uint8_t, 48> secret{};
    std::array<uint8_t, 32> key{};
    std::array<uint8_t, 12> iv{};
    uint64_t seq = 0;
  };

  tls13_records() = default;
  bool derive(direction& d) const;
  bool update(direction& d) const;
  void seal(uint8_t type, std::string_view content, std::string& out);
  /// One whole record: its content type and the decrypted content.
  bool open(std::string_view record, uint8_t& type, std::string& content);
  /// A post-handshake handshake record; false on a violation (`alert` set).
  bool on_handshake(std::string_view content, std::string& to_send,
                    uint8_t& alert);

  direction read_;
  direction write_;
  suite suite_ = suite::aes_128_gcm;
  // A new key well before AES-GCM's limit of about 2^24.5 full records per
  // key (RFC 8446, section 5.5).
  uint64_t records_per_key_ = uint64_t{1} << 24;
  std::string partial_;      ///< an incomplete record, empty otherwise
  bool peer_closed_ = false; ///< close_notify came: nothing more is read
  bool write_failed_ = false;
};

} // namespace castor::security
