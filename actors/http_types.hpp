#pragma once

// The HTTP requests that connections of http and https listeners hand to
// the HTTP router (app/http_router.hpp), and its responses: inspect() and
// the type-id block `castor_http`.

#include <chrono>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/type_id.hpp>

#include "security/http_message.hpp"

namespace castor {

/// How long a connection waits for the HTTP router's answer (then 504).
inline constexpr std::chrono::seconds http_answer_timeout{30};

/// (http_atom, http::request) -> http::response
using http_atom = caf::atom_constant<caf::atom("http")>;

namespace http {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, request& x) {
  return f(caf::meta::type_name("http_request"), x.method, x.path, x.query,
           x.headers, x.body, x.peer, x.listener, x.keep_alive);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, response& x) {
  return f(caf::meta::type_name("http_response"), x.status, x.content_type,
           x.headers, x.body);
}

} // namespace http

} // namespace castor

// actors/types.hpp's block starts at caf::first_custom_type_id; the others
// at +200 (authenticators), +300 (handles), +400 (messaging).
CAF_BEGIN_TYPE_ID_BLOCK(castor_http, caf::first_custom_type_id + 500)

CAF_ADD_TYPE_ID(castor_http, (castor::http::request))
CAF_ADD_TYPE_ID(castor_http, (castor::http::response))

CAF_END_TYPE_ID_BLOCK(castor_http)
