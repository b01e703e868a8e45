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

/// What a CONNECT may do with a client identifier whose session (live or
/// offline) belongs to another principal.
enum class foreign_session_policy : uint8_t {
  refuse,  ///< CONNACK 0x87 (3.1.1: 5); the session stays as it is
  replace, ///< the old session ends; the newcomer starts a clean one
};

/// How the password hashing threads compete for the CPU.
enum class hash_priority : uint8_t {
  idle,   ///< only CPU time the message path leaves (Linux SCHED_IDLE)
  low,    ///< nice +10
  normal, ///< as the message path
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
  /// Failed logins (and logins in progress) for one user name before each
  /// next attempt for it is delayed.
  uint32_t failed_login_threshold = 3;
  /// The same for one address, whatever the user names.
  uint32_t failed_login_address_threshold = 10;
  /// Delay after the threshold; doubles with each further failure.
  uint32_t failed_login_delay_ms = 500;
  /// Longest delay.
  uint32_t failed_login_max_delay_ms = 10000;
  /// Failed (or undecided) logins one address may have per minute; beyond,
  /// logins from it are refused at once (0x9F). 0 = no limit.
  uint32_t failed_login_rate_per_minute = 60;
  /// Threads that hash passwords; 0 = a quarter of the cores, at least one.
  uint32_t hash_threads = 0;
  /// Their priority against the message path.
  hash_priority hash_threads_priority = hash_priority::low;
  /// Logins that may wait for a hashing thread; beyond, refused at once
  /// (0x89 server busy).
  uint32_t hash_queue_limit = 256;
  /// A file whose contents derive the stand-ins for unknown users (SCRAM
  /// salts); empty = derived from the store's own hashes.
  std::string stand_in_secret_file;
  /// A CONNECT for a session of another principal.
  foreign_session_policy foreign_session = foreign_session_policy::refuse;
};

} // namespace castor
