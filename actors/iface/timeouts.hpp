#pragma once

// How long each request between Castor's actors waits, and what happens when
// it gets no answer in time.
//
// Within one process a request to an actor that has gone fails at once
// (CAF answers with an error), but a broker on the I/O thread that has gone
// never answers, an actor may be stuck behind a long backlog, and a request
// to an actor on another node whose node died is never answered at all (CAF
// 0.17.6): so no request waits forever. A request that expires fails with
// caf::sec::request_timeout and takes the error path of its site.
//
// A CAF request timeout costs two messages to CAF's clock thread (one to set
// it, one to cancel it), so the publishes of a connection (one request per
// read and topic, the hot path) are bounded by the connection itself
// instead: by its check of the oldest unanswered batch (publish_timeout
// below), without a timer per request.

#include <chrono>

namespace castor {

/// Tree <-> topics: subscribe, unsubscribe, retire. When one expires the
/// topic counts as gone: a subscription gets no retained messages, an
/// unsubscription counts as done, a retiring topic is forgotten.
inline constexpr std::chrono::seconds topic_request_timeout{30};

/// Session -> tree: subscribe and unsubscribe (the tree waits for the
/// topics, above). When one expires the change counts as done, without
/// the retained messages of the topics that did not answer.
inline constexpr std::chrono::seconds tree_request_timeout{45};

/// Connection -> tree: which topic has a name. When one expires the
/// connection ends with DISCONNECT 0x89 (server busy); the client resends
/// its unacknowledged QoS 1 and 2 messages when it reconnects.
inline constexpr std::chrono::seconds lookup_timeout{30};

/// Connection -> topic: a batch of QoS 1 and 2 publishes waits at most this
/// long for the topic to take it (on top of mqtt.slow_consumer_timeout_ms,
/// during which a slow subscriber may legitimately hold a topic back).
/// When the oldest batch has waited longer, the connection ends with
/// DISCONNECT 0x89 (server busy), as above.
inline constexpr std::chrono::seconds publish_timeout{30};

/// Connection -> registry: open and promote a session. An open may wait for
/// a takeover (the old connection to go) and for the session's answer.
/// When it expires the CONNECT is refused with CONNACK 0x88 (server
/// unavailable); a promote that expires ends the connection with
/// DISCONNECT 0x89.
inline constexpr std::chrono::seconds registry_request_timeout{60};
/// The registry's claim of a client id in a node group (its owner's
/// answer, then the session's handover from the node that held it).
inline constexpr std::chrono::seconds claim_request_timeout{20};

/// Connection -> session: SUBSCRIBE and UNSUBSCRIBE (the session waits for
/// the tree, above). When one expires the client gets SUBACK or UNSUBACK
/// with 0x80 (unspecified error) for every filter.
inline constexpr std::chrono::seconds change_timeout{60};

/// Session -> registry: may the session end? When it expires the session
/// stays and asks again.
inline constexpr std::chrono::seconds expire_request_timeout{30};

/// Connection -> authenticator chain: the chain itself bounds each
/// authenticator's answer (auth_handler_timeout) and adds at most the
/// failed-login slow-down. When it expires the CONNECT is refused with
/// CONNACK 0x88 (server unavailable), not counted as a failed login.
inline constexpr std::chrono::seconds auth_timeout{30};

/// Chain -> one authenticator. When it expires the answer is DENY with
/// 0x88 (server unavailable).
inline constexpr std::chrono::seconds auth_handler_timeout{25};

/// Connection -> API request actor: the request asks the tree and topics
/// (above). When it expires the client gets the error answer UNAVAILABLE.
inline constexpr std::chrono::seconds api_timeout{60};

/// API request actor -> the caller's connection (topics/subscribe): the
/// connection asks its session, which asks the tree (below api_timeout).
inline constexpr std::chrono::seconds api_connection_timeout{50};

/// Connection -> its session, for the API (below api_connection_timeout).
inline constexpr std::chrono::seconds api_session_timeout{45};

} // namespace castor
