#pragma once

// The interfaces of the authenticators and of their chain
// (actors/authenticator.hpp), as CAF typed actors. docs/architecture.md
// lists them (tools/interfaces.py).

#include <cstdint>
#include <string>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/authenticator_types.hpp"

namespace castor {

/// One authenticator (certificate, store, JWT, anonymous): allow, deny or
/// abstain.
using authenticator_interface = caf::typed_actor<
    // A connecting client's credentials: allow (principal and roles), deny
    // or abstain.
    caf::replies_to<authenticate_atom, authenticate_request>::with<auth_reply>>;

/// The store authenticator also hears from its hashing threads.
using store_authenticator_interface = authenticator_interface::extend<
    // A login's password hash is done: the reply (by login id).
    caf::reacts_to<auth_hashed_atom, uint64_t, auth_reply>>;

/// The chain: allow or deny (never abstain), with the slow-down of failed
/// logins.
using auth_chain_interface = authenticator_interface::extend<
    // A SCRAM exchange (address, user name): (success, attempt id) once
    // the slow-down has passed, or at once a refusal's CONNACK reason code.
    caf::replies_to<auth_gate_atom, std::string,
                    std::string>::with<mqtt::reason_code, uint64_t>,
    // How a SCRAM exchange ended (attempt id, failed).
    caf::reacts_to<auth_record_atom, uint64_t, bool>,
    // Its own timers (by attempt id): ask the handlers after the slow-down,
    // open a gate after the slow-down, a gate never recorded has failed.
    caf::reacts_to<auth_resume_atom, uint64_t>,
    caf::reacts_to<auth_gate_atom, uint64_t>,
    caf::reacts_to<auth_expire_atom, uint64_t>>;

} // namespace castor
