#pragma once

// topics/subscribe and topics/unsubscribe of the platform API
// (docs/platform.md): the calling session subscribes by selector, as an
// MQTT SUBSCRIBE would by filter, also to the topics selected later. The
// API request actor (actors/api.hpp) asks the caller's connection, which
// hands the subscription to its session (actors/connection_api.cpp); the
// tree binds it to each topic the selector selects (actors/topic_tree.cpp).

#include <string>

#include <caf/fwd.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/api.hpp"
#include "protocol/api_request.hpp"

namespace castor {

void run_subscribe(caf::event_based_actor* self, const api_context& ctx,
                   api::subscribe_topics s,
                   caf::typed_response_promise<std::string> rp);

void run_unsubscribe(caf::event_based_actor* self, const api_context& ctx,
                     api::unsubscribe_topics u,
                     caf::typed_response_promise<std::string> rp);

/// sessions/subscribe and sessions/unsubscribe (MODIFY_SESSION): through
/// the connection of another session, which its own rights then bind.
void run_session_subscribe(caf::event_based_actor* self,
                           const api_context& ctx, api::subscribe_session s,
                           caf::typed_response_promise<std::string> rp);

} // namespace castor
