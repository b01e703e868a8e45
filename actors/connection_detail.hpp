#pragma once

// Functions shared by the files of the connection actor: connection.cpp
// (reading, writing, publish turns, the behavior) and connection_auth.cpp
// (authentication and opening the session). Not for other actors.

#include <chrono>
#include <functional>
#include <string>

#include "actors/connection.hpp"

namespace castor::connection_detail {

using clock_type = std::chrono::steady_clock;

/// "session ID" once known, else "connection PEER": the log context.
std::string context_of(connection_broker* self);

/// A tick after `d` (connect timeout, keep alive); replaces the pending one.
void schedule_tick(connection_broker* self, std::chrono::milliseconds d);

/// A tick within `d`, reusing the pending one if it comes earlier.
void ensure_tick(connection_broker* self, std::chrono::milliseconds d);

/// Runs the channel's packets and effects.
void run(connection_broker* self, mqtt::channel_output&& o);

/// Ends a turn: sends routes and acknowledgements, flushes, closes if due.
void finish(connection_broker* self);

/// CONNECT accepted by the channel: authenticate, then open the session.
void start_session(connection_broker* self, mqtt::effect::open_session&& open);

/// Tells the session (or, without one, the registry) that the connection
/// has gone, and stops the actor.
void detach_and_quit(connection_broker* self);

/// Runs `f` once the connection has a session actor, asking the registry
/// for one if it has none yet.
void with_session(connection_broker* self, std::function<void()> f);

/// The client's next AUTH packet of an enhanced authentication.
void continue_auth(connection_broker* self, const std::string& data);

} // namespace castor::connection_detail
