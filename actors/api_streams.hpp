#pragma once

// Requests to sessions (docs/platform.md, "Requests to sessions"):
// streams/add, streams/remove, messages/send-to-session and
// messages/send-to-filter, as an API request actor (actors/api.hpp) runs
// them. A request stream is a registration of the calling connection, kept
// by the connection actor itself (actors/connection_streams.cpp); a request
// to a session goes through the session directory to the session's
// connection, which serves it as a message handler's connection serves a
// request (actors/messaging.hpp). In a node group, messages/send-to-filter
// asks every member's router for its connected sessions that the filter
// selects (cl_sreach_atom), and sends to their connections directly.

#include <string>

#include <caf/fwd.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/api.hpp"
#include "actors/cluster_types.hpp"
#include "actors/session_directory.hpp"
#include "protocol/api_request.hpp"

namespace castor {

/// This node's connected sessions that the session filter `filter`
/// selects, at most `limit` (`more` if there are more), for
/// messages/send-to-filter here or on a member.
cluster_reach reach_sessions_here(const session_directory& sessions,
                                  const std::string& filter, uint32_t limit);

/// True if `req` is one of the operations above.
bool is_stream_request(const api::request& req);

/// Runs `req` (is_stream_request) and answers through `rp`.
void run_stream_request(caf::event_based_actor* self, const api_context& ctx,
                        api::request req,
                        caf::typed_response_promise<std::string> rp);

} // namespace castor
