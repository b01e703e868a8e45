#pragma once

// locks/acquire and locks/release of the platform API (docs/platform.md),
// as an API request actor (actors/api.hpp) runs them: it asks the lock
// actor (actors/locks.hpp) for the caller's session and answers the JSON.

#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/api.hpp"
#include "protocol/api_request.hpp"

namespace castor {

void run_acquire(caf::event_based_actor* self, const api_context& ctx,
                 api::acquire_lock a,
                 caf::typed_response_promise<std::string> rp);

void run_release(caf::event_based_actor* self, const api_context& ctx,
                 api::release_lock r,
                 caf::typed_response_promise<std::string> rp);

/// The names of the locks `c` names (`locked`), each once.
std::vector<std::string> lock_names(const update_constraint& c);

} // namespace castor
