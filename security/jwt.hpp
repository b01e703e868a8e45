#pragma once

// JWT bearer tokens (RFC 7519) signed with HS256 (a shared secret) or RS256
// (an RSA public key), for clients that present a token as their MQTT
// password. The principal comes from `sub`, the roles from a configurable
// claim; `exp` and `nbf` are checked against a clock the caller supplies.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "security/auth.hpp"

namespace castor::security {

struct jwt_options {
  /// HS256 shared secret; empty disables HS256.
  std::string hs256_secret;
  /// RS256 public key in PEM (SubjectPublicKeyInfo), given as text or as a
  /// file; both empty disables RS256.
  std::string rs256_public_key_pem;
  std::string rs256_public_key_file;
  /// The claim holding the roles: an array of strings or one string of
  /// space-separated names. Dots descend into objects
  /// ("realm_access.roles"). Missing means no roles.
  std::string roles_claim = "roles";
  /// When set, `iss` must equal it.
  std::string issuer;
  /// When set, `aud` (a string or an array) must contain it.
  std::string audience;
  /// Tokens without `exp` are refused unless this is false.
  bool require_exp = true;
  /// Allowed clock difference for exp and nbf, in seconds.
  int64_t leeway_seconds = 0;
  /// Longer tokens are refused before any parsing.
  size_t max_token_size = 8192;
};

/// A verified token.
struct jwt_claims {
  std::string subject;
  std::vector<std::string> roles;
  int64_t expires_at = 0; ///< seconds since the epoch; 0 when absent
};

/// Verification result: the claims or a reason (never quoting the token).
using jwt_result = std::variant<jwt_claims, std::string>;

class jwt_verifier {
public:
  /// Checks the options and loads the RSA key. Errors name the key file.
  static std::variant<jwt_verifier, std::string> make(jwt_options opts);

  /// Verifies `token` at time `now` (seconds since the epoch).
  jwt_result verify(std::string_view token, int64_t now) const;

  /// As an authentication handler: a password that is not shaped like a
  /// JWT abstains; a bad or expired token denies; a good one allows its
  /// subject with its roles.
  auth_result authenticate(std::string_view password, int64_t now) const;

  /// True if `text` has the shape header.payload.signature in base64url
  /// and its header is a JSON object with "alg".
  static bool looks_like_jwt(std::string_view text);

private:
  jwt_verifier() = default;
  jwt_options opts_;
  std::shared_ptr<void> rsa_key_; // EVP_PKEY
};

/// Signs claims (a JSON object's text) with HS256; for tests and tools.
std::string make_hs256_token(std::string_view claims_json,
                             std::string_view secret);

} // namespace castor::security
