#pragma once

// Authentication as a chain of actors. Each authenticator answers an
// `authenticate_request` with ALLOW (principal and roles), DENY or ABSTAIN;
// the chain actor asks them in order (security store, JWT bearer token in
// the password, anonymous policy), stops at the first ALLOW or DENY and
// refuses a client that nobody accepts. Repeated failed logins from one
// address are answered ever later (a per-address delay that doubles, kept
// in a bounded map).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/behavior.hpp>
#include <caf/response_promise.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/authenticator_types.hpp"
#include "security/settings.hpp"
#include "security/jwt.hpp"
#include "security/permissions.hpp"
#include "security/security_store.hpp"

namespace castor {

/// Everything the authenticators need, loaded once at startup.
struct auth_settings {
  /// Null when no store is configured: then every client that is let in
  /// may do everything.
  std::shared_ptr<const security::security_store> store;
  /// Null when JWT is off.
  std::shared_ptr<const security::jwt_verifier> jwt;
  anonymous_policy anonymous = anonymous_policy::allow;
  std::vector<std::string> anonymous_roles;
  uint32_t failed_login_threshold = 3;
  std::chrono::milliseconds failed_login_delay{500};
  std::chrono::milliseconds failed_login_max_delay{10000};
  /// Addresses remembered at once; the least recently failed is forgotten.
  size_t max_tracked_addresses = 10000;
  /// A failure older than this no longer counts.
  std::chrono::milliseconds forget_after{std::chrono::minutes{10}};

  /// True if `roles` may do `p` (on `path` for path permissions). Without a
  /// store, always true.
  bool can(const std::vector<std::string>& roles, security::permission p,
           std::string_view path = {}) const {
    return store == nullptr || store->can(roles, p, path);
  }
};

/// Reads the files named by the `security:` section (store, JWT keys) and
/// checks the settings. Errors name the file, line and key, never a secret.
std::variant<auth_settings, std::string>
load_auth_settings(const security_config& cfg);

/// Seconds since the epoch, for token expiry; replaceable in tests.
using wall_clock_fn = std::function<int64_t()>;

/// Checks user name and password against the store; abstains without a
/// user name or for users it does not know.
caf::behavior
store_authenticator(caf::event_based_actor* self,
                    std::shared_ptr<const security::security_store> store);

/// Allows a client whose verified certificate named a principal
/// (`tls_identity`): with the store's roles for it, or with no roles when
/// there is no store; abstains without a certificate principal or when the
/// store does not know it.
caf::behavior
certificate_authenticator(caf::event_based_actor* self,
                          std::shared_ptr<const security::security_store> store);

/// Checks a password that is shaped like a JWT; abstains for any other.
caf::behavior
jwt_authenticator(caf::event_based_actor* self,
                  std::shared_ptr<const security::jwt_verifier> jwt,
                  wall_clock_fn now);

/// Decides on clients without a user name; abstains for the others.
caf::behavior
anonymous_authenticator(caf::event_based_actor* self, anonymous_policy policy,
                        std::vector<std::string> roles,
                        std::shared_ptr<const security::security_store> store);

/// The per-address failure count of the chain.
struct failed_login {
  uint32_t failures = 0;
  caf::actor_clock::time_point last;
};

struct auth_chain_state {
  std::vector<caf::actor> handlers;
  uint32_t threshold = 3;
  caf::actor_clock::duration_type delay;
  caf::actor_clock::duration_type max_delay;
  caf::actor_clock::duration_type forget_after;
  size_t max_tracked = 10000;
  std::map<std::string, failed_login> failures;
  /// Delayed attempts, by id.
  std::map<uint64_t, std::pair<std::shared_ptr<const authenticate_request>,
                               caf::response_promise>>
      pending;
  uint64_t next_pending = 0;
  /// Delayed gates (auth_gate_atom), by id.
  std::map<uint64_t, caf::response_promise> gates;
  static inline const char* name = "castor.auth_chain";

  /// The delay before an attempt from `address` is decided.
  caf::actor_clock::duration_type delay_for(const std::string& address,
                                       caf::actor_clock::time_point now);
  /// Counts a decision; a success clears the address.
  void record(const std::string& address, bool failed,
              caf::actor_clock::time_point now);
};

/// Parameters of the chain's slow-down.
struct auth_chain_limits {
  uint32_t threshold = 3;
  std::chrono::milliseconds delay{500};
  std::chrono::milliseconds max_delay{10000};
  std::chrono::milliseconds forget_after{std::chrono::minutes{10}};
  size_t max_tracked = 10000;
};

/// Asks `handlers` in order; replies with an `auth_reply` whose decision is
/// allow or deny (never abstain). A handler that fails or does not answer
/// within 10 s counts as a denial.
caf::behavior auth_chain(caf::stateful_actor<auth_chain_state>* self,
                         std::vector<caf::actor> handlers,
                         auth_chain_limits limits);

/// Spawns the store, JWT and anonymous authenticators that `settings`
/// enable and the chain over them; returns the chain.
caf::actor spawn_authenticators(caf::actor_system& sys,
                                const auth_settings& settings);

} // namespace castor
