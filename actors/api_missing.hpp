#pragma once

// handlers/missing-topic and handlers/remove-missing-topic of the platform
// API (docs/platform.md, "Missing-topic handlers"), and a fetch's wait for
// the handler of what it found missing, as an API request actor
// (actors/api.hpp) runs them.

#include <functional>
#include <string>

#include <caf/fwd.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/api.hpp"
#include "protocol/api_request.hpp"

namespace castor {

void run_add_missing_handler(caf::event_based_actor* self,
                             const api_context& ctx,
                             const api::add_missing_handler& a,
                             caf::typed_response_promise<std::string> rp);

void run_remove_missing_handler(caf::event_based_actor* self,
                                const api_context& ctx,
                                const api::remove_missing_handler& r,
                                caf::typed_response_promise<std::string> rp);

/// A fetch of `selector` found no topic: asks the missing-topic handler
/// serving its prefix, if any, and runs `then(again)` once it has answered
/// (`again`: false when it answered {"proceed": false}), failed or timed
/// out. False (and `then` not run) when no handler serves it.
bool await_missing(caf::event_based_actor* self, const api_context& ctx,
                   const std::string& selector,
                   std::function<void(bool again)> then);

} // namespace castor
