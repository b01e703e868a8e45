#pragma once

// Salted password hashes in the form
//   pbkdf2-sha256$<iterations>$<salt, base64>$<hash, base64>
// (PBKDF2-HMAC-SHA-256, RFC 8018). A 32-byte hash is also SCRAM-SHA-256's
// SaltedPassword for the same salt and iteration count (RFC 5802), so a
// store entry serves both password and SCRAM authentication.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace castor::security {

/// Bounds on the iteration count a stored hash may carry; the upper bound
/// keeps one login from costing seconds of CPU.
constexpr uint32_t min_pbkdf2_iterations = 1000;
constexpr uint32_t max_pbkdf2_iterations = 10000000;
constexpr uint32_t default_pbkdf2_iterations = 100000;

/// A parsed hash.
struct password_hash {
  uint32_t iterations = 0;
  std::string salt; ///< raw bytes
  std::string hash; ///< raw bytes (the derived key)
};

/// Parses the text form. On failure returns nothing and sets `why` to a
/// description that never quotes the input.
std::optional<password_hash> parse_password_hash(std::string_view text,
                                                 std::string& why);

/// Hashes `password` with a fresh 16-byte random salt and a 32-byte output;
/// returns the text form (for a `castor passwd` command). Throws
/// std::invalid_argument when `iterations` is out of bounds.
std::string make_password_hash(std::string_view password,
                               uint32_t iterations = default_pbkdf2_iterations);

/// Same with a given salt (deterministic; for tests and SCRAM).
std::string make_password_hash(std::string_view password, std::string_view salt,
                               uint32_t iterations);

/// The text form of a parsed hash.
std::string to_string(const password_hash& h);

/// Recomputes the hash of `password` and compares in constant time.
bool verify_password(const password_hash& h, std::string_view password);

} // namespace castor::security
