#pragma once

// sessions/list, sessions/get, sessions/close and sessions/set-properties
// of the platform API (docs/platform.md, "Sessions"): answered from the
// session directory (actors/session_directory.hpp) at once; a session
// closed is told to its connection, which sends an MQTT 5 client
// DISCONNECT 0x98 and ends the session.

#include <optional>
#include <string>

#include <caf/fwd.hpp>

#include "actors/api.hpp"
#include "protocol/api_request.hpp"

namespace castor {

/// The answer to `req` if it is a sessions/ operation; nothing otherwise.
std::optional<std::string> run_sessions(caf::event_based_actor* self,
                                        const api_context& ctx,
                                        const api::request& req);

} // namespace castor
