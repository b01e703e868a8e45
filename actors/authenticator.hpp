#pragma once

// Authentication as a chain of actors. Each authenticator answers an
// `authenticate_request` with ALLOW (principal and roles), DENY or ABSTAIN;
// the chain actor asks them in order (client certificate, security store,
// JWT bearer token in the password, anonymous policy), stops at the first
// ALLOW or DENY and refuses a client that nobody accepts. Password guessing
// is slowed down per address and per user name, counting attempts in
// progress (security/login_throttle.hpp), and the store's password hashing
// runs on threads of its own (security/hash_pool.hpp), never on the
// threads that carry messages.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
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
#include "actors/iface/authenticator.hpp"
#include "actors/counters.hpp"
#include "security/hash_pool.hpp"
#include "security/jwt.hpp"
#include "security/jwt_holder.hpp"
#include "security/login_throttle.hpp"
#include "security/settings.hpp"
#include "security/permissions.hpp"
#include "security/security_store.hpp"
#include "security/store_holder.hpp"

namespace castor {

/// Everything the authenticators need, loaded once at startup.
struct auth_settings {
  /// Null when no store is configured: then every client that is let in
  /// may do everything.
  std::shared_ptr<const security::security_store> store;
  /// The store in effect while the server runs (security/store_holder.hpp):
  /// made with `store`; edits and reloads swap it. Null without a store.
  std::shared_ptr<security::store_holder> store_state;
  /// Null when JWT is off.
  std::shared_ptr<const security::jwt_verifier> jwt;
  /// The verifier in effect while the server runs: made with `jwt`; a
  /// reload with new key files swaps it. Null when JWT is off.
  std::shared_ptr<security::jwt_holder> jwt_state;
  anonymous_policy anonymous = anonymous_policy::allow;
  std::vector<std::string> anonymous_roles;
  /// The slow-down of failed logins (security.failed_login_*).
  security::throttle_limits throttle;
  /// Threads hashing passwords (0 = by the number of cores), their
  /// priority, and how many logins may wait for them.
  uint32_t hash_threads = 0;
  hash_priority hash_threads_priority = hash_priority::idle;
  uint32_t hash_queue_limit = 256;
  /// A CONNECT for a session of another principal.
  foreign_session_policy foreign_session = foreign_session_policy::refuse;

  /// True if `roles` may do `p` (on `path` for path permissions). Without a
  /// store, always true.
  bool can(const std::vector<std::string>& roles, security::permission p,
           std::string_view path = {}) const {
    return store == nullptr || store->can(roles, p, path);
  }
};

/// Reads the files named by the `security:` section (store, JWT keys, the
/// stand-in secret) and checks the settings. Errors name the file, line
/// and key, never a secret.
std::variant<auth_settings, std::string>
load_auth_settings(const security_config& cfg);

/// Seconds since the epoch, for token expiry; replaceable in tests.
using wall_clock_fn = std::function<int64_t()>;

/// What the store authenticator works with.
struct store_auth_options {
  security::store_source store;
  /// Where passwords are hashed; null = in the actor itself (tests).
  std::shared_ptr<security::hash_pool> pool;
  /// A JWT handler follows: a password shaped like a token is left to it
  /// (abstain at once, nothing hashed).
  bool defer_tokens = false;
  /// May be null.
  std::shared_ptr<broker_counters> counters;
};

struct store_auth_state {
  /// Logins whose passwords are being hashed, by id.
  std::unordered_map<uint64_t, caf::response_promise> hashing;
  uint64_t next_id = 0;
  static inline const char* name = "castor.store_authenticator";
};

/// Checks user name and password against the store; abstains without a
/// user name or for users it does not know (after hashing the password
/// against the stand-in, so that the answer takes as long as for a known
/// user). The hash runs on the pool; when too many logins wait for it the
/// answer is DENY with reason code 0x89 (server busy) at once.
caf::behavior store_authenticator(caf::stateful_actor<store_auth_state>* self,
                                  store_auth_options opts);

/// Allows a client whose verified certificate named a principal
/// (`tls_identity`): with the store's roles for it, or with no roles when
/// there is no store; abstains without a certificate principal or when the
/// store does not know it.
caf::behavior certificate_authenticator(caf::event_based_actor* self,
                                        security::store_source store);

/// Checks a password that is shaped like a JWT; abstains for any other.
/// The verifier in effect at each login (`jwt.get()`) decides.
caf::behavior jwt_authenticator(caf::event_based_actor* self,
                                security::jwt_source jwt, wall_clock_fn now);

/// Decides on clients without a user name; abstains for the others.
caf::behavior
anonymous_authenticator(caf::event_based_actor* self, anonymous_policy policy,
                        std::vector<std::string> roles,
                        security::store_source store);

/// Options of the chain.
struct auth_chain_limits {
  security::throttle_limits throttle;
  /// JWT bearer tokens are accepted: a password shaped like one is not
  /// counted under its user name (devices often share a dummy name).
  bool jwt_enabled = false;
  /// A SCRAM exchange that passed the gate and was never recorded counts
  /// as failed after this long.
  std::chrono::milliseconds gate_timeout{std::chrono::seconds{60}};
  /// May be null.
  std::shared_ptr<broker_counters> counters;
};

struct auth_chain_state {
  std::vector<authenticator_interface> handlers;
  std::unique_ptr<security::login_throttle> throttle;
  bool jwt_enabled = false;
  caf::actor_clock::duration_type gate_timeout;
  std::shared_ptr<broker_counters> counters;
  /// Attempts in progress (waiting for the slow-down, asking handlers, or
  /// SCRAM exchanges between gate and record), by id.
  struct attempt {
    std::string address;
    std::string user; ///< the throttle's user key ("" = none)
    std::shared_ptr<const authenticate_request> req; ///< null for a gate
    caf::response_promise rp;
    bool gate = false;
    bool open = false; ///< a gate that has been passed
  };
  std::map<uint64_t, attempt> attempts;
  uint64_t next_id = 1;
  static inline const char* name = "castor.auth_chain";
};

/// Asks `handlers` in order; replies with an `auth_reply` whose decision is
/// allow or deny (never abstain). A handler that fails or does not answer
/// within auth_handler_timeout gives a denial with 0x88 (server
/// unavailable), which the slow-down does not count. What it handles:
/// auth_chain_interface (actors/iface/authenticator.hpp).
caf::behavior auth_chain(caf::stateful_actor<auth_chain_state>* self,
                         std::vector<authenticator_interface> handlers,
                         auth_chain_limits limits);

/// Spawns the certificate, store, JWT and anonymous authenticators that
/// `settings` enable, the store's hashing threads, and the chain over them;
/// returns the chain. `counters` may be null.
auth_chain_interface
spawn_authenticators(caf::actor_system& sys, const auth_settings& settings,
                     std::shared_ptr<broker_counters> counters = nullptr);

} // namespace castor
