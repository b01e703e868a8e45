#pragma once

// The `security:` settings as plain values: the configuration loader
// (app/config.cpp) fills them in, the authenticators (actors/authenticator)
// read them.

#include <cstdint>
#include <string>
#include <vector>

namespace castor {

/// Who may connect without credentials (no user name).
enum class anonymous_policy : uint8_t {
  allow, ///< with security.anonymous_roles (full access without a store)
  deny,  ///< refused
  store, ///< the security store's own anonymous section decides
};

/// JWT bearer tokens presented as the MQTT password; off while neither key
/// file is set.
struct jwt_config {
  std::string hs256_secret_file;     ///< file holding the HS256 secret
  std::string rs256_public_key_file; ///< PEM RSA public key
  std::string roles_claim = "roles"; ///< claim with the roles, dotted path
  std::string issuer;                ///< required `iss` when not empty
  std::string audience;              ///< required `aud` when not empty
  uint32_t leeway_seconds = 0;       ///< clock skew allowed for exp and nbf
};

struct security_config {
  /// The security store (docs/security.md); empty = none, and then every
  /// client that is let in may do everything.
  std::string store_file;
  anonymous_policy anonymous = anonymous_policy::allow;
  /// Roles of anonymous clients under `anonymous: allow` (looked up in the
  /// store; without a store they grant full access).
  std::vector<std::string> anonymous_roles;
  jwt_config jwt;
  /// Failed logins from one address before each next attempt is delayed.
  uint32_t failed_login_threshold = 3;
  /// Delay after the threshold; doubles with each further failure.
  uint32_t failed_login_delay_ms = 500;
  /// Longest delay.
  uint32_t failed_login_max_delay_ms = 10000;
};

} // namespace castor
