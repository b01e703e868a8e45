#pragma once

// Small cryptographic helpers over OpenSSL 3 shared by the security modules:
// base64 and base64url, digests, HMAC, PBKDF2, random bytes and a
// constant-time comparison. Byte strings are std::string, as in protocol/.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace castor::security {

/// Standard base64 (RFC 4648 section 4) with padding.
std::string base64_encode(std::string_view in);

/// Decodes standard base64; padding is required. Returns nothing on any
/// character outside the alphabet or a malformed length.
std::optional<std::string> base64_decode(std::string_view in);

/// base64url (RFC 4648 section 5) without padding, as JWT uses it.
std::string base64url_encode(std::string_view in);

/// Decodes base64url; accepts input with or without trailing padding.
std::optional<std::string> base64url_decode(std::string_view in);

/// SHA-1 digest (20 bytes); only for the WebSocket handshake.
std::string sha1(std::string_view in);

/// SHA-256 digest (32 bytes).
std::string sha256(std::string_view in);

/// HMAC-SHA-256 (32 bytes).
std::string hmac_sha256(std::string_view key, std::string_view data);

/// PBKDF2-HMAC-SHA-256 (RFC 8018) producing `length` bytes.
std::string pbkdf2_sha256(std::string_view password, std::string_view salt,
                          uint32_t iterations, size_t length);

/// `n` bytes from OpenSSL's CSPRNG. Throws std::runtime_error if the
/// generator fails.
std::string random_bytes(size_t n);

/// Compares two byte strings in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

/// The text of OpenSSL's most recent errors on this thread (and clears the
/// queue); empty when there are none.
std::string openssl_errors();

} // namespace castor::security
