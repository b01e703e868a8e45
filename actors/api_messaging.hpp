#pragma once

// handlers/add, handlers/remove and messages/send of the platform API
// (docs/platform.md, "Request-response messaging"), as an API request actor
// (actors/api.hpp) runs them.

#include <string>

#include <caf/fwd.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/api.hpp"
#include "protocol/api_request.hpp"

namespace castor {

void run_add_handler(caf::event_based_actor* self, const api_context& ctx,
                     const api::add_handler& a,
                     caf::typed_response_promise<std::string> rp);

void run_remove_handler(caf::event_based_actor* self, const api_context& ctx,
                        const api::remove_handler& r,
                        caf::typed_response_promise<std::string> rp);

void run_send_message(caf::event_based_actor* self, const api_context& ctx,
                      api::send_message s,
                      caf::typed_response_promise<std::string> rp);

} // namespace castor
