#pragma once

// A TCP listener: an io::broker with one doorman that forks a connection
// broker per accepted connection, enforces max_connections, and on shutdown
// closes every connection it started (an actor system with live brokers
// would not terminate).
//
//   (open_atom)      -> uint16_t port, or an error if it could not listen
//   (stats_atom)     -> uint64_t: the connections it holds
//   (shutdown_atom)  -> kick every connection (server shutting down), quit
//   new_connection_msg  -> fork a connection broker (monitored), or close
//                          the socket at max_connections (counted, logged)
//   acceptor_closed_msg -> logged
//   down_msg            -> a connection has ended: forgotten

#include <cstdint>
#include <string>
#include <unordered_set>

#include <caf/io/broker.hpp>

#include "actors/connection.hpp"
#include "app/config.hpp"

namespace castor {

struct listener_state {
  listener_config cfg;
  connection_context_ptr ctx;
  uint16_t port = 0;
  caf::error failure;
  std::unordered_set<caf::actor> connections;

  static inline const char* name = "listener";
};

using listener_broker = caf::io::stateful_broker<listener_state>;

caf::behavior listener_actor(listener_broker* self, listener_config cfg,
                             connection_context_ptr ctx);

} // namespace castor
