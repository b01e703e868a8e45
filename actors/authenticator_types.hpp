#pragma once

// Messages of the authenticator chain (actors/authenticator.hpp), in their
// own CAF type-id block so that they do not depend on actors/types.hpp.

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <caf/atom.hpp>
#include <caf/detail/stringification_inspector.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/type_id.hpp>

#include "protocol/reason_code.hpp"
#include "security/auth.hpp"

namespace castor {

/// Asks an authenticator (or the chain) to decide on a connecting client.
using authenticate_atom = caf::atom_constant<caf::atom("authn")>;

/// Starts a delayed attempt inside the chain (slow-down of failed logins).
using auth_resume_atom = caf::atom_constant<caf::atom("authresume")>;

/// For an exchange the chain does not run itself (SCRAM-SHA-256 over AUTH):
/// (auth_gate_atom, address, user) is answered with (code, id) once the
/// slow-down delay of the address and the user name has passed: code 0
/// and the attempt's id, or at once a refusal's CONNACK reason code (0x9F:
/// the address is over its failed-login rate) ...
using auth_gate_atom = caf::atom_constant<caf::atom("authgate")>;

/// ... and (auth_record_atom, id, failed) counts how it ended.
using auth_record_atom = caf::atom_constant<caf::atom("authrecord")>;

/// A gate's attempt that was never recorded ends as a failure (chain timer).
using auth_expire_atom = caf::atom_constant<caf::atom("authexpire")>;

/// A password hash has been computed (hashing thread -> store
/// authenticator).
using auth_hashed_atom = caf::atom_constant<caf::atom("authhashed")>;

/// A connecting client's credentials. The password travels (serialised)
/// but is never printed: to_string() shows "<hidden>" in its place.
struct authenticate_request {
  std::string client_id;
  bool has_username = false;
  std::string username;
  bool has_password = false;
  std::string password;     ///< MQTT password (or a JWT bearer token)
  std::string peer_address; ///< the remote IP address, without port
  std::string tls_identity; ///< principal from a client certificate, or ""
};

/// The decision. `reason_code` is the CONNACK reason code a connection
/// sends (success, 0x86 bad user name or password, 0x87 not authorized,
/// ...); `reason` is for the log and never quotes a secret.
struct auth_reply {
  security::auth_decision decision = security::auth_decision::abstain;
  std::string principal;          ///< empty for anonymous clients
  std::vector<std::string> roles; ///< as assigned, not expanded
  std::string reason;
  mqtt::reason_code reason_code = mqtt::reason_code::success;
  /// Which handler decided ("store", "jwt", "anonymous", "chain").
  std::string handler;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, authenticate_request& x) {
  if constexpr (std::is_same_v<Inspector,
                               caf::detail::stringification_inspector>) {
    // Logs and traces print messages with this inspector.
    std::string hidden = x.has_password ? "<hidden>" : "";
    return f(caf::meta::type_name("authenticate_request"), x.client_id,
             x.has_username, x.username, x.has_password, hidden, x.peer_address,
             x.tls_identity);
  } else {
    return f(caf::meta::type_name("authenticate_request"), x.client_id,
             x.has_username, x.username, x.has_password, x.password,
             x.peer_address, x.tls_identity);
  }
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, auth_reply& x) {
  auto decision = static_cast<uint8_t>(x.decision);
  return f(caf::meta::type_name("auth_reply"), decision, x.principal, x.roles,
           x.reason, x.reason_code, x.handler,
           caf::meta::load_callback([&]() -> caf::error {
             x.decision = static_cast<security::auth_decision>(decision);
             return caf::none;
           }));
}

} // namespace castor

// actors/types.hpp's block starts at caf::first_custom_type_id and holds
// fewer than 50 types; this one starts well after it.
CAF_BEGIN_TYPE_ID_BLOCK(castor_auth, caf::first_custom_type_id + 200)

CAF_ADD_TYPE_ID(castor_auth, (castor::authenticate_request))
CAF_ADD_TYPE_ID(castor_auth, (castor::auth_reply))

CAF_END_TYPE_ID_BLOCK(castor_auth)
