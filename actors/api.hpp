#pragma once

// Requests of the platform API (docs/platform.md, `$castor/api/`): each is
// run by a short-lived actor of its own, spawned by the connection that
// read it, so a request that waits for many topics holds up no connection,
// topic or the tree. The actor reads the request (protocol/api_request.hpp),
// checks the caller's rights, asks the tree and the topics, answers the
// JSON and ends. What it handles: api_interface (actors/iface/api.hpp).

#include <memory>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/cluster_routes.hpp"
#include "actors/iface/api.hpp"
#include "actors/session_directory.hpp"
#include "actors/iface/locks.hpp"
#include "actors/iface/topic_tree.hpp"
#include "actors/messaging.hpp"
#include "actors/missing_topics.hpp"
#include "protocol/channel.hpp"
#include "protocol/topic_selector.hpp"
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
  /// The request's response topic and correlation data: where
  /// topics/notify's events go too.
  std::string reply_topic{};
  std::optional<std::string> correlation{};
  /// The message handlers (actors/messaging.hpp) and how long a handler
  /// has to answer.
  handlers_ptr handlers{};
  /// The sessions (actors/session_directory.hpp); may be null.
  session_directory_ptr sessions{};
  uint32_t request_timeout_ms = 10000;
  /// The missing-topic handlers (actors/missing_topics.hpp); may be null.
  missing_ptr missing{};
  /// In a node group, its members (sessions/list asks every one); null
  /// otherwise.
  cluster_routes_ptr routes{};
  /// The store writer when changes are acknowledged once on disk
  /// (storage.durability sync; else null): the answers to topics/add,
  /// topics/update and topics/remove wait until the topics they added or
  /// removed are (docs/persistence.md).
  caf::actor store_sync{};
};

/// What the tree lists for `text` (a checked selector): the filter itself,
/// or everything at or under a richer selector's literal prefix, of which
/// `selects` keeps what the selector selects.
struct tree_query {
  std::string filter;
  std::shared_ptr<const topic_selector> selector; ///< null: all of them
  bool selects(const std::string& name) const {
    return !selector || selector->selects(name);
  }
};

tree_query query_of(const std::string& text);

/// Most topic names the tree lists for one fetch before the caller's
/// rights and the limit are applied.
inline constexpr uint64_t max_fetch_scan = 100000;

/// The actor that answers one request of `operation`. With
/// `ctx.store_sync`, an operation that may add or remove topics is
/// answered once the store has them.
api_interface spawn_api_request(caf::actor_system& sys, api_context ctx,
                                const std::string& operation);

/// What ends a request: delivers its answer (JSON text) and ends the
/// request's actor.
template <class Self>
auto answer_and_quit(Self* self, caf::typed_response_promise<std::string> rp) {
  return [self, rp](std::string answer) mutable {
    rp.deliver(std::move(answer));
    self->quit();
  };
}

} // namespace castor
