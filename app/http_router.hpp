#pragma once

// The HTTP side of the server: one actor, the router, answers the ordinary
// HTTP requests that connections of http and https listeners read (the
// WebSocket upgrade for MQTT stays with the connection):
//
//   GET /metrics        Prometheus text exposition (app/http_metrics.cpp)
//   GET /health         200 when ready, 503 and why not
//   GET /version        the server's version
//   /api/v1/...         the admin REST API (app/rest_api.cpp)
//   GET /console/...    the web console's files (app/console.cpp)
//
// Handlers that need other actors answer later through the response
// promise; the connection gives up on an answer after http_answer_timeout.
//
//   (http_atom, http::request) -> http::response
//   (open_atom, caf::actor listener, uint16_t port): a listener has opened

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/retained_budget.hpp"
#include "actors/store_writer.hpp"
#include "actors/authenticator.hpp"
#include "actors/cluster_agent.hpp"
#include "actors/counters.hpp"
#include "actors/http_types.hpp"
#include "actors/iface/locks.hpp"
#include "actors/iface/registry.hpp"
#include "actors/iface/topic_tree.hpp"
#include "actors/messaging.hpp"
#include "actors/missing_topics.hpp"
#include "actors/session_directory.hpp"
#include "app/config.hpp"
#include "protocol/topic_mapping.hpp"

namespace castor {

namespace security {
class rights_registry;
}

/// Everything the HTTP handlers read. Set up by the server before its
/// listeners open; the shared parts are the server's own.
struct http_context {
  /// The configuration in effect.
  config cfg;
  std::shared_ptr<broker_counters> counters;
  registry_interface registry;
  topic_tree_interface tree;
  locks_interface locks;
  session_directory_ptr sessions;
  handlers_ptr handlers;
  missing_ptr missing;
  mapping_ptr mapping;
  /// Authentication and rights (the REST API authenticates with them).
  auth_settings auth;
  /// The authenticator chain (actors/authenticator.hpp); null when every
  /// client is let in with every right (no store, no tokens, anonymous
  /// clients allowed, no listener requiring authentication).
  auth_chain_interface auth_chain;
  std::shared_ptr<security::rights_registry> rights;
  /// What the node agent knows (null when the server runs alone).
  cluster_view_ptr cluster;
  /// What the store writer has done (null: storage off).
  std::shared_ptr<const store_counters> storage;
  /// The store writer (null: storage off): backups; and the same when
  /// changes wait until they are on disk (durability sync; else null).
  caf::actor store_writer;
  caf::actor store_sync;
  /// The retained messages kept, against their bound.
  std::shared_ptr<const retained_budget> retained;
  /// The editor of the security store in a node group (app/store_group.hpp;
  /// null otherwise: the router spawns an editor of its own).
  caf::actor store_editor;
  std::chrono::system_clock::time_point started
      = std::chrono::system_clock::now();
  /// Every listener is open and the server is not shutting down.
  std::atomic<bool> ready{false};
  /// The server is shutting down.
  std::atomic<bool> stopping{false};
};

using http_context_ptr = std::shared_ptr<http_context>;

struct http_router_state {
  http_context_ptr ctx;
  /// The listeners as they opened (their actors answer how many
  /// connections they hold) and their ports, in the order of
  /// ctx->cfg.listeners: (open_atom, listener, port) adds one.
  std::vector<caf::actor> listeners;
  std::vector<uint16_t> ports;
  /// Edits the security store (app/rest_security_edit.hpp); spawned on
  /// the first change, linked to the router.
  caf::actor security_editor;
  static inline const char* name = "http-router";
};

using http_router_actor = caf::stateful_actor<http_router_state>;

caf::behavior http_router(http_router_actor* self, http_context_ptr ctx);

// -- handlers, one file per area
// -----------------------------------------------

/// GET /metrics (app/http_metrics.cpp).
http::response http_metrics(http_router_actor* self, const http::request& req);

/// This node's own figures for the other members of its group (they show
/// them in their castor_group_* gauges).
cluster_node_stats node_stats(const session_directory_ptr& sessions);

/// Requests under /api/v1/ (app/rest_api.cpp): answers through `rp`.
void http_rest(http_router_actor* self, http::request& req,
               caf::typed_response_promise<http::response> rp);

/// Requests under /console/ (app/console.cpp).
http::response http_console(http_router_actor* self, const http::request& req);

} // namespace castor
