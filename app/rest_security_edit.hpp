#pragma once

// The editor of the security store behind the REST API's principals and
// roles (app/rest_security.cpp): one actor of its own thread per server,
// so that edits run one after the other and hashing a new password blocks
// neither the router nor the I/O thread.
//
//   (http_atom, http::request) -> http::response
//
// The request is a change the router has already allowed (MODIFY_SECURITY,
// a store configured): POST /api/v1/principals, PUT and DELETE
// /api/v1/principals/{name}, PUT and DELETE /api/v1/roles/{name}. It edits
// the store in effect (security/store_edit.hpp), saves the store file
// atomically and puts the new store in effect
// (security::store_holder::replace).

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>

#include "app/http_router.hpp"

namespace castor {

caf::behavior security_editor(caf::event_based_actor* self,
                              http_context_ptr ctx);

} // namespace castor
