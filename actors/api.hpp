#pragma once

// Requests of the platform API (docs/platform.md, `$castor/api/`): each is
// run by a short-lived actor of its own, spawned by the connection that
// read it, so a request that waits for many topics holds up no connection,
// topic or the tree. The actor reads the request (protocol/api_request.hpp),
// checks the caller's rights, asks the tree and the topics, answers the
// JSON and ends. What it handles: api_interface (actors/iface/api.hpp).

#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/iface/api.hpp"
#include "actors/iface/locks.hpp"
#include "actors/iface/topic_tree.hpp"
#include "actors/messaging.hpp"
#include "protocol/channel.hpp"
#include "protocol/topic_mapping.hpp"

namespace castor {

/// What a request runs with: the tree, the caller's rights (null: all) and
/// the payload mapping (explicit topics' types).
struct api_context {
  topic_tree_interface tree;
  mqtt::access_ptr access;
  mapping_ptr mapping;
  /// Topics the API removes retire after this long unused, as those made
  /// by publishes do (mqtt.topic_idle_timeout_ms).
  uint32_t topic_idle_ms = 0;
  /// The caller's principal (empty: anonymous): the author of the events
  /// it appends to time series.
  std::string principal;
  /// The server's locks (actors/locks.hpp), the caller's session (its
  /// client identifier, what owns locks) and its connection.
  locks_interface locks{};
  std::string session{};
  caf::actor connection{};
  /// The caller's session actor (or its connection while it has none):
  /// what a topic it adds watches for `this session closes`.
  caf::actor adder;
  /// The message handlers (actors/messaging.hpp) and how long a handler
  /// has to answer.
  handlers_ptr handlers{};
  uint32_t request_timeout_ms = 10000;
};

/// Most topic names the tree lists for one fetch before the caller's
/// rights and the limit are applied.
inline constexpr uint64_t max_fetch_scan = 100000;

api_interface spawn_api_request(caf::actor_system& sys, api_context ctx);

} // namespace castor
