#pragma once

// Missing-topic handlers (docs/platform.md, "Missing-topic handlers"):
// connections that registered (handlers/missing-topic) to be told when a
// subscription or a fetch selects no topic under their path. One table,
// shared by the connections, the API's request actors and the topic tree;
// a registration belongs to its connection and ends with it. The request
// travels as a message handler's does (actors/messaging.hpp): straight to
// the handler's connection, which writes it to its client as a QoS 0
// PUBLISH to `$castor/missing/<prefix>` with a response topic
// `$castor/reply/<n>`, and sends the answer (or TIMEOUT, HANDLER_GONE) back
// to the requester: the fetch waiting for it, or nobody (a subscription).

#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/messaging.hpp"
#include "actors/session_directory.hpp"

namespace castor {

struct missing_topics {
  /// Registrations by path, most specific prefix first, in turn.
  handlers_table handlers;
  /// The sessions, for the requester's $SessionId (may be null).
  session_directory_ptr sessions;
  /// How long a handler has to answer (messaging.request_timeout_ms).
  uint32_t request_timeout_ms = 10000;
};

using missing_ptr = std::shared_ptr<missing_topics>;

/// Whether a handler serves what `selector` (an MQTT filter or topic
/// selector) starts from; cheap (an atomic load) while none registered.
bool missing_served(const missing_ptr& m, const std::string& selector);

/// Tells a handler serving `selector`'s literal prefix that `selector`
/// selected no topic for the session of `client_id` in `operation`
/// (subscribe or fetch); its answer goes to `requester` (null: nowhere).
/// False if no handler serves the prefix.
bool ask_missing(const missing_ptr& m,
                 const std::string& selector, const std::string& client_id,
                 const char* operation, caf::actor requester);

} // namespace castor
