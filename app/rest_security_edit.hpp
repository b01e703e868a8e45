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

#include <optional>
#include <string>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>

#include "app/http_router.hpp"

namespace castor {

caf::behavior security_editor(caf::event_based_actor* self,
                              http_context_ptr ctx);

/// The edit of `req` (above), made here at once (by the editor, or by the
/// group's store keeper: app/store_group.hpp).
http::response edit_store(const http_context& ctx, const http::request& req);

/// The YAML text of the store in effect ("" without a store): the same
/// text for the same store on every node.
std::string store_text(const http_context& ctx);

/// Puts the store of YAML `text` in effect, checked as a store file is and
/// saved to the store file first: nothing, or why not (then nothing
/// changed).
std::optional<std::string> take_store(const http_context& ctx,
                                      const std::string& text);

} // namespace castor
