#pragma once

// Request-response messaging between connections (docs/platform.md,
// "Request-response messaging"). A request goes from the requester's
// connection straight to the handler's connection, which writes it to its
// client with a response topic of its own (`$castor/reply/<n>`) and keeps
// it pending; the handler's answer goes from there straight back to the
// requester's connection (or API request actor), which writes it to its
// client. No actor in between.
//
//   requester -> handler:  (msg_request_atom, handler_request)
//   handler -> requester:  (msg_answer_atom, handler_answer)
//   timer wheel -> handler: (msg_timeout_atom, n)  request n not answered
//
// Requests to sessions (docs/platform.md, "Requests to sessions") go from
// an API request actor straight to the session's connection, which serves
// them as a handler's connection does if it has a request stream on a
// prefix of the path (else answers NO_STREAM):
//
//   API request -> connection: (msg_stream_atom, handler_request)
//   API request -> connection: (stream_add_atom, path) -> uint8_t
//                              (stream_remove_atom, path) -> bool

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/type_id.hpp>

#include "actors/types.hpp"
#include "protocol/handler_table.hpp"
#include "protocol/packet.hpp"

namespace castor {

using msg_request_atom = caf::atom_constant<caf::atom("msgreq")>;
using msg_answer_atom = caf::atom_constant<caf::atom("msgans")>;
using msg_timeout_atom = caf::atom_constant<caf::atom("msgtmo")>;
using msg_stream_atom = caf::atom_constant<caf::atom("msgstream")>;
using stream_add_atom = caf::atom_constant<caf::atom("streamadd")>;
using stream_remove_atom = caf::atom_constant<caf::atom("streamrm")>;

/// The message handlers of the server, shared by its connections.
using handlers_table = handler_table<caf::actor>;
using handlers_ptr = std::shared_ptr<handlers_table>;

/// Requests one handler connection may have pending at once.
inline constexpr size_t max_pending_requests = 1000;

/// Request streams one connection may set.
inline constexpr size_t max_request_streams = 1000;

/// Sessions one messages/send-to-filter may reach.
inline constexpr size_t max_filter_sessions = 10000;

/// What stream_add_atom answers.
enum class stream_added : uint8_t { added = 0, exists = 1, too_many = 2 };

/// A request on its way to a handler's connection.
struct handler_request {
  std::string path;
  std::string payload;
  /// The requester's: content type, payload format indicator, user
  /// properties, correlation data and response topic.
  mqtt::properties props;
  /// Where the answer goes (a connection or an API request actor).
  caf::actor requester;
  /// How long the handler has to answer, in milliseconds.
  uint32_t timeout_ms = 10000;
};

/// An answer (or error) on its way back to the requester.
struct handler_answer {
  std::string topic; ///< the requester's response topic
  std::string payload;
  /// The answer's content type, payload format indicator and user
  /// properties, and the requester's correlation data.
  mqtt::properties props;
  /// An error code (TIMEOUT, HANDLER_GONE, BUSY, NO_HANDLER) or empty.
  std::string error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, handler_request& x) {
  return f(caf::meta::type_name("handler_request"), x.path, x.payload, x.props,
           x.requester, x.timeout_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, handler_answer& x) {
  return f(caf::meta::type_name("handler_answer"), x.topic, x.payload, x.props,
           x.error);
}

/// The error answer for `r`: payload {"ok":false,"error":{...}}, content
/// type application/json, user property castor-error = code.
handler_answer error_answer(const handler_request& r, const std::string& code,
                            const std::string& message);

/// What a handler's connection keeps: its requests not yet answered.
struct connection_messaging {
  struct pending_request {
    caf::actor requester;
    std::string topic; ///< the requester's response topic
    std::optional<std::string> correlation_data;
    bool stream = false; ///< a request to the session (a request stream)
  };
  std::unordered_map<uint64_t, pending_request> pending;
  uint64_t next_id = 1;
  /// The request streams of the connection's session: message paths
  /// (requests to the session go to its client if one of them is a
  /// prefix of the request's path, by levels).
  std::set<std::string> streams;
  /// True if a stream's path is `path` or a prefix of it by levels.
  bool has_stream_for(std::string_view path) const;
};

} // namespace castor

// actors/types.hpp's block starts at caf::first_custom_type_id, the
// authenticator's at +200, the handles' at +300.
CAF_BEGIN_TYPE_ID_BLOCK(castor_messaging, caf::first_custom_type_id + 400)

CAF_ADD_TYPE_ID(castor_messaging, (castor::handler_request))
CAF_ADD_TYPE_ID(castor_messaging, (castor::handler_answer))

CAF_END_TYPE_ID_BLOCK(castor_messaging)
